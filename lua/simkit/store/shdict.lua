--- The shared-dict store: one nginx node, shared by all its workers
-- (`lua_shared_dict NAME SIZE;` in nginx.conf).
--
-- The same interface as every backend (see `simkit.store`). `add` and `incr`
-- are the dict's own atomic operations; TTLs are the dict's (millisecond
-- resolution, fractions allowed). Integers are stored as dict numbers (so
-- `incr` is native; exact to 2^53, as LuaJIT numbers are), every other value
-- encoded by `simkit.store.codec`. Writes never evict other keys
-- (`safe_set` / `safe_add`): a full dict is `nil, err` with `kind = "store"`,
-- not a lock that silently disappears.
-- @module simkit.store.shdict
local codec = require "simkit.store.codec"


local Store = {}
Store.__index = Store

local function fail(self, message)
  return nil, codec.store_error("shdict", tostring(message) .. " (lua_shared_dict " .. self.name .. ")")
end

--- Read a value. Returns the value, `nil` when absent, or nil, err.
function Store:get(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  local v = self.dict:get(k)
  if v == nil then return nil end
  local value, derr = codec.decode(v)
  if value == nil then return fail(self, derr) end
  return value
end

--- Write a value, with an optional TTL in seconds. Returns true or nil, err.
function Store:set(k, v, ttl)
  -- integers natively (incr adds in place), the rest encoded
  local val, err = codec.encode_write(k, v, ttl, true)
  if val == nil then return nil, err end
  local ok, serr = self.dict:safe_set(k, val, ttl or 0)
  if not ok then return fail(self, serr) end
  return true
end

--- Write a value only when the key is absent (the lock primitive).
-- @treturn boolean true when written, false when the key was present
function Store:add(k, v, ttl)
  -- integers natively (incr adds in place), the rest encoded
  local val, err = codec.encode_write(k, v, ttl, true)
  if val == nil then return nil, err end
  local ok, aerr = self.dict:safe_add(k, val, ttl or 0)
  if ok then return true end
  if aerr == "exists" then return false end
  return fail(self, aerr)
end

--- Add `n` (an integer) to the integer at `k` (absent = 0); `ttl` applies when
-- the key is created. Returns the new value or nil, err.
function Store:incr(k, n, ttl)
  local ok, err = codec.check_incr_args(k, n, ttl)
  if not ok then return nil, err end
  local cur = self.dict:get(k)
  if cur ~= nil and type(cur) ~= "number" then
    return fail(self, "incr: the value at '" .. k .. "' is not an integer")
  end
  if cur ~= nil and codec.add_integers(cur, n) == nil then
    return fail(self, "incr: the sum at '" .. k .. "' overflows")
  end
  local v, ierr = self.dict:incr(k, n, 0, ttl or 0)
  if v == nil then
    if ierr == "not a number" then return fail(self, "incr: the value at '" .. k .. "' is not an integer") end
    return fail(self, ierr)
  end
  return v
end

--- Delete a key. Returns true or nil, err.
function Store:delete(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  self.dict:delete(k)
  return true
end

Store.__tostring = function(self) return "simkit.store.shdict(" .. self.name .. ")" end

--- Create a store on a `lua_shared_dict`.
-- @tparam string name the dict's name in nginx.conf
-- @treturn table the store
local function new(name)
  if type(name) ~= "string" or name == "" then error("simkit.store.shdict: name must be a non-empty string", 2) end
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.shared) ~= "table" then
    error("simkit.store.shdict works inside nginx (lua-nginx-module) only; use simkit.store.sqlite or " ..
      "simkit.store.redis elsewhere", 2)
  end
  local dict = ngx.shared[name]
  if not dict then error("simkit.store.shdict: no 'lua_shared_dict " .. name .. " <size>;' in nginx.conf", 2) end
  return setmetatable({ dict = dict, name = name, backend = "shdict" }, Store)
end

return { new = new }
