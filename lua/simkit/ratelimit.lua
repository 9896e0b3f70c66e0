--- Client-side rate limiter over a `simkit.store`: "at most `limit` calls
-- in any `period` seconds" per key, shared by every process, worker or node
-- that shares the store.
--
-- Each window is `limit` slots; a call takes a free slot with
-- `store:add(key .. "#" .. i, 1, period)` and the slot frees itself when its
-- TTL ends (a shared `incr` counter says where to look first). The windows therefore come from the store's own expiry (Redis
-- server time, SQLite/shdict/memory expiry), never from comparing the
-- local clocks of several nodes, and no lock is needed: `add` is atomic in
-- every backend.
-- @module simkit.ratelimit
local errors = require "simkit.errors"
local util = require "simkit.util"

local M = {}

--- Longest a call waits for a slot before giving up (seconds).
M.MAX_WAIT = 30

-- Take one slot of a window: true, or false when all are taken, or nil, err.
-- The search starts at a shared counter (one `incr`): while the calls keep
-- to the rate, the slot it points at was taken `limit` grants ago, at least
-- a period ago, so one `add` usually wins.
local function take(store, rule)
  local limit = rule.limit
  local n, err = store:incr("rl:" .. rule.key .. "#next", 1, 86400)
  if not n then return nil, err end
  local start = n % limit
  for k = 0, limit - 1 do
    local i = (start + k) % limit + 1
    local ok, aerr = store:add("rl:" .. rule.key .. "#" .. i, 1, rule.period)
    if ok == nil then return nil, aerr end
    if ok then return true end
  end
  return false
end

--- Check a rule list (a programming error raises).
local function check_rules(rules)
  for _, r in ipairs(rules) do
    if type(r.key) ~= "string" or not util.finite(r.limit) or r.limit < 1 or r.limit % 1 ~= 0
        or not util.finite(r.period) or r.period <= 0 then
      error("simkit.ratelimit: a rule is { key = string, limit = integer >= 1, period = seconds > 0 }", 3)
    end
  end
end

--- Acquire one call in every window of `rules`.
-- @tparam table store a `simkit.store`
-- @tparam table rules `{ { key =, limit =, period = }, ... }` (all must admit the call)
-- @tparam table opts `mode` ("wait", default, or "error"), `sleep`, `clock`,
--   `max_wait` (seconds, default `MAX_WAIT`)
-- @treturn number|nil the seconds waited; or nil and the seconds to wait
--   (mode "error", or no slot within `max_wait`); or nil, nil, err when the
--   store failed (kind "store")
function M.acquire(store, rules, opts)
  check_rules(rules)
  local sleep, clock = opts.sleep or util.sleep, opts.clock or util.monotonic
  local t0 = clock()
  local max_wait = opts.max_wait or M.MAX_WAIT
  for _, r in ipairs(rules) do
    local step = math.max(0.002, r.period / r.limit / 4)
    while true do
      local ok, err = take(store, r)
      if ok == nil then return nil, nil, err end
      if ok then break end
      if opts.mode == "error" then return nil, r.period / r.limit end
      if clock() - t0 + step > max_wait then return nil, r.period / r.limit end
      sleep(step)
    end
  end
  return clock() - t0
end

--- A rate-limited error for a call refused by the client-side limiter.
-- @tparam table ctx the call context (vendor, op)
-- @tparam number wait seconds to wait
-- @tparam string what the limit, for the message
-- @treturn table the error
function M.error(ctx, wait, what)
  return errors.new { kind = "rate_limited", vendor = ctx.vendor, op = ctx.op, retryable = true,
    client_side = true, retry_after = math.ceil(wait * 1000) / 1000,
    message = "client-side rate limit (" .. what .. "): not sent" }
end

return M
