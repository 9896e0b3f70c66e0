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

-- What a rule table's fields give, checked and with its store keys made,
-- kept while the table's fields stay the same (the adapters keep their rule
-- tables; a caller's fresh table is checked afresh).
local PREPARED = setmetatable({}, { __mode = "k" })

-- The prepared form of rule `r`; raises (at `level`) on a bad rule.
local function prepared(r, level)
  local p = PREPARED[r]
  if p and p.key == r.key and p.limit == r.limit and p.period == r.period then return p end
  if type(r) ~= "table" or type(r.key) ~= "string" or not util.finite(r.limit) or r.limit < 1 or r.limit % 1 ~= 0
      or not util.finite(r.period) or r.period <= 0 then
    error("simkit.ratelimit: a rule is { key = string, limit = integer >= 1, period = seconds > 0 }", level + 1)
  end
  p = { key = r.key, limit = r.limit, period = r.period, next_key = "rl:" .. r.key .. "#next", slots = {},
    step = math.max(0.002, r.period / r.limit / 4) }
  PREPARED[r] = p
  return p
end

-- Take one slot of a window: true, or false when all are taken, or nil, err.
-- The search starts at a shared counter (one `incr`): while the calls keep
-- to the rate, the slot it points at was taken `limit` grants ago, at least
-- a period ago, so one `add` usually wins.
local function take(store, p)
  local limit, slots = p.limit, p.slots
  local n, err = store:incr(p.next_key, 1, 86400)
  if not n then return nil, err end
  local start = n % limit
  for k = 0, limit - 1 do
    local i = (start + k) % limit + 1
    local key = slots[i]
    if not key then
      key = "rl:" .. p.key .. "#" .. i
      slots[i] = key
    end
    local ok, aerr = store:add(key, 1, p.period)
    if ok == nil then return nil, aerr end
    if ok then return true end
  end
  return false
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
  for i = 1, #rules do prepared(rules[i], 2) end -- every rule checked before any slot is taken
  local sleep, clock = opts.sleep or util.sleep, opts.clock or util.monotonic
  local t0 = clock()
  local max_wait = opts.max_wait or M.MAX_WAIT
  for i = 1, #rules do
    local p = PREPARED[rules[i]]
    while true do
      local ok, err = take(store, p)
      if ok == nil then return nil, nil, err end
      if ok then break end
      if opts.mode == "error" then return nil, p.period / p.limit end
      if clock() - t0 + p.step > max_wait then return nil, p.period / p.limit end
      sleep(p.step)
    end
  end
  return clock() - t0
end

-- acquire's options for the calls of one client without a deadline (mode,
-- the client's sleep and clock), made once per client configuration
local CALL_OPTS = setmetatable({}, { __mode = "k" })

--- `acquire` for one call of the pipeline: in the call's store, with its
-- sleep and clock, waiting no longer than its deadline allows (less 0.1 s
-- for the request itself). For the adapters' `admit` step.
-- @tparam table ctx the call context (`cfg`, `store`, `sleep`, `clock`, `deadline`)
-- @tparam table rules as for `acquire`
-- @tparam[opt] string mode as for `acquire`
-- @return as `acquire`
function M.acquire_call(ctx, rules, mode)
  local deadline = rawget(ctx, "deadline") -- (absent for most calls: not through the context's __index)
  local opts
  if deadline then
    opts = { mode = mode, sleep = ctx.sleep, clock = ctx.clock, max_wait = math.max(0, deadline - ctx.clock() - 0.1) }
  else
    local cfg = ctx.cfg
    opts = CALL_OPTS[cfg]
    if not opts or opts.mode ~= mode or opts.sleep ~= ctx.sleep or opts.clock ~= ctx.clock then
      opts = { mode = mode, sleep = ctx.sleep, clock = ctx.clock }
      CALL_OPTS[cfg] = opts
    end
  end
  return M.acquire(ctx.store, rules, opts)
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
