--- The SQLite store: one file, shared safely by several processes on one
-- machine (cron jobs that overlap, the CLI, a rules engine).
--
-- The same interface as every backend (see `simkit.store`). Through the C
-- core's own binding to libsqlite3 (prepared statements, exact int64). The
-- file is in WAL mode (readers never wait for a writer) with a busy timeout
-- (a writer waits up to `busy_timeout` seconds for another, then fails with
-- `kind = "store"`). `add` and `incr` are each one statement (an UPSERT), so
-- they are atomic across processes. A TTL is an `expires` column (wall-clock
-- seconds) checked on every read; expired rows are purged lazily.
--
-- Opened lazily: a path that cannot be opened makes every call return
-- `nil, err` with `kind = "store"` (and the next call tries again).
--
-- SQLite blocks: inside nginx it is refused in the phases that serve
-- requests (rewrite, access, content, timer, log, filters, ...), with
-- `kind = "store"`; use `simkit.store.shdict` or `simkit.store.redis` there.
-- It works in `init_by_lua*` and `init_worker_by_lua*`.
-- @module simkit.store.sqlite
local core = require "simkit.core"
local codec = require "simkit.store.codec"

local Store = {}
Store.__index = Store

local BLOCKING_OK = { init = true, init_worker = true, exit_worker = true }

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS simkit_kv (k TEXT PRIMARY KEY NOT NULL, v NOT NULL, expires REAL);
CREATE INDEX IF NOT EXISTS simkit_kv_expires ON simkit_kv (expires) WHERE expires IS NOT NULL;
]]

-- ?1 key, ?2 now
local GET = "SELECT v FROM simkit_kv WHERE k = ?1 AND (expires IS NULL OR expires > ?2)"
-- ?1 key, ?2 value, ?3 expires (or NULL)
local SET = "INSERT INTO simkit_kv (k, v, expires) VALUES (?1, ?2, ?3) " ..
  "ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires = excluded.expires"
