--- Shared helpers of the Huawei GSL sandbox: 64-bit ids as decimal strings,
-- errors raised as tables, parameter checks, paging, time formatting.
--
-- 64-bit ids (sim_card_id, pool ids, order ids, work order ids, tag ids...)
-- never pass through a double here: they live in the state as decimal
-- strings and are encoded through util.bignum (raw digits in the JSON).
local util = require "simsandbox.util"

local find, format, sub, byte, gsub = string.find, string.format, string.sub, string.byte, string.gsub
local floor = math.floor
local type, tostring, tonumber, pairs, ipairs, error = type, tostring, tonumber, pairs, ipairs, error

local C = {}

C.null = util.null
C.INT64_MAX = "9223372036854775807"

----------------------------------------------------------------------------
-- ids

-- Normalise a decimal digit string: strip leading zeros ("0" stays "0").
local function norm_digits(s)
  s = gsub(s, "^0+", "")
  if s == "" then s = "0" end
  return s
end

--- Compare two non-negative decimal strings: -1, 0 or 1.
function C.cmp_id(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

--- A value from JSON / query / path as a non-negative int64 decimal string,
-- or nil when it is not one. Accepts Lua integers (exact below 2^53),
-- util.bignum, and strings of digits (the doc shows ids as JSON strings).
function C.to_id(v)
  local s
  if type(v) == "number" then
    if v ~= v or v < 0 or v ~= floor(v) or v > 2^53 then return nil end
    s = format("%.0f", v)
  elseif util.is_bignum(v) then
    s = v.digits
  elseif type(v) == "string" then
    s = v
  else
    return nil
  end
  if not find(s, "^%d+$") then return nil end
  s = norm_digits(s)
  if C.cmp_id(s, C.INT64_MAX) > 0 then return nil end
  return s
end

--- Add a small non-negative integer to a decimal string.
function C.id_add(s, n)
  local digits, carry, i = {}, n, #s
  while i >= 1 or carry > 0 do
    local d = (i >= 1 and (byte(s, i) - 48) or 0) + carry
    digits[#digits + 1] = d % 10
    carry = floor(d / 10)
    i = i - 1
  end
  local out = {}
  for k = #digits, 1, -1 do out[#out + 1] = tostring(digits[k]) end
  return norm_digits(table.concat(out))
end

--- JSON value for an id held as a decimal string (nil -> null).
function C.jid(s)
  if s == nil then return util.null end
  return util.bignum(s)
end

----------------------------------------------------------------------------
-- errors: handlers raise C.fail(...) and the dispatcher turns it into a reply

local ERR_MT = {}

--- Raise a vendor error: HTTP status, vendor code, message.
function C.fail(status, code, msg)
  error(setmetatable({ status = status, code = code, msg = msg }, ERR_MT), 0)
end

function C.is_fail(e)
  return type(e) == "table" and getmetatable(e) == ERR_MT
end

C.MSG = {
  ["GSL.00010001"] = "请求携带的token无效。",
  ["GSL.00010002"] = "用户已被冻结，无法调用API。",
  ["GSL.00010003"] = "系统繁忙，请稍后重试。",
  ["GSL.00010004"] = "参数异常",
  ["GSL.00010005"] = "业务操作失败",
  ["GSL.00011001"] = "sim卡不存在或没有SIM卡的访问权限!",
  ["GSL.00011004"] = "账期不合法，请检查！",
  ["GSL.00011007"] = "当前已有查询业务下发，请稍后重试！",
  ["GSL.00011010"] = "iccid超过个数限制。",
  ["GSL.00011015"] = "当前SIM卡不支持操作",
  ["GSL.00011016"] = "不支持的限制速率",
  ["GSL.00011063"] = "不支持切换的目标运营商",
  ["GSL.00012016"] = "SIM卡文件不存在，请检查！",
  ["GSL.00014003"] = "您操作的流量池不存在，请检查！",
  ["GSL.00015028"] = "策略不存在！",
  ["GSL.00015032"] = "优先使用运营商和最不优先使用运营商不能相同！",
  ["GSL.00015033"] = "弱信号切换策略、连接延时切换策略必须设置其中一种！",
  ["GSL.00015034"] = "策略名称已经存在，请检查！",
  ["GSL.00015035"] = "登录用户最多可以创建50个策略。",
  ["GSL.00015039"] = "切卡顺序格式错误，请检查！",
  ["GSL.00016009"] = "您操作的卡仍有未完成的复机受理单，请勿重复操作。",
  ["GSL.00016010"] = "您操作的卡仍有未完成的停机受理单，请勿重复操作。",
  ["GSL.00016012"] = "您操作的卡，超流量停机，无法发起复机操作。",
  ["GSL.00016015"] = "您操作的卡仍有未完成的激活受理单，请勿重复操作。",
  ["GSL.00016016"] = "5分钟内不允许重复操作，请稍作等待。",
  ["GSL.00016019"] = "您操作的卡状态非停用，无法发起复机操作。",
  ["GSL.00016020"] = "您操作的卡状态非在用，无法发起该操作。",
  ["GSL.00020003"] = "系统繁忙，请稍后重试。",
  ["GSL.00020004"] = "参数异常",
  ["GSL.00022001"] = "标签名称不合法，请检查！",
  ["GSL.00022002"] = "标签名称已存在，请重新输入！",
  ["GSL.00022003"] = "登录用户最多可以创建200个标签。",
  ["GSL.00022004"] = "登录用户没有标签的访问权限。",
  ["GSL.00027001"] = "自定义属性名称不合法，请检查！",
  ["GSL.00027002"] = "自定义属性名称已存在，请重新输入！",
  ["GSL.00027003"] = "自定义属性名称和SIM卡管理列字段重复，请重新输入！",
  ["GSL.00027004"] = "登录用户最多可以创建6个自定义属性。",
  ["GSL.00027005"] = "登录用户没有对应自定义属性的访问权限。",
}

-- HTTP status of each code (the error table of the document, §5).
C.STATUS = {
  ["GSL.00010001"] = 403, ["GSL.00010002"] = 403, ["GSL.00010003"] = 500,
  ["GSL.00010004"] = 400, ["GSL.00010005"] = 500, ["GSL.00011001"] = 400,
  ["GSL.00011004"] = 403, ["GSL.00011007"] = 403, ["GSL.00011010"] = 400,
  ["GSL.00011015"] = 403, ["GSL.00011016"] = 400, ["GSL.00011063"] = 400,
  ["GSL.00012016"] = 400, ["GSL.00014003"] = 403, ["GSL.00016009"] = 403,
  ["GSL.00016010"] = 403, ["GSL.00016012"] = 403, ["GSL.00016015"] = 403,
  ["GSL.00016016"] = 403, ["GSL.00016019"] = 403, ["GSL.00016020"] = 403,
  ["GSL.00020003"] = 500, ["GSL.00020004"] = 400,
}

--- Raise a vendor error by code with its table status and message.
function C.gsl(code, msg, status)
  C.fail(status or C.STATUS[code] or 400, code, msg or C.MSG[code] or "参数异常")
end

-- The code of a plain parameter error depends on the endpoint group: tag and
-- custom attribute endpoints answer GSL.00020004 (their examples, L3733),
-- everything else GSL.00010004. The dispatcher sets C.param_code per call.
C.param_code = "GSL.00010004"

--- Raise the endpoint's parameter error; `detail` goes into the message.
function C.bad(detail)
  local msg = "参数异常"
  if detail then msg = msg .. ": " .. detail end
  C.fail(400, C.param_code, msg)
end

----------------------------------------------------------------------------
-- parameters

local function scalar(q, name)
  local v = q[name]
  if type(v) == "table" then v = v[#v] end
  return v
end
C.scalar = scalar

--- Integer query parameter (nil when absent), checked against min/max.
function C.q_int(q, name, min, max, default)
  local v = scalar(q, name)
  if v == nil or v == "" then return default end
  if not find(v, "^%-?%d+$") or #v > 12 then C.bad(name) end
  local n = tonumber(v)
  if (min and n < min) or (max and n > max) then C.bad(name) end
  return n
end

--- Long-id query parameter as a decimal string (nil when absent).
function C.q_id(q, name, required)
  local v = scalar(q, name)
  if v == nil or v == "" then
    if required then C.bad(name .. " is required") end
    return nil
  end
  local id = C.to_id(v)
  if not id then C.bad(name) end
  return id
end

--- String query parameter with length limits.
function C.q_str(q, name, minlen, maxlen)
  local v = scalar(q, name)
  if v == nil then return nil end
  if (minlen and #v < minlen) or (maxlen and #v > maxlen) then C.bad(name) end
  return v
end

--- Boolean query parameter ("true"/"false").
function C.q_bool(q, name)
  local v = scalar(q, name)
  if v == nil or v == "" then return nil end
  if v == "true" then return true elseif v == "false" then return false end
  C.bad(name)
end

--- All values of a (possibly repeated, possibly comma-separated) query key.
function C.q_list(q, name, split_commas)
  local v = q[name]
  if v == nil then return {} end
  if type(v) ~= "table" then v = { v } end
  local out = {}
  for _, x in ipairs(v) do
    if split_commas then
      for part in string.gmatch(x, "[^,]+") do out[#out + 1] = part end
    elseif x ~= "" then
      out[#out + 1] = x
    end
  end
  return out
end

--- limit (10-500, default 10) and offset (a 1-based PAGE number, 1-1000000).
function C.paging(q)
  local limit = C.q_int(q, "limit", 10, 500, 10)
  local offset = C.q_int(q, "offset", 1, 1000000, 1)
  return limit, offset
end

--- The items of page `offset` (1-based) of `list`.
function C.page(list, limit, offset)
  local out = util.array()
  local first = (offset - 1) * limit + 1
  for i = first, math.min(#list, first + limit - 1) do out[#out + 1] = list[i] end
  return out
end

--- The 200 answer of a paged list: {limit, offset, count, [key] = the page}.
function C.paged(key, rows, limit, offset)
  return 200, { limit = limit, offset = offset, count = #rows, [key] = C.page(rows, limit, offset) }
end

--- Body field helpers (body = decoded JSON object or {}).
function C.b_int(b, name, min, max, required)
  local v = b[name]
  if v == nil or v == util.null then
    if required then C.bad(name .. " is required") end
    return nil
  end
  if type(v) == "string" and find(v, "^%-?%d+$") and #v <= 12 then v = tonumber(v) end
  if type(v) ~= "number" or v ~= floor(v) then C.bad(name) end
  if (min and v < min) or (max and v > max) then C.bad(name) end
  return v
end

function C.b_str(b, name, minlen, maxlen, required)
  local v = b[name]
  if v == nil or v == util.null then
    if required then C.bad(name .. " is required") end
    return nil
  end
  if type(v) ~= "string" then C.bad(name) end
  if (minlen and #v < minlen) or (maxlen and C.ulen(v) > maxlen) then C.bad(name) end
  return v
end

function C.b_bool(b, name)
  local v = b[name]
  if v == nil or v == util.null then return nil end
  if type(v) ~= "boolean" then C.bad(name) end
  return v
end

--- An array body field (nil when absent or null); raises when not an array.
function C.b_array(b, name)
  local v = b[name]
  if v == nil or v == util.null then return nil end
  if type(v) ~= "table" or util.is_bignum(v) then C.bad(name) end
  for k in pairs(v) do
    if type(k) ~= "number" then C.bad(name) end
  end
  return v
end

--- Number of UTF-8 characters (the document's lengths count characters).
function C.ulen(s)
  local _, n = gsub(s, "[^\128-\191]", "")
  return n
end

--- ICCID check: 19-20 characters.
function C.valid_iccid(s)
  return type(s) == "string" and #s >= 19 and #s <= 20
end

----------------------------------------------------------------------------
-- time (the sandbox clock, UTC)

--- "2022-09-16T01:14:58.000+00:00", the format of the document's examples.
function C.iso(t)
  if t == nil then return util.null end
  return os.date("!%Y-%m-%dT%H:%M:%S", floor(t)) .. ".000+00:00"
end

--- Days since 1970-01-01 of a civil date (proleptic Gregorian).
C.days_from_civil = util.days_from_civil

--- Epoch seconds of a UTC civil time.
function C.utc_epoch(y, mo, d, h, mi, s)
  return C.days_from_civil(y, mo, d) * 86400 + (h or 0) * 3600 + (mi or 0) * 60 + (s or 0)
end

--- {year, month, day} (UTC) of epoch t.
function C.ymd(t)
  local d = os.date("!*t", floor(t))
  return d.year, d.month, d.day
end

--- Days in a month.
function C.month_days(y, m)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return C.days_from_civil(ny, nm, 1) - C.days_from_civil(y, m, 1)
end

--- Months between (y1,m1) and (y2,m2): positive when the second is later.
function C.month_diff(y1, m1, y2, m2)
  return (y2 - y1) * 12 + (m2 - m1)
end

--- Parse a time parameter: "yyyy-MM-dd HH:mm:ss", ISO-8601 with Z/offset,
-- "yyyy-MM-dd", or epoch milliseconds. Returns epoch seconds or nil.
function C.parse_time(s)
  if type(s) ~= "string" then return nil end
  if find(s, "^%d+$") and #s >= 12 then return tonumber(s) / 1000 end
  local y, mo, d, rest = string.match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, se = 0, 0, 0
  local tz = 0
  if rest ~= "" then
    local hh, mm, ss, tail = string.match(rest, "^[T ](%d%d):(%d%d):(%d%d)(.*)$")
    if not hh then return nil end
    h, mi, se = tonumber(hh), tonumber(mm), tonumber(ss)
    tail = gsub(tail, "^%.%d+", "")
    if tail == "" or tail == "Z" then
      tz = 0
    else
      local sign, th, tm = string.match(tail, "^([%+%-])(%d%d):?(%d%d)$")
      if not sign then return nil end
      tz = (tonumber(th) * 3600 + tonumber(tm) * 60) * (sign == "+" and 1 or -1)
    end
  end
  return C.utc_epoch(tonumber(y), tonumber(mo), tonumber(d), h, mi, se) - tz
end

----------------------------------------------------------------------------
-- misc

--- A fresh request id (32 hex characters): random, plus a counter so two
-- answers of one sandbox run never share one.
local rid_counter = 0
function C.request_id()
  rid_counter = rid_counter + 1
  return util.random_hex(24) .. format("%08x", rid_counter % 4294967296)
end

--- Shallow list filter.
function C.filter(list, pred)
  local out = {}
  for _, v in ipairs(list) do
    if pred(v) then out[#out + 1] = v end
  end
  return out
end

--- Plain substring test (no patterns).
function C.contains(hay, needle)
  return type(hay) == "string" and find(hay, needle, 1, true) ~= nil
end

C.sub = sub

return C
