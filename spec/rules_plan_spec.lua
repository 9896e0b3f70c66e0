-- simkit.rules: dry run and plan() (nothing written anywhere), explain(),
-- the audit log (exactly the DESIGN fields), the report shape, event mode
-- and rules files (R.load).
local R = require "simkit.rules"
local store = require "simkit.store"
local json = require "simkit.json"
local fake = require "spec.support.fakefleet"

local T0 = 1796292000

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function add_rules(e)
  e:rule { name = "topup", match = { vendor = "eiotclub" }, when = R.left_below { mb = 200 },
    actions = { R.topup { package = "P100" }, R.resume { at = "next_day" } }, rearm = "next_day" }
  e:rule { name = "cap", when = R.used_above { ratio = 0.5 }, actions = { R.speed { kbps = 256 } },
    rearm = "next_month" }
end

describe("simkit.rules dry run, explain, audit", function()
  local t, st, fleet, cards
  before_each(function()
    t = { now = T0 }
    st = store.memory { clock = function() return t.now end }
    cards = { fake.card("eiotclub", "8901", 900, 1000), fake.card("huawei", "8902", 600, 1000),
      fake.card("huawei", "8903", 10, 1000) }
    fleet = fake.new(cards)
  end)

  it("plan() lists what run() would do and writes nothing anywhere", function()
    local lines = {}
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end,
      audit = function(l) lines[#lines + 1] = l end, logger = function() end }
    add_rules(e)
    -- some state first, so that "unchanged" means something
    assert.is_true(st:set("unrelated", { a = 1 }))
    local before = copy(st.data)
    local plan = e:plan()
    assert.are.same(before, st.data)
    assert.are.equal(0, #fleet.acts)
    assert.are.equal(0, #lines)
    -- topup + scheduled resume for 8901, speed for 8901 and 8902
    assert.are.equal(4, #plan)
    local seen = {}
    for _, p in ipairs(plan) do
      seen[#seen + 1] = p.rule .. ":" .. p.iccid .. ":" .. p.action
      assert.are.equal("string", type(p.key))
      assert.truthy(p.vendor)
      assert.truthy(p.threshold)
      assert.truthy(p.value)
    end
    table.sort(seen)
    assert.are.same({ "cap:8901:speed", "cap:8902:speed", "topup:8901:resume", "topup:8901:topup" }, seen)
    -- the real run does the same, with the same keys
    local rep = e:run()
    local keys = {}
    for _, f in ipairs(rep.fired) do keys[f.key] = true end
    for _, s in ipairs(rep.scheduled) do keys[s.key] = true end
    for _, p in ipairs(plan) do assert.is_true(keys[p.key], p.key) end
    assert.are.equal(3, #fleet.acts)
  end)

  it("dry_run = true: run() reports and writes nothing, not even with schedules or snapshots", function()
    local lines = {}
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end, dry_run = true,
      audit = function(l) lines[#lines + 1] = l end, logger = function() end }
    add_rules(e)
    local rep = e:run()
    assert.are.same({}, st.data)
    assert.are.equal(0, #fleet.acts)
    assert.are.equal(0, #lines)
    assert.are.equal(3, #rep.fired)
    for _, f in ipairs(rep.fired) do assert.is_true(f.dry_run) end
    assert.are.equal(4, #rep.plan)
    -- twice: the same (nothing remembered)
    assert.are.equal(3, #e:run().fired)
  end)

  it("explain(iccid): per rule matched, value vs threshold, armed, last fired, next eligible", function()
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end, timezone = "+08:00",
      logger = function() end }
    add_rules(e)
    local ex = assert(e:explain("8901"))
    assert.are.equal("8901", ex.iccid)
    assert.are.equal("eiotclub", ex.vendor)
    assert.are.equal(2, #ex.rules)
    local r1 = ex.rules[1]
    assert.are.equal("topup", r1.rule)
    assert.is_true(r1.matched)
    assert.is_true(r1.holds)
    assert.are.equal(100, r1.value)
    assert.are.equal(200, r1.threshold)
    assert.is_true(r1.armed)
    assert.is_nil(r1.last_fired)
    e:run()
    t.now = t.now + 60
    ex = e:explain("8901")
    r1 = ex.rules[1]
    assert.is_false(r1.armed)
    assert.are.equal(T0, r1.last_fired)
    assert.are.equal(T0 + 6 * 3600, r1.next_eligible) -- local midnight in +08:00
    local hw = e:explain("8903")
    assert.is_false(hw.rules[1].matched)
    assert.is_true(hw.rules[2].matched)
    assert.is_false(hw.rules[2].holds)
    -- bad input
    local v, err = e:explain(42)
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    v, err = e:explain(("9"):rep(500))
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    v, err = e:explain("0000")
    assert.is_nil(v)
    assert.truthy(err)
  end)

  it("audit: one JSON object per line with exactly the DESIGN fields", function()
    local path = tmpname()
    fleet.fault = function(card, action) if card.iccid == "8902" and action == "speed" then return "fail" end end
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end, audit = path,
      logger = function() end }
    add_rules(e)
    e:run()
    t.now = t.now + 60
    e:run()
    local allowed = {}
    for _, f in ipairs({ "time", "rule", "iccid", "vendor", "value", "threshold", "decision", "reason", "action",
      "key", "error" }) do allowed[f] = true end
    local n, by = 0, {}
    for line in io.lines(path) do
      n = n + 1
      local obj = assert(json.decode(line))
      -- a top-up's lines also say what was ordered (package, cost, order_id); no other line does
      local order_field = { package = true, cost = true, order_id = true }
      for k in pairs(obj) do assert.is_true(allowed[k] or (order_field[k] and obj.action == "topup"), k) end
      assert.truthy(({ fired = 1, skipped = 1, scheduled = 1, done = 1, failed = 1 })[obj.decision])
      assert.are.equal("number", type(obj.time))
      by[obj.decision] = (by[obj.decision] or 0) + 1
      if obj.decision == "skipped" then assert.are.equal("string", type(obj.reason)) end
      if obj.decision == "failed" then
        assert.are.equal("vendor", obj.error.kind)
        assert.are.equal("8902", obj.iccid)
      end
    end
    os.remove(path)
    assert.are.same({ fired = 4, done = 2, failed = 1, scheduled = 1, skipped = 3 }, by)
    assert.are.equal(11, n)
  end)

  it("report shape of run()", function()
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end, logger = function() end }
    add_rules(e)
    local rep = e:run()
    assert.are.equal(3, rep.cards)
    assert.are.equal(4, rep.evaluated)
    assert.are.equal("table", type(rep.fired))
    assert.are.equal("table", type(rep.scheduled))
    assert.are.equal("table", type(rep.skipped))
    assert.are.equal("table", type(rep.errors))
    for _, f in ipairs(rep.fired) do
      assert.truthy(f.rule and f.iccid and f.vendor and f.action and f.key)
      assert.is_true(f.ok)
      assert.truthy(f.result)
    end
    assert.are.equal(1, #rep.scheduled)
    assert.are.equal("resume", rep.scheduled[1].action)
    assert.are.equal("number", type(rep.scheduled[1].at))
  end)

  it("secrets never reach the audit or the report", function()
    local lines = {}
    local e = R.engine { fleet = fleet, store = st, clock = function() return t.now end,
      audit = function(l) lines[#lines + 1] = json.encode(l) end, logger = function() end }
    e:rule { name = "hook", when = R.used_above { mb = 1 }, actions = {
      R.webhook { url = "http://127.0.0.1:9/x", secret = "hunter2-secret", timeout = 1 } } }
    local rep = e:run()
    for _, l in ipairs(lines) do assert.is_nil(l:find("hunter2", 1, true)) end
    for _, f in ipairs(rep.fired) do
      assert.is_false(f.ok)
      assert.is_nil(tostring(f.err):find("hunter2", 1, true))
    end
  end)
end)

describe("simkit.rules event mode", function()
  it("handle(event) fires event rules for the event's card at once", function()
    local c = fake.card("eiotclub", "8901", 100, 1000)
    local fleet = fake.new({ c })
    local e = R.engine { fleet = fleet, clock = function() return T0 end, logger = function() end }
    e:rule { name = "stopped", when = R.event { "CardStopped" }, actions = { R.resume {} } }
    e:rule { name = "alert80", when = R.event { name = "FlowAlert", where = { alert_type = "80" } },
      actions = { R.suspend {} } }
    e:rule { name = "poll-only", when = R.used_above { mb = 1 }, actions = { R.network { on = false } } }
    local rep = assert(e:handle { event = "CardStopped", iccid = "8901" })
    assert.are.equal(1, rep.cards)
    assert.are.equal(1, #rep.fired)
    assert.are.equal("resume", rep.fired[1].action)
    rep = e:handle { event = "FlowAlert", iccid = "8901", alert_type = "50" }
    assert.are.equal(0, #rep.fired)
    rep = e:handle { event = "FlowAlert", iccid = "8901", alert_type = "80" }
    assert.are.equal(1, #rep.fired)
    assert.are.equal(0, fleet:count("network"))
    -- event rules do not fire in poll mode
    rep = e:run()
    assert.are.equal(1, #rep.fired)
    assert.are.equal("network", rep.fired[1].action)
    -- arrays of cards in data
    rep = e:handle { event = "CardStopped", data = { { iccid = "8901" }, { iccid = "8909" } } }
    assert.are.equal(2, rep.cards)
  end)

  it("refuses a bad event with kind input", function()
    local e = R.engine { fleet = fake.new({}) }
    for _, bad in ipairs({ "x", 42, {}, { event = 7 } }) do
      local rep, err = e:handle(bad)
      assert.is_nil(rep)
      assert.are.equal("input", err.kind)
    end
  end)

  it("event triggers refuse bad arguments", function()
    local e = R.engine { fleet = fake.new({}) }
    assert.has_error(function() e:rule { name = "x", when = R.event {}, actions = { R.alert {} } } end)
    assert.has_error(function() e:rule { name = "y", when = R.event { "A", where = 5 }, actions = { R.alert {} } } end)
  end)
end)

describe("simkit.rules rules files (R.load)", function()
  local function write(text)
    local p = tmpname()
    local f = assert(io.open(p, "w"))
    f:write(text)
    f:close()
    return p
  end

  it("loads a chunk taking (R, engine) and one returning function(R, engine)", function()
    local e = R.engine { fleet = fake.new({}) }
    local a = write([[local R, engine = ...
engine:rule{ name = "a", when = R.used_above{ mb = 1 }, actions = { R.alert{} } }]])
    local b = write([[return function(R, engine)
  engine:rule{ name = "b", when = R.expired{}, actions = { R.suspend{} } }
end]])
    assert.are.equal(e, R.load(e, a))
    assert.are.equal(e, R.load(e, b))
    os.remove(a)
    os.remove(b)
    assert.truthy(e.by_name.a)
    assert.truthy(e.by_name.b)
  end)

  it("an unreadable or broken file is nil, err; a bad rule in it raises with the rule's name", function()
    local e = R.engine { fleet = fake.new({}) }
    local v, err = R.load(e, "/nonexistent/rules.lua")
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    v, err = R.load(e, "")
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    v, err = R.load(e, 42)
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    local broken = write("this is not lua")
    v, err = R.load(e, broken)
    os.remove(broken)
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    local bad = write([[local R, engine = ...
engine:rule{ name = "oops", when = R.used_above{}, actions = { R.alert{} } }]])
    local ok, msg = pcall(R.load, e, bad)
    os.remove(bad)
    assert.is_false(ok)
    assert.matches("rule 'oops'", msg)
    assert.has_error(function() R.load({}, "x") end)
  end)
end)
