--- TIBIOT open API (v1) adapter: data tables from the catalog plus the hooks
-- the pipeline calls (build + sign, envelope check), the chunking of network
-- operations (at most 10 ICCIDs per request) and `wait_batch`.
--
-- TIBIOT's signing scheme is published only in the vendor's SDK, so the
-- adapter does not pretend to know it: `signer` is required, either a
-- function (called for every attempt) or the name of a built-in GENERIC
-- scheme ("hmac-sha256", "none"; see `simkit.vendor.tibiot_signers`).
-- @module simkit.vendor.tibiot
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"
local common = require "simkit.vendor.common"
local signers = require "simkit.vendor.tibiot_signers"

local VENDOR = "tibiot"

-- The generated descriptors; operate_card_network's `batch` says its ICCIDs
-- go in requests of at most 10 ("A maximum of 10 can be passed in").
local OPS = require "simkit.vendor.tibiot_ops"

local M = { name = VENDOR, ops = OPS, max_iccids = OPS.operate_card_network.batch.size }

-- Options --------------------------------------------------------------------

local SIGNER_HELP = "option 'signer' is required: TIBIOT publishes its signing scheme only in its SDK. " ..
  "Pass a function signer(req) implementing it, or a built-in generic scheme name " ..
  "(\"hmac-sha256\" as verified by the simkit sandbox, or \"none\")"

--- Check options; returns the public config and the secrets.
--- The vendor's own client options (besides the common ones).
M.OPTIONS = { "app_key", "secret", "base_url", "signer", "signer_options", "clock_offset", "check_dates" }

function M.init(opts)
  if opts.base_url == nil then
    common.config_error(VENDOR, "option 'base_url' is required (the TIBIOT document gives no address)")
  end
  local base_url = common.base_url(VENDOR, opts.base_url, "base_url")
  local cfg = {
    base_url = base_url,
    base_path = base_url:match("^https?://[^/]+(.*)$") or "",
    app_key = opts.app_key,
    clock_offset = opts.clock_offset or 0,
    check_dates = opts.check_dates ~= false,
  }
  if opts.app_key ~= nil and (type(opts.app_key) ~= "string" or opts.app_key == "") then
    common.config_error(VENDOR, "option 'app_key' must be a non-empty string")
  end
  if opts.secret ~= nil and (type(opts.secret) ~= "string" or opts.secret == "") then
    common.config_error(VENDOR, "option 'secret' must be a non-empty string")
  end
  if type(cfg.clock_offset) ~= "number" then
    common.config_error(VENDOR, "option 'clock_offset' must be a number of seconds")
  end
  local signer = opts.signer
  if type(signer) == "function" then
    cfg.signer_name = "function"
  elseif type(signer) == "string" then
    local make = signers.schemes[signer]
    if not make then
      common.config_error(VENDOR, "unknown signer '" .. signer .. "'. " .. SIGNER_HELP)
    end
    if signer == "hmac-sha256" and (opts.app_key == nil or opts.secret == nil) then
      common.config_error(VENDOR, "signer \"hmac-sha256\" needs options 'app_key' and 'secret'")
    end
    local so = opts.signer_options
    if so ~= nil and type(so) == "table" and so.clock_offset == nil and cfg.clock_offset ~= 0 then
      so = util.copy(so)
      so.clock_offset = cfg.clock_offset
    elseif so == nil and cfg.clock_offset ~= 0 then
      so = { clock_offset = cfg.clock_offset }
    end
    local f, err = make(so)
    if not f then common.config_error(VENDOR, err) end
    signer, cfg.signer_name = f, signer
  else
    common.config_error(VENDOR, SIGNER_HELP)
  end
  return cfg, { secret = opts.secret, signer = signer }
end

function M.describe(cfg)
  return (cfg.app_key and ("app_key=" .. cfg.app_key .. ", ") or "") .. cfg.base_url ..
    ", signer=" .. cfg.signer_name
end

-- Extra validation (what the generic validator cannot express) -------------

local function input(ctx, msg, param)
  return errors.input(msg, { vendor = VENDOR, op = ctx.op, param = param })
end

local function iccid_error(v)
  if type(v) ~= "string" or not v:match("^%d+$") or #v < 19 or #v > 20 then
    return "must be an ICCID: 19 or 20 digits"
  end
