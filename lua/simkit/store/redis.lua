--- The Redis store: state shared by several processes and machines through
-- one redis-server.
--
-- The same interface as every backend (see `simkit.store`). Inside nginx,
-- in the phases that allow cosockets (rewrite, access, content, timer, ...),
-- it talks through `resty.redis` (Debian's lua-nginx-redis, `nginx.redis`)
-- with keepalive pools, never blocking the event loop. Everywhere else
-- (plain Lua, cron jobs, init phases) it keeps one connection over
-- LuaSocket (`simkit.store.resp`), reopened after a failure.
--
-- Atomicity and time are the server's: `add` is `SET NX PX`; `incr` is one
-- server-side script (SET NX PX then INCRBY, exact int64); every TTL is a
-- `PX` the server counts down, so nodes' clocks never need to agree.
-- The password is kept out of the store table, its errors and `tostring`.
-- @module simkit.store.redis
local codec = require "simkit.store.codec"
local resp = require "simkit.store.resp"
local core = require "simkit.core"

local Store = {}
Store.__index = Store

local COSOCKET_PHASES = require("simkit.transport.auto").COSOCKET_PHASES

-- KEYS[1] key; ARGV[1] n; ARGV[2] ttl in ms ("0": none). Creates the key at 0
-- with its TTL when absent, then adds: one atomic step on the server.
local INCR_SCRIPT = [[
if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], '0', 'NX', 'PX', ARGV[2]) end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
]]

-- a per-process key for the pool names' password tags (pools are per worker)
local POOL_KEY = core.random_bytes(32)

local function fail(self, message)
  return nil, codec.store_error("redis", tostring(message) .. " (" .. self.where .. ")")
end

local function px(ttl)
  return string.format("%d", math.max(1, math.floor(ttl * 1000 + 0.5)))
end

local function in_cosocket_phase()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.get_phase) == "function" and COSOCKET_PHASES[ngx.get_phase()]
    and ngx.socket ~= nil
end

-- Authenticate and select the database on a fresh connection: true or nil, message.
local function handshake(call, password, db)
  if password then
    local r, err = call("AUTH", password)
    if r == nil then return nil, "AUTH failed: " .. tostring(err) end
  end
  if db ~= 0 then
    local r, err = call("SELECT", tostring(db))
    if r == nil then return nil, "SELECT " .. db .. " failed: " .. tostring(err) end
  end
  return true
end

-- One command through resty.redis (cosockets): reply | nil, message, server_error.
local function cosocket_call(self, password, ...)
  local ngx = rawget(_G, "ngx")
  local redis = require "nginx.redis"
  local red, err = redis:new()
  if not red then return nil, err end
  red:set_timeout(math.floor(self.timeout * 1000))
  local ok, cerr = red:connect(self.host, self.port, { pool = self._pool })
  if not ok then return nil, "connect " .. self.host .. ":" .. self.port .. ": " .. tostring(cerr) end
  local function call(cmd, ...)
    local r, e = red[cmd:lower()](red, ...)
    if r == false then return nil, e, true end
    if r == nil then return nil, e end
    if r == ngx.null then return resp.null end
    return r
  end
  if (red:get_reused_times() or 0) == 0 then
    local hok, herr = handshake(call, password, self.db)
    if not hok then
      red:close()
      return nil, herr
    end
  end
  local r, e, server = call(...)
  if r == nil and not server then
    red:close()
  else
    red:set_keepalive(self.keepalive * 1000, self.pool_size)
  end
  return r, e, server
end

-- One command over the store's LuaSocket connection (opened on demand).
local function socket_call(self, conns, password, ...)
  local c = conns.socket
  if not c then
    local err
    c, err = resp.connect { host = self.host, port = self.port, timeout = self.timeout }
    if not c then return nil, err end
    local ok, herr = handshake(function(...) return c:call(...) end, password, self.db)
    if not ok then
      c:close()
      return nil, herr
    end
    conns.socket = c
  end
  local r, e, server = c:call(...)
  if r == nil and not server then conns.socket = nil end
  return r, e, server
end

-- Run one command: reply (resp.null for a nil reply) | nil, err (kind "store").
local function command(self, ...)
  local r, e = self._call(...)
  if r == nil then return fail(self, e) end
  return r
end

