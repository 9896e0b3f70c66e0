--- EIOTCLUB open API adapter: data tables from the catalog plus the hooks
-- the pipeline calls (build + sign, envelope check, pagination).
-- Every request is `POST base_url .. path` with one flat JSON object holding
-- appkey, timestamp (10-digit seconds), nonce (5 digits), sign and the
-- business parameters; the signature covers exactly the values sent.
-- @module simkit.vendor.eiotclub
local errors = require "simkit.errors"
local json = require "simkit.json"
local sign = require "simkit.sign"
local util = require "simkit.util"
local common = require "simkit.vendor.common"

local core = require "simkit.core"
local ratelimit = require "simkit.ratelimit"
local orders = require "simkit.eiotclub.orders"

local M = {
  name = "eiotclub",
  codes = require "simkit.vendor.eiotclub_errors",
  -- the generated descriptors: orders (key, lookup), guards, paging, ...
  ops = require "simkit.vendor.eiotclub_ops",
}

local DEFAULT_BASE = "https://oapi.eiotclub.com"

--- Check options; returns the public config and the secrets.
--- The vendor's own client options (besides the common ones).
M.OPTIONS = { "appkey", "secret", "base_url", "clock_offset", "rate_limit", "order_timeout" }

--- Default client-side pacing: calls per second per appkey (option
-- `rate_limit`; the vendor answers 501 "too many requests" beyond its own
-- undocumented limit).
M.RATE_LIMIT = 10

function M.init(opts)
  local cfg = {
    appkey = common.need_string("eiotclub", opts, "appkey"),
    base_url = common.base_url("eiotclub", opts.base_url or DEFAULT_BASE, "base_url"),
    clock_offset = opts.clock_offset or 0,
  }
  if not util.finite(cfg.clock_offset) or math.abs(cfg.clock_offset) > 86400 * 366 then
    common.config_error("eiotclub", "option 'clock_offset' must be a finite number of seconds")
  end
  local rl = opts.rate_limit
  if rl == nil then rl = M.RATE_LIMIT end
  if rl ~= false and not (util.finite(rl) and rl >= 1 and rl <= 10000 and rl % 1 == 0) then
    common.config_error("eiotclub", "option 'rate_limit' must be calls per second (an integer 1..10000) or false")
  end
  cfg.rate_limit = rl
  local ot = opts.order_timeout
  if ot ~= nil and not (util.finite(ot) and ot > 0 and ot <= 3600) then
    common.config_error("eiotclub", "option 'order_timeout' must be seconds in (0, 3600]")
  end
  cfg.order_timeout = ot
  cfg.key_id = core.sha256(cfg.appkey, "hex"):sub(1, 16)
  return cfg, { secret = common.need_string("eiotclub", opts, "secret") }
end

function M.describe(cfg)
  return "appkey=" .. cfg.appkey .. ", " .. cfg.base_url
end

-- The vendor's nonce is 5 digits, and a request repeating (timestamp,
-- nonce, sign) is refused as a replay. Random nonces collide within a second
-- at high rates (birthday bound), so the process walks the 90000 values from
-- a random start: no repeat in the process for 90000 requests.
local nonce_seq, nonce_pid
-- nginx's worker pid function: ngx exists from the start inside nginx (and
-- never appears later outside it)
local worker_pid
do
  local ngx = rawget(_G, "ngx")
  worker_pid = ngx and ngx.worker and ngx.worker.pid
end

--- The next request nonce (10000..99999, no repeat in 90000 calls).
function M.next_nonce()
  -- a new random start in each nginx worker (a first call before the fork
  -- would otherwise give every worker the same walk)
  local pid = worker_pid and worker_pid() or 0
  if not nonce_seq or pid ~= nonce_pid then nonce_seq, nonce_pid = util.random_int(0, 89999), pid end
  nonce_seq = (nonce_seq + 1) % 90000
  return 10000 + nonce_seq
end

-- base_url .. path per client config and op, made once
local URLS = setmetatable({}, { __mode = "k" })

--- Build and sign one attempt (pure; fresh timestamp and nonce every time).
function M.build(ctx, args)
  local op, cfg = ctx.spec, ctx.cfg
  local nonce = M.next_nonce()
  -- the table is made with room for the envelope; the caller's parameters
  -- go in, then the envelope's values (they win); "sign" is never signed itself
  local params = { appkey = true, timestamp = true, nonce = true, sign = "" }
  for k, v in pairs(args) do params[k] = v end
  params.appkey, params.timestamp = cfg.appkey, math.floor(util.now() + cfg.clock_offset)
  params.nonce, params.sign = op.nonce_string and tostring(nonce) or nonce, ""
  params.sign = sign.eiotclub(params, ctx.secrets.secret)
  local body, err = json.encode(params)
  if not body then
    return nil, errors.input("cannot encode the request: " .. tostring(err), { vendor = "eiotclub", op = ctx.op })
  end
  local urls = URLS[cfg]
  if not urls then
    urls = {}
    URLS[cfg] = urls
  end
  local url = urls[op]
  if not url then
    url = cfg.base_url .. op.path
    urls[op] = url
  end
  return {
    method = op.method, url = url, body = body,
    headers = { ["Content-Type"] = "application/json;charset=utf-8", ["Accept"] = "application/json" },
  }
end

