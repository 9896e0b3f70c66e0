--- The request pipeline shared by every vendor.
--
-- One call, one path (`docs/pipeline.md`):
--
--     validate -> [adapter call hook] -> for each attempt:
--       admit (rate limit, guards; may wait) -> authenticate (token from the
--       store; a fetch goes through `ctx:request`, the same transport and
--       error path as any call) -> build (pure: no sleep, no I/O) -> send ->
--       parse -> should_retry (the ONE retry decision) -> result
--
-- `client:pages` walks the same path for every page. Vendors are data
-- tables (their generated op descriptors) plus the pure hooks documented in
-- `simkit.vendor.common`; nothing here knows which transport runs.
-- @classmod simkit.client
local errors = require "simkit.errors"
local json = require "simkit.json"
local validate = require "simkit.validate"
local util = require "simkit.util"

local M = {}

--- The most pages `client:pages` fetches in one walk (a guard against a
-- vendor that never says it is done).
M.MAX_PAGES = 100000

--- Default largest answer accepted, in bytes (option `max_body`).
M.MAX_BODY = 8 * 1024 * 1024

-- Secrets live outside the client table: never in `pairs(client)`, a log
-- line or `tostring(client)`.
local SECRETS = setmetatable({}, { __mode = "k" })

-- The store shared by every client of the process that was given none: one
-- IAM token and one rate window per account in the process, as before.
local DEFAULT_STORE

--- The process-wide default store (a `simkit.store.memory()`).
-- @treturn table the store
function M.default_store()
  if not DEFAULT_STORE then DEFAULT_STORE = require("simkit.store").memory() end
  return DEFAULT_STORE
end

--- Forget the process-wide default store (specs).
function M._reset_default_store()
  DEFAULT_STORE = nil
end

local Client = {}
local methods = {}

local function op_method(name)
  return function(self, args)
    local data, err = methods._call(self, name, args)
    return data, err
  end
end

