--- Helpers shared by the fleet's vendor mappings: units, times, statuses,
-- usage arithmetic, argument checks and error shapes. Pure functions only.
-- @module simkit.fleet.common
local errors = require "simkit.errors"
local util = require "simkit.util"

local M = {}

--- Bytes in one MB (the fleet's data unit).
M.MB = 1048576

--- The normalised card statuses.
M.STATUSES = { active = true, inactive = true, suspended = true, deactivated = true,
  testing = true, unknown = true }

--- The normalised actions, in a stable order.
M.ACTIONS = { "suspend", "resume", "network", "speed", "topup", "sms", "tag", "imei_lock", "usage_cap" }

--- The vendors a fleet knows, in the order `card(iccid)` tries them.
M.VENDORS = { "eiotclub", "huawei", "tibiot" }

local floor = math.floor

--- Is `x` a finite number?
function M.finite(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end

--- A vendor number (or numeric string) as a Lua number, or nil.
function M.num(v)
  if type(v) == "string" then v = tonumber(v) end
  if M.finite(v) then return v end
  return nil
end

--- A non-empty string, or nil (vendors send "" and JSON null for "none").
function M.str(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return util.integer_text(v) or tostring(v) end
  return nil
end

--- Round to 2 decimals (MB figures) without turning integers into floats.
function M.round2(x)
  if x == nil then return nil end
  local r = floor(x * 100 + 0.5) / 100
  if math.tointeger and r == floor(r) then return math.tointeger(r) or r end
  return r
end

--- The status table lookup: vendor value -> normalised status ("unknown"
-- for anything else). Keys are compared as text, so 20 and "20" agree.
function M.status(map, value)
  if value == nil then return "unknown" end
  return map[tostring(value)] or "unknown"
end

--- Usage from what the vendor gives: two of used / limit / left give the
-- third (left = limit - used). `left` is never negative: an overrun shows as
-- left 0 with used above limit (the vendor's own figure stays in `raw`).
-- @tparam table u { used_mb, limit_mb, left_mb, period, as_of, pooled }
function M.usage(u)
  local used, limit, left = u.used_mb, u.limit_mb, u.left_mb
  if not u.pooled then
    if limit == nil and used ~= nil and left ~= nil then limit = used + left end
    if left == nil and used ~= nil and limit ~= nil then left = limit - used end
    if used == nil and limit ~= nil and left ~= nil then used = limit - left end
  end
  if left ~= nil and left < 0 then left = 0 end
  return { used_mb = M.round2(used), limit_mb = M.round2(limit), left_mb = M.round2(left),
    period = u.period, as_of = u.as_of, pooled = u.pooled or nil }
end

--- Epoch seconds of a zone-less "yyyy-MM-dd[ HH:mm:ss]" text in the zone
-- `offset` seconds east of UTC (EIOTCLUB, TIBIOT: Beijing time, +28800).
function M.local_time(s, offset)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, se = 0, 0, 0
  if rest ~= "" then
    h, mi, se = rest:match("^[ T](%d%d):(%d%d):(%d%d)$")
    if not h then return nil end
  end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  if mo < 1 or mo > 12 or d < 1 or d > util.days_in_month(y, mo) or h > 23 or mi > 59 or se > 60 then
    return nil
  end
  return util.days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset
end

--- Epoch seconds of an ISO-8601 time with a zone ("...Z", "...+08:00");
-- fractions are dropped. nil for anything else.
function M.iso_time(s)
  if type(s) ~= "string" then return nil end
  local date, clock, zone = s:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d:%d%d:%d%d)%.?%d*(.*)$")
  if not date then return nil end
  local offset
  if zone == "Z" or zone == "z" then
    offset = 0
  else
    local sign, zh, zm = zone:match("^([%+%-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(zh) * 3600 + tonumber(zm) * 60) * (sign == "-" and -1 or 1)
  end
  return M.local_time(date .. " " .. clock, offset)
end

--- Beijing time (UTC+8), the zone of EIOTCLUB's and TIBIOT's text times.
M.BEIJING = 8 * 3600

--- Split `list` into consecutive chunks of at most `n` items.
function M.chunks(list, n)
  local out = {}
  for i = 1, #list, n do
    local c = {}
    for j = i, math.min(i + n - 1, #list) do c[#c + 1] = list[j] end
    out[#out + 1] = c
  end
  return out
end

--- An input error of the fleet (nothing was sent).
function M.input(message, extra)
  local f = { op = "fleet" }
  for k, v in pairs(extra or {}) do f[k] = v end
  return errors.input(message, f)
end

--- The error for an action the vendor has no operation for.
function M.unsupported(vendor, action)
  return errors.new { kind = "unsupported", vendor = vendor, op = action,
    message = vendor .. " has no operation for '" .. action .. "' (see fleet:capabilities)" }
end

--- The error for an ICCID no vendor knows.
function M.not_found(iccid, vendor)
  return errors.new { kind = "vendor", vendor = vendor, op = "card", code = "not_found",
    message = "card " .. tostring(iccid) .. " not found" .. (vendor and (" at " .. vendor) or " at any vendor") }
end

--- Is `s` an ICCID-like string (digits, 10-22 of them, a trailing F allowed)?
function M.iccid_ok(s)
  return type(s) == "string" and #s >= 10 and #s <= 22 and s:match("^%d+[Ff]?$") ~= nil
end

--- Checks of the normalised actions' arguments, vendor-independent. Each
-- returns the normalised arguments or nil and a message.
local CHECK = {}

local function no_args(args)
  if next(args) ~= nil then return nil, "takes no arguments" end
  return {}
end
CHECK.suspend, CHECK.resume = no_args, no_args

function CHECK.network(args)
  if type(args.on) ~= "boolean" then return nil, "'on' must be true or false" end
  return { on = args.on }
end

function CHECK.speed(args)
  local k = args.kbps
  if k == "default" then return { kbps = "default" } end
  if not M.finite(k) or k ~= floor(k) or k < 1 or k > 10485760 then
    return nil, "'kbps' must be an integer in 1..10485760 or \"default\""
  end
  return { kbps = floor(k) }
end

function CHECK.topup(args)
  if type(args.package) ~= "string" or args.package == "" or #args.package > 128 then
    return nil, "'package' must be a package code (a non-empty string)"
  end
  if args.key ~= nil and (type(args.key) ~= "string" or args.key == "" or #args.key > 32) then
    return nil, "'key' (the intent key) must be a string of 1..32 characters"
  end
  return { package = args.package, key = args.key }
end

function CHECK.sms(args)
  if type(args.text) ~= "string" or args.text == "" or #args.text > 4000 then
    return nil, "'text' must be a non-empty string"
  end
  return { text = args.text }
end

function CHECK.tag(args)
  if type(args.tags) ~= "table" then return nil, "'tags' must be a list of tag names" end
  local list, n = {}, 0
  for _ in pairs(args.tags) do n = n + 1 end
  if n ~= #args.tags then return nil, "'tags' must be a list (no keys)" end
  for i, t in ipairs(args.tags) do
    if type(t) ~= "string" or t == "" or #t > 64 then return nil, "'tags' items must be non-empty strings" end
    list[i] = t
  end
  if #list > 10 then return nil, "at most 10 tags" end
  return { tags = list }
end

function CHECK.imei_lock(args)
  if type(args.imei) ~= "string" or not args.imei:match("^%w+$") or #args.imei > 32 then
    return nil, "'imei' must be a string of letters and digits"
  end
  return { imei = args.imei }
end

function CHECK.usage_cap(args)
  local mb = args.mb
  if mb == false then return { mb = false } end
  if not M.finite(mb) or mb ~= floor(mb) or mb < 0 or mb > 2147483647 then
    return nil, "'mb' must be an integer >= 0 (or false to remove the cap)"
  end
  return { mb = floor(mb) }
end

--- Check `args` of `action`: the normalised arguments or nil, err (input).
function M.check_args(action, args)
  if args == nil then args = {} end
  if type(args) ~= "table" then return nil, M.input(action .. ": arguments must be a table", { op = action }) end
  for k in pairs(args) do
    if type(k) ~= "string" then return nil, M.input(action .. ": argument names must be strings", { op = action }) end
  end
  local norm, msg = CHECK[action](args)
  if not norm then return nil, M.input(action .. ": " .. msg, { op = action }) end
  local known = {}
  for k in pairs(norm) do known[k] = true end
  for k in pairs(args) do
    if not known[k] then return nil, M.input(action .. ": unknown argument '" .. k .. "'", { op = action, param = k }) end
  end
  return norm
end

--- Is `action` one of the normalised action names?
function M.is_action(action)
  return type(action) == "string" and CHECK[action] ~= nil
end

return M
