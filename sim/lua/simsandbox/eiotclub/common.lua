--- EIOTCLUB sandbox: shared helpers (time, errors, parameter checks, body scan).
local util = require "simsandbox.util"

local floor = math.floor
local format, find, sub, byte, match = string.format, string.find, string.sub, string.byte, string.match
local type, tostring, tonumber, error, setmetatable, rawequal =
  type, tostring, tonumber, error, setmetatable, rawequal

local C = {}

C.TZ = 8 * 3600          -- platform date strings are Beijing time (UTC+8)
C.MB = 1048576
C.DAY = 86400
C.OK_MESSAGE = "操作成功"

----------------------------------------------------------------------------
-- errors: handlers raise C.fail(code, message); the dispatcher turns it into
-- the endpoint's envelope

local err_mt = { __tostring = function(e) return "eiotclub error " .. e.code .. ": " .. e.message end }

C.MESSAGES = {
  ["403"] = "You don't have permission to access.",
  ["500"] = "Operation failed, try again later.",
  ["501"] = "Too many requests.",
  ["41001"] = "Invalid iccids parameter.",
  ["41003"] = "Iccid is empty or format is wrong.",
  ["41004"] = "Invalid startDate parameter.",
  ["41005"] = "Invalid endDate parameter.",
  ["41006"] = "Invalid date parameter.",
  ["41007"] = "Batch card numbers exceed limit.",
  ["41013"] = "Imsi is empty or format is wrong.",
  ["41014"] = "Network param is empty or wrong.",
  ["41015"] = "Imei is empty or format is wrong.",
  ["41018"] = "Invalid package code for order.",
  ["41036"] = "Ordering is abnormal.",
  ["41050"] = "Package product attributes don't match card.",
  ["42000"] = "SMS content is empty or exceeds limit.",
  ["42001"] = "outTradeNo is empty or format is wrong (max 32 digits).",
  ["42002"] = "outTradeNo already exists.",
  ["42003"] = "OrderId is empty or format is wrong.",
  ["42004"] = "Order does not exist.",
  ["42006"] = "Order status is abnormal.",
  ["42007"] = "Package does not exist.",
  ["42008"] = "Package status does not allow refund.",
  ["42009"] = "Max 50 items can be queried.",
  ["42101"] = "Appkey is empty.",
  ["42102"] = "Appkey does not exist.",
  ["42201"] = "Timestamp is empty.",
  ["42203"] = "Timestamp is inaccurate.",
  ["42204"] = "Invalid time format.",
  ["42301"] = "Nonce is empty.",
  ["42401"] = "Signature string is empty.",
  ["42402"] = "Invalid signature, check encryption method.",
  ["42403"] = "PageNum is empty or format is wrong.",
  ["42404"] = "Invalid card pool number.",
  ["42405"] = "Account has no such iccid card.",
  ["42407"] = "Invalid pageSize value.",
  ["42408"] = "Account has no such IMEI pool.",
  ["42409"] = "Invalid time format.",
  ["43331"] = "Server exception.",
  ["43332"] = "Parameter error.",
  ["44001"] = "Operation too frequent, refresh once every 5 mins.",
  ["45101"] = "Invalid SMS parameters.",
  ["45102"] = "Too frequent card unlocking.",
  ["45103"] = "Exceeded card unlocking limit.",
  ["45104"] = "Card doesn't need unlocking.",
  ["45105"] = "Card status doesn't allow network switching.",
  ["45106"] = "Remark cannot be empty.",
  ["45107"] = "Switching to this network is not supported.",
  ["45109"] = "eSIM product not found.",
  ["45110"] = "eSIM out of stock.",
  ["45111"] = "eSIM order not found.",
  ["45112"] = "Insufficient balance.",
  ["45113"] = "Refund not allowed at current status.",
  ["503016"] = "Duplicate order number.",
  ["900911"] = "Card not found.",
}

--- A route registrar for a handler table H: reg(path, op, fn, opts) with
-- opts `code_type` (default "string"), `no_message`, `no_data`.
function C.registrar(H)
  return function(path, op, fn, opts)
    opts = opts or {}
    H[path] = { op = op, fn = fn, code_type = opts.code_type or "string", no_message = opts.no_message,
      no_data = opts.no_data }
  end
end

--- Raise a vendor error; `detail` (optional) is appended to the table's text.
function C.fail(code, detail)
  code = tostring(code)
  local msg = C.MESSAGES[code] or "Parameter error."
  if detail and detail ~= "" then msg = msg .. " (" .. detail .. ")" end
  error(setmetatable({ code = code, message = msg }, err_mt), 0)
