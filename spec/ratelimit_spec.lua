-- simkit.ratelimit: "at most limit calls in any period" over a simkit.store,
-- windows from the store's TTLs (a fake clock drives both the store and the
-- waits, so no real time passes).
local ratelimit = require "simkit.ratelimit"
local stores = require "simkit.store"
local errors = require "simkit.errors"

local function fake()
  local f = { t = 0, slept = 0 }
  f.clock = function() return f.t end
  f.sleep = function(s) f.t, f.slept = f.t + s, f.slept + s end
  f.store = stores.memory { clock = f.clock }
  return f
end

describe("simkit.ratelimit", function()
  it("grants at most `limit` calls in any `period`, then waits for the oldest slot's TTL", function()
    local f = fake()
    local rules = { { key = "acct", limit = 5, period = 1 } }
    local grants = {}
    for _ = 1, 23 do
      assert(ratelimit.acquire(f.store, rules, { sleep = f.sleep, clock = f.clock }))
      grants[#grants + 1] = f.t
    end
    -- any 5 consecutive grants... the 6th after them is at least a period later
    for i = 6, #grants do
      assert.is_true(grants[i] - grants[i - 5] >= 1 - 1e-9, "grant " .. i .. " too early")
    end
    assert.is_true(f.slept >= 4 - 1e-9)
  end)

  it("is shared by every caller on the store (another process), and only by them", function()
    local f = fake()
    local rules = { { key = "acct", limit = 3, period = 1 } }
    for _ = 1, 3 do assert(ratelimit.acquire(f.store, rules, { mode = "error", clock = f.clock })) end
    local waited, wait = ratelimit.acquire(f.store, rules, { mode = "error", clock = f.clock })
    assert.is_nil(waited)
    assert.is_true(wait > 0 and wait <= 1)
    -- another key, or another store, has its own window
    assert(ratelimit.acquire(f.store, { { key = "other", limit = 3, period = 1 } }, { mode = "error" }))
    assert(ratelimit.acquire(stores.memory(), rules, { mode = "error" }))
    f.t = f.t + 1
    assert(ratelimit.acquire(f.store, rules, { mode = "error", clock = f.clock }))
  end)

  it("needs every rule to admit the call (an account window and a per-op one)", function()
    local f = fake()
    local rules = { { key = "acct", limit = 5, period = 1 }, { key = "acct:list", limit = 1, period = 1 } }
    assert(ratelimit.acquire(f.store, rules, { sleep = f.sleep, clock = f.clock }))
    assert(ratelimit.acquire(f.store, rules, { sleep = f.sleep, clock = f.clock }))
    assert.is_true(f.slept >= 1 - 1e-9)
  end)

  it("gives up after max_wait with the seconds to wait, and reports a failing store as kind 'store'", function()
    local f = fake()
    local rules = { { key = "acct", limit = 1, period = 60 } }
    assert(ratelimit.acquire(f.store, rules, { sleep = f.sleep, clock = f.clock }))
    local waited, wait = ratelimit.acquire(f.store, rules, { sleep = f.sleep, clock = f.clock, max_wait = 2 })
    assert.is_nil(waited)
    assert.equal(60, wait)
    assert.is_true(f.slept <= 2)
    local down = setmetatable({
      incr = function() return nil, errors.new { kind = "store", message = "down" } end,
    }, { __index = f.store })
    local w, w2, err = ratelimit.acquire(down, rules, { clock = f.clock })
    assert.is_nil(w)
    assert.is_nil(w2)
    assert.equal("store", err.kind)
  end)

  it("raises on a bad rule: NaN, inf, zero, fractions, a missing key", function()
    local nan, inf = 0 / 0, math.huge
    for _, r in ipairs({ { key = "k", limit = nan, period = 1 }, { key = "k", limit = inf, period = 1 },
      { key = "k", limit = 0, period = 1 }, { key = "k", limit = 1.5, period = 1 },
      { key = "k", limit = 1, period = nan }, { key = "k", limit = 1, period = inf },
      { key = "k", limit = 1, period = 0 }, { key = "k", limit = 1, period = -1 }, { limit = 1, period = 1 },
      { key = 7, limit = 1, period = 1 } }) do
      assert.has_error(function() ratelimit.acquire(stores.memory(), { r }, {}) end)
    end
  end)

  it("checks a kept rule table again when its fields change, and a bad second rule before any slot", function()
    local f = fake()
    local rule = { key = "acct", limit = 2, period = 1 }
    local rules = { rule }
    local opts = { mode = "error", clock = f.clock }
    assert(ratelimit.acquire(f.store, rules, opts))
    assert(ratelimit.acquire(f.store, rules, opts))
    assert.is_nil(ratelimit.acquire(f.store, rules, opts)) -- full
    rule.key = "acct2" -- the same table, another window
    assert(ratelimit.acquire(f.store, rules, opts))
    rule.limit = 3 -- a wider window on the same key: one more call fits
    assert(ratelimit.acquire(f.store, rules, opts))
    assert(ratelimit.acquire(f.store, rules, opts))
    assert.is_nil(ratelimit.acquire(f.store, rules, opts))
    rule.limit = 0 / 0 -- and a kept table made bad raises like a fresh one
    assert.has_error(function() ratelimit.acquire(f.store, rules, opts) end)
    -- a bad second rule raises before the first one's slot is taken
    local first = { key = "fresh", limit = 1, period = 1 }
    assert.has_error(function() ratelimit.acquire(f.store, { first, { key = "x", limit = 0, period = 1 } }, opts) end)
    assert(ratelimit.acquire(f.store, { first }, opts))
  end)

  it("acquire_call: the context's store, sleep and clock, mode, and no wait past the deadline", function()
    local f = fake()
    local cfg = {}
    local ctx = { cfg = cfg, store = f.store, sleep = f.sleep, clock = f.clock }
    local rules = { { key = "acct", limit = 1, period = 10 } }
    assert.equal(0, ratelimit.acquire_call(ctx, rules))
    -- "wait" (the default): waits for the slot
    local waited = assert(ratelimit.acquire_call(ctx, rules))
    assert.is_true(waited >= 10 - 1e-9)
    -- "error" for the same client configuration: the mode is not the cached one's
    local w, wait = ratelimit.acquire_call(ctx, rules, "error")
    assert.is_nil(w)
    assert.is_true(wait > 0)
    -- a deadline 3 s away: no wait of 10 s, the seconds to wait instead
    local before = f.t
    ctx.deadline = f.t + 3
    w, wait = ratelimit.acquire_call(ctx, rules)
    assert.is_nil(w)
    assert.is_true(wait > 0)
    assert.is_true(f.t - before <= 3)
    -- another clock in the same cfg (a new context): used, not the cached one
    ctx.deadline = nil
    local g = fake()
    local ctx2 = { cfg = cfg, store = g.store, sleep = g.sleep, clock = g.clock }
    assert.equal(0, ratelimit.acquire_call(ctx2, rules))
    assert(ratelimit.acquire_call(ctx2, rules))
    assert.is_true(g.slept >= 10 - 1e-9)
  end)

  it("makes a client-side rate_limited error that says nothing was sent", function()
    local e = ratelimit.error({ vendor = "huawei", op = "list_tags" }, 0.2004, "5 calls/s")
    assert.equal("rate_limited", e.kind)
    assert.is_true(e.client_side)
    assert.is_true(e.retryable)
    assert.equal(0.201, e.retry_after)
    assert.matches("not sent", tostring(e))
  end)
end)
