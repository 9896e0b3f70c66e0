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

local M = {
  name = "eiotclub",
  ops = require "simkit.vendor.eiotclub_ops",
  codes = require "simkit.vendor.eiotclub_errors",
}

local DEFAULT_BASE = "https://oapi.eiotclub.com"

--- Check options; returns the public config and the secrets.
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

--- Build and sign one attempt (fresh timestamp and nonce every time).
function M.build(ctx, args)
  local op = ctx.spec
  local params = util.copy(args)
  params.appkey = ctx.cfg.appkey
  params.timestamp = math.floor(util.now() + ctx.cfg.clock_offset)
  local nonce = util.random_int(10000, 99999)
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
local WAIT = { ["44001"] = 300 } -- "once per 5 minutes"

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