--- Turn a non-200 envelope into an error.
function M.vendor_error(ctx, res, body)
  local code = tostring(body.code)
  -- what the code means (kind, retryable, retry_after, not_processed) is in
  -- the generated code table
  local info = M.codes[code] or {}
  return errors.new {
    kind = info.kind or "vendor", vendor = "eiotclub", op = ctx.op, status = res.status, code = code,
    message = body.message ~= nil and body.message ~= json.null and tostring(body.message) or info.en,
    class = info.class, retryable = info.retryable or false,
    retry_after = info.retry_after,
    not_processed = info.not_processed, -- rejected before any effect: safe to resend
    -- whatever the vendor put in `data` next to the error code (e.g. about
    -- the existing order of a 503016 duplicate), as it came
    data = type(body.data) == "table" and body.data or nil,
  }
end

--- Check the envelope; returns data (true when the answer has none), err, body.
function M.parse(ctx, res)
  if res.status < 200 or res.status >= 300 then
    return nil, common.http_error(ctx, res)
  end
  local body, derr = common.decode_body(ctx, res)
  if body == nil then return nil, derr end
  if type(body) ~= "table" or body.code == nil then
    return nil, errors.new { kind = "decode", vendor = "eiotclub", op = ctx.op, status = res.status,
      message = "answer has no envelope code: " .. common.snippet(res.body), retryable = ctx.read }
  end
  if tostring(body.code) ~= "200" then
    return nil, M.vendor_error(ctx, res, body), body
  end
  local data = body.data
  if data == nil then
    if ctx.spec.response.shape == "none" then data = true else data = json.null end
  end
  return data, nil, body
end

-- The per-card guard of an op (its descriptor's `guard`: "once per 5
-- minutes", the vendor answers 44001 otherwise), in the store: a key added
-- with the interval as TTL. Returns a release function, or nil, err.
local function guard(ctx, args, g)
  local card = tostring(args[g.param])
  local k = "simkit:eiot:guard:" .. ctx.cfg.key_id .. ":" .. ctx.op .. ":" .. card
  local now = util.now()
  local ok, err = ctx.store:add(k, now, g.interval)
  if ok == nil then return nil, err end
  if not ok then
    -- the earlier call's wall time is for the message only; the window is the store's TTL
    local since = ctx.store:get(k)
    local ago = type(since) == "number" and math.max(0, math.floor(now - since)) or nil
    return nil, errors.new { kind = "rate_limited", vendor = "eiotclub", op = ctx.op, param = g.param,
      message = ctx.op .. " is allowed once per " .. g.interval .. " s per card; " .. g.param .. " " .. card ..
        " was sent" .. (ago and (" " .. ago .. " s ago") or " recently") .. " (not sent; limit enforced by simkit)",
      retry_after = ago and math.max(1, g.interval - ago) or g.interval, retryable = true, client_side = true }
  end
  -- give the slot back when nothing reached the vendor, or the vendor
  -- refused the call unprocessed (501)
  return function(e)
    if e.kind == "input" or e.client_side or (e.kind == "transport" and e.sent == false) or e.not_processed then
      ctx.store:delete(k)
    end
  end
end

local RULES = setmetatable({}, { __mode = "k" }) -- cfg -> the pacing rule of its calls, made once

--- The `admit` step: client-side pacing (`rate_limit` calls/s per appkey,
-- in the store) and the per-card guards.
-- @treturn true|function|nil true, or a release function (called with the
--   error when the call fails), or nil and an error
function M.admit(ctx, args)
  local cfg = ctx.cfg
  if cfg.rate_limit then
    local rules = RULES[cfg]
    if not rules then
      rules = { { key = "simkit:eiot:" .. cfg.key_id, limit = cfg.rate_limit, period = 1 } }
      RULES[cfg] = rules
    end
    local waited, wait, serr = ratelimit.acquire_call(ctx, rules)
    if not waited then
      if serr then return nil, serr end
      return nil, ratelimit.error(ctx, wait, cfg.rate_limit .. " calls/s per appkey, option rate_limit")
    end
  end
  local g = ctx.spec.guard
  if g then return guard(ctx, args, g) end
  return true
end

--- The `call` hook: money-safe orders (`simkit.eiotclub.orders`),
-- deprecation warnings; every other op goes straight to `send`.
-- @tparam table ctx the call context
-- @tparam table args the validated arguments
-- @tparam function send `send(args, opts) -> data, err, full`
function M.call(ctx, args, send)
  local op = ctx.op
  if ctx.spec.order then return orders.place(ctx, args, send) end
  if ctx.spec.deprecated then
    local warned = ctx.state.eiotclub_deprecated
    if not warned then
      warned = {}
      ctx.state.eiotclub_deprecated = warned
    end
    if not warned[op] then
      warned[op] = true
      local d = type(ctx.spec.deprecated) == "table" and ctx.spec.deprecated or {}
      local msg = "simkit eiotclub: " .. op .. " is deprecated by the vendor" ..
        (d.since and (" since " .. d.since) or "") ..
        (d.replaced_by and ("; use " .. table.concat(d.replaced_by, " / ")) or "")
      if ctx.cfg.logger then pcall(ctx.cfg.logger, "warn", msg, { vendor = "eiotclub", op = op, deprecated = true }) end
    end
  end
  return send(args)
end

--- Pagination descriptor for a paged op (from its generated descriptor), or nil.
M.pagination = common.pagination

return M
