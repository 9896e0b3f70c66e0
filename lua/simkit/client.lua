--- The request pipeline shared by every vendor:
-- validate -> build (+ sign, fresh for every attempt) -> send -> decode ->
-- envelope check -> error object; retries with back-off on reads only;
-- pagination. Vendors are data tables plus a few hooks (see
-- `simkit.vendor.*`); nothing here knows which transport runs.
-- @classmod simkit.client
local errors = require "simkit.errors"
local json = require "simkit.json"
local validate = require "simkit.validate"
local util = require "simkit.util"

local M = {}

--- The most pages `client:pages` fetches in one walk (a guard against a
-- vendor that never says it is done).
M.MAX_PAGES = 100000

-- Secrets live outside the client table: never in `pairs(client)`, a log
-- line or `tostring(client)`.
local SECRETS = setmetatable({}, { __mode = "k" })

local Client = {}
local methods = {}

local function op_method(name)
  return function(self, args)
    local data, err = self:call(name, args)
    return data, err
  end
end

Client.__index = function(self, key)
  local m = methods[key]
  if m then return m end
  local vendor = rawget(self, "_vendor")
  local extra = vendor.methods and vendor.methods[key]
  if extra then return extra end
  if vendor.ops[key] then
    local f = op_method(key)
    rawset(self, key, f)
    return f
  end
  return nil
end

Client.__tostring = function(self)
  local v = rawget(self, "_vendor")
  local desc = v.describe and v.describe(rawget(self, "_cfg")) or ""
  return "simkit.client " .. v.name .. (desc ~= "" and (" (" .. desc .. ")") or "")
end

local COMMON = {
  timeout = "number", connect_timeout = "number", retries = "number", cafile = "string",
  capath = "string", proxy = "string", noproxy = "string", transport = "function",
  logger = "function", insecure = "boolean", backoff = "table", sleep = "function",
  max_retry_wait = "number",
}

local function check_common(opts)
  for k, t in pairs(COMMON) do
    if opts[k] ~= nil and type(opts[k]) ~= t then
      error("simkit.client: option '" .. k .. "' must be a " .. t, 3)
    end
  end
  for _, k in ipairs({ "timeout", "connect_timeout" }) do
    if opts[k] ~= nil and not (opts[k] > 0 and opts[k] <= 3600) then
      error("simkit.client: option '" .. k .. "' is in seconds and must be in (0, 3600]", 3)
    end
  end
  if opts.retries ~= nil and not (opts.retries >= 0 and opts.retries <= 10 and opts.retries % 1 == 0) then
    error("simkit.client: option 'retries' must be an integer in 0..10", 3)
  end
end

local function loose(name) return (name:lower():gsub("_", "")) end

