--- Huawei Cloud Global SIM Link (GSL) adapter.
--
-- Auth: AK/SK (`SDK-HMAC-SHA256`, signed afresh for every attempt, with
-- `X-Project-Id`) or an IAM token (password method, one per account in the
-- client's `store`, shared by every client, process and node on that store,
-- see `simkit.vendor.huawei_token`).
-- Requests: path ids as exact integers, query RFC 3986 (every array as
-- repeated keys, `status=0&status=1`, as the official SDK core >= 3.1.77),
-- body one JSON object.
-- Answers: any 2xx is a success (object, top-level array or bare `true`;
-- empty = true). Client-side rate limit (the `admit` step, in the store):
-- 5 calls/s per account, 1/s for `list_sim_cards` and `list_sim_price_plans`.
-- @module simkit.vendor.huawei
local core = require "simkit.core"
local errors = require "simkit.errors"
local json = require "simkit.json"
local sign = require "simkit.sign"
local util = require "simkit.util"
local common = require "simkit.vendor.common"
local ratelimit = require "simkit.ratelimit"
local token = require "simkit.vendor.huawei_token"

local M = {
  name = "huawei",
  ops = require "simkit.vendor.huawei_ops",
  codes = require "simkit.vendor.huawei_errors",
}

local NAME = "huawei"

local DEFAULT_ENDPOINT = "https://gsl.cn-north-4.myhuaweicloud.com"

--- Work order status values (list_work_orders): 1 under review, 2 reviewed,
-- 3 processing, 4 completed, 5 cancelled, 6 failed, 7 rejected (L5174).
M.WORK_ORDER_DONE, M.WORK_ORDER_CANCELLED, M.WORK_ORDER_FAILED, M.WORK_ORDER_REJECTED = 4, 5, 6, 7

-- how wait() reports the statuses that end a work order without success
local WORK_ORDER_END = {
  [5] = { "work_order_cancelled", " was cancelled" },
  [6] = { "work_order_failed", " failed" },
  [7] = { "work_order_rejected", " was rejected" },
}

-- A tag of an IAM password for the token cache key: 4096 chained
-- HMAC-SHA256 rounds keyed by the password and salted with the account, so
-- that the key (visible in a shared dict) is slow to test guesses against;
-- the same in every process, so workers still share one token. Computed
-- once per account and password in a process.
local TAGS, NTAGS = {}, 0
local function password_tag(account_key, password)
  -- indexed by a fast digest, so the table holds no password
  local id = core.sha256(account_key .. "\0" .. password, "hex")
  local tag = TAGS[id]
  if tag then return tag end
  local h = core.hmac_sha256(password, account_key, "raw")
  for _ = 2, 4096 do h = core.hmac_sha256(password, h, "raw") end
  tag = core.hex(h):sub(1, 16)
  if NTAGS >= 64 then TAGS, NTAGS = {}, 0 end
  TAGS[id], NTAGS = tag, NTAGS + 1
  return tag
end

--- Check options; returns the public config and the secrets.
--- The vendor's own client options (besides the common ones).
M.OPTIONS = { "ak", "sk", "project_id", "username", "password", "domain", "project", "iam_endpoint",
  "endpoint", "region", "rate_limit", "clock", "now" }

