-- simkit.rules: the engine core over an in-spec fleet (spec/support/fakefleet)
-- and the memory store, with an injected clock.
local R = require "simkit.rules"
local store = require "simkit.store"
local fake = require "spec.support.fakefleet"

-- 2026-12-03 10:00:00 UTC = 18:00 in +08:00
local T0 = 1796292000

local function setup_engine(cards, opts)
  local fleet = fake.new(cards, opts and opts.pools)
  local t = { now = T0 }
  local lines = {}
  local o = { fleet = fleet, store = store.memory(), clock = function() return t.now end,
    audit = function(e) lines[#lines + 1] = e end, logger = function() end }
  for k, v in pairs(opts or {}) do if k ~= "pools" then o[k] = v end end
  return R.engine(o), fleet, t, lines
end

describe("simkit.rules engine", function()
  describe("fires once per armed period per card", function()
    it("rearm = next_day: once a day, again the next local day", function()
      local c = fake.card("eiotclub", "8901", 900, 1000)
      local e, fleet, t = setup_engine({ c }, { timezone = "+08:00" })
      e:rule { name = "low", when = R.left_below { mb = 200 }, actions = { R.suspend {} }, rearm = "next_day" }
      local rep = e:run()
      assert.are.equal(1, rep.cards)
      assert.are.equal(1, #rep.fired)
      assert.is_true(rep.fired[1].ok)
      for _ = 1, 3 do
        t.now = t.now + 3600
        rep = e:run()
        assert.are.equal(0, #rep.fired)
        assert.are.equal(1, #rep.skipped)
        assert.matches("not armed", rep.skipped[1].reason)
      end
      assert.are.equal(1, fleet:count("suspend"))
      -- 15:59 UTC is 23:59 local: same day; 16:00 UTC is the next local day
      t.now = T0 + 6 * 3600 - 60
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      t.now = T0 + 6 * 3600
      e:run()
      assert.are.equal(2, fleet:count("suspend"))
    end)

    it("each card has its own state", function()
      local a, b = fake.card("eiotclub", "8901", 900, 1000), fake.card("eiotclub", "8902", 100, 1000)
      local e, fleet, t = setup_engine({ a, b })
      e:rule { name = "low", when = R.left_below { mb = 200 }, actions = { R.suspend {} }, rearm = "next_day" }
      e:run()
      assert.are.equal(1, fleet:count("suspend", "8901"))
      fake.use(b, 950)
      t.now = t.now + 60
      e:run()
      assert.are.equal(1, fleet:count("suspend", "8901"))
      assert.are.equal(1, fleet:count("suspend", "8902"))
    end)

    it("rearm = never fires once ever; after:S re-arms S seconds after the first firing", function()
      local c = fake.card("huawei", "8901", 900, 1000)
      local e, fleet, t = setup_engine({ c })
      e:rule { name = "once", when = R.used_above { mb = 500 }, actions = { R.suspend {} }, rearm = "never" }
      e:rule { name = "hourly", when = R.used_above { mb = 500 }, actions = { R.resume {} }, rearm = "after:3600" }
      e:run()
      t.now = t.now + 3599
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      assert.are.equal(1, fleet:count("resume"))
      t.now = t.now + 1
      e:run()
      assert.are.equal(2, fleet:count("resume"))
      t.now = t.now + 400 * 86400
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      assert.are.equal(3, fleet:count("resume"))
    end)

    it("rearm = next_month follows the billing anchor of each card", function()
      local a = fake.card("huawei", "8901", 900, 1000)
      local b = fake.card("huawei", "8902", 900, 1000)
      local e, fleet, t = setup_engine({ a, b }, {
        timezone = "+08:00",
        anchor = function(card) return card.iccid == "8902" and { day = 10, hour = 6 } or { day = 1 } end,
      })
      e:rule { name = "m", when = R.used_above { ratio = 0.8 }, actions = { R.suspend {} }, rearm = "next_month" }
      e:run() -- 2026-12-03 local: a in period 2026-12, b in period 2026-11 (starts 11-10 06:00)
      assert.are.equal(1, fleet:count("suspend", "8901"))
      assert.are.equal(1, fleet:count("suspend", "8902"))
      -- 2026-12-10 05:59 local = 2026-12-09 21:59 UTC: b's period has not turned yet
      t.now = 1796853540 -- 2026-12-09T21:59:00Z
      e:run()
      assert.are.equal(1, fleet:count("suspend", "8902"))
      t.now = 1796853600 -- 2026-12-09T22:00:00Z = 12-10 06:00 local: b's new period
      e:run()
      assert.are.equal(2, fleet:count("suspend", "8902"))
      assert.are.equal(1, fleet:count("suspend", "8901"))
      t.now = 1798732800 -- 2026-12-31T16:00:00Z = 2027-01-01 00:00 local: a's new period
      e:run()
      assert.are.equal(2, fleet:count("suspend", "8901"))
    end)
  end)

  describe("hysteresis (rearm = clear)", function()
    it("does not flap on a value oscillating around the threshold", function()
      local c = fake.card("eiotclub", "8901", 0, 1000)
      local e, fleet, t = setup_engine({ c })
      e:rule { name = "hot", when = R.used_above { ratio = 0.9 }, actions = { R.speed { kbps = 128 } },
        rearm = "clear", clear = R.used_below { ratio = 0.7 } }
      local values = { 899, 901, 899, 902, 880, 905, 850, 910, 750, 920 }
      for _, v in ipairs(values) do
        fake.use(c, v)
        t.now = t.now + 600
        e:run()
      end
      assert.are.equal(1, fleet:count("speed"))
      -- below the clear threshold: re-armed, fires again once above
      fake.use(c, 600)
      t.now = t.now + 600
      e:run()
      fake.use(c, 950)
      t.now = t.now + 600
      e:run()
      assert.are.equal(2, fleet:count("speed"))
    end)
  end)

  describe("ladders (steps)", function()
    local function ladder_engine(c)
      local e, fleet, t, lines = setup_engine({ c })
      e:rule { name = "ladder", rearm = "next_month", steps = {
        { R.used_above { ratio = 0.8 }, R.alert {} },
        { R.used_above { ratio = 0.95 }, R.speed { kbps = 128 }, R.speed { kbps = "default", at = "next_month" } },
        { R.used_above { ratio = 1.0 }, R.suspend {}, R.resume { at = "next_month" } } } }
      return e, fleet, t, lines
    end

    it("steps fire in order, each once per period", function()
      local c = fake.card("huawei", "8901", 100, 1000)
      local e, fleet, t, lines = ladder_engine(c)
      local seen = {}
      for _, v in ipairs({ 500, 850, 900, 960, 970, 1000, 1000 }) do
        fake.use(c, v)
        t.now = t.now + 3600
        local rep = e:run()
        for _, f in ipairs(rep.fired) do seen[#seen + 1] = f.action end
      end
      assert.are.same({ "alert", "speed", "suspend" }, seen)
      assert.are.equal(1, fleet:count("speed"))
      local sched = 0
      for _, l in ipairs(lines) do if l.decision == "scheduled" then sched = sched + 1 end end
      assert.are.equal(2, sched)
    end)

    it("a jump past several thresholds fires the steps in order in one run", function()
      local c = fake.card("huawei", "8901", 100, 1000)
      local e = ladder_engine(c)
      fake.use(c, 1000)
      local rep = e:run()
      local seen = {}
      for _, f in ipairs(rep.fired) do seen[#seen + 1] = f.action end
      assert.are.same({ "alert", "speed", "suspend" }, seen)
      assert.are.equal(2, #rep.scheduled)
    end)

    it("scheduled restores run exactly once when due", function()
      local c = fake.card("huawei", "8901", 1000, 1000)
      local e, fleet, t = ladder_engine(c)
      e:run()
      assert.are.equal(0, fleet:count("resume"))
      t.now = 1798732800 - 1 -- 2026-12-31T23:59:59Z: the next month (UTC) is not due yet
      fake.use(c, 0)
      e:run()
      assert.are.equal(0, fleet:count("resume"))
      t.now = 1798761600 -- 2027-01-01T00:00:00Z
      local rep = e:run()
      assert.are.equal(1, fleet:count("resume"))
      local restored = 0
      for _, a in ipairs(fleet.acts) do
        if a.action == "speed" and a.args.kbps == "default" then restored = restored + 1 end
      end
      assert.are.equal(1, restored)
      assert.are.equal(2, #rep.fired)
      for _ = 1, 3 do
        t.now = t.now + 86400
        e:run()
      end
      assert.are.equal(1, fleet:count("resume"))
    end)
  end)

  describe("triggers", function()
    it("are plain functions(card, ctx) -> bool, value", function()
      local c = fake.card("eiotclub", "8901", 900, 1000)
      local holds, v = R.used_above { mb = 800 }(c, {})
      assert.is_true(holds)
      assert.are.equal(900, v)
      holds, v = R.used_above { ratio = 0.95 }(c, {})
      assert.is_false(holds)
      assert.are.equal(0.9, v)
      assert.is_true((R.left_below { ratio = 0.2 }(c, {})))
      assert.is_true((R.status_is { "active" }(c)))
      assert.is_false((R.status_is { "suspended" }(c)))
      assert.is_true((R.all { R.status_is { "active" }, R.used_above { mb = 1 } }(c, {})))
      assert.is_false((R.all { R.status_is { "active" }, R.used_above { mb = 1000 } }(c, {})))
      assert.is_true((R.any { R.status_is { "suspended" }, R.used_above { mb = 1 } }(c, {})))
      assert.is_true((R.none { R.status_is { "suspended" }, R.used_above { mb = 950 } }(c, {})))
      assert.is_false((R.none { R.status_is { "active" } }(c, {})))
      c.expires = T0 + 2 * 86400
      holds, v = R.expires_within { days = 3 }(c, { now = T0 })
      assert.is_true(holds)
      assert.are.equal(2, v)
      assert.is_false((R.expired {}(c, { now = T0 })))
      assert.is_true((R.expired {}(c, { now = T0 + 2 * 86400 })))
      c.balance = 5
      assert.is_true((R.balance_below { amount = 10 }(c)))
      -- missing data never holds
      local bare = { vendor = "tibiot", iccid = "1", status = "active" }
      assert.is_false((R.used_above { mb = 1 }(bare, {})))
      assert.is_false((R.left_below { ratio = 0.5 }(bare, {})))
      assert.is_false((R.expired {}(bare, {})))
    end)

    it("user functions and composition work inside rules", function()
      local c = fake.card("eiotclub", "8901", 900, 1000, { imei = "123456789012345" })
      local e, fleet = setup_engine({ c })
      e:rule { name = "mine", when = R.all { function(card) return card.imei ~= nil, card.imei end,
        R.any { R.used_above { mb = 2000 }, R.left_below { mb = 150 } } }, actions = { R.suspend {} } }
      e:rule { name = "not-mine", when = R.none { R.status_is { "active" } }, actions = { R.resume {} } }
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      assert.are.equal(0, fleet:count("resume"))
    end)

    it("status_changed, first_traffic and imei_changed come from stored snapshots", function()
      local c = fake.card("tibiot", "8901", 0, 1000, { imei = "111111111111111" })
      local e, fleet, t = setup_engine({ c })
      e:rule { name = "st", when = R.status_changed { to = "suspended" }, actions = { R.resume {} } ,
        rearm = "after:1" }
      e:rule { name = "ft", when = R.first_traffic {}, actions = { R.network { on = false } } }
      e:rule { name = "imei", when = R.imei_changed {}, actions = { R.suspend {} } }
      e:run()
      assert.are.equal(0, #fleet.acts) -- the first sight has nothing to compare with
      c.status = "suspended"
      fake.use(c, 5)
      c.imei = "222222222222222"
      t.now = t.now + 60
      local rep = e:run()
      assert.are.equal(3, #rep.fired)
      assert.are.equal(1, fleet:count("resume"))
      assert.are.equal(1, fleet:count("network"))
      assert.are.equal(1, fleet:count("suspend"))
      t.now = t.now + 60
      e:run() -- nothing changed since: status_changed does not hold again
      assert.are.equal(1, fleet:count("resume"))
    end)

    it("used_above{ period = day } counts from the first snapshot of the local day", function()
      local c = fake.card("huawei", "8901", 1000, 5000)
      local e, fleet, t = setup_engine({ c }, { timezone = "+08:00" })
      e:rule { name = "daily", when = R.used_above { mb = 100, period = "day" }, actions = { R.suspend {} },
        rearm = "next_day" }
      e:run()
      fake.use(c, 1090)
      t.now = t.now + 600
      e:run()
      assert.are.equal(0, fleet:count("suspend"))
      fake.use(c, 1100)
      t.now = t.now + 600
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      t.now = T0 + 6 * 3600 + 60 -- the next local day: the base is the last value seen
      fake.use(c, 1150)
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
      fake.use(c, 1250)
      t.now = t.now + 60
      e:run()
      assert.are.equal(2, fleet:count("suspend"))
    end)

    it("used_above{ period = total } keeps counting over the vendor's monthly resets", function()
      local c = fake.card("huawei", "8901", 800, 1000)
      local e, fleet, t = setup_engine({ c })
      e:rule { name = "life", when = R.used_above { mb = 1500, period = "total" }, actions = { R.suspend {} } }
      e:run()
      fake.use(c, 100) -- new vendor month: 800 + 100
      t.now = t.now + 86400
      e:run()
      assert.are.equal(0, fleet:count("suspend"))
      fake.use(c, 750)
      t.now = t.now + 86400
      e:run()
      assert.are.equal(1, fleet:count("suspend"))
    end)

    it("exhausts_within uses the burn rate of the stored history with the reporting lag as a margin", function()
      local c = fake.card("eiotclub", "8901", 0, 1000)
      local e, fleet, t = setup_engine({ c }, { lag = 3600 })
      e:rule { name = "soon", when = R.exhausts_within { hours = 10 }, actions = { R.alert {} } }
      -- 10 MB per hour: 1000 MB left would last 100 h
      for h = 1, 5 do
        fake.use(c, h * 10)
        t.now = t.now + 3600
        e:run()
      end
      assert.are.equal(0, #fleet.acts)
      local ex = e:explain("8901")
      assert.is_false(ex.rules[1].holds)
      assert.is_near(95 - 1 + 0.0, ex.rules[1].value, 1) -- 950 MB at 10 MB/h, minus the 1 h lag
      -- now 200 MB an hour: about 4 h left
      local fired
      for _ = 1, 2 do
        fake.use(c, c.usage.used_mb + 200)
        t.now = t.now + 3600
        fired = e:run().fired
      end
      assert.are.equal(1, #fired)
      assert.are.equal("alert", fired[1].action)
    end)

    it("pool and group totals", function()
      local a = fake.card("eiotclub", "8901", 400, 1000, { pool = "P1", tags = { "fleetA" } })
      local b = fake.card("huawei", "8902", 500, 1000, { pool = "P2", tags = { "fleetA" } })
      local c = fake.card("huawei", "8903", 50, 1000, { pool = "P2", tags = { "fleetB" } })
      local pools = { { vendor = "eiotclub", id = "P1", used_mb = 9500, limit_mb = 10000, left_mb = 500 },
        { vendor = "huawei", id = "P2", used_mb = 10, limit_mb = 10000, left_mb = 9990 } }
      local e, fleet = setup_engine({ a, b, c }, { pools = pools })
      e:rule { name = "pool", when = R.pool_used_above { ratio = 0.9 }, actions = { R.log {} } }
      e:rule { name = "grp", when = R.group_used_above { by = "tag", tag = "fleetA", mb = 800 },
        actions = { R.alert {} } }
      e:rule { name = "vend", when = R.group_used_above { by = "vendor", mb = 540 }, actions = { R.suspend {} } }
      e:rule { name = "gpool", when = R.group_used_above { by = "pool", mb = 540 }, actions = { R.resume {} } }
      local rep = e:run()
      local by = {}
      for _, f in ipairs(rep.fired) do by[f.rule .. ":" .. f.iccid] = true end
      assert.are.same({ ["pool:8901"] = true, ["grp:8901"] = true, ["grp:8902"] = true, ["vend:8902"] = true,
        ["vend:8903"] = true, ["gpool:8902"] = true, ["gpool:8903"] = true }, by)
      assert.are.equal(1, fleet.calls.pools)
      assert.are.equal(1, fleet.calls.cards)
    end)
  end)

  describe("match", function()
    it("takes a table (strings or lists, tag) or a function", function()
      local a = fake.card("eiotclub", "8901", 900, 1000, { tags = { "x" } })
      local b = fake.card("huawei", "8902", 900, 1000)
      local e, fleet = setup_engine({ a, b })
      e:rule { name = "t", match = { vendor = { "eiotclub", "tibiot" }, tag = "x" }, when = R.used_above { mb = 1 },
        actions = { R.suspend {} } }
      e:rule { name = "f", match = function(card) return card.iccid == "8902" end, when = R.used_above { mb = 1 },
        actions = { R.resume {} } }
      e:rule { name = "raising match counts as no match", match = function() error("boom") end,
        when = R.used_above { mb = 1 }, actions = { R.network { on = false } } }
      local rep = e:run()
      assert.are.equal(1, fleet:count("suspend", "8901"))
      assert.are.equal(1, fleet:count("resume", "8902"))
      assert.are.equal(0, fleet:count("network"))
      assert.are.equal(2, rep.evaluated) -- (rule, card) pairs that matched
    end)
  end)

  describe("bad rules are refused when added, naming the rule", function()
    local e
    before_each(function() e = setup_engine({}) end)
    local cases = {
      { "unknown trigger", { name = "r1", when = R.no_such_trigger { mb = 1 }, actions = { R.alert {} } },
        "rule 'r1': when: unknown trigger or action 'no_such_trigger'" },
      { "unknown action", { name = "r2", when = R.expired {}, actions = { R.explode {} } },
        "rule 'r2': action 1: unknown trigger or action 'explode'" },
      { "missing threshold", { name = "r3", when = R.used_above {}, actions = { R.alert {} } },
        "rule 'r3': when: used_above: missing threshold" },
      { "both thresholds", { name = "r3b", when = R.left_below { mb = 1, ratio = 0.1 }, actions = { R.alert {} } },
        "give mb or ratio, not both" },
      { "NaN threshold", { name = "r4", when = R.used_above { mb = 0 / 0 }, actions = { R.alert {} } },
        "mb must be a finite number" },
      { "inf threshold", { name = "r5", when = R.left_below { mb = math.huge }, actions = { R.alert {} } },
        "mb must be a finite number" },
      { "huge threshold", { name = "r6", when = R.used_above { mb = 1e300 }, actions = { R.alert {} } },
        "mb must be a finite number" },
      { "wrong type", { name = "r7", when = R.used_above { mb = "100" }, actions = { R.alert {} } },
        "mb must be a finite number" },
      { "unsupported by every matched vendor", { name = "r8", match = { vendor = "tibiot" },
        when = R.used_above { mb = 1 }, actions = { R.topup { package = "P" } } },
        "rule 'r8': action 'topup' is not supported by any vendor the rule matches %(tibiot%)" },
      { "ladder out of order", { name = "r9", steps = { { R.used_above { ratio = 0.9 }, R.alert {} },
        { R.used_above { ratio = 0.8 }, R.suspend {} } } }, "rule 'r9': steps out of order: step 2" },
      { "left_below ladder must fall", { name = "r9b", steps = { { R.left_below { mb = 100 }, R.alert {} },
        { R.left_below { mb = 200 }, R.suspend {} } } }, "rule 'r9b': steps out of order" },
      { "constructor not called", { name = "r10", when = R.expired, actions = { R.alert {} } },
        "R.expired must be called" },
      { "action as trigger", { name = "r11", when = R.alert {}, actions = { R.alert {} } },
        "'alert' is an action, a trigger was expected" },
      { "trigger as action", { name = "r12", when = R.expired {}, actions = { R.expired {} } },
        "a function is not an action" },
      { "no actions", { name = "r13", when = R.expired {} }, "missing 'actions'" },
      { "no trigger", { name = "r14", actions = { R.alert {} } }, "missing 'when'" },
      { "bad rearm", { name = "r15", when = R.expired {}, actions = { R.alert {} }, rearm = "weekly" },
        "rearm: unknown value" },
      { "bad after", { name = "r16", when = R.expired {}, actions = { R.alert {} }, rearm = "after:-5" },
        "rearm: unknown value" },
      { "clear without trigger", { name = "r17", when = R.expired {}, actions = { R.alert {} }, rearm = "clear" },
        "needs a clear" },
      { "bad at", { name = "r18", when = R.expired {}, actions = { R.resume { at = "tomorrow" } } },
        "resume: at: unknown value" },
      { "bad action args", { name = "r19", when = R.expired {}, actions = { R.speed { kbps = -1 } } },
        "speed: kbps must be" },
      { "unknown field", { name = "r20", when = R.expired {}, actions = { R.alert {} }, rearn = "never" },
        "unknown field 'rearn'" },
      { "bad match field", { name = "r21", match = { vendr = "x" }, when = R.expired {}, actions = { R.alert {} } },
        "match: unknown field 'vendr'" },
      { "bad status", { name = "r22", when = R.status_is { "sleeping" }, actions = { R.alert {} } },
        "status must be one of" },
      { "bad composition", { name = "r23", when = R.all { R.used_above {} }, actions = { R.alert {} } },
        "all: used_above: missing threshold" },
      { "webhook url", { name = "r24", when = R.expired {}, actions = { R.webhook { url = "ftp://x" } } },
        "url must be an http" },
      { "mail address", { name = "r25", when = R.expired {},
        actions = { R.mail { to = "nobody", smtp = { url = "smtp://127.0.0.1:1", from = "a@b" } } } },
        "not an e%-mail address" },
      { "call needs fn", { name = "r26", when = R.expired {}, actions = { R.call {} } }, "fn must be a function" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local ok, err = pcall(e.rule, e, case[2])
        assert.is_false(ok)
        assert.matches(case[3], err)
        assert.is_nil(e.by_name[case[2].name])
      end)
    end

    it("names: missing, wrong type, too long, duplicate", function()
      assert.has_error(function() e:rule { when = R.expired {}, actions = { R.alert {} } } end)
      assert.has_error(function() e:rule { name = 7, when = R.expired {}, actions = { R.alert {} } } end)
      assert.has_error(function() e:rule { name = ("x"):rep(101), when = R.expired {}, actions = { R.alert {} } } end)
      assert.has_error(function() e:rule("not a table") end)
      e:rule { name = "dup", when = R.expired {}, actions = { R.alert {} } }
      local ok, err = pcall(e.rule, e, { name = "dup", when = R.expired {}, actions = { R.alert {} } })
      assert.is_false(ok)
      assert.matches("rule 'dup': a rule with this name exists", err)
    end)

    it("the error points at the caller", function()
      local ok, err = pcall(function() e:rule { name = "where", when = R.nope {}, actions = { R.alert {} } } end)
      assert.is_false(ok)
      assert.matches("rules_spec.lua:%d+:", err)
    end)
  end)

  describe("engine options", function()
    it("refuses bad options with a message saying what to do", function()
      assert.has_error(function() R.engine() end)
      assert.has_error(function() R.engine { timezone = "Asia/Shanghai" } end, nil)
      local ok, err = pcall(R.engine, { timezone = "+25:00" })
      assert.is_false(ok)
      assert.matches("timezone", err)
      assert.has_error(function() R.engine { clock = 5 } end)
      assert.has_error(function() R.engine { store = {} } end)
      assert.has_error(function() R.engine { anchor = { day = 31 } } end)
      assert.has_error(function() R.engine { anchor = { day = 0 / 0 } } end)
      assert.has_error(function() R.engine { lease_ttl = 0 / 0 } end)
      assert.has_error(function() R.engine { lease_ttl = -1 } end)
      assert.has_error(function() R.engine { audit = 42 } end)
      assert.has_error(function() R.engine { fleet = "x" } end)
      assert.truthy(R.engine { timezone = "-05:30" })
      assert.truthy(R.engine { timezone = "Z" })
    end)

    it("a clock returning NaN or inf raises (a programming error)", function()
      local e = R.engine { fleet = fake.new({}), clock = function() return 0 / 0 end }
      assert.has_error(function() e:run() end)
      e = R.engine { fleet = fake.new({}), clock = function() return math.huge end }
      assert.has_error(function() e:run() end)
    end)

    it("run without a fleet raises, saying what to pass", function()
      local e = R.engine {}
      local ok, err = pcall(e.run, e)
      assert.is_false(ok)
      assert.matches("fleet = simkit.fleet", err)
    end)
  end)
end)