--- Read a value. Returns the value, `nil` when absent, or nil, err.
function Store:get(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  local r, cerr = command(self, "GET", self.prefix .. k)
  if r == nil then return nil, cerr end
  if r == resp.null then return nil end
  if type(r) ~= "string" then return fail(self, "GET: unexpected reply") end
  local v, derr = codec.decode(r)
  if v == nil then return fail(self, derr) end
  return v
end

--- Write a value, with an optional TTL in seconds. Returns true or nil, err.
function Store:set(k, v, ttl)
  local enc, err = codec.encode_write(k, v, ttl)
  if not enc then return nil, err end
  local r, cerr
  if ttl then
    r, cerr = command(self, "SET", self.prefix .. k, enc, "PX", px(ttl))
  else
    r, cerr = command(self, "SET", self.prefix .. k, enc)
  end
  if r == nil then return nil, cerr end
  return true
end

--- Write a value only when the key is absent (`SET NX`, the lock primitive).
-- @treturn boolean true when written, false when the key was present
function Store:add(k, v, ttl)
  local enc, err = codec.encode_write(k, v, ttl)
  if not enc then return nil, err end
  local r, cerr
  if ttl then
    r, cerr = command(self, "SET", self.prefix .. k, enc, "NX", "PX", px(ttl))
  else
    r, cerr = command(self, "SET", self.prefix .. k, enc, "NX")
  end
  if r == nil then return nil, cerr end
  return r ~= resp.null
end

--- Add `n` (an integer) to the integer at `k` (absent = 0), atomically on the
-- server; `ttl` applies when the key is created. Returns the new value or
-- nil, err (`kind = "store"` when the value is not an integer or the sum overflows).
function Store:incr(k, n, ttl)
  local ok, err = codec.check_incr_args(k, n, ttl)
  if not ok then return nil, err end
  local r, cerr = command(self, "EVAL", INCR_SCRIPT, "1", self.prefix .. k, string.format("%d", n),
    ttl and px(ttl) or "0")
  if r == nil then
    if tostring(cerr.message):find("integer", 1, true) or tostring(cerr.message):find("overflow", 1, true) then
      return fail(self, "incr: the value at '" .. k .. "' is not an integer, or the sum overflows")
    end
    return nil, cerr
  end
  local v = type(r) == "string" and codec.decode(r)
  if type(v) ~= "number" then return fail(self, "incr: unexpected reply") end
  return v
end

--- Delete a key. Returns true or nil, err.
function Store:delete(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  local r, cerr = command(self, "DEL", self.prefix .. k)
  if r == nil then return nil, cerr end
  return true
end

--- Close the plain-Lua connection (it reopens on the next call).
function Store:close()
  self._close()
end

Store.__tostring = function(self) return "simkit.store.redis(" .. self.where .. ")" end

local function opt(cond, msg)
  if not cond then error("simkit.store.redis: " .. msg, 3) end
end

local function is_int(v) return type(v) == "number" and codec.is_integer(v) end

--- Create a Redis store (connects on first use).
-- @tparam[opt] table opts `host` ("127.0.0.1"), `port` (6379), `db` (0),
--   `password`, `prefix` ("simkit:"; prepended to every key), `timeout`
--   (seconds for connect and each reply, default 2), `keepalive` (seconds an
--   idle cosocket stays pooled, default 10), `pool_size` (cosockets per worker, default 64)
-- @treturn table the store
local function new(opts)
  opts = opts or {}
  opt(type(opts) == "table", "opts must be a table or nil")
  local host, port, db = opts.host or "127.0.0.1", opts.port or 6379, opts.db or 0
  local prefix, timeout = opts.prefix or "simkit:", opts.timeout or 2
  opt(type(host) == "string" and host ~= "", "opts.host must be a non-empty string")
  opt(is_int(port) and port >= 1 and port <= 65535, "opts.port must be an integer in 1..65535")
  opt(is_int(db) and db >= 0 and db <= 65535, "opts.db must be an integer >= 0")
  opt(opts.password == nil or (type(opts.password) == "string" and opts.password ~= ""),
    "opts.password must be a non-empty string or nil")
  opt(type(prefix) == "string" and #prefix <= 256, "opts.prefix must be a string of at most 256 bytes")
  opt(type(timeout) == "number" and timeout > 0 and timeout <= 3600, "opts.timeout must be seconds in (0, 3600]")
  local keepalive, pool_size = opts.keepalive or 10, opts.pool_size or 64
  opt(type(keepalive) == "number" and keepalive > 0 and keepalive <= 3600, "opts.keepalive must be seconds in (0, 3600]")
  opt(is_int(pool_size) and pool_size >= 1 and pool_size <= 10000, "opts.pool_size must be an integer in 1..10000")
  local self = setmetatable({ host = host, port = port, db = db, prefix = prefix, timeout = timeout,
    keepalive = keepalive, pool_size = pool_size, backend = "redis",
    where = host .. ":" .. port .. "/" .. db }, Store)
  -- the password lives only in these closures
  local password, conns = opts.password, {}
  -- nginx keepalive pools (per worker) keyed by everything a connection is
  -- set up with, so a store never gets a connection of another db or password
  self._pool = "simkit.store.redis:" .. self.where .. ":" ..
    (password and core.hex(core.hmac_sha256(POOL_KEY, password)):sub(1, 16) or "-")
  self._call = function(...)
    if in_cosocket_phase() then return cosocket_call(self, password, ...) end
    return socket_call(self, conns, password, ...)
  end
  self._close = function()
    if conns.socket then conns.socket:close() end
    conns.socket = nil
  end
  return self
end

return { new = new }
