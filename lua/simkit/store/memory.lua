--- The in-process store: one Lua process (or one nginx worker), no I/O.
--
-- The same interface as every backend (see `simkit.store`). Values are kept
-- encoded (`simkit.store.codec`), so a table read back is a copy and types
-- round-trip exactly as in the durable backends; integers are kept as they
-- are (as shdict and SQLite keep them), so `incr` builds no text. Expiry follows the
-- monotonic clock, or `opts.clock` (seconds) when given, so specs can move
-- time.
-- @module simkit.store.memory
local codec = require "simkit.store.codec"
local is_integer = codec.is_integer
local util = require "simkit.util"

local Store = {}
Store.__index = Store

--- Create a memory store.
-- @tparam[opt] table opts `clock` (a function returning seconds; default monotonic)
-- @treturn table the store
local function new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("simkit.store.memory: opts must be a table or nil", 2) end
  if opts.clock ~= nil and type(opts.clock) ~= "function" then
    error("simkit.store.memory: opts.clock must be a function", 2)
  end
  return setmetatable({ data = {}, expiry = {}, clock = opts.clock or util.monotonic, backend = "memory" }, Store)
end

local function live(self, k)
  local exp = self.expiry[k]
  if exp and self.clock() >= exp then
    self.data[k], self.expiry[k] = nil, nil
  end
  return self.data[k]
end

local function put(self, k, enc, ttl)
  self.data[k] = enc
  self.expiry[k] = ttl and (self.clock() + ttl) or nil
end

--- Read a value. Returns the value, `nil` when absent, or nil, err.
function Store:get(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  local enc = live(self, k)
  if enc == nil then return nil end
  local v, derr = codec.decode(enc)
  if v == nil then return nil, codec.store_error("memory", derr) end
  return v
end

--- Write a value, with an optional TTL in seconds. Returns true or nil, err.
function Store:set(k, v, ttl)
  local enc, err = codec.encode_write(k, v, ttl, true)
  if not enc then return nil, err end
  put(self, k, enc, ttl)
  return true
end

--- Write a value only when the key is absent (the lock primitive).
-- @treturn boolean true when written, false when the key was present
function Store:add(k, v, ttl)
  local enc, err = codec.encode_write(k, v, ttl, true)
  if not enc then return nil, err end
  if live(self, k) ~= nil then return false end
  put(self, k, enc, ttl)
  return true
end

--- Add `n` (an integer) to the number at `k` (absent = 0); `ttl` applies when
-- the key is created. Returns the new value or nil, err.
function Store:incr(k, n, ttl)
  local ok, err = codec.check_incr_args(k, n, ttl)
  if not ok then return nil, err end
  local enc = live(self, k)
  if enc == nil then
    put(self, k, n, ttl)
    return n
  end
  local cur = enc -- integers are kept as they are (set/add with native); else decoded
  if not is_integer(cur) then cur = codec.decode(enc) end
  if not is_integer(cur) then
    return nil, codec.store_error("memory", "incr: the value at '" .. k .. "' is not an integer")
  end
  local v = codec.add_integers(cur, n)
  if v == nil then return nil, codec.store_error("memory", "incr: the sum at '" .. k .. "' overflows") end
  self.data[k] = v
  return v
end

--- Delete a key. Returns true or nil, err.
function Store:delete(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  self.data[k], self.expiry[k] = nil, nil
  return true
end

Store.__tostring = function() return "simkit.store.memory" end

return { new = new }
