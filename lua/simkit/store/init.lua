--- Durable state for everything that must outlive a call or be shared:
-- rule state, the ledger, schedules, snapshots, notification
-- de-duplication, the Huawei token cache and rate-limit window, the ICCID ->
-- vendor index.
--
-- One interface, every backend:
--
--   store:get(k)                -> value | nil (absent) | nil, err
--   store:set(k, v, ttl)        -> true | nil, err
--   store:add(k, v, ttl)        -> true | false (present) | nil, err
--   store:incr(k, n, ttl)       -> new value | nil, err   (ttl applies on creation)
--   store:delete(k)             -> true | nil, err
--
-- `ttl` is in seconds (fractions allowed), absent = no expiry. Values are
-- strings, numbers (integers exact), booleans or JSON-able tables and come
-- back with their type. Bad arguments give `kind = "input"`; a backend that
-- fails gives `kind = "store"`. Store methods never raise.
--
-- Backends: `memory()`, `sqlite(path)`, `shdict(name)`, `redis{ ... }`.
-- @module simkit.store
local M = {}

--- A store for one process (the default).
-- @tparam[opt] table opts `clock`
function M.memory(opts)
  return require("simkit.store.memory").new(opts)
end

--- A SQLite store: one file shared by the processes of one machine (cron
-- jobs, the CLI). Refused inside nginx request phases (it blocks).
-- @tparam string path the database file
-- @tparam[opt] table opts `busy_timeout` (seconds, default 5), `clock`
function M.sqlite(path, opts)
  return require("simkit.store.sqlite").new(path, opts)
end

--- A store on a `lua_shared_dict`: one nginx node, all its workers.
-- @tparam string name the dict's name in nginx.conf
function M.shdict(name)
  return require("simkit.store.shdict").new(name)
end

--- A Redis store: several processes and machines on one redis-server.
-- @tparam[opt] table opts `host`, `port`, `db`, `password`, `prefix`, `timeout`,
--   `keepalive`, `pool_size`
function M.redis(opts)
  return require("simkit.store.redis").new(opts)
end

--- Is `v` a store (has the five methods)?
-- @param v any value
-- @treturn boolean
function M.is_store(v)
  if type(v) ~= "table" then return false end
  for _, m in ipairs({ "get", "set", "add", "incr", "delete" }) do
    if type(v[m]) ~= "function" then return false end
  end
  return true
end

return M
