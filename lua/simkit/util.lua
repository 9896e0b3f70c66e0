--- Small helpers shared by the Lua layer (internal).
-- @module simkit.util
local core = require "simkit.core"

local M = {}

local ngx = rawget(_G, "ngx")

--- Unix time in seconds (float).
function M.now()
  if ngx and ngx.now then return ngx.now() end
  return core.now()
end

--- Monotonic seconds (CLOCK_MONOTONIC: shared by the processes of one host,
-- unaffected by wall-clock steps; a cheap non-blocking call inside nginx too).
-- The C function itself (no Lua call around it: the pacing reads it twice
-- per request).
-- @function monotonic
-- @treturn number seconds
M.monotonic = core.monotonic

--- Sleep: non-blocking under nginx (ngx.sleep), blocking elsewhere.
function M.sleep(seconds)
  if seconds <= 0 then return end
  if ngx and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then
    local ok = pcall(ngx.sleep, seconds)
    if ok then return end
  end
  core.sleep(seconds)
end

--- Uniform random integer in [lo, hi] from OpenSSL's CSPRNG.
function M.random_int(lo, hi)
  local b = core.random_bytes(4)
  local n = ((b:byte(1) * 256 + b:byte(2)) * 256 + b:byte(3)) * 256 + b:byte(4)
  return lo + n % (hi - lo + 1)
end

--- Random lower-case hex string of 2*n characters.
function M.random_hex(n)
  return core.hex(core.random_bytes(n))
end

--- RFC 3986 percent-encoding (unreserved kept, space as %20).
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

--- Integer text of a number or numeric string, exact (no float formatting).
-- @return string|nil
function M.integer_text(v)
  if type(v) == "string" then
    if core.int_text(v) then return v end -- "-?digits" (a C pass: no pattern per call)
    return nil
  end
  if type(v) == "number" then
    if math.type then
      if math.type(v) == "integer" then return string.format("%d", v) end
      if v == math.floor(v) and v > -2^63 and v < 2^63 then
        return string.format("%d", math.tointeger(v))
      end
      return nil
    end
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%.0f", v) end
  end
  return nil
end

--- Days since 1970-01-01 of a proleptic Gregorian date (UTC).
-- @treturn number days (may be negative)
function M.days_from_civil(y, m, d)
  local floor = math.floor
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12 -- March = 0
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- The date of a day number (the inverse of `days_from_civil`).
-- @treturn number,number,number year, month, day
function M.civil_from_days(days)
  local floor = math.floor
  local z = days + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return y, m, doy - floor((153 * mp + 2) / 5) + 1
end

local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Days in a month of the Gregorian calendar (nil for a month outside 1-12).
function M.days_in_month(y, m)
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then return 29 end
  return MDAYS[m]
end

local BY_NAME = setmetatable({}, { __mode = "k" })

--- name -> entry of a list of `{ name = ... }` tables (a vendor table's
-- params or fields), built once per list and kept while the list lives.
function M.by_name(list)
  local t = BY_NAME[list]
  if not t then
    t = {}
    for _, e in ipairs(list) do t[e.name] = e end
    BY_NAME[list] = t
  end
  return t
end

--- Is `v` a finite number (not NaN, not +-inf)?
-- @param v any value
-- @treturn boolean
function M.finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

-- Levenshtein distance, with an early exit above `cap`.
local function distance(a, b, cap)
  if math.abs(#a - #b) > cap then return cap + 1 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur, best = { [0] = i }, i
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = (ca == b:byte(j)) and 0 or 1
      local v = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      cur[j] = v
      if v < best then best = v end
    end
    if best > cap then return cap + 1 end
    prev = cur
  end
  return prev[#b]
end

--- The names of `names` closest to `word` (edit distance at most a third of
-- its length, at least 2), best first, at most `n` of them, each quoted.
-- @tparam string word
-- @tparam table names a list of strings
-- @tparam number n
-- @treturn table
function M.closest(word, names, n)
  local cap = math.max(2, math.floor(#word / 3))
  local scored = {}
  for _, name in ipairs(names) do
    local d = distance(word, name, cap)
    if d <= cap then scored[#scored + 1] = { name, d } end
  end
  table.sort(scored, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[1] < y[1]
  end)
  local out = {}
  for i = 1, math.min(n, #scored) do out[i] = "'" .. scored[i][1] .. "'" end
  return out
end

--- Shallow copy of a table.
function M.copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- Value at a dotted path ("data.cardInfoList") inside a table.
function M.get_path(t, path)
  if not path then return t end
  local cur = t
  for part in path:gmatch("[^%.]+") do
    if type(cur) ~= "table" then return nil end
    cur = cur[part]
  end
  return cur
end

return M
