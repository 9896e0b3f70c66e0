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

local orders = require "simkit.orders"

local M = {
  name = "eiotclub",
  codes = require "simkit.vendor.eiotclub_errors",
}

-- The catalog's ops, except that the idempotency key of the ordering ops is
-- optional here: the `call` hook generates it when absent (simkit.orders).
do
  local ops = {}
  for name, op in pairs(require "simkit.vendor.eiotclub_ops") do
    local spec = orders.ORDERS[name]
    if spec then
      local copy = util.copy(op)
      copy.params = {}
      for i, p in ipairs(op.params) do
        if p.name == spec.key then
          p = util.copy(p)
          p.required = false
          p.generated = true
        end
        copy.params[i] = p
      end
      op = copy
    end
    ops[name] = op
  end
  M.ops = ops
end

local DEFAULT_BASE = "https://oapi.eiotclub.com"

--- Check options; returns the public config and the secrets.
--- The vendor's own client options (besides the common ones).
M.OPTIONS = { "appkey", "secret", "base_url", "clock_offset" }

function M.init(opts)
  local cfg = {
    appkey = common.need_string("eiotclub", opts, "appkey"),
    base_url = common.base_url("eiotclub", opts.base_url or DEFAULT_BASE, "base_url"),
    clock_offset = opts.clock_offset or 0,
  }
  if type(cfg.clock_offset) ~= "number" then
    common.config_error("eiotclub", "option 'clock_offset' must be a number of seconds")
  end
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

--- The next request nonce (10000..99999, no repeat in 90000 calls).
function M.next_nonce()
  -- a new random start in each nginx worker (a first call before the fork
  -- would otherwise give every worker the same walk)
  local ngx = rawget(_G, "ngx")
  local pid = ngx and ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0
  if not nonce_seq or pid ~= nonce_pid then nonce_seq, nonce_pid = util.random_int(0, 89999), pid end
  nonce_seq = (nonce_seq + 1) % 90000
  return 10000 + nonce_seq
end

--- Build and sign one attempt (fresh timestamp and nonce every time).
function M.build(ctx, args)
  local op = ctx.spec
  local params = util.copy(args)
  params.appkey = ctx.cfg.appkey
  params.timestamp = math.floor(util.now() + ctx.cfg.clock_offset)
  local nonce = M.next_nonce()
  params.nonce = op.nonce_string and tostring(nonce) or nonce
  params.sign = sign.eiotclub(params, ctx.secrets.secret)
  local body, err = json.encode(params)
  if not body then
    return nil, errors.input("cannot encode the request: " .. tostring(err), { vendor = "eiotclub", op = ctx.op })
  end
  return {
    method = op.method, url = ctx.cfg.base_url .. op.path, body = body,
    headers = { ["Content-Type"] = "application/json;charset=utf-8", ["Accept"] = "application/json" },
  }
end

-- Vendor codes that are not plain vendor errors.
local RATE = { ["501"] = true, ["44001"] = true, ["45102"] = true }
local AUTH_CLASSES = { auth = true, permission = true }
-- "once per 5 minutes"; 45102 (unlocking too frequent) states no period:
-- 60 s is simkit's conservative guess.
local WAIT = { ["44001"] = 300, ["45102"] = 60 }

--- Turn a non-200 envelope into an error.
function M.vendor_error(ctx, res, body)
  local code = tostring(body.code)
  local info = M.codes[code] or {}
  local kind = "vendor"
  if RATE[code] then kind = "rate_limited"
  elseif AUTH_CLASSES[info.class] then kind = "auth" end
  local retryable = info.retryable or false
  if code == "44002" then retryable = false end -- "refresh failed": not automatic
  return errors.new {
    kind = kind, vendor = "eiotclub", op = ctx.op, status = res.status, code = code,
    message = body.message ~= nil and body.message ~= json.null and tostring(body.message) or info.en,
    class = info.class, retryable = retryable,
    retry_after = WAIT[code],
    not_processed = code == "501" or nil, -- rejected before any effect: safe to resend
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
  if not body then return nil, derr end
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

-- Client-side guards: one call per card per 5 minutes (the vendor answers
-- 44001 otherwise; L5179, L5266). op -> the card parameter. The Cloud eSIM
-- refresh / cancel-session ops state no such limit (L8170-8346): not guarded;
-- a 44001 from the vendor is still rate_limited.
local GUARDED = { refresh_usage = "iccid", cancel_location = "iccid" }
M.GUARDED = GUARDED
M.GUARD_INTERVAL = 300

local function guard_check(ctx, args)
  local param = GUARDED[ctx.op]
  local card = tostring(args[param])
  local st = ctx.state.eiotclub_guard
  if not st then
    st = {}
    ctx.state.eiotclub_guard = st
  end
  local k = ctx.op .. "\0" .. card
  local interval = ctx.spec.min_interval or M.GUARD_INTERVAL
  local now = util.now()
  local last = st[k]
  if last and now - last < interval then
    local remaining = math.ceil(interval - (now - last))
    return nil, errors.new { kind = "rate_limited", vendor = "eiotclub", op = ctx.op, param = param,
      message = ctx.op .. " is allowed once per " .. interval .. " s per card; " .. param .. " " .. card ..
        " was sent " .. math.floor(now - last) .. " s ago (not sent; limit enforced by simkit)",
      retry_after = remaining, retryable = true, client_side = true }
  end
  -- prune old entries now and then, so the table stays small
  if (ctx.state.eiotclub_guard_n or 0) > 1000 then
    for gk, t in pairs(st) do if now - t >= interval then st[gk] = nil end end
    ctx.state.eiotclub_guard_n = 0
  end
  return st, k, now
end

--- The `call` hook: money-safe orders, refunds sent once, per-card guards,
-- deprecation warnings; every other op goes straight to `send`.
-- @tparam table ctx the call context
-- @tparam table args the validated arguments
-- @tparam function send `send(args, opts) -> data, err, full`
function M.call(ctx, args, send)
  local op = ctx.op
  if orders.ORDERS[op] then return orders.place(ctx, args, send) end
  if orders.REFUNDS[op] then return orders.refund(ctx, args, send) end
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
  if GUARDED[op] then
    local st, k, now = guard_check(ctx, args)
    if not st then return nil, k end
    -- reserve the slot before sending (a concurrent call in another
    -- coroutine sees it); give it back when nothing reached the vendor, or
    -- the vendor refused it unprocessed (501)
    local prev = st[k]
    st[k] = now
    ctx.state.eiotclub_guard_n = (ctx.state.eiotclub_guard_n or 0) + 1
    local data, err = send(args)
    if err and (err.kind == "input" or (err.kind == "transport" and err.sent == false) or err.not_processed) then
      st[k] = prev
    end
    return data, err
  end
  local data, err = send(args)
  return data, err
end

--- Pagination descriptor for a paged op, or nil.
function M.pagination(_, op)
  local pg = op.pagination
  if not pg then return nil end
  local kind = pg.total_kind or ""
  return {
    page = pg.page, page_type = pg.page_type, size = pg.size,
    default_size = pg.default_size,
    items_of = function(full) return util.get_path(full, pg.items) end,
    total_of = pg.total and function(full)
      return tonumber(util.get_path(full, pg.total))
    end or nil,
    total_kind = kind:match("^pages") and "pages" or (kind:match("^records") and "records" or nil),
  }
end

return M