-- An unknown option is a programming error: silently ignoring `base_url`
-- for a vendor that calls it `endpoint` would send requests to production.
local function check_known(vendor, opts)
  local known = {}
  for k in pairs(COMMON) do known[k] = true end
  for _, k in ipairs(vendor.OPTIONS or {}) do known[k] = true end
  for k in pairs(opts) do
    if type(k) ~= "string" then error("simkit.client: option names must be strings", 4) end
    if not known[k] then
      local hint
      for name in pairs(known) do
        if loose(name) == loose(k) then hint = name end
      end
      if not hint and (k == "base_url" or k == "endpoint" or k == "url") then
        hint = known.base_url and "base_url" or (known.endpoint and "endpoint") or nil
      end
      local names = {}
      for _, n in ipairs(vendor.OPTIONS or {}) do names[#names + 1] = n end
      error("simkit.client: unknown option '" .. k .. "' for " .. vendor.name ..
        (hint and (" (did you mean '" .. hint .. "'?)") or "") .. "; its options: " ..
        table.concat(names, ", ") .. " and the common ones", 4)
    end
  end
end

--- Create a client (use `simkit.client(vendor, opts)`).
-- @tparam table vendor the vendor module
-- @tparam table opts options (common ones: `timeout`, `connect_timeout`,
--   `retries`, `cafile`, `proxy`, `transport`, `logger`, ...)
-- @treturn simkit.client
function M.new(vendor, opts)
  if type(opts) ~= "table" then error("simkit.client: opts must be a table", 3) end
  check_known(vendor, opts)
  check_common(opts)
  local cfg, secrets = vendor.init(opts)
  cfg.timeout = opts.timeout or 10
  cfg.connect_timeout = opts.connect_timeout or math.min(cfg.timeout, 10)
  cfg.retries = opts.retries or 2
  cfg.backoff = { base = (opts.backoff or {}).base or 0.2, max = (opts.backoff or {}).max or 5 }
  cfg.max_retry_wait = opts.max_retry_wait or 10
  cfg.logger = opts.logger
  cfg.sleep = opts.sleep or util.sleep
  local self = setmetatable({ _vendor = vendor, _cfg = cfg, _state = {} }, Client)
  -- default: cosockets inside nginx handlers, libcurl elsewhere
  cfg.transport = opts.transport or require("simkit.transport.auto").new(opts)
  SECRETS[self] = secrets
  return self
end

local function log(cfg, level, msg, fields)
  if cfg.logger then pcall(cfg.logger, level, msg, fields) end
end

local function backoff_delay(cfg, attempt, err)
  if err.retry_after then return err.retry_after end
  local d = math.min(cfg.backoff.max, cfg.backoff.base * 2 ^ (attempt - 1))
  return d * (0.5 + util.random_int(0, 1000) / 2000)
end

-- Classify a transport failure. Nothing was sent on connect/resolve errors,
-- so even a write may be retried by the caller; otherwise the outcome of a
-- write is unknown and it is not retryable blindly.
local NOT_SENT = { connect = true, resolve = true, proxy = true }

local function transport_error(ctx, message, category)
  return errors.new {
    kind = "transport", vendor = ctx.vendor, op = ctx.op, message = tostring(message),
    category = category, retryable = ctx.read or NOT_SENT[category] or false,
    sent = not NOT_SENT[category],
  }
end

--- The context a vendor hook sees for one call.
local function context(self, name, op)
  return {
    client = self, cfg = rawget(self, "_cfg"), secrets = SECRETS[self], state = rawget(self, "_state"),
    vendor = rawget(self, "_vendor").name, op = name, spec = op, read = op.read or false,
  }
end

--- One request through the pipeline, with retries for reads.
-- `args` are already validated. Returns data, err, full decoded body.
function methods:_send(name, args, opts)
  local vendor = rawget(self, "_vendor")
  local op = vendor.ops[name]
  local ctx = context(self, name, op)
  local cfg = ctx.cfg
  opts = opts or {}
  local max_attempts = 1 + (opts.retries or cfg.retries)
  local attempt = 0
  while true do
    attempt = attempt + 1
    ctx.attempt = attempt
    local req, berr = vendor.build(ctx, args)
    if not req then return nil, berr end
    req.timeout = req.timeout or opts.timeout or cfg.timeout
    req.connect_timeout = req.connect_timeout or cfg.connect_timeout
    req.op, req.vendor = name, vendor.name
    -- libcurl silently re-sends a request whose reused connection dropped
    -- before the answer; only reads may be re-sent that way.
    if req.idempotent == nil then req.idempotent = op.read or false end
    local t0 = util.monotonic()
    local res, terr, category = cfg.transport(req)
    local data, err, full
    if not res then
      err = transport_error(ctx, terr, category)
    else
      data, err, full = vendor.parse(ctx, res, args)
    end
    log(cfg, err and "warn" or "debug", string.format("simkit %s %s attempt %d: %s in %.3fs",
      vendor.name, name, attempt, err and tostring(err) or ("HTTP " .. tostring(res.status)),
      util.monotonic() - t0), { vendor = vendor.name, op = name, attempt = attempt })
    if not err then return data, nil, full end
    err.attempts = attempt
    if err.retryable and not op.read and not err.not_processed and err.sent ~= false
        and err.kind ~= "rate_limited" then
      -- a write that may have been processed (5xx, a vendor "system error"):
      -- calling it again could do it twice
      err.retryable = false
    end
    if not err.retryable or attempt >= max_attempts then return nil, err end
    -- a write is retried only when the vendor said it did not process it
    -- ("too many requests" rejects before any effect)
    if not (op.read or err.not_processed) then return nil, err end
    local delay = backoff_delay(cfg, attempt, err)
    if delay > cfg.max_retry_wait then return nil, err end
    cfg.sleep(delay)
  end
end

--- Call an operation by name.
-- @tparam string name the op (as in the vendor catalog)
-- @tparam[opt] table args the vendor's parameter names
-- @return the decoded `data`, or nil and an error (see `simkit.errors`)
function methods:call(name, args)
  local vendor = rawget(self, "_vendor")
  local op = vendor.ops[name]
  if type(name) ~= "string" or not op then
    return nil, errors.input("unknown operation '" .. tostring(name) .. "'", { vendor = vendor.name })
  end
  local norm, msg, param = validate.check(op, args)
  if not norm then
    return nil, errors.input(msg, { vendor = vendor.name, op = name, param = param })
  end
  if vendor.call then
    local data, err = vendor.call(context(self, name, op), norm, function(a, o) return self:_send(name, a, o) end)
    return data, err
  end
  local data, err = self:_send(name, norm)
  return data, err
end

--- Iterate over the items of a paged operation, across pages.
-- Each step returns `item, page`; on an error it returns `false, err` once
-- and then stops. The walk ends on an empty page, at the vendor's total, on
-- a short page, or on a page identical to the previous one; it errors after
-- `MAX_PAGES` pages:
--     for card, err in client:pages("get_all_card_info", {}) do
--       if not card then error(tostring(err)) end
--     end
-- @tparam string name a paged op
-- @tparam[opt] table args other arguments (the page argument is managed)
-- @treturn function iterator
function methods:pages(name, args)
  local vendor = rawget(self, "_vendor")
  local op = vendor.ops[name]
  local pg = op and vendor.pagination and vendor.pagination(name, op)
  if not pg then
    error("simkit: '" .. tostring(name) .. "' is not a paged operation of " .. vendor.name, 2)
  end
  args = util.copy(args)
  local page = args[pg.page] and tonumber(args[pg.page]) or 1
  local first_page = page
  local items, idx, done, failed = nil, 0, false, false
  local last_print -- the previous page, encoded: a vendor that ignores the page number repeats it
  local function fetch()
    if page - first_page >= M.MAX_PAGES then
      return nil, errors.new { kind = "decode", vendor = vendor.name, op = name,
        message = "stopped after " .. M.MAX_PAGES .. " pages (simkit.client.MAX_PAGES)" }
    end
    local a = util.copy(args)
    a[pg.page] = pg.page_type == "string" and tostring(page) or page
    if pg.size and a[pg.size] == nil and pg.default_size then a[pg.size] = pg.default_size end
    local norm, msg, param = validate.check(op, a)
    if not norm then return nil, errors.input(msg, { vendor = vendor.name, op = name, param = param }) end
    local _, err, full = self:_send(name, norm)
    if err then return nil, err end
    local list = pg.items_of(full)
    if type(list) ~= "table" then list = {} end
    -- a page identical to the previous one ends the walk: some servers
    -- answer a page number past the end with the last page again (and one
    -- that ignores the page number would otherwise loop forever)
    local print_ = #list > 0 and json.encode(list) or nil
    if print_ and print_ == last_print then
      done = true
      return {}
    end
    last_print = print_
    local size = norm[pg.size] or pg.default_size
    local total = pg.total_of and pg.total_of(full)
    if #list == 0 then
      done = true
    elseif total and pg.total_kind == "pages" then
      done = page >= total
    elseif total and pg.total_kind == "records" and size then
      done = page * size >= total
    elseif size then
      done = #list < size
    end
    return list
  end
  return function()
    if failed then return nil end
    while true do
      if items and idx < #items then
        idx = idx + 1
        return items[idx], page
      end
      if items and done then return nil end
      if items then page = page + 1 end
      local list, err = fetch()
      if not list then
        failed = true
        return false, err
      end
      items, idx = list, 0
      if #list == 0 then return nil end
    end
  end
end

--- The vendor's name ("eiotclub", "huawei", "tibiot").
function methods:vendor()
  return rawget(self, "_vendor").name
end

--- The names of every operation this client offers, sorted.
function methods:operations()
  local names = {}
  for k in pairs(rawget(self, "_vendor").ops) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- What simkit knows about one operation, as a table (the facts of
-- docs/reference/<vendor>.md): method and path, every parameter with its
-- type, whether it is required, its limits (string caps, `max_length_source`
-- "catalog" or "default"), one-of rules, what it returns, rate limits,
-- whether it spends money and how it pages. The shape is documented in
-- `simkit.describe` and docs/reference/README.md.
-- @tparam string op the operation's name
-- @treturn table|nil the description, or nil and an error with
--   `kind = "input"` ("did you mean ...") for an unknown operation
function methods:describe(op) return require("simkit.describe").op(self, op) end

M.methods = methods
return M