end

function C.is_error(e) return type(e) == "table" and getmetatable(e) == err_mt end

----------------------------------------------------------------------------
-- calendar (no os.time: it depends on the process time zone)

local days_from_civil, civil_from_days = util.days_from_civil, util.civil_from_days
C.days_from_civil = days_from_civil
C.civil_from_days = civil_from_days

local function fmt(t, offset, pattern)
  t = floor(t) + offset
  local days = floor(t / 86400)
  local secs = t - days * 86400
  local y, m, d = civil_from_days(days)
  local H, M, S = floor(secs / 3600), floor(secs / 60) % 60, secs % 60
  if pattern == "date" then return format("%04d-%02d-%02d", y, m, d) end
  if pattern == "compact" then return format("%04d%02d%02d%02d%02d%02d", y, m, d, H, M, S) end
  return format("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, H, M, S)
end

--- Platform date-time string (Beijing time), "" for nil.
function C.dt(t) if not t then return "" end return fmt(t, C.TZ) end
--- Platform date string (yyyy-MM-dd, Beijing time), "" for nil.
function C.date(t) if not t then return "" end return fmt(t, C.TZ, "date") end
--- UTC date-time string (CDR files).
function C.utc(t) return fmt(t, 0) end
--- UTC yyyyMMddHHmmss.
function C.utc_compact(t) return fmt(t, 0, "compact") end

local function valid_ymd(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local dim = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local max = (m == 2 and leap) and 29 or dim[m]
  return d <= max
end

--- Parse "yyyy-MM-dd HH:mm:ss" (offset seconds east of UTC) -> unix seconds or nil.
function C.parse_dt(s, offset)
  if type(s) ~= "string" then return nil end
  local y, m, d, H, M, S = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d) (%d%d):(%d%d):(%d%d)$")
  if not y then return nil end
  y, m, d, H, M, S = tonumber(y), tonumber(m), tonumber(d), tonumber(H), tonumber(M), tonumber(S)
  if not valid_ymd(y, m, d) or H > 23 or M > 59 or S > 59 then return nil end
  return days_from_civil(y, m, d) * 86400 + H * 3600 + M * 60 + S - (offset or C.TZ)
end

--- Parse "yyyy-MM-dd" -> unix seconds of 00:00 at `offset` or nil.
function C.parse_day(s, offset)
  if type(s) ~= "string" then return nil end
  local y, m, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not valid_ymd(y, m, d) then return nil end
  return days_from_civil(y, m, d) * 86400 - (offset or 0)
end

--- Parse "yyyy-MM" -> (first second, first second of the next month) in UTC, or nil.
function C.parse_month(s)
  if type(s) ~= "string" then return nil end
  local y, m = match(s, "^(%d%d%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m = tonumber(y), tonumber(m)
  if m < 1 or m > 12 then return nil end
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return days_from_civil(y, m, 1) * 86400, days_from_civil(ny, nm, 1) * 86400
end

--- Parse "yyyyMMddHHmmss" (UTC) -> unix seconds or nil.
function C.parse_compact(s)
  if type(s) ~= "string" then return nil end
  local y, m, d, H, M, S = match(s, "^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)$")
  if not y then return nil end
  y, m, d, H, M, S = tonumber(y), tonumber(m), tonumber(d), tonumber(H), tonumber(M), tonumber(S)
  if not valid_ymd(y, m, d) or H > 23 or M > 59 or S > 59 then return nil end
  return days_from_civil(y, m, d) * 86400 + H * 3600 + M * 60 + S
end

----------------------------------------------------------------------------
-- money and units

--- Cents -> "12.34".
function C.money(cents)
  cents = floor(cents + 0.5)
  local neg = cents < 0
  if neg then cents = -cents end
  return format("%s%d.%02d", neg and "-" or "", floor(cents / 100), cents % 100)
end

--- Cents -> a JSON number in main units (4.5 for 450).
function C.units(cents) return cents / 100 end

--- Bytes -> MB as a float rounded to 2 decimals.
function C.mb(bytes) return floor(bytes / C.MB * 100 + 0.5) / 100 end

----------------------------------------------------------------------------
-- raw scan of the request body: the exact text of every top-level value

local function skip_ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local function string_end(s, i) -- i at the opening quote; returns index after the closing quote
  local j = i + 1
  while true do
    local q = find(s, '["\\]', j)
    if not q then return nil end
    if byte(s, q) == 34 then return q + 1 end
    j = q + 2
  end
end

local function value_end(s, i)
  local c = byte(s, i)
  if c == 34 then return string_end(s, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while j <= #s do
      local ch = byte(s, j)
      if ch == 34 then
        j = string_end(s, j)
        if not j then return nil end
      else
        if ch == 123 or ch == 91 then depth = depth + 1
        elseif ch == 125 or ch == 93 then
          depth = depth - 1
          if depth == 0 then return j + 1 end
        end
        j = j + 1
      end
    end
    return nil
  end
  local _, e = find(s, "^[%w%.%+%-]+", i)
  return e and e + 1 or nil
end

--- For a body already validated as a JSON object: { key = raw value text }.
function C.scan_raw(s)
  local raw = {}
  local i = skip_ws(s, 1)
  if byte(s, i) ~= 123 then return raw end
  i = skip_ws(s, i + 1)
  if byte(s, i) == 125 then return raw end
  while i <= #s do
    local ke = string_end(s, i)
    if not ke then return raw end
    local key = util.json_decode(sub(s, i, ke - 1))
    i = skip_ws(s, ke)
    i = skip_ws(s, i + 1) -- past ':'
    local ve = value_end(s, i)
    if not ve then return raw end
    if type(key) == "string" then raw[key] = sub(s, i, ve - 1) end
    i = skip_ws(s, ve)
    if byte(s, i) ~= 44 then break end
    i = skip_ws(s, i + 1)
  end
  return raw
end

--- True for JSON null / nil / "".
function C.empty(v)
  return v == nil or v == "" or rawequal(v, util.null) or (ngx and rawequal(v, ngx.null))
end

--- Render a parameter as Java's String.valueOf would: strings verbatim,
-- numbers as their JSON text, booleans true/false, anything else as its JSON.
function C.render(v, raw)
  local tv = type(v)
  if tv == "string" then return v end
  if tv == "boolean" then return v and "true" or "false" end
  if raw then return raw end
  if tv == "number" then
    if v == floor(v) and v >= -2^53 and v <= 2^53 then return format("%.0f", v) end
    return tostring(v)
  end
  if util.is_bignum(v) then return v.digits end
  return util.json_encode(v) or ""
end

----------------------------------------------------------------------------
-- parameter readers (ctx = { p = params, raw = raw texts })

--- A string parameter (numbers accepted as their JSON text); nil when empty.
function C.str(ctx, name)
  local v = ctx.p[name]
  if C.empty(v) then return nil end
  if type(v) == "string" then return v end
  if type(v) == "number" or util.is_bignum(v) then return ctx.raw[name] or C.render(v) end
  return false -- present but not a scalar
end

--- An integer parameter (numeric strings accepted, as a Java backend converts
-- them); nil when absent, false when not an integer.
function C.int(ctx, name)
  local v = ctx.p[name]
  if C.empty(v) then return nil end
  local text
  if type(v) == "string" then text = v
  elseif type(v) == "number" then text = ctx.raw[name] or C.render(v)
  else return false end
  if not find(text, "^%-?%d+$") or #text > 15 then return false end
  return tonumber(text)
end

--- Split a comma-separated list; nil when empty, false when malformed.
function C.list(ctx, name)
  local s = C.str(ctx, name)
  if s == nil then return nil end
  if s == false then return false end
  local out = {}
  for item in string.gmatch(s .. ",", "([^,]*),") do
    item = match(item, "^%s*(.-)%s*$")
    if item == "" then return false end
    out[#out + 1] = item
  end
  return out
end

--- ICCID format: 18-22 digits (the seed's examples have 19 and 20).
function C.iccid_ok(s)
  return type(s) == "string" and find(s, "^%d+$") ~= nil and #s >= 18 and #s <= 22
end

--- IMEI format: 14-16 digits.
function C.imei_ok(s)
  return type(s) == "string" and find(s, "^%d+$") ~= nil and #s >= 14 and #s <= 16
end

--- Number of UTF-8 characters.
function C.ulen(s)
  local _, n = string.gsub(s, "[^\128-\191]", "")
  return n
end

--- Page slice of `list` (1-based page). Returns items, total pages.
function C.page(list, page, size)
  local out = util.array()
  local first = (page - 1) * size + 1
  for i = first, math.min(#list, first + size - 1) do out[#out + 1] = list[i] end
  local pages = math.ceil(#list / size)
  return out, pages
end

--- 24-character notification id.
local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
function C.random_id(n)
  local t = {}
  for i = 1, n or 24 do
    local k = math.random(1, #ALNUM)
    t[i] = sub(ALNUM, k, k)
  end
  return table.concat(t)
end

return C
