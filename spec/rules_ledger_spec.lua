-- simkit.rules: exactly once. Intent keys, order keys, the ledger, the
-- reconciliation of orders in doubt, leases between engines on one store.
-- Orders are counted in the in-spec fleet: zero duplicates.
local R = require "simkit.rules"
local store = require "simkit.store"
local fake = require "spec.support.fakefleet"
local ledger = require "simkit.rules.ledger"

local T0 = 1796292000

local function topup_engine(fleet, st, t, extra)
  local lines = {}
  local o = { fleet = fleet, store = st, clock = function() return t.now end, logger = function() end,
    audit = function(e) lines[#lines + 1] = e end }
  for k, v in pairs(extra or {}) do o[k] = v end
  local e = R.engine(o)
  e:rule { name = "topup", match = { vendor = "eiotclub" }, when = R.left_below { mb = 200 },
    actions = { R.topup { package = "P100" } }, rearm = "next_day" }
  return e, lines
end

local function decisions(lines)
  local out = {}
  for _, l in ipairs(lines) do out[#out + 1] = l.decision end
  return table.concat(out, ",")
end

describe("simkit.rules exactly once", function()
  local t, st, card, fleet
  before_each(function()
    t = { now = T0 }
    st = store.memory { clock = function() return t.now end }
    card = fake.card("eiotclub", "89852000000000000001", 900, 1000)
    fleet = fake.new({ card })
  end)

  it("derives the order key from the intent key: 32 characters of [0-9a-z], stable", function()
    local e = topup_engine(fleet, st, t)
    local rep = e:run()
    assert.are.equal(1, #rep.fired)
    local key = rep.fired[1].key
    assert.are.equal("topup|89852000000000000001|2026-12-03|1|1:topup", key)
    local ok = fleet.acts[1].args.key
    assert.are.equal(ledger.order_key(key), ok)
    assert.are.equal(32, #ok)
    assert.truthy(ok:match("^[0-9a-z]+$"))
    assert.are.equal("P100", fleet.acts[1].args.package)
    assert.are_not.equal(ledger.order_key(key .. "x"), ok)
  end)

  it("an order whose answer was lost is 'unknown', then confirmed by lookup, never sent again", function()
    fleet.fault = "unknown"
    local e, lines = topup_engine(fleet, st, t)
    local rep = e:run()
    assert.are.equal(1, #rep.fired)
    assert.is_false(rep.fired[1].ok)
    assert.are.equal("fired,failed", decisions(lines))
    assert.are.equal("unknown", lines[2].error.outcome)
    local key = rep.fired[1].key
    assert.are.equal("unknown", st:get("simkit:rules:l:" .. key).status)
    fleet.fault = nil
    for _ = 1, 3 do
      t.now = t.now + 60
      e:run()
    end
    assert.are.equal(1, fleet:count("topup"))
    assert.are.equal(0, fleet.duplicates)
    assert.are.equal("confirmed", st:get("simkit:rules:l:" .. key).status)
    assert.matches("^fired,failed,done", decisions(lines))
    assert.are.equal(1, fleet.calls.find_order) -- reconciled once, then off the open list
  end)

  it("an order not placed (ambiguous error) is reconciled as failed, and not resent", function()
    fleet.fault = "lost"
    local e, lines = topup_engine(fleet, st, t)
    e:run()
    fleet.fault = nil
    t.now = t.now + 60
    e:run()
    assert.are.equal(0, fleet:count("topup"))
    local last = lines[3]
    assert.are.equal("failed", last.decision)
    assert.are.equal("not_placed", last.error.outcome)
    t.now = t.now + 60
    e:run()
    assert.are.equal(0, fleet:count("topup"))
    -- the next day is a new intent
    t.now = T0 + 86400
    e:run()
    assert.are.equal(1, fleet:count("topup"))
  end)

  it("a failing lookup leaves the intent unknown and retries the lookup on the next run", function()
    fleet.fault = "unknown"
    local e = topup_engine(fleet, st, t)
    e:run()
    fleet.fault, fleet.lookup_fault = nil, true
    t.now = t.now + 60
    local rep = e:run()
    assert.are.equal(1, #rep.errors)
    assert.are.equal("reconcile", rep.errors[1].where)
    fleet.lookup_fault = nil
    t.now = t.now + 60
    rep = e:run()
    assert.are.equal(1, rep.reconciled)
    assert.are.equal(1, fleet:count("topup"))
    assert.are.equal(0, fleet.duplicates)
  end)

  it("a clear refusal is 'failed' and not retried within the period", function()
    fleet.fault = "fail"
    local e, lines = topup_engine(fleet, st, t)
    e:run()
    fleet.fault = nil
    t.now = t.now + 60
    e:run()
    assert.are.equal(0, fleet:count("topup"))
    assert.are.equal("failed", lines[2].decision)
    assert.is_nil(lines[2].error.outcome)
  end)

  it("the process killed between send and answer: no second order, reconciled after the lease expires", function()
    fleet.fault = "raise"
    local e = topup_engine(fleet, st, t, { lease_ttl = 120 })
    assert.has_error(function() e:run() end)
    assert.are.equal(1, fleet:count("topup"))
    fleet.fault = nil
    -- a new process (a new engine on the same store) within the lease: nothing
    local e2, lines2 = topup_engine(fleet, st, t, { lease_ttl = 120 })
    t.now = t.now + 30
    local rep = e2:run()
    assert.are.equal(0, #rep.fired)
    assert.are.equal("skipped", lines2[1].decision)
    assert.matches("not armed", lines2[1].reason) -- the rule state was written before the send
    assert.are.equal(1, fleet:count("topup"))
    -- after the lease: looked up, found, confirmed
    t.now = t.now + 120
    rep = e2:run()
    assert.are.equal(1, rep.reconciled)
    local key = ledger.intent_key("topup", card.iccid, "2026-12-03", 1, 1, "topup")
    assert.are.equal("confirmed", st:get("simkit:rules:l:" .. key).status)
    assert.are.equal(1, fleet:count("topup"))
    assert.are.equal(0, fleet.duplicates)
  end)

  it("two engines on one store never both act on one intent (overlapping runs)", function()
    local e1 = topup_engine(fleet, st, t)
    local e2 = topup_engine(fleet, st, t)
    local inner
    -- while engine 1 is sending, engine 2 runs a whole cycle
    fleet.fault = function()
      if not inner then
        inner = e2:run()
      end
    end
    local rep = e1:run()
    assert.are.equal(1, #rep.fired)
    assert.are.equal(0, #inner.fired)
    assert.are.equal(1, #inner.skipped)
    assert.are.equal(1, fleet:count("topup"))
    -- and after it, engine 2 sees the intent done
    rep = e2:run()
    assert.are.equal(0, #rep.fired)
    assert.are.equal(0, fleet.duplicates)
  end)

  it("an intent leased by another engine is skipped; once the ledger has it, it is never run again", function()
    local e = topup_engine(fleet, st, t)
    local key = ledger.intent_key("topup", card.iccid, "2026-12-03", 1, 1, "topup")
    assert.is_true(st:add("simkit:rules:lease:" .. key, "engine-elsewhere", 300))
    local rep = e:run()
    assert.are.equal(0, fleet:count("topup"))
    assert.matches("leased by another engine", rep.skipped[1].reason)
    -- the other engine finished: its ledger says confirmed; the state of this
    -- engine's rule is lost (a crash before it was written): still nothing
    assert.is_true(st:set("simkit:rules:l:" .. key, { status = "confirmed" }))
    assert.is_true(st:delete("simkit:rules:lease:" .. key))
    assert.is_true(st:delete("simkit:rules:s:topup|" .. card.iccid))
    t.now = t.now + 60
    rep = e:run()
    assert.are.equal(0, fleet:count("topup"))
    assert.matches("intent already confirmed", rep.skipped[1].reason)
  end)

  it("fails closed when the store fails: nothing is sent without a ledger entry", function()
    local broken = setmetatable({}, { __index = function(_, m)
      return function(_, ...)
        if m == "set" or m == "add" or m == "incr" then return nil, { kind = "store", message = "disk full" } end
        return st[m](st, ...)
      end
    end })
    local e = topup_engine(fleet, broken, t)
    local rep = e:run()
    assert.are.equal(0, fleet:count("topup"))
    assert.is_true(#rep.errors > 0)
    assert.are.equal("store", rep.errors[1].kind)
  end)

  it("final ledger entries expire after `keep`; the rule state still keeps a never-rule from firing again", function()
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end, logger = function() end,
      keep = 86400 }
    e:rule { name = "once", when = R.left_below { mb = 200 }, actions = { R.suspend {} }, rearm = "never" }
    local rep = e:run()
    local key = rep.fired[1].key
    assert.are.equal("confirmed", st:get("simkit:rules:l:" .. key).status)
    t.now = t.now + 86401
    assert.is_nil(st:get("simkit:rules:l:" .. key))
    e:run()
    assert.are.equal(1, fleet:count("suspend"))
    for _, bad in ipairs({ 0, 60, 0 / 0, math.huge, "1d", 3651 * 86400 }) do
      assert.has_error(function() R.engine { keep = bad } end)
    end
  end)

  it("scheduled actions run once even when two engines run them", function()
    local e1 = R.engine { fleet = fleet, store = st, clock = function() return t.now end, logger = function() end }
    local e2 = R.engine { fleet = fleet, store = st, clock = function() return t.now end, logger = function() end }
    for _, e in ipairs({ e1, e2 }) do
      e:rule { name = "cut", when = R.used_above { ratio = 0.8 }, rearm = "next_month",
        actions = { R.suspend {}, R.resume { at = "after:3600" } } }
    end
    e1:run()
    e2:run()
    assert.are.equal(1, fleet:count("suspend"))
    t.now = t.now + 3600
    e2:run()
    e1:run()
    e2:run()
    assert.are.equal(1, fleet:count("resume"))
  end)
end)