end

-- "Today" in Beijing time (UTC+8): the vendor's dates are China dates.
local function beijing_today(cfg)
  local t = util.now() + cfg.clock_offset + 8 * 3600
  local days = math.floor(t / 86400)
  local y, m = util.civil_from_days(days)
  return days, y, m
end
M._beijing_today = beijing_today

local function check_day(ctx, v)
  local y, m, d = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not y or m < 1 or m > 12 or d < 1 or d > util.days_in_month(y, m) then
    return "'queryDay' must be a real date written yyyy-MM-dd"
  end
  if ctx.cfg.check_dates then
    local today = beijing_today(ctx.cfg)
    local n = util.days_from_civil(y, m, d)
    if n > today or n < today - 29 then
      return "'queryDay' must be one of the last 30 days (today and the 29 before, Beijing time)"
    end
  end
end

local function check_month(ctx, v)
  local y, m = v:match("^(%d%d%d%d)%-(%d%d)$")
  y, m = tonumber(y), tonumber(m)
  if not y or m < 1 or m > 12 then
    return "'queryMonth' must be a real month written yyyy-MM"
  end
  if ctx.cfg.check_dates then
    local _, cy, cm = beijing_today(ctx.cfg)
    local cur, n = cy * 12 + cm - 1, y * 12 + m - 1
    if n > cur or n < cur - 11 then
      return "'queryMonth' must be one of the last 12 months (this month and the 11 before, Beijing time)"
    end
  end
end

--- Checks beyond the generic validator: ICCID shape, real dates within the
-- vendor's windows. Returns an input error or nil.
function M.prevalidate(ctx, args)
  if args.iccid ~= nil then
    local e = iccid_error(args.iccid)
    if e then return input(ctx, "'iccid' " .. e, "iccid") end
  end
  if type(args.iccids) == "table" then
    for i, v in ipairs(args.iccids) do
      local e = iccid_error(v)
      if e then return input(ctx, "'iccids[" .. i .. "]' " .. e, "iccids") end
    end
  end
  if args.queryDay ~= nil then
    local e = check_day(ctx, args.queryDay)
    if e then return input(ctx, e, "queryDay") end
  end
  if args.queryMonth ~= nil then
    local e = check_month(ctx, args.queryMonth)
    if e then return input(ctx, e, "queryMonth") end
  end
  return nil
end

-- Build + sign --------------------------------------------------------------