-- ?1 key, ?2 value, ?3 expires, ?4 now: writes only over an absent or expired row
local ADD = SET .. " WHERE simkit_kv.expires IS NOT NULL AND simkit_kv.expires <= ?4"
-- ?1 key, ?2 n, ?3 expires, ?4 now: a live integer gets n added (unless the
-- sum overflows int64); an absent or expired row becomes n with a new expiry.
-- No row comes back when the live value is not an integer or would overflow.
local INCR = [[
INSERT INTO simkit_kv (k, v, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (k) DO UPDATE SET
  v = CASE WHEN simkit_kv.expires <= ?4 THEN excluded.v ELSE simkit_kv.v + excluded.v END,
  expires = CASE WHEN simkit_kv.expires <= ?4 THEN excluded.expires ELSE simkit_kv.expires END
WHERE simkit_kv.expires <= ?4
   OR (typeof(simkit_kv.v) = 'integer'
       AND NOT (?2 > 0 AND simkit_kv.v > 9223372036854775807 - ?2)
       AND NOT (?2 < 0 AND simkit_kv.v < -9223372036854775808 - ?2))
RETURNING v]]
local DELETE = "DELETE FROM simkit_kv WHERE k = ?1"
local PURGE = "DELETE FROM simkit_kv WHERE expires IS NOT NULL AND expires <= ?1"
local PURGE_EVERY = 1000 -- writes between two purges, per store object

local function fail(self, message)
  return nil, codec.store_error("sqlite", tostring(message) .. " (" .. self.path .. ")")
end

-- The open connection, or nil, err.
local function db(self)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" and not BLOCKING_OK[ngx.get_phase()] then
    return fail(self, "SQLite blocks the nginx event loop and is refused in the '" .. ngx.get_phase() ..
      "' phase; use simkit.store.shdict or simkit.store.redis inside nginx")
  end
  if self.conn then return self.conn end
  local conn, err = core.sqlite_open(self.path, self.busy_ms)
  if not conn then return fail(self, err) end
  -- Switching a new file to WAL and creating the table take write locks that
  -- SQLite may refuse at once (no busy wait, to avoid a deadlock) when
  -- several processes open the same new file together: try again within the
  -- busy timeout.
  local deadline = core.monotonic() + self.busy_ms / 1000
  local ok, eerr
  while true do
    ok, eerr = conn:exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
    if ok then ok, eerr = conn:exec(SCHEMA) end
    if ok or not tostring(eerr):find("locked", 1, true) or core.monotonic() >= deadline then break end
    core.sleep(0.01 + math.random() * 0.02)
  end
  if not ok then
    conn:close()
    return fail(self, eerr)
  end
  self.conn = conn
  return conn
end

-- Run one statement: true, first column | nil, err.
local function run(self, sql, ...)
  local conn, err = db(self)
  if not conn then return nil, err end
  local ok, value, changes = conn:run(sql, ...)
  if not ok then return fail(self, value) end
  return true, value, changes
end

local function expires(self, ttl)
  return ttl and (self.clock() + ttl) or nil
end

local function after_write(self)
  self.writes = self.writes + 1
  if self.writes % PURGE_EVERY == 0 then run(self, PURGE, self.clock()) end
end

--- Read a value. Returns the value, `nil` when absent, or nil, err.
function Store:get(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  local v
  ok, v = run(self, GET, k, self.clock())
  if not ok then return nil, v end
  if v == nil then return nil end
  local value, derr = codec.decode(v)
  if value == nil then return fail(self, derr) end
  return value
end

-- SET or ADD: the number of rows written, or nil, err.
local function write(self, sql, k, v, ttl)
  -- bound as is: integers natively (so incr adds in SQL), the rest encoded
  local enc, err = codec.encode_write(k, v, ttl, true)
  if enc == nil then return nil, err end
  local ok, _, changes
  if sql == ADD then
    ok, _, changes = run(self, sql, k, enc, expires(self, ttl), self.clock())
  else
    ok, _, changes = run(self, sql, k, enc, expires(self, ttl))
  end
  if not ok then return nil, _ end
  after_write(self)
  return changes
end

--- Write a value, with an optional TTL in seconds. Returns true or nil, err.
function Store:set(k, v, ttl)
  local changes, err = write(self, SET, k, v, ttl)
  if not changes then return nil, err end
  return true
end

--- Write a value only when the key is absent or expired (the lock primitive),
-- atomically across processes.
-- @treturn boolean true when written, false when the key was present
function Store:add(k, v, ttl)
  local changes, err = write(self, ADD, k, v, ttl)
  if not changes then return nil, err end
  return changes > 0
end

--- Add `n` (an integer) to the integer at `k` (absent = 0), atomically across
-- processes; `ttl` applies when the key is created. Returns the new value or
-- nil, err (`kind = "store"` when the value is not an integer or the sum overflows).
function Store:incr(k, n, ttl)
  local ok, err = codec.check_incr_args(k, n, ttl)
  if not ok then return nil, err end
  local v
  ok, v = run(self, INCR, k, n, expires(self, ttl), self.clock())
  if not ok then return nil, v end
  after_write(self)
  if v == nil then return fail(self, "incr: the value at '" .. k .. "' is not an integer, or the sum overflows") end
  return v
end

--- Delete a key. Returns true or nil, err.
function Store:delete(k)
  local ok, err = codec.check_key(k)
  if not ok then return nil, err end
  ok, err = run(self, DELETE, k)
  if not ok then return nil, err end
  return true
end

--- Close the connection (it reopens on the next call).
function Store:close()
  if self.conn then self.conn:close() end
  self.conn = nil
end

Store.__tostring = function(self) return "simkit.store.sqlite(" .. self.path .. ")" end

--- Create a SQLite store (opened on first use).
-- @tparam string path the database file
-- @tparam[opt] table opts `busy_timeout` (seconds a writer waits for another, default 5),
--   `clock` (a function returning wall-clock seconds; default `simkit.core.now`)
-- @treturn table the store
local function new(path, opts)
  if type(path) ~= "string" or path == "" then error("simkit.store.sqlite: path must be a non-empty string", 2) end
  opts = opts or {}
  if type(opts) ~= "table" then error("simkit.store.sqlite: opts must be a table or nil", 2) end
  local busy = opts.busy_timeout or 5
  if type(busy) ~= "number" or busy ~= busy or busy < 0 or busy > 3600 then
    error("simkit.store.sqlite: opts.busy_timeout must be seconds in 0..3600", 2)
  end
  if opts.clock ~= nil and type(opts.clock) ~= "function" then
    error("simkit.store.sqlite: opts.clock must be a function", 2)
  end
  return setmetatable({ path = path, busy_ms = math.floor(busy * 1000), clock = opts.clock or core.now,
    writes = 0, backend = "sqlite" }, Store)
end

return { new = new }
