--- Client-side rate limiter (internal): sliding windows of "at most N calls
-- per second" per key, with slot reservation so that concurrent callers
-- (nginx light threads) are served in order.
--
-- State is module-level: every client of the same account in the process
-- (one nginx worker) shares it. The clock and the sleep are injected.
-- @module simkit.ratelimit
local M = {}

-- key -> list of the most recent grant times (ascending), at most `limit`
local WINDOWS = {}

--- Forget all state (specs).
function M.reset()
  WINDOWS = {}
end

local function window(key)
  local w = WINDOWS[key]
  if not w then
    w = {}
    WINDOWS[key] = w
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

--- Reserve a slot in every window of `rules` (`{ {key=, limit=, period=}, ... }`).
-- @tparam table rules the windows that must all admit the call
-- @tparam number now the current time (same clock as the state)
-- @tparam boolean reserve_future when false, only a slot at `now` is taken
-- @treturn number the reserved time (>= now), or nil and the seconds to wait
function M.reserve(rules, now, reserve_future)
  local t = now
  for _, r in ipairs(rules) do
    local e = earliest(window(r.key), r.limit, r.period, now)
    if e > t then t = e end
  end
  if t > now and not reserve_future then
    return nil, t - now
  end
  for _, r in ipairs(rules) do
    local w = window(r.key)
    -- keep the list sorted (reservations are monotonic per window in practice)
    local pos = #w + 1
    while pos > 1 and w[pos - 1] > t do pos = pos - 1 end
    table.insert(w, pos, t)
    while #w > r.limit do table.remove(w, 1) end
  end
  return t
end

--- Acquire one call: waits (with `sleep`) by default, or returns nil and the
-- wait in seconds when `mode == "error"`.
-- @tparam table rules as for `reserve`
-- @tparam function clock monotonic seconds
-- @tparam function sleep sleep(seconds)
-- @tparam[opt] string mode "wait" (default) or "error"
-- @treturn number|nil the waited seconds, or nil and the seconds to wait
function M.acquire(rules, clock, sleep, mode)
  local now = clock()
  local t, wait = M.reserve(rules, now, mode ~= "error")
  if not t then return nil, wait end
  if t > now then sleep(t - now) end
  return t - now
end

return M