function M.init(opts)
  local region = opts.region
  if region ~= nil and (type(region) ~= "string" or not region:match("^[%w%-]+$")) then
    common.config_error(NAME, "option 'region' must be a region name such as \"cn-north-4\"")
  end
  local cfg = {
    endpoint = common.base_url(NAME, opts.endpoint or
      (region and ("https://gsl." .. region .. ".myhuaweicloud.com") or DEFAULT_ENDPOINT), "endpoint"),
  }
  local secrets = {}
  local has_aksk = opts.ak ~= nil or opts.sk ~= nil
  local has_token = opts.username ~= nil or opts.password ~= nil
  if has_aksk and has_token then
    common.config_error(NAME, "give either ak/sk/project_id or username/password/domain/project, not both")
  elseif has_aksk then
    cfg.mode = "aksk"
    cfg.ak = common.need_string(NAME, opts, "ak")
    secrets.sk = common.need_string(NAME, opts, "sk")
    cfg.project_id = common.need_string(NAME, opts, "project_id")
    cfg.account_key = cfg.endpoint .. "|ak|" .. cfg.ak .. "|" .. cfg.project_id
  elseif has_token then
    cfg.mode = "token"
    cfg.username = common.need_string(NAME, opts, "username")
    secrets.password = common.need_string(NAME, opts, "password")
    cfg.domain = common.need_string(NAME, opts, "domain")
    cfg.project = opts.project or region
    if type(cfg.project) ~= "string" or cfg.project == "" then
      common.config_error(NAME, "option 'project' is required (a project name such as \"cn-north-4\")")
    end
    local iam_region = region or cfg.project
    cfg.iam_endpoint = common.base_url(NAME, opts.iam_endpoint or
      ("https://iam." .. iam_region .. ".myhuaweicloud.com"), "iam_endpoint")
    if opts.project_id ~= nil then cfg.project_id = common.need_string(NAME, opts, "project_id") end
    cfg.account_key = table.concat({ cfg.iam_endpoint, cfg.domain, cfg.username, cfg.project }, "|")
    if not json.encode(secrets.password) then
      common.config_error(NAME, "option 'password' must be valid UTF-8 text")
    end
    -- the token cache key also carries a tag of the password, so that a
    -- client with a wrong password does not ride on a token another client
    -- fetched (see password_tag)
    cfg.token_key = cfg.account_key .. "|" .. password_tag(cfg.account_key, secrets.password)
  else
    common.config_error(NAME, "credentials are required: { ak=, sk=, project_id= } or " ..
      "{ username=, password=, domain=, project= }")
  end
  local rl = opts.rate_limit
  if rl == nil or rl == true then rl = "wait" end
  if rl ~= false and rl ~= "wait" and rl ~= "error" then
    common.config_error(NAME, "option 'rate_limit' must be \"wait\" (default), \"error\" or false")
  end
  cfg.rate_limit = rl
  -- the limiter's key: the account (AK or IAM user) at this endpoint
  cfg.limit_key = "simkit:hw:" .. core.sha256(cfg.endpoint .. "|" .. (cfg.ak or cfg.account_key), "hex"):sub(1, 24)
  for _, k in ipairs({ "clock", "now" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "function" then
      common.config_error(NAME, "option '" .. k .. "' must be a function")
    end
  end
  cfg.clock = opts.clock or util.monotonic
  cfg.now = opts.now or util.now
  return cfg, secrets
end

function M.describe(cfg)
  if cfg.mode == "aksk" then
    return "ak=" .. cfg.ak .. ", project_id=" .. cfg.project_id .. ", " .. cfg.endpoint
  end
  return "user=" .. cfg.domain .. "/" .. cfg.username .. ", project=" .. cfg.project .. ", " .. cfg.endpoint
end

----------------------------------------------------------------------------
-- building requests

local function scalar_text(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if type(v) == "number" then
    local t = util.integer_text(v)
    if t then return t end
    return string.format("%.17g", v)
  end
  return tostring(v)
end

local function is_int_type(t)
  return t == "Long" or t == "Integer"
end

-- JSON for one body value, typed by its catalog entry: 64-bit ids that
-- arrive as digit strings (LuaJIT, or beyond 2^53) are written as JSON
-- numbers wherever the catalog says Long: at the top, in arrays of Longs and
-- in the fields of array items (batch_set_attributes' sim_card_id).
local encode_value
local function encode_items(item, list)
  local parts = {}
  for i, x in ipairs(list) do
    local text, err = encode_value(item, x)
    if not text then return nil, err end
    parts[i] = text
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function encode_object(fields, obj)
  local byname, keys = util.by_name(fields), {}
  for k in pairs(obj) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local f = byname[k]
    local text, err
    if f then text, err = encode_value(f, obj[k]) else text, err = json.encode(obj[k]) end
    if not text then return nil, err end
    parts[i] = json.encode(k) .. ":" .. text
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

encode_value = function(p, v)
  if is_int_type(p.type) and type(v) == "string" and v:match("^%-?%d+$") then return v end
  if type(v) == "table" then
    if p.type == "Array" and p.fields then return encode_items({ fields = p.fields }, v) end
    if p.type == "Array" and is_int_type(p.items_type or "") then return encode_items({ type = p.items_type }, v) end
    if p.fields then return encode_object(p.fields, v) end
  end
  return json.encode(v)
end

local function input_error(ctx, msg, param)
  return errors.input(msg, { vendor = NAME, op = ctx.op, param = param })
end

--- Seconds of one rate window (1 s plus a margin for network jitter).
M.RATE_PERIOD = 1.05

--- The vendor's limit for all operations together: calls per second per
-- account (seed L112), paced client-side.
M.RATE_LIMIT = 5

local RULES = setmetatable({}, { __mode = "k" }) -- cfg -> op -> the rules of its calls, made once

--- The `admit` step: the client-side rate limit, in the client's store
-- (5 calls/s per account, `rate_per_s` of the op's descriptor besides).
function M.admit(ctx)
  local cfg = ctx.cfg
  if not cfg.rate_limit then return true end
  local per = ctx.spec.rate_per_s
  local by_op = RULES[cfg]
  if not by_op then
    by_op = {}
    RULES[cfg] = by_op
  end
  local rules = by_op[ctx.op]
  if not rules then
    local key = cfg.limit_key
    rules = { { key = key, limit = M.RATE_LIMIT, period = M.RATE_PERIOD } }
    if per then rules[2] = { key = key .. ":" .. ctx.op, limit = per, period = M.RATE_PERIOD } end
    by_op[ctx.op] = rules
  end
  local waited, wait, serr = ratelimit.acquire_call(ctx, rules, cfg.rate_limit)
  if waited then return true end
  if serr then return nil, serr end
  return nil, ratelimit.error(ctx, wait, M.RATE_LIMIT .. " calls/s per account" ..
    (per and (", " .. per .. "/s for " .. ctx.op) or ""))
end

--- The `authenticate` step: the IAM token (token mode), from the store or
-- fetched once for every client sharing it; nothing in AK/SK mode.
-- @tparam table ctx
-- @tparam[opt] string refused a token the vendor just refused
-- @treturn table `{ token = }` or nil, err
local AKSK = {} -- AK/SK mode: build signs; nothing to fetch

function M.authenticate(ctx, refused)
  if ctx.cfg.mode ~= "token" then return AKSK end
  local tok, err = token.get(ctx, refused)
  if not tok then return nil, err end
  return { token = tok }
end

-- What build needs of an op, worked out once per descriptor (descriptors
-- are data that does not change after load): the path split at its
-- placeholders, the query keys encoded, the body parameters in the order
-- they are written (sorted by name) with their JSON keys.
local PLANS = setmetatable({}, { __mode = "k" })

local function plan_of(op)
  local plan = PLANS[op]
  if plan then return plan end
  plan = { pieces = {}, path_params = {}, query = {}, body = {}, items = {} }
  local rest, by_name = op.path, {}
  for _, p in ipairs(op.params) do
    by_name[p.name] = p
    if p.fields then plan.items[#plan.items + 1] = p end
    if p.loc == "path" then
      plan.path_params[#plan.path_params + 1] = p
    elseif p.loc == "query" then
      plan.query[#plan.query + 1] = { p = p, key = util.urlencode(p.name) }
    elseif p.loc == "body" then
      plan.body[#plan.body + 1] = { p = p, key = json.encode(p.name) }
    end
  end
  table.sort(plan.body, function(x, y) return x.p.name < y.p.name end)
  -- the path as literal pieces and parameter slots, in order
  while true do
    local i, j, name = rest:find("{([%w_]+)}")
    if not i then break end
    plan.pieces[#plan.pieces + 1] = rest:sub(1, i - 1)
    plan.pieces[#plan.pieces + 1] = { name = name, p = by_name[name] }
    rest = rest:sub(j + 1)
  end
  plan.pieces[#plan.pieces + 1] = rest
  PLANS[op] = plan
  return plan
end

local SIGN_HEADERS = { ["Content-Type"] = "application/json" }
local SIGN_REQ = { headers = SIGN_HEADERS }

-- The text of a path parameter's value, or nil when it cannot be one.
local function path_text(p, v)
  if is_int_type(p.type) then return util.integer_text(v) end
  return util.urlencode(scalar_text(v))
end

-- The path with its parameters filled in, or nil, err. The usual path (one
-- parameter between two literal pieces) is one concatenation; an absent or
-- bad parameter is reported in the order the descriptor lists them.
local function build_path(ctx, plan, args)
  local pieces = plan.pieces
  local n = #pieces
  if n == 3 then
    local slot = pieces[2]
    local v = args[slot.name]
    local text = v ~= nil and slot.p and path_text(slot.p, v)
    if text then return pieces[1] .. text .. pieces[3] end
  end
  local path_params = plan.path_params
  local texts
  for i = 1, #path_params do
    local p = path_params[i]
    local v = args[p.name]
    if v == nil then return nil, input_error(ctx, "'" .. p.name .. "' is required", p.name) end
    local text = path_text(p, v)
    if not text then return nil, input_error(ctx, "'" .. p.name .. "' must be an integer", p.name) end
    texts = texts or {}
    texts[p.name] = text
  end
  local path = pieces[1]
  for i = 2, n do
    local x = pieces[i]
    if type(x) == "table" then x = texts and texts[x.name] or ("{" .. x.name .. "}") end
    path = path .. x
  end
  return path
end

--- Build one attempt (pure: signed afresh, or with the token `auth.token`).
function M.build(ctx, args, auth)
  local op, cfg = ctx.spec, ctx.cfg
  local plan = plan_of(op)
  local path, perr = build_path(ctx, plan, args)
  if not path then return nil, perr end
  local query
  local qs = plan.query
  for i = 1, #qs do
    local q = qs[i]
    local v = args[q.p.name]
    if v ~= nil then
      query = query or {}
      if type(v) == "table" then
        -- repeated keys for every array (the official SDK core >= 3.1.77)
        for _, x in ipairs(v) do query[#query + 1] = q.key .. "=" .. util.urlencode(scalar_text(x)) end
      else
        query[#query + 1] = q.key .. "=" .. util.urlencode(scalar_text(v))
      end
    end
  end
  local body
  if plan.body[1] then
    local parts = {}
    for _, b in ipairs(plan.body) do
      local v = args[b.p.name]
      if v ~= nil then
        local text, err = encode_value(b.p, v)
        if not text then
          return nil, input_error(ctx, "cannot encode '" .. b.p.name .. "': " .. tostring(err), b.p.name)
        end
        parts[#parts + 1] = b.key .. ":" .. text
      end
    end
    body = "{" .. table.concat(parts, ",") .. "}"
  end
  local url
  if query then url = cfg.endpoint .. path .. "?" .. table.concat(query, "&") else url = cfg.endpoint .. path end
  local headers
  if cfg.mode == "aksk" then
    -- the signer reads its argument during the call only: one reused table
    SIGN_HEADERS["X-Project-Id"] = cfg.project_id
    SIGN_REQ.method, SIGN_REQ.url, SIGN_REQ.body, SIGN_REQ.ak, SIGN_REQ.sk = op.method, url, body, cfg.ak, ctx.secrets.sk
    headers = sign.huawei(SIGN_REQ)
    SIGN_REQ.body, SIGN_REQ.sk, SIGN_HEADERS["X-Project-Id"] = nil, nil, nil -- no secret kept between calls
  else
    headers = { ["Content-Type"] = "application/json", ["X-Auth-Token"] = auth.token,
      ["X-Project-Id"] = cfg.project_id }
  end
  return { method = op.method, url = url, headers = headers, body = body }
end

----------------------------------------------------------------------------
-- parsing answers

local function str(v)
  if v == nil or v == json.null then return nil end
  if type(v) == "table" then return nil end
  return tostring(v)
end

--- Extract code and message from an error body (all documented shapes).
function M.error_fields(body)
  if type(body) ~= "table" then return nil, nil end
  local code = str(body.error_code) or str(body.errorCode)
  local msg = str(body.error_msg) or str(body.errorMsg)
  if not code then
    code = str(body.code)
    msg = msg or str(body.message)
  end
  if not code and type(body.error) == "table" then
    code = str(body.error.code) or str(body.error.error_code)
    msg = msg or str(body.error.message) or str(body.error.error_msg)
  end
  return code, msg or str(body.message)
end

local function vendor_error(ctx, res, code, msg, trace, auth)
  local status = res.status
  local info = code and M.codes[code] or {}
  local f = {
    kind = "vendor", vendor = NAME, op = ctx.op, status = status, code = code,
    message = msg or info.en, trace_id = trace, retryable = false,
  }
  local retry_after = common.retry_after(res.headers)
  if status == 429 then
    f.kind, f.retryable, f.retry_after = "rate_limited", true, retry_after or 1
  elseif status == 401 or info.kind == "auth" or
      (status == 403 and code and code:match("^APIGW%.")) then
    f.kind = "auth"
  -- the rest of what a code means is in the generated code table
  elseif info.retryable == true then
    f.retryable, f.retry_after = true, retry_after or info.retry_after
  elseif info.retry_after then
    f.retry_after = info.retry_after
  elseif info.pending_work_order then
    f.pending_work_order = true
  elseif status >= 500 and info.retryable ~= false then
    f.retryable, f.retry_after = true, retry_after
  end
  if not code and f.kind == "vendor" then f.kind = "http" end
  if not f.message then
    f.message = "unexpected HTTP status " .. tostring(status) .. ": " .. common.snippet(res.body)
  end
  if f.kind == "auth" and auth and auth.token and (code == "GSL.00010001" or status == 401) then
    -- the pipeline fetches a new token once and removes this field
    f.token_refused = auth.token
  end
  return errors.new(f)
end

local byte = string.byte

--- Decode an answer; returns data, err, the decoded body.
function M.parse(ctx, res, auth)
  local trace = common.header(res.headers, "x-request-id")
  local text = res.body or ""
  local status = res.status
  if status >= 200 and status < 300 then
    -- an object's or array's first byte, or else an empty (blank) answer?
    local b = byte(text, 1)
    if b ~= 123 and b ~= 91 and not text:find("%S") then return true, nil, true end
    local body, derr = common.decode_body(ctx, res)
    if body == nil then
      derr.trace_id = trace
      return nil, derr
    end
    -- an error envelope with a success status (seen behind gateways)
    if type(body) == "table" and type(body.error_code) == "string" and type(body.error_msg) == "string" then
      local code, msg = M.error_fields(body)
      return nil, vendor_error(ctx, res, code, msg, trace, auth), body
    end
    return body, nil, body
  end
  local body = json.decode(text)
  local code, msg = M.error_fields(body)
  return nil, vendor_error(ctx, res, code, msg, trace, auth), body
end

----------------------------------------------------------------------------
-- call hook: the cross-field checks of the seed

local function extra_checks(ctx, args)
  local op = ctx.spec
  -- the descriptor's zero_id: sim_card_id 0 means "by iccid" (or cid)
  local z = op.zero_id
  local zv = z and args[z.param]
  -- validated: an integer, or its exact text where it exceeds the VM's integers
  if (zv == 0 or zv == "0") and args[z.by] == nil then
    return input_error(ctx, "'" .. z.param .. "' 0 means \"by " .. z.by .. "\": '" .. z.by .. "' is required", z.by)
  end
  -- items (batch_set_attributes): sim_card_id 0 means "by iccid" there too
  local items = plan_of(op).items
  for k = 1, #items do
    local p = items[k]
    if type(args[p.name]) == "table" then
      for i, item in ipairs(args[p.name]) do
        if tostring(item.sim_card_id) == "0" and item.iccid == nil then
          local name = p.name .. "[" .. i .. "].iccid"
          return input_error(ctx, "'" .. p.name .. "[" .. i .. "].sim_card_id' 0 means \"by iccid\": '" .. name
            .. "' is required", p.name)
        end
      end
    end
  end
  return nil
end

--- The call hook: the cross-field checks, then the pipeline.
function M.call(ctx, args, send)
  local ierr = extra_checks(ctx, args)
  if ierr then return nil, ierr end
  return send(args)
end

----------------------------------------------------------------------------
-- pagination

--- Pagination descriptor of a paged op (from its generated descriptor), or nil.
M.pagination = common.pagination

----------------------------------------------------------------------------
-- extra client methods

M.methods = {}

--- Wait for an async work order to finish.
-- @param client the client
-- @param id the work order id (integer or digit string), or the table an
--   async op returned (`{work_order_id = ...}`)
-- @tparam[opt] table opts `timeout` (seconds, default 1800), `interval`
--   (seconds between polls, default 10)
-- @return the work order (status 4), or nil and an error: kind "vendor"
--   with code "work_order_cancelled" (5) / "work_order_failed" (6) /
--   "work_order_rejected" (7) and
--   `work_order_status`, or code "timeout" (retryable) when it is still
--   pending at the deadline; errors of list_work_orders as they come.
function M.methods.wait(ctx, id, opts)
  if type(id) == "table" then id = id.work_order_id end
  local text = util.integer_text(id)
  if not text then
    return nil, errors.input("wait: a work_order_id (integer or digit string) is required",
      { vendor = NAME, op = "wait", param = "work_order_id" })
  end
  if opts ~= nil and type(opts) ~= "table" then
    return nil, errors.input("wait: options must be a table", { vendor = NAME, op = "wait" })
  end
  opts = opts or {}
  local timeout, interval = opts.timeout or 1800, opts.interval or 10
  -- NaN passes a "< 0" check and would loop forever: finite numbers only
  if not util.finite(timeout) or timeout < 0 or timeout > 366 * 86400 or not util.finite(interval)
      or interval <= 0 or interval > 86400 then
    return nil, errors.input("wait: timeout (seconds, 0 to 366 days) and interval (seconds, > 0, at most a day) " ..
      "must be finite numbers", { vendor = NAME, op = "wait", param = "timeout" })
  end
  local clock = ctx.clock
  local deadline = clock() + timeout
  local last_status
  while true do
    local data, err = ctx.call("list_work_orders", { main_search_key = text })
    if not data then
      if not err.retryable then return nil, err end
    elseif type(data) == "table" and type(data.work_orders) == "table" then
      for _, wo in ipairs(data.work_orders) do
        if util.integer_text(wo.id) == text or util.integer_text(wo.work_order_id) == text then
          local st = tonumber(wo.status)
          last_status = st
          if st == M.WORK_ORDER_DONE then return wo end
          local ended = WORK_ORDER_END[st]
          if ended then
            return nil, errors.new { kind = "vendor", vendor = NAME, op = "wait", work_order_id = text,
              code = ended[1], work_order_status = st, work_order = wo,
              message = "work order " .. text .. ended[2] }
          end
        end
      end
    end
    local now = clock()
    if now >= deadline then
      return nil, errors.new { kind = "vendor", vendor = NAME, op = "wait", code = "timeout", retryable = true,
        work_order_id = text, work_order_status = last_status,
        message = "work order " .. text .. " not finished after " .. tostring(timeout) .. " s" ..
          (last_status and (" (status " .. last_status .. ")") or "") }
    end
    ctx.sleep(math.min(interval, deadline - now))
  end
end

--- Forget process-wide state (the default store: tokens, rate windows): for specs.
function M._reset()
  require("simkit.client")._reset_default_store()
end

return M
