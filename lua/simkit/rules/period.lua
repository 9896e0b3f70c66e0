--- Calendar periods for the rules engine (internal): days and months in a
-- fixed-offset time zone ("+08:00"), shifted by a per-card billing anchor.
--
-- An anchor is `{ day = 1..28, hour = 0..23 }`: a month period starts on
-- `day` at `hour` local time, a day period starts every day at `hour`.
-- Period keys are strings ("2026-12-03", "2026-12"): the key of a month is
-- the local month in which the period starts.
-- @module simkit.rules.period
local util = require "simkit.util"

local M = {}

local floor = math.floor

--- Parse a time zone: "Z", "UTC", "+08:00", "-05:30", "+0800" or a number
-- of seconds. Returns the offset in seconds, or nil and a message.
function M.parse_tz(tz)
  if tz == nil or tz == "Z" or tz == "UTC" then return 0 end
  if type(tz) == "number" then
    if tz ~= tz or tz % 60 ~= 0 or tz < -14 * 3600 or tz > 14 * 3600 then
      return nil, "timezone: a number must be whole minutes of seconds within +-14 h"
    end
    return tz
  end
  if type(tz) ~= "string" then return nil, "timezone: expected a string like \"+08:00\", got " .. type(tz) end
  local sign, h, m = tz:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil, "timezone: expected \"+HH:MM\" or \"-HH:MM\", got \"" .. tz:sub(1, 40) .. "\"" end
  h, m = tonumber(h), tonumber(m)
  if h > 14 or m > 59 then return nil, "timezone: out of range: " .. tz end
  local off = h * 3600 + m * 60
  return sign == "-" and -off or off
end

--- Check an anchor table; returns it normalised or nil and a message.
function M.check_anchor(a)
  if a == nil then return { day = 1, hour = 0 } end
  if type(a) ~= "table" then return nil, "anchor: expected { day = 1..28, hour = 0..23 }" end
  local day, hour = a.day or 1, a.hour or 0
  if type(day) ~= "number" or day ~= floor(day) or type(hour) ~= "number" or hour ~= floor(hour) then
    return nil, "anchor: day and hour must be integers"
  end
  if day < 1 or day > 28 then return nil, "anchor: day must be 1..28 (every month has it)" end
  if hour < 0 or hour > 23 then return nil, "anchor: hour must be 0..23" end
  return { day = floor(day), hour = floor(hour) }
end

-- local wall-clock seconds of a UTC epoch, shifted back by the anchor hour
local function shifted(t, off, anchor)
  return t + off - anchor.hour * 3600
end

-- epoch of local date y-m-d at the anchor hour
local function epoch_of(y, m, d, off, anchor)
  return util.days_from_civil(y, m, d) * 86400 + anchor.hour * 3600 - off
end

--- The day period containing `t`: key, start epoch, next start epoch.
function M.day(t, off, anchor)
  local days = floor(shifted(t, off, anchor) / 86400)
  local y, m, d = util.civil_from_days(days)
  local start = epoch_of(y, m, d, off, anchor)
  return string.format("%04d-%02d-%02d", y, m, d), start, start + 86400
end

--- The month period containing `t`: key, start epoch, next start epoch.
function M.month(t, off, anchor)
  local days = floor(shifted(t, off, anchor) / 86400)
  local y, m, d = util.civil_from_days(days)
  if d < anchor.day then
    m = m - 1
    if m == 0 then y, m = y - 1, 12 end
  end
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return string.format("%04d-%02d", y, m), epoch_of(y, m, anchor.day, off, anchor),
    epoch_of(ny, nm, anchor.day, off, anchor)
end

--- Parse a re-arm or schedule spec: "next_day", "next_month", "after:S",
-- plus the extra words of `allowed` ("clear", "never", "now").
-- Returns `{ kind = ..., seconds = ... }` or nil and a message.
function M.parse_when(s, allowed)
  if type(s) ~= "string" then return nil, "expected a string, got " .. type(s) end
  if s == "next_day" or s == "next_month" or (allowed and allowed[s]) then return { kind = s } end
  local n = s:match("^after:(.+)$")
  n = tonumber(n)
  if n and n == n and n > 0 and n < 10 * 366 * 86400 then return { kind = "after", seconds = n } end
  return nil, "unknown value \"" .. s:sub(1, 60) .. "\""
end

--- When is `spec` (from parse_when) due, counted from `t`?
function M.due(spec, t, off, anchor)
  if spec.kind == "now" then return t end
  if spec.kind == "after" then return t + spec.seconds end
  if spec.kind == "next_day" then return select(3, M.day(t, off, anchor)) end
  return select(3, M.month(t, off, anchor))
end

return M
