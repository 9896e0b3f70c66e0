-- simkit.rules: `scope = "group"` (Soracom's runOnceAmongTarget): a group rule
-- (pool_*, group_used_above) fires its actions once for the group per arming,
-- not once per card; the default scope ("card") keeps one state per card.
-- Over the in-spec fleet (spec/support/fakefleet) and the memory store.
local R = require "simkit.rules"
local store = require "simkit.store"
local fake = require "spec.support.fakefleet"

-- 2026-12-03 10:00:00 UTC = 18:00 in +08:00
local T0 = 1796292000

-- pool P1 (EIOTCLUB) 95 % used with three cards, pool P2 (Huawei) 10 % used with two
local function world()
  local cards = {
    fake.card("eiotclub", "8901", 400, 1000, { pool = "P1", tags = { "fleetA" } }),
    fake.card("eiotclub", "8902", 300, 1000, { pool = "P1", tags = { "fleetA" } }),
    fake.card("eiotclub", "8903", 200, 1000, { pool = "P1", tags = { "fleetB" } }),
    fake.card("huawei", "8904", 500, 1000, { pool = "P2", tags = { "fleetA" } }),
    fake.card("huawei", "8905", 50, 1000, { pool = "P2", tags = { "fleetB" } }),
    fake.card("huawei", "8906", 10, 1000, { tags = {} }),
  }
  local pools = { { vendor = "eiotclub", id = "P1", used_mb = 9500, limit_mb = 10000, left_mb = 500 },
    { vendor = "huawei", id = "P2", used_mb = 1000, limit_mb = 10000, left_mb = 9000 } }
  return cards, pools
end

local function setup_engine(opts)
  local cards, pools = world()
  local fleet = fake.new(cards, pools)
  local t = { now = T0 }
  local lines = {}
  local o = { fleet = fleet, store = store.memory(), clock = function() return t.now end,
    audit = function(e) lines[#lines + 1] = e end, logger = function() end }
  for k, v in pairs(opts or {}) do o[k] = v end
  return R.engine(o), fleet, t, lines, cards
end

local function count(list, field, value)
  local n = 0
  for _, x in ipairs(list) do if x[field] == value then n = n + 1 end end
  return n
end

describe("simkit.rules scope = \"group\"", function()
  it("group triggers fire once per card by default (scope = \"card\")", function()
    local e = setup_engine()
    local seen = {}
    e:rule { name = "pool", when = R.pool_used_above { ratio = 0.9 },
      actions = { R.call { fn = function(card) seen[#seen + 1] = card.iccid return true end } }, rearm = "next_day" }
    local rep = e:run()
    assert.same({ "8901", "8902", "8903" }, seen)
    assert.equal(3, #rep.fired)
    assert.is_nil(rep.fired[1].group)
  end)

  it("fires a pool rule once for the pool per arming, whichever card saw it first", function()
    local e, _, t, lines = setup_engine { timezone = "+08:00" }
    local calls = {}
    e:rule { name = "pool-nearly-full", scope = "group", when = R.pool_used_above { ratio = 0.9 },
      actions = { R.call { fn = function(card, info) calls[#calls + 1] = { card.iccid, info } return true end },
        R.alert { message = "pool nearly full" } },
      rearm = "next_day" }
    local rep = e:run()
    assert.equal(1, #calls)
    assert.equal("8901", calls[1][1]) -- the first card of the pool in the listing carries it
    assert.equal(2, #rep.fired)
    for _, f in ipairs(rep.fired) do
      assert.is_true(f.ok, tostring(f.err))
      assert.equal("pool:eiotclub:P1", f.group)
      assert.matches("^pool%-nearly%-full|@pool:eiotclub:P1|", f.key)
    end
    -- the pool's other cards: not armed for the pool, said so
    assert.equal(2, #rep.skipped)
    for _, s in ipairs(rep.skipped) do assert.matches("not armed for pool:eiotclub:P1", s.reason, 1, true) end
    assert.equal(2, count(lines, "decision", "done"))
    assert.equal("pool:eiotclub:P1", lines[1].group)
    -- later the same local day: nothing; the next local day (16:00 UTC): once again
    t.now = T0 + 3600
    assert.equal(0, #e:run().fired)
    t.now = T0 + 6 * 3600
    rep = e:run()
    assert.equal(2, #calls)
    assert.equal(2, #rep.fired)
  end)

  it("keeps one state per group: two pools over, each fires once", function()
    local e, fleet, _, _, cards = setup_engine()
    e:rule { name = "p", scope = "group", when = R.pool_used_above { mb = 500 }, actions = { R.log {} } }
    local rep = e:run()
    local groups = {}
    for _, f in ipairs(rep.fired) do groups[#groups + 1] = f.group end
    table.sort(groups)
    assert.same({ "pool:eiotclub:P1", "pool:huawei:P2" }, groups)
    assert.equal(0, #fleet.acts)
    -- a card that joins the pool later does not fire it again (rearm never)
    cards[6].pool = "P2"
    assert.equal(0, #e:run().fired)
  end)

  it("group_used_above: once per tag, vendor or pool group", function()
    local e = setup_engine()
    e:rule { name = "tag", scope = "group", when = R.group_used_above { by = "tag", mb = 100 }, actions = { R.log {} } }
    e:rule { name = "vend", scope = "group", when = R.group_used_above { by = "vendor", mb = 100 },
      actions = { R.log {} } }
    e:rule { name = "one-tag", scope = "group", when = R.group_used_above { by = "tag", tag = "fleetA", mb = 100 },
      actions = { R.log {} } }
    e:rule { name = "gpool", scope = "group", when = R.group_used_above { by = "pool", mb = 100 },
      actions = { R.log {} } }
    local rep = e:run()
    local by = {}
    for _, f in ipairs(rep.fired) do by[f.rule .. " " .. f.group] = (by[f.rule .. " " .. f.group] or 0) + 1 end
    assert.same({
      ["tag tag:fleetA"] = 1, ["tag tag:fleetB"] = 1,
      ["vend vendor:eiotclub"] = 1, ["vend vendor:huawei"] = 1,
      ["one-tag tag:fleetA"] = 1,
      ["gpool pool:eiotclub:P1"] = 1, ["gpool pool:huawei:P2"] = 1,
    }, by)
  end)

  it("a ladder steps once per group", function()
    local e, _, t = setup_engine()
    e:rule { name = "ladder", scope = "group", rearm = "next_month",
      steps = { { R.pool_used_above { ratio = 0.5 }, R.log {} }, { R.pool_used_above { ratio = 0.99 }, R.alert {} } } }
    local rep = e:run()
    assert.equal(1, #rep.fired) -- P1 at 95 %: step 1 only
    assert.equal("log", rep.fired[1].action)
    e.fleet.pool_list[1].used_mb = 9950
    t.now = t.now + 60
    rep = e:run()
    assert.equal(1, #rep.fired)
    assert.equal("alert", rep.fired[1].action)
    assert.equal("pool:eiotclub:P1", rep.fired[1].group)
  end)

  it("plan() shows one action per group and writes nothing; two engines make the same keys", function()
    local st = store.memory()
    local e1, f1 = setup_engine { store = st }
    local e2, f2 = setup_engine { store = st, owner = "other-node" }
    f2.list = { f2.list[3], f2.list[2], f2.list[1] } -- another node lists the pool's cards in another order
    for _, e in ipairs({ e1, e2 }) do
      e:rule { name = "p", scope = "group", when = R.pool_used_above { ratio = 0.9 },
        actions = { R.webhook { url = "http://127.0.0.1:9/never" } }, rearm = "next_day" }
    end
    local p1, p2 = e1:plan(), e2:plan()
    assert.equal(1, #p1)
    assert.equal(1, #p2)
    assert.equal("8901", p1[1].iccid)
    assert.equal("8903", p2[1].iccid)
    assert.equal(p1[1].key, p2[1].key)
    assert.equal("pool:eiotclub:P1", p1[1].group)
    assert.is_nil(st:get("simkit:rules:s:p|@pool:eiotclub:P1"))
    assert.is_nil(st:get("simkit:rules:l:" .. p1[1].key))
    assert.equal(0, #f1.acts + #f2.acts)
  end)

  it("explain() names the group and its state", function()
    local e = setup_engine()
    e:rule { name = "p", scope = "group", when = R.pool_used_above { ratio = 0.9 }, actions = { R.log {} } }
    e:run()
    local ex = assert(e:explain("8902"))
    assert.equal("group", ex.rules[1].scope)
    assert.equal("pool:eiotclub:P1", ex.rules[1].group)
    assert.is_false(ex.rules[1].armed) -- fired for the pool (by 8901)
    ex = assert(e:explain("8906")) -- in no pool
    assert.is_nil(ex.rules[1].group)
    assert.is_false(ex.rules[1].holds)
  end)

  it("refuses what a group rule cannot mean, naming the rule", function()
    local e = setup_engine()
    local bad = {
      { scope = "pool", when = R.pool_used_above { mb = 1 }, actions = { R.log {} } },
      { scope = 5, when = R.pool_used_above { mb = 1 }, actions = { R.log {} } },
      { scope = 0 / 0, when = R.pool_used_above { mb = 1 }, actions = { R.log {} } },
      { scope = true, when = R.pool_used_above { mb = 1 }, actions = { R.log {} } },
      { scope = "GROUP", when = R.pool_used_above { mb = 1 }, actions = { R.log {} } },
      { scope = "group", when = R.used_above { mb = 1 }, actions = { R.log {} } },
      { scope = "group", when = function() return true end, actions = { R.log {} } },
      { scope = "group", when = R.pool_used_above { mb = 1 }, actions = { R.suspend {} } },
      { scope = "group", when = R.pool_used_above { mb = 1 }, actions = { R.log {}, R.speed { kbps = 128 } } },
      { scope = "group", steps = { { R.pool_used_above { mb = 1 }, R.log {} },
        { R.group_used_above { by = "tag", mb = 2 }, R.log {} } } },
      { scope = "group", steps = { { R.pool_used_above { mb = 1 }, R.log {} }, { R.used_above { mb = 2 }, R.log {} } } },
      { scope = "group", when = R.pool_used_above { mb = 1 }, actions = { R.log {} }, rearm = "clear",
        clear = R.used_below { mb = 1 } },
    }
    for i, def in ipairs(bad) do
      def.name = "bad" .. i
      local ok, msg = pcall(e.rule, e, def)
      assert.is_false(ok, "case " .. i)
      assert.matches("rule 'bad" .. i .. "'", msg, 1, true)
      assert.matches("scope", msg, 1, true)
    end
    -- accepted: a composite holding a group trigger, the default and an explicit "card"
    e:rule { name = "ok1", scope = "group", when = R.all { R.status_is { "active" }, R.pool_left_below { mb = 600 } },
      actions = { R.log {} } }
    e:rule { name = "ok2", scope = "card", when = R.used_above { mb = 1 }, actions = { R.suspend {} } }
    e:rule { name = "ok3", scope = "group", when = R.pool_used_above { mb = 1 }, actions = { R.log {} },
      rearm = "clear", clear = R.none { R.pool_used_above { mb = 1 } } }
    local rep = e:run()
    assert.equal(1, count(rep.fired, "rule", "ok1"))
  end)
end)