-- Names a client answers to, for "did you mean".
local function known_names(vendor)
  local names = {}
  for k in pairs(methods) do if k:sub(1, 1) ~= "_" then names[#names + 1] = k end end
  for k in pairs(vendor.methods or {}) do names[#names + 1] = k end
  for k in pairs(vendor.ops) do names[#names + 1] = k end
  return names
end

local function unknown_method(vendor, key)
  local close = util.closest(key, known_names(vendor), 3)
  error("simkit." .. vendor.name .. ": no operation or method '" .. key .. "'" ..
    (#close > 0 and (" (did you mean " .. table.concat(close, ", ") .. "?)") or "") ..
    "; client:operations() lists every operation", 3)
end

local method_ctx

Client.__index = function(self, key)
  local m = methods[key]
  if m then return m end
  local vendor = rawget(self, "_vendor")
  local extra = vendor.methods and vendor.methods[key]
  if extra then
    local f = function(client, ...) return extra(method_ctx(client), ...) end
    rawset(self, key, f)
    return f
  end
  if vendor.ops[key] then
    local f = op_method(key)
    rawset(self, key, f)
    return f
  end
  -- a misspelt operation is a programming error: say what exists
  if type(key) == "string" and key:match("^%l[%w_]*$") then unknown_method(vendor, key) end
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
  max_retry_wait = "number", max_body = "number", store = "table",
}

local function config_error(msg)
  error("simkit.client: " .. msg, 4)
end

--- Check a numeric option: finite (no NaN, no +-inf), in [lo, hi], an
-- integer when `int`. Raises (a programming error) naming the option.
-- @tparam string what the option's name, for the message
-- @param v the value (nil passes)
-- @tparam number lo
-- @tparam number hi
-- @tparam[opt] boolean int
-- @tparam[opt] boolean open_lo `lo` itself excluded
function M.check_number(what, v, lo, hi, int, open_lo)
  if v == nil then return end
  if not util.finite(v) or v < lo or (open_lo and v == lo) or v > hi or (int and v % 1 ~= 0) then
    error("simkit.client: option '" .. what .. "' must be " .. (int and "an integer" or "a finite number") ..
      " in " .. (open_lo and "(" or "[") .. lo .. ", " .. hi .. "]", 4)
  end
end

local function check_common(opts)
  for k, t in pairs(COMMON) do
    if opts[k] ~= nil and type(opts[k]) ~= t then config_error("option '" .. k .. "' must be a " .. t) end
  end
  M.check_number("timeout", opts.timeout, 0, 3600, false, true)
  M.check_number("connect_timeout", opts.connect_timeout, 0, 3600, false, true)
  M.check_number("retries", opts.retries, 0, 10, true)
  M.check_number("max_retry_wait", opts.max_retry_wait, 0, 3600)
  M.check_number("max_body", opts.max_body, 1, 2 ^ 40, true)
  if opts.backoff then
    for k, v in pairs(opts.backoff) do
      if k ~= "base" and k ~= "max" then config_error("option 'backoff' takes only 'base' and 'max' (seconds)") end
      M.check_number("backoff." .. k, v, 0, 3600)
    end
  end
  if opts.store ~= nil and not require("simkit.store").is_store(opts.store) then
    config_error("option 'store' must be a simkit.store (get, set, add, incr, delete)")
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
--   `max_body`, `retries`, `cafile`, `proxy`, `transport`, `logger`, `store`, ...)
-- @treturn simkit.client
function M.new(vendor, opts)
  if type(opts) ~= "table" then error("simkit.client: opts must be a table", 3) end
  check_known(vendor, opts)
  check_common(opts)
  local store = opts.store or M.default_store()
  local cfg, secrets = vendor.init(opts, { store = store })
  cfg.store = store
  cfg.timeout = opts.timeout or 10
  -- a dead host is found out fast: the connect alone gets at most 3 s
  cfg.connect_timeout = math.min(opts.connect_timeout or 3, cfg.timeout)
  cfg.max_body = opts.max_body or M.MAX_BODY
  cfg.retries = opts.retries or 2
  cfg.backoff = { base = (opts.backoff or {}).base or 0.2, max = (opts.backoff or {}).max or 5 }
  cfg.max_retry_wait = opts.max_retry_wait or 10
  cfg.logger = opts.logger
  cfg.sleep = opts.sleep or util.sleep
  cfg.clock = cfg.clock or util.monotonic
  local self = setmetatable({ _vendor = vendor, _cfg = cfg, _state = {} }, Client)
  -- default: cosockets inside nginx handlers, libcurl elsewhere
  cfg.transport = opts.transport or require("simkit.transport.auto").new(opts)
  SECRETS[self] = secrets
  return self
end

local function backoff_delay(cfg, attempt, err)
  if err.retry_after then return err.retry_after end
  local d = math.min(cfg.backoff.max, cfg.backoff.base * 2 ^ (attempt - 1))
  return d * (0.5 + util.random_int(0, 1000) / 2000)
end

-- Transport failures where nothing reached the server (a TLS failure is a
-- handshake or certificate failure: the request is sent only after it): even a write may be
-- sent again. Every other failure leaves a write's outcome unknown.
local NOT_SENT = { connect = true, resolve = true, proxy = true, tls = true }
M.NOT_SENT = NOT_SENT

local function transport_error(ctx, message, category, sent)
  if sent == nil then sent = not NOT_SENT[category] end
  local e = errors.new {
    kind = "transport", vendor = ctx.vendor, op = ctx.op, message = tostring(message),
    category = category, sent = sent,
  }
  return e
end

--- The ONE retry decision of the pipeline.
-- A read is retried on a retryable error; a write only when nothing reached
-- the vendor (`sent == false`) or the vendor rejected it before any effect
-- (`not_processed`, e.g. EIOTCLUB 501). Sets `err.retryable` to what the
-- caller may do, and returns whether the pipeline retries now.
-- @tparam table ctx the call context (`read`)
-- @tparam table err the error of the attempt
-- @treturn boolean
function M.should_retry(ctx, err)
  local kind = err.kind
  if kind == "transport" then
    -- an answer too large to accept comes again as large
    err.retryable = err.category ~= "too_large" and (ctx.read or err.sent == false) or false
  elseif kind == "input" or kind == "unsupported" then
    err.retryable = false
  elseif err.retryable and not ctx.read and not err.not_processed and kind ~= "rate_limited" then
    -- a write that may have been processed (5xx, a vendor "system error"):
    -- calling it again could do it twice
    err.retryable = false
  end
  if not err.retryable then return false end
  if kind == "rate_limited" and err.client_side then return false end
  -- a write that reached nobody is the caller's to send again (an order
  -- keeps its key): the pipeline re-sends reads and vendor-rejected writes
  return ctx.read or err.not_processed or false
end

local HUGE = math.huge

-- Send one prepared request through the transport, with the client's
-- deadlines and size cap; a transport failure becomes an error table.
local function request(ctx, req, timeout)
  local cfg = ctx.cfg
  timeout = req.timeout or timeout or cfg.timeout
  local idempotent = req.idempotent
  -- libcurl silently re-sends a request whose reused connection dropped
  -- before the answer; only reads may be re-sent that way.
  if idempotent == nil then idempotent = ctx.read end
  -- what the transport gets, in one table (the adapter's stays as built)
  local connect_timeout = req.connect_timeout or cfg.connect_timeout
  if connect_timeout > timeout then connect_timeout = timeout end
  req = {
    method = req.method, url = req.url, headers = req.headers, body = req.body, timeout = timeout,
    connect_timeout = connect_timeout,
    max_body = req.max_body or cfg.max_body, op = req.op or ctx.op, vendor = ctx.vendor,
    idempotent = idempotent, insecure = req.insecure,
  }
  local res, terr, category, sent = cfg.transport(req)
  if not res then return nil, transport_error(ctx, terr, category, sent) end
  local status = type(res) == "table" and res.status
  if type(status) ~= "number" or status ~= status or status == HUGE or status == -HUGE
      or (res.body ~= nil and type(res.body) ~= "string") then
    -- a user transport's answer is data too: never a raise further down
    return nil, transport_error(ctx, "the transport returned no { status = number, body = string } answer",
      "protocol", true)
  end
  return res
end

-- ctx:request(req[, timeout]) -> res | nil, err: a raw request through the
-- client's transport (a token fetch); ctx:call(name, args[, opts]) -> data,
-- err, full: another op through the whole pipeline (validation included;
-- opts: timeout, retries, deadline).
local CTX_METHODS = {}
function CTX_METHODS.request(ctx, req, timeout) return request(ctx, req, timeout) end
function CTX_METHODS.call(ctx, other, args, opts) return rawget(ctx, "_client"):_call(other, args, opts) end

-- client -> the metatable of its call contexts: what every call of the
-- client shares (cfg, secrets, state, store, vendor, sleep, clock) is read
-- through it, so a context is made with only what is its own (a call
-- should allocate little). Made on the client's first call.
local CTX_MT = setmetatable({}, { __mode = "k" })

--- The context the adapter hooks see for one call (see `simkit.vendor.common`).
local function context(self, name, op)
  local mt = CTX_MT[self]
  if not mt then
    local cfg = rawget(self, "_cfg")
    mt = { __index = setmetatable({
      cfg = cfg, secrets = SECRETS[self], state = rawget(self, "_state"), store = cfg.store,
      vendor = rawget(self, "_vendor").name, sleep = cfg.sleep, clock = cfg.clock,
    }, { __index = CTX_METHODS }) }
    CTX_MT[self] = mt
  end
  return setmetatable({ _client = self, op = name, spec = op, read = op.read or false, attempt = 0 }, mt)
end

-- The context of an extra client method (Huawei wait, TIBIOT wait_batch).
method_ctx = function(self)
  local cfg = rawget(self, "_cfg")
  return {
    client = self, cfg = cfg, vendor = rawget(self, "_vendor").name, sleep = cfg.sleep, clock = cfg.clock,
    store = cfg.store, call = function(name, args, opts) return self:_call(name, args, opts) end,
  }
end

local function attempt_log(cfg, ctx, attempt, err, res, t0)
  pcall(cfg.logger, err and "warn" or "debug", string.format("simkit %s %s attempt %d: %s in %.3fs",
    ctx.vendor, ctx.op, attempt, err and tostring(err) or ("HTTP " .. tostring(res.status)),
    util.monotonic() - t0), { vendor = ctx.vendor, op = ctx.op, attempt = attempt })
end

-- One attempt: admit -> authenticate -> build -> send -> parse.
local function attempt_once(vendor, ctx, args, timeout)
  local release
  if vendor.admit then
    local ok, aerr = vendor.admit(ctx, args)
    if not ok then return nil, aerr end
    if type(ok) == "function" then release = ok end
  end
  local auth
  if vendor.authenticate then
    local a, aerr = vendor.authenticate(ctx, rawget(ctx, "refused")) -- (not through the shared fields)
    if not a then
      if release then release(aerr) end
      return nil, aerr
    end
    auth = a
  end
  local req, berr = vendor.build(ctx, args, auth)
  if not req then
    if release then release(berr) end
    return nil, berr
  end
  local res, err = request(ctx, req, timeout)
  local data, full
  if res then data, err, full = vendor.parse(ctx, res, auth) end
  if err and release then release(err) end
  return data, err, full, res
end

local NO_OPTS = {}

-- The attempts of one call, on its context.
local function send_attempts(vendor, ctx, args, opts)
  local cfg, name = ctx.cfg, ctx.op
  opts = opts or NO_OPTS
  local max_attempts = 1 + (opts.retries or cfg.retries)
  ctx.deadline = opts.deadline
  local attempt, reauth = 0, false
  while true do
    attempt = attempt + 1
    ctx.attempt = attempt
    local timeout = opts.timeout or cfg.timeout
    if opts.deadline then
      local left = opts.deadline - cfg.clock()
      if left <= 0.05 then
        return nil, errors.new { kind = "transport", vendor = ctx.vendor, op = name, category = "timeout",
          sent = false, message = "no time left before the call's deadline (not sent)" }
      end
      if left < timeout then timeout = left end
    end
    local t0 = cfg.logger and util.monotonic()
    local data, err, full, res = attempt_once(vendor, ctx, args, timeout)
    if cfg.logger then attempt_log(cfg, ctx, attempt, err, res, t0) end
    if not err then return data, nil, full end
    err.attempts = attempt
    if err.kind == "auth" and err.token_refused and not reauth then
      -- the token was refused (expired, or replaced elsewhere): fetch a new
      -- one ONCE (unless someone already did) and send again; nothing was
      -- done by the vendor for a refused token
      reauth = true
      ctx.refused = err.token_refused
      err.token_refused = nil
      attempt = attempt - 1
    else
      err.token_refused = nil
      if not M.should_retry(ctx, err) or attempt >= max_attempts then return nil, err end
      local delay = backoff_delay(cfg, attempt, err)
      if delay > cfg.max_retry_wait then return nil, err end
      if opts.deadline and cfg.clock() + delay >= opts.deadline then return nil, err end
      cfg.sleep(delay)
    end
  end
end

--- One request through the pipeline, with retries. `args` are validated.
-- `opts`: `retries`, `timeout` (per attempt), `deadline` (a `cfg.clock()`
-- time after which no attempt starts and none outlives it).
-- Returns data, err, the full decoded body.
function methods:_send(name, args, opts)
  local vendor = rawget(self, "_vendor")
  return send_attempts(vendor, context(self, name, vendor.ops[name]), args, opts)
end

local function check_args(vendor, name, op, args)
  local norm, msg, param = validate.check(op, args)
  if not norm then
    return nil, errors.input(msg, { vendor = vendor.name, op = name, param = param })
  end
  return norm
end

--- validate -> call hook (or straight to `_send`); `opts` as for `_send`.
function methods:_call(name, args, opts)
  local vendor = rawget(self, "_vendor")
  local op = vendor.ops[name]
  if type(name) ~= "string" or not op then
    return nil, errors.input("unknown operation '" .. tostring(name) .. "'", { vendor = vendor.name })
  end
  local norm, err = check_args(vendor, name, op, args)
  if not norm then return nil, err end
  local ctx = context(self, name, op)
  if vendor.call then
    local data, cerr, full = vendor.call(ctx, norm, function(a, o) return send_attempts(vendor, ctx, a, o or opts) end)
    return data, cerr, full
  end
  return send_attempts(vendor, ctx, norm, opts)
end

--- Call an operation by name.
-- @tparam string name the op (as in the vendor catalog)
-- @tparam[opt] table args the vendor's parameter names
-- @return the decoded `data`, or nil and an error (see `simkit.errors`)
function methods:call(name, args)
  local data, err = methods._call(self, name, args)
  return data, err
end

--- Iterate over the items of a paged operation, across pages.
-- Every page goes through the same pipeline as a single call (validation,
-- the vendor's call hook, guards, pacing, token refresh, retries).
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
  if args ~= nil and type(args) ~= "table" then
    error("simkit: client:pages(op, args): args must be a table or nil", 2)
  end
  args = util.copy(args)
  local page = 1
  if args[pg.page] ~= nil then
    page = tonumber(args[pg.page])
    if not util.finite(page) or page < 0 or page % 1 ~= 0 or page > 2 ^ 31 then
      error("simkit: client:pages: '" .. pg.page .. "' must be a whole page number", 2)
    end
  end
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
    local _, err, full = self:_call(name, a)
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
    local size = tonumber(a[pg.size]) or pg.default_size
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
