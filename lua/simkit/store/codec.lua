--- The value encoding shared by the durable store backends (internal).
--
-- A stored value is one string: a type tag and the payload, so that a value
-- comes back with the type it went in with (`"007"` stays a string, `7`
-- stays an integer, `0.5` a float, a table a table):
--
--   an integer is its bare decimal text (`-12`), so that a backend can add
--   to it natively (Redis INCRBY, SQLite integer arithmetic); every other
--   value is a tag and its payload: `s:` string, `f:` float (`%.17g`),
--   `b:1`/`b:0` boolean, `t:` JSON (simkit.json, integers exact).
--
-- On LuaJIT (no integer type) a number with an integral value within
-- +-2^53 stores as an integer; beyond that LuaJIT numbers are not exact.
--
-- Also the argument checks every backend applies, so that all four refuse
-- the same bad input with the same `kind = "input"` error.
-- @module simkit.store.codec
local json = require "simkit.json"
local errors = require "simkit.errors"

local M = {}

--- Longest key accepted (bytes).
M.MAX_KEY = 512
--- Largest encoded value accepted (bytes).
M.MAX_VALUE = 8 * 1024 * 1024
--- Longest TTL accepted (seconds; ten years).
M.MAX_TTL = 10 * 366 * 86400

local HAS_INT = math.type ~= nil
local MAXINT = math.maxinteger or 2^53
local MININT = math.mininteger or -2^53

local math_type, floor = math.type, math.floor
local is_integer
if HAS_INT then
  is_integer = function(n) return math_type(n) == "integer" end
else
  is_integer = function(n) return type(n) == "number" and n == floor(n) and n >= MININT and n <= MAXINT end
end
M.is_integer = is_integer

--- `a + b` for two integers, or nil when the sum leaves the exact range
-- (int64 on Lua 5.3+, +-2^53 on LuaJIT): an `incr` never wraps around.
function M.add_integers(a, b)
  if (b > 0 and a > MAXINT - b) or (b < 0 and a < MININT - b) then return nil end
  return a + b
end

--- A store error (`kind = "store"`).
-- @tparam string backend "sqlite", "redis", ...
-- @tparam string message what failed
-- @treturn table the error
function M.store_error(backend, message)
  return errors.new { kind = "store", backend = backend, message = backend .. ": " .. tostring(message),
    retryable = true }
end

--- An input error for a store call.
function M.input_error(message)
  return errors.input("store: " .. message)
end

--- Check a key. Returns true or nil, err.
function M.check_key(k)
  if type(k) ~= "string" then return nil, M.input_error("a key must be a string, got " .. type(k)) end
  if k == "" then return nil, M.input_error("a key must not be empty") end
  if #k > M.MAX_KEY then return nil, M.input_error("a key is at most " .. M.MAX_KEY .. " bytes") end
  return true
end

--- Check a TTL (nil = no expiry). Returns true or nil, err.
function M.check_ttl(ttl)
  if ttl == nil then return true end
  if type(ttl) ~= "number" then return nil, M.input_error("ttl must be a number of seconds, got " .. type(ttl)) end
  if ttl ~= ttl or ttl <= 0 or ttl > M.MAX_TTL then
    return nil, M.input_error("ttl must be a number of seconds in (0, " .. M.MAX_TTL .. "], got " .. tostring(ttl))
  end
  return true
end

--- Check an increment. Returns true or nil, err.
function M.check_incr(n)
  if type(n) ~= "number" or not is_integer(n) then
    return nil, M.input_error("incr takes an integer, got " .. tostring(n))
  end
  return true
end

--- Check the arguments of `set` / `add`: a key and an optional TTL.
-- Returns true or nil, err.
function M.check_write(k, ttl)
  -- the common case in one expression, without a call (each call is ~0.3k
  -- instructions on Lua 5.4, and a paced request makes several); the
  -- detailed errors below
  if type(k) == "string" and k ~= "" and #k <= M.MAX_KEY and
      (ttl == nil or (type(ttl) == "number" and ttl > 0 and ttl <= M.MAX_TTL)) then
    return true
  end
  local ok, err = M.check_key(k)
  if ok then ok, err = M.check_ttl(ttl) end
  return ok, err
end

--- Check the arguments of `set` / `add` and encode the value: what a backend
-- writes. With `native`, an integer stays a number (for the backends that add
-- to it in place: shdict, SQLite); anything else is the encoded text.
-- @tparam string k the key
-- @param v the value
-- @tparam[opt] number ttl seconds
-- @tparam[opt] boolean native keep integers as numbers
-- @return the value to write, or nil, err (kind "input")
function M.encode_write(k, v, ttl, native)
  local ok, err = M.check_write(k, ttl)
  if not ok then return nil, err end
  if native and is_integer(v) then return v end -- kept as it is: no text to build
  local enc, eerr = M.encode(v)
  if not enc then return nil, eerr end
  return enc
end

--- Check the arguments of `incr`: a key, an integer and an optional TTL.
-- Returns true or nil, err.
function M.check_incr_args(k, n, ttl)
  -- an integer: the key and the ttl are what is left to check, in that order
  if is_integer(n) then return M.check_write(k, ttl) end
  local ok, err = M.check_key(k)
  if ok then ok, err = M.check_incr(n) end
  if ok then ok, err = M.check_ttl(ttl) end
  return ok, err
end

--- Encode a value for storage. Returns the text or nil, err (`kind = "input"`).
function M.encode(v)
  local t = type(v)
  local s
  if t == "string" then
    s = "s:" .. v
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, M.input_error("cannot store " .. tostring(v))
    end
    if is_integer(v) then
      s = string.format("%d", v)
    else
      s = "f:" .. string.format("%.17g", v)
    end
  elseif t == "boolean" then
    s = v and "b:1" or "b:0"
  elseif t == "table" then
    local text, err = json.encode(v)
    if not text then return nil, M.input_error("value is not JSON-able: " .. tostring(err)) end
    s = "t:" .. text
  else
    return nil, M.input_error("cannot store a " .. t .. " (strings, numbers, booleans, tables)")
  end
  if #s > M.MAX_VALUE then return nil, M.input_error("value is larger than " .. M.MAX_VALUE .. " bytes") end
  return s
end

--- Decode a stored text (or a backend's native integer). Returns the value, or nil, err for a corrupt entry.
function M.decode(s)
  if type(s) == "number" and is_integer(s) then return s end -- a backend's native integer
  if type(s) ~= "string" then return nil, "corrupt entry (" .. type(s) .. ")" end
  if s:find("^%-?%d+$") then
    local n = tonumber(s)
    if HAS_INT then n = math.tointeger(n) end
    if n == nil then return nil, "corrupt integer entry" end
    return n
  end
  local tag, body = s:sub(1, 2), s:sub(3)
  if tag == "s:" then return body end
  if tag == "f:" then
    local n = tonumber(body)
    if n == nil then return nil, "corrupt number entry" end
    return n + 0.0
  end
  if tag == "b:" then return body == "1" end
  if tag == "t:" then
    local v, err = json.decode(body)
    if v == nil then return nil, "corrupt table entry: " .. tostring(err) end
    return v
  end
  return nil, "corrupt entry (unknown tag)"
end

return M
