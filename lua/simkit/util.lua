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
function M.monotonic()
  return core.monotonic()
end

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
    if v:match("^%-?%d+$") then return v end
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
