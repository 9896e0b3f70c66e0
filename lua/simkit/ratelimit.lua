--- Client-side rate limiter: sliding windows of "at most N calls per
-- period" per key, with slot reservation so that concurrent callers (nginx
-- light threads) are served in order.
--
-- By default the state is module-level: every client of the same account in
-- the process (one nginx worker) shares it. To share it between processes
-- of one host (several nginx workers, several cron jobs), give the client a
-- store: `rate_limit_store = simkit.ratelimit.shared_dict_store(ngx.shared.DICT)`
-- or any table `{ get(key) -> string|nil, set(key, string, ttl), lock(key) ->
-- bool, unlock(key) }` whose `lock` is atomic across the processes (like
-- `ngx.shared.DICT:add`). The windows are then read, updated and written
-- back under that lock. Times come from the client's clock (monotonic,
-- shared by the processes of one host). The clock and the sleep are injected.
-- @module simkit.ratelimit
local M = {}

--- Seconds after which a lock left by a crashed holder is broken.
M.LOCK_TTL = 1
--- Seconds a caller waits for the store's lock before giving up.
M.LOCK_WAIT = 2

-- key -> list of the most recent grant times (ascending), at most `limit`
local WINDOWS = {}

--- Forget all in-process state (specs).
function M.reset()
  WINDOWS = {}
end

local function local_window(windows, key)
  local w = windows[key]
  if not w then
    w = {}
    windows[key] = w
  end
  return w
end

-- Earliest time >= now at which one more call fits in `w` (limit per period).
local function earliest(w, limit, period, now)
  local t = now
  if #w >= limit then
    local bound = w[#w - limit + 1] + period
    if bound > t then t = bound end
  end
  return t
end

-- The reservation itself, on `windows` (key -> ascending list of times).
local function reserve_in(windows, rules, now, reserve_future)
  local t = now
  for _, r in ipairs(rules) do
    local e = earliest(local_window(windows, r.key), r.limit, r.period, now)
    if e > t then t = e end
  end
  if t > now and not reserve_future then
    return nil, t - now
  end
  for _, r in ipairs(rules) do
    local w = local_window(windows, r.key)
    -- keep the list sorted (reservations are monotonic per window in practice)
    local pos = #w + 1
    while pos > 1 and w[pos - 1] > t do pos = pos - 1 end
    table.insert(w, pos, t)
    while #w > r.limit do table.remove(w, 1) end
  end
  return t
end

local function decode_window(text)
  local w = {}
  for n in (text or ""):gmatch("[^,]+") do w[#w + 1] = tonumber(n) end
  return w
end

local function encode_window(w)
  local parts = {}
  for i, t in ipairs(w) do parts[i] = string.format("%.6f", t) end
  return table.concat(parts, ",")
end

--- Reserve a slot in every window of `rules` (`{ {key=, limit=, period=}, ... }`).
-- @tparam table rules the windows that must all admit the call
-- @tparam number now the current time (same clock as the state)
-- @tparam boolean reserve_future when false, only a slot at `now` is taken
-- @tparam[opt] table store a shared store (see the module description); it
--   must be locked by the caller
-- @treturn number the reserved time (>= now), or nil and the seconds to wait
function M.reserve(rules, now, reserve_future, store)
  if not store then return reserve_in(WINDOWS, rules, now, reserve_future) end
  local windows, ttl = {}, 1
  for _, r in ipairs(rules) do
    windows[r.key] = decode_window(store.get("rl:" .. r.key))
    if r.period * 2 > ttl then ttl = r.period * 2 end
  end
  local t, wait = reserve_in(windows, rules, now, reserve_future)
  if not t then return nil, wait end
  for _, r in ipairs(rules) do
    -- kept a little longer than the latest reservation can matter
    store.set("rl:" .. r.key, encode_window(windows[r.key]), ttl + (t - now))
  end
  return t
end

--- Acquire one call: waits (with `sleep`) by default, or returns nil and the
-- wait in seconds when `mode == "error"`.
-- @tparam table rules as for `reserve`
-- @tparam function clock monotonic seconds
-- @tparam function sleep sleep(seconds)
-- @tparam[opt] string mode "wait" (default) or "error"
-- @tparam[opt] table store a shared store (see the module description)
-- @treturn number|nil the waited seconds, or nil and the seconds to wait
--   (and a message when the store's lock could not be taken)
function M.acquire(rules, clock, sleep, mode, store)
  local t, wait
  if store then
    local lock_key, deadline = "rl:" .. rules[1].key, clock() + M.LOCK_WAIT
    while not store.lock(lock_key) do
      if clock() > deadline then return nil, 1, "rate-limit store lock busy" end
      sleep(0.001)
    end
    local ok, a, b = pcall(M.reserve, rules, clock(), mode ~= "error", store)
    store.unlock(lock_key)
    if not ok then error(a, 0) end
    t, wait = a, b
  else
    t, wait = M.reserve(rules, clock(), mode ~= "error")
  end
  if not t then return nil, wait end
  local now = clock()
  if t > now then sleep(t - now) end
  return math.max(0, t - now)
end

--- A store backed by an nginx `lua_shared_dict`, shared by every worker.
-- @param dict an `ngx.shared.DICT`
-- @treturn table a store for the `rate_limit_store` client option
function M.shared_dict_store(dict)
  return {
    get = function(key) return dict:get(key) end,
    set = function(key, value, ttl) dict:set(key, value, ttl) end,
    lock = function(key)
      local ok = dict:add("lock:" .. key, true, M.LOCK_TTL)
      return ok and true or false
    end,
    unlock = function(key) dict:delete("lock:" .. key) end,
  }
end

--- A store in a plain Lua table (one process; for specs and as a model for
-- other stores). Its lock is not shared with other processes.
-- @treturn table a store
function M.memory_store()
  local data, locks = {}, {}
  return {
    get = function(key) return data[key] end,
    set = function(key, value) data[key] = value end,
    lock = function(key)
      if locks[key] then return false end
      locks[key] = true
      return true
    end,
    unlock = function(key) locks[key] = nil end,
  }
end

--- Check a user-supplied store (true when it has the four functions).
function M.check_store(s)
  if type(s) ~= "table" then return false end
  for _, f in ipairs({ "get", "set", "lock", "unlock" }) do
    if type(s[f]) ~= "function" then return false end
  end
  return true
end

return M