local function query_string(query)
  local keys = {}
  for k in pairs(query) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do
    local v = query[k]
    local list = type(v) == "table" and v or { v }
    for _, x in ipairs(list) do
      out[#out + 1] = util.urlencode(tostring(k)) .. "=" .. util.urlencode(tostring(x))
    end
  end
  return table.concat(out, "&")
end
M.query_string = query_string

--- Build and sign one attempt (the signer runs again for every attempt).
function M.build(ctx, args)
  local op = ctx.spec
  local query, body_t = {}, nil
  for _, p in ipairs(op.params) do
    local v = args[p.name]
    if v ~= nil then
      if p.loc == "body" then
        body_t = body_t or {}
        body_t[p.name] = v
      else
        query[p.name] = tostring(v)
      end
    end
  end
  local headers = { ["Accept"] = "application/json" }
  local body
  if op.method ~= "GET" then
    local err
    body, err = json.encode(body_t or {})
    if not body then return nil, input(ctx, "cannot encode the request: " .. tostring(err)) end
    headers["Content-Type"] = "application/json"
  end
  local path = ctx.cfg.base_path .. op.path
  local qs = query_string(query)
  local req = {
    method = op.method, path = path, query = query, headers = headers, body = body, op = ctx.op,
    url = ctx.cfg.base_url .. op.path .. (qs ~= "" and ("?" .. qs) or ""),
    app_key = ctx.cfg.app_key, secret = ctx.secrets.secret,
  }
  local ok, extra = pcall(ctx.secrets.signer, req)
  if not ok then
    return nil, errors.new { kind = "auth", vendor = VENDOR, op = ctx.op, retryable = false,
      message = "the signer failed: " .. tostring(extra) }
  end
  if extra ~= nil and type(extra) ~= "table" then
    return nil, errors.new { kind = "auth", vendor = VENDOR, op = ctx.op, retryable = false,
      message = "the signer must return a table of headers or nothing, got " .. type(extra) }
  end
  local out_headers = {}
  for k, v in pairs(type(req.headers) == "table" and req.headers or headers) do out_headers[k] = tostring(v) end
  for k, v in pairs(extra or {}) do out_headers[k] = tostring(v) end
  qs = query_string(type(req.query) == "table" and req.query or query)
  return {
    method = op.method, headers = out_headers, body = body,
    url = ctx.cfg.base_url .. op.path .. (qs ~= "" and ("?" .. qs) or ""),
  }
end

-- Parse -----------------------------------------------------------------------

local AUTH = { ["401"] = true, ["403"] = true }

local function str(v)
  if v == nil or v == json.null then return nil end
  return tostring(v)
end

--- Check the envelope {code, message, traceId, data}; returns data, err, body.
function M.parse(ctx, res)
  if res.status < 200 or res.status >= 300 then
    -- framework errors may still carry the envelope: keep its code/trace id
    local extra
    local b = json.decode(res.body or "")
    if type(b) == "table" and b.code ~= nil then
      extra = { code = str(b.code), trace_id = str(b.traceId) }
      if str(b.message) then
        extra.message = "HTTP " .. tostring(res.status) .. ": " .. str(b.message)
      end
    end
    return nil, common.http_error(ctx, res, extra)
  end
  local body, derr = common.decode_body(ctx, res)
  if not body then return nil, derr end
  if type(body) ~= "table" or body.code == nil then
    return nil, errors.new { kind = "decode", vendor = VENDOR, op = ctx.op, status = res.status,
      message = "answer has no envelope code: " .. common.snippet(res.body), retryable = ctx.read }
  end
  local code = str(body.code)
  if code ~= "200" then
    local kind = "vendor"
    if AUTH[code] then kind = "auth" elseif code == "429" then kind = "rate_limited" end
    local n = tonumber(code)
    return nil, errors.new {
      kind = kind, vendor = VENDOR, op = ctx.op, status = res.status, code = code,
      message = str(body.message) or "vendor error", trace_id = str(body.traceId),
      retryable = (ctx.read and (kind == "rate_limited" or (n ~= nil and n >= 500 and n <= 599))) or false,
    }, body
  end
  local data = body.data
  if data == nil then data = json.null end
  return data, nil, body
end

-- The call hook: extra validation, chunked network operations ------------------

local function chunk_result(chunk, data, err)
  local r = { iccids = chunk, err = err, error_info = {} }
  if data and type(data) == "table" then
    r.batch_code = str(data.batchCode)
    r.success_count = tonumber(data.successCount) or 0
    if type(data.errorInfo) == "table" then
      for _, e in ipairs(data.errorInfo) do
        if type(e) == "table" then
          r.error_info[#r.error_info + 1] = { iccid = str(e.iccid), message = str(e.infoMessage) }
        end
      end
    end
  end
  return r
end

local function operate_network(ctx, args, send)
  local size = ctx.spec.batch.size
  -- duplicates are removed, keeping the first occurrence's order
  local seen, list = {}, {}
  for _, v in ipairs(args.iccids) do
    if not seen[v] then seen[v] = true; list[#list + 1] = v end
  end
  local result = { chunks = {}, batch_codes = {}, success_count = 0, errors = {}, ok = true,
    iccids = list, duplicates_removed = #args.iccids - #list }
  local first_err, any_ok
  for i = 1, #list, size do
    local chunk = {}
    for j = i, math.min(i + size - 1, #list) do chunk[#chunk + 1] = list[j] end
    local data, err = send({ iccids = json.array(chunk), switchOn = args.switchOn })
    local r = chunk_result(chunk, data, err)
    result.chunks[#result.chunks + 1] = r
    if err then
      result.ok = false
      first_err = first_err or err
      for _, iccid in ipairs(chunk) do
        result.errors[#result.errors + 1] = { iccid = iccid, message = tostring(err.message or err), err = err }
      end
    else
      any_ok = true
      if r.batch_code then result.batch_codes[#result.batch_codes + 1] = r.batch_code end
      result.success_count = result.success_count + r.success_count
      for _, e in ipairs(r.error_info) do
        result.ok = false
        result.errors[#result.errors + 1] = { iccid = e.iccid, message = e.message }
      end
    end
  end
  if not any_ok then
    -- nothing went through: the usual `nil, err`, with the details attached
    first_err.result = result
    return nil, first_err
  end
  return result
end

--- The pipeline's call hook (args already checked by the generic validator).
function M.call(ctx, args, send)
  local err = M.prevalidate(ctx, args)
  if err then return nil, err end
  if ctx.op == "operate_card_network" then
    return operate_network(ctx, args, send)
  end
  return send(args)
end

-- Extra client methods -----------------------------------------------------------

local function wait_batch(ctx, codes, opts)
  local single = type(codes) == "string"
  if single then codes = { codes } end
  if type(codes) ~= "table" or #codes == 0 then
    return nil, errors.input("wait_batch: a batch code or a non-empty list of batch codes is required",
      { vendor = VENDOR, op = "wait_batch" })
  end
  for _, c in ipairs(codes) do
    if type(c) ~= "string" or c == "" then
      return nil, errors.input("wait_batch: batch codes must be non-empty strings",
        { vendor = VENDOR, op = "wait_batch" })
    end
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    return nil, errors.input("wait_batch: options must be a table", { vendor = VENDOR, op = "wait_batch" })
  end
  local timeout, interval = opts.timeout or 60, opts.interval or 2
  -- NaN passes a "< 0" check and would loop forever: finite numbers only
  if not util.finite(timeout) or timeout < 0 or timeout > 366 * 86400 or not util.finite(interval)
      or interval <= 0 or interval > 86400 then
    return nil, errors.input("wait_batch: timeout (seconds, 0 to 366 days) and interval (seconds, > 0, at most " ..
      "a day) must be finite numbers", { vendor = VENDOR, op = "wait_batch", param = "timeout" })
  end
  local sleep = ctx.sleep
  local t0, slept = util.monotonic(), 0
  local finished = {} -- code -> list
  while true do
    local pending = 0
    for _, code in ipairs(codes) do
      if not finished[code] then
        local list, err = ctx.call("query_batch_status", { batchCode = code })
        if not list then return nil, err end
        if type(list) ~= "table" then list = {} end
        local all = true
        for _, e in ipairs(list) do
          local s = tonumber(type(e) == "table" and e.operationCardStatus)
          if s ~= 3 and s ~= 4 then all = false end
        end
        if all then finished[code] = list else pending = pending + 1 end
      end
    end
    if pending == 0 then break end
    local elapsed = math.max(util.monotonic() - t0, slept)
    if elapsed >= timeout then
      local left = {}
      for _, code in ipairs(codes) do if not finished[code] then left[#left + 1] = code end end
      return nil, errors.new { kind = "vendor", vendor = VENDOR, op = "wait_batch", code = "timeout",
        message = #left .. " batch(es) not finished after " .. timeout .. " s: " .. table.concat(left, ", "),
        pending = left, retryable = true }
    end
    local d = math.min(interval, timeout - elapsed)
    sleep(d > 0 and d or interval)
    slept = slept + (d > 0 and d or interval)
  end
  local out = { done = 0, failed = 0, total = 0, batch_codes = codes }
  for _, code in ipairs(codes) do
    for _, e in ipairs(finished[code]) do
      local item = util.copy(e)
      item.batchCode = code
      out[#out + 1] = item
      out.total = out.total + 1
      if tonumber(e.operationCardStatus) == 3 then out.done = out.done + 1 else out.failed = out.failed + 1 end
    end
  end
  return out
end

M.methods = {
  --- Poll query_batch_status until every card of the batch(es) is done (3)
  -- or failed (4). `codes`: a batch code or a list of them (e.g. the
  -- `batch_codes` of operate_card_network's result). `opts.timeout` (s,
  -- default 60), `opts.interval` (s, default 2). Returns the list of entries
  -- (each with its `batchCode`) with fields `done`, `failed`, `total`; or
  -- nil, err — on timeout err.kind "vendor", err.code "timeout".
  wait_batch = wait_batch,
}

return M
