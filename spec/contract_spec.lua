-- Contract conformance: the public names of ../shared/DESIGN.md ("Public API"
-- and "Automation, fleet and scale"), called exactly as written there, the way
-- a stranger reading only DESIGN.md would call them. Against the sandbox.
local simkit = require "simkit"
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"
local listener = require "spec.support.listener"
local cli = require "spec.support.cli"
local core = require "simkit.core"

local J = simkit.json
local IS54 = math.type ~= nil and not rawget(_G, "jit")
local EIOT_ICCID, HW_ICCID = "89852012345678900007", "89860321000000000001"
local TIB_ICCID = F.tib_iccids(1)[1]
local STATUSES = { active = 1, inactive = 1, suspended = 1, deactivated = 1, testing = 1, unknown = 1 }
local DECISIONS = { fired = 1, skipped = 1, scheduled = 1, done = 1, failed = 1 }

local function tmpname()
  local p = assert(io.popen("mktemp /tmp/simkit-contract.XXXXXX"))
  local n = p:read("*l")
  p:close()
  return n
end

local function lines_of(path)
  local out = {}
  local f = io.open(path, "r")
  if not f then return out end
  for l in f:lines() do out[#out + 1] = assert(J.decode(l), "audit line is not JSON: " .. l) end
  f:close()
  return out
end

local function writes(sb)
  local n = 0
  for _, r in ipairs(sb:requests()) do
    local p = r.path or r.uri or ""
    if r.method ~= "GET" and not p:find("query", 1, true) and not p:find("[Ll]ist")
      and not p:find("[Gg]et") and not p:find("[Ii]nfo") and not p:find("[Dd]etail")
      and not p:find("[Uu]sage") and not p:find("token", 1, true) and not p:find("^/_sim") then
      n = n + 1
    end
  end
  return n
end

describe("DESIGN.md contract", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  describe("Stores", function()
    local store
    before_each(function() store = simkit.store.memory() end)

    it("store:get/set: values come back with their type (\"007\" stays a string, integers exact, tables)", function()
      assert.is_true(store:set("s", "007"))
      assert.are.equal("007", store:get("s"))
      assert.are.equal("string", type(store:get("s")))
      assert.is_true(store:set("n", 42))
      assert.are.equal(42, store:get("n"))
      if IS54 then
        assert.is_true(store:set("big", math.maxinteger))
        assert.are.equal(math.maxinteger, store:get("big"))
        assert.are.equal("integer", math.type(store:get("big")))
      end
      assert.is_true(store:set("t", { a = { 1, 2 }, b = "x" }))
      assert.are.same({ a = { 1, 2 }, b = "x" }, store:get("t"))
      assert.is_nil(store:get("absent"))
    end)

    it("store:add(k, v, ttl) -> true | false (set if absent)", function()
      assert.are.equal(true, store:add("lock", 1, 30))
      assert.are.equal(false, store:add("lock", 2, 30))
      assert.are.equal(1, store:get("lock"))
    end)

    it("store:incr(k, n, ttl) -> new value", function()
      assert.are.equal(3, store:incr("c", 3))
      assert.are.equal(5, store:incr("c", 2, 10))
      assert.are.equal(5, store:get("c"))
    end)

    it("store:delete(k); ttl in seconds, fractions allowed, absent = no expiry", function()
      local now = 1000
      local s = simkit.store.memory { clock = function() return now end }
      assert.is_true(s:set("f", "v", 0.5))
      assert.is_true(s:set("forever", "v"))
      assert.are.equal("v", s:get("f"))
      now = 1000.6
      assert.is_nil(s:get("f"))
      now = 1e9
      assert.are.equal("v", s:get("forever"))
      assert.is_true(s:delete("forever"))
      assert.is_nil(s:get("forever"))
    end)

    it("simkit.store.sqlite(path): one file, several handles at once; types kept; add is the lock", function()
      local path = tmpname()
      local a, b = simkit.store.sqlite(path), simkit.store.sqlite(path)
      assert.is_true(a:set("s", "007"))
      assert.are.equal("007", b:get("s"))
      assert.are.equal("string", type(b:get("s")))
      if IS54 then
        assert.is_true(a:set("big", math.maxinteger))
        assert.are.equal(math.maxinteger, b:get("big"))
      end
      assert.is_true(a:set("t", { x = { 1, "2" } }))
      assert.are.same({ x = { 1, "2" } }, b:get("t"))
      assert.are.equal(true, a:add("lease", "a", 30))
      assert.are.equal(false, b:add("lease", "b", 30))
      assert.are.equal(2, a:incr("n", 2))
      assert.are.equal(5, b:incr("n", 3))
      assert.is_true(b:delete("s"))
      assert.is_nil(a:get("s"))
      local v, err = a:set("k", 1, 0 / 0)
      assert.is_nil(v)
      assert.are.equal("input", err.kind)
      os.remove(path); os.remove(path .. "-wal"); os.remove(path .. "-shm")
    end)

    it("a backend that fails gives kind = \"store\" (sqlite file in a missing directory)", function()
      local ok, s, err0 = pcall(simkit.store.sqlite, "/nonexistent-dir/x/simkit.db")
      assert.is_true(ok, tostring(s))
      local v, err
      if s then v, err = s:set("k", 1) else v, err = s, err0 end
      assert.is_nil(v)
      assert.are.equal("store", err.kind)
    end)

    it("simkit.store.redis{ host, port, db, password, prefix } on a real redis-server; down -> kind store", function()
      local redis = require "spec.support.redis"
      local r = redis.start { password = "pw-contract" }
      local ok, err0 = pcall(function()
        local s = simkit.store.redis { host = "127.0.0.1", port = r.port, db = 2, password = "pw-contract", prefix = "ct:" }
        assert.is_true(s:set("s", "007"))
        assert.are.equal("007", s:get("s"))
        assert.are.equal(true, s:add("l", 1, 0.5))
        assert.are.equal(false, s:add("l", 1, 0.5))
        assert.are.equal(2, s:incr("n", 2))
        assert.are.equal(5, s:incr("n", 3, 10))
        assert.are.same({ x = { 1, "2" } }, (s:set("t", { x = { 1, "2" } }) and s:get("t")))
        local keys = r:cli("-n", "2", "KEYS", "ct:*")
        assert.is_truthy(keys:find("ct:s", 1, true))
        local bad = simkit.store.redis { host = "127.0.0.1", port = r.port, password = "pw-bad-7781" }
        local v, err = bad:get("s")
        assert.is_nil(v)
        assert.are.equal("store", err.kind)
        assert.is_nil(tostring(err):find("pw-bad-7781", 1, true))
        assert.is_nil(tostring(s):find("pw-contract", 1, true))
        r:stop()
        local v2, err2 = s:get("s")
        assert.is_nil(v2)
        assert.are.equal("store", err2.kind)
      end)
      pcall(r.stop, r)
      assert(ok, err0)
    end)

    it("the Huawei client takes store =: one IAM token per account across clients on one store", function()
      local path = tmpname()
      local function c()
        return simkit.client("huawei", { username = "sandbox-user", password = "sandbox-password",
          domain = "sandbox-domain", project = "cn-north-4", endpoint = sb.url, iam_endpoint = sb.url,
          store = simkit.store.sqlite(path) })
      end
      sb:clear_requests()
      assert.is_table(assert(c():list_tags {}))
      assert.is_table(assert(c():list_tags {}))
      local tokens = 0
      for _, r in ipairs(sb:requests()) do
        if (r.path or ""):find("/auth/tokens", 1, true) then tokens = tokens + 1 end
      end
      assert.are.equal(1, tokens)
      os.remove(path)
    end)

    it("bad arguments are nil, err with kind = \"input\" and never raise", function()
      for _, call in ipairs({
        function() return store:get(nil) end,
        function() return store:set({}, 1) end,
        function() return store:set("k", 1, 0 / 0) end,
        function() return store:set("k", 1, -1) end,
        function() return store:set("k", 1, math.huge) end,
        function() return store:set("k", function() end) end,
        function() return store:add("k", 1, "x") end,
        function() return store:incr("k", 0 / 0) end,
        function() return store:incr("k", "one") end,
        function() return store:delete(12.5) end,
      }) do
        local ok, v, err = pcall(call)
        assert.is_true(ok, tostring(v))
        assert.is_nil(v)
        assert.are.equal("input", err.kind)
      end
    end)
  end)

  describe("Fleet", function()
    local fleet, cl
    before_each(function()
      cl = F.clients(sb)
      fleet = simkit.fleet { cl.eiot, cl.hw, cl.tib, iccids = { tibiot = F.tib_iccids(3) } }
    end)

    local function check_card(card)
      for _, k in ipairs({ "vendor", "iccid", "status", "raw" }) do assert.is_not_nil(card[k], k) end
      assert.is_truthy(STATUSES[card.status], card.status)
      assert.are.equal("table", type(card.usage))
      for _, k in ipairs({ "used_mb", "limit_mb", "left_mb" }) do
        assert.is_true(card.usage[k] == nil or type(card.usage[k]) == "number", k)
      end
    end

    it("fleet:cards{ vendor = \"huawei\", status = \"active\" } iterates card, err", function()
      local n = 0
      for card, err in fleet:cards { vendor = "huawei", status = "active" } do
        assert.is_nil(err, tostring(err))
        check_card(card)
        assert.are.equal("huawei", card.vendor)
        assert.are.equal("active", card.status)
        if IS54 then assert.are.equal("integer", math.type(card.id)) end
        n = n + 1
      end
      assert.is_true(n > 0)
    end)

    it("fleet:cards{} spans every vendor, TIBIOT cards from the given iccids; 0 x 429", function()
      local seen = {}
      sb:clear_requests()
      for card, err in fleet:cards {} do
        assert.is_nil(err, tostring(err))
        seen[card.vendor] = true
      end
      assert.is_true(seen.eiotclub and seen.huawei and seen.tibiot)
      local reqs = sb:requests()
      assert.is_true(#reqs > 0)
      for _, r in ipairs(reqs) do assert.are_not.equal(429, r.status, r.path) end -- vendor rate limits hold
    end)

    it("fleet:card(iccid) works for any vendor; usage left = limit - used where two are given", function()
      for vendor, iccid in pairs({ eiotclub = EIOT_ICCID, huawei = HW_ICCID, tibiot = TIB_ICCID }) do
        local card, err = fleet:card(iccid)
        assert.is_table(card, vendor .. ": " .. tostring(err))
        check_card(card)
        assert.are.equal(vendor, card.vendor)
        assert.are.equal(iccid, card.iccid)
        local u = card.usage
        if u.used_mb and u.limit_mb then
          assert.is_true(math.abs(u.left_mb - (u.limit_mb - u.used_mb)) < 1e-6, vendor)
        end
      end
    end)

    it("fleet:card(bad) is nil, err (kind input) for wrong types and unknown ICCIDs are nil, err", function()
      for _, bad in ipairs({ 12, {}, "", 0 / 0 }) do
        local ok, card, err = pcall(fleet.card, fleet, bad)
        assert.is_true(ok, tostring(card))
        assert.is_nil(card)
        assert.are.equal("input", err.kind)
      end
      local card, err = fleet:card("89000000000000000000")
      assert.is_nil(card)
      assert.is_table(err)
    end)

    it("fleet:pools() iterates pools { vendor, id, name, used_mb, limit_mb, left_mb, cards, raw }", function()
      local n = 0
      for pool, err in fleet:pools() do
        assert.is_nil(err, tostring(err))
        assert.is_not_nil(pool.vendor)
        assert.is_not_nil(pool.id)
        assert.is_not_nil(pool.raw)
        assert.is_true(pool.cards == nil or type(pool.cards) == "number")
        n = n + 1
      end
      assert.is_true(n > 0)
    end)

    it("status mapping from the seeds: vendor_status -> status, any other value -> unknown", function()
      local MAP = {
        huawei = { ["10"] = "testing", ["11"] = "inactive", ["13"] = "inactive", ["14"] = "suspended",
          ["20"] = "active", ["30"] = "deactivated" },
        tibiot = { ["1"] = "inactive", ["4"] = "suspended", ["16"] = "suspended", ["8"] = "active",
          ["12"] = "testing", ["18"] = "deactivated", ["99"] = "unknown" },
        eiotclub = { ACTIVATION_READY_NAME = "inactive", NON_ACTIVATED_NAME = "inactive", ACTIVATED_NAME = "active",
          ACTIVATED_BASE = "active", DEACTIVATED_NAME = "deactivated", RETIRED_NAME = "deactivated" },
      }
      local n = 0
      for card, err in fleet:cards {} do
        assert.is_nil(err, tostring(err))
        local want = MAP[card.vendor][tostring(card.vendor_status)] or "unknown"
        assert.are.equal(want, card.status, card.vendor .. " " .. tostring(card.vendor_status))
        n = n + 1
      end
      assert.is_true(n > 20)
    end)

    it("a pool's cards is the number of cards in it; a card's pool is the pool's id", function()
      local pools, counts = {}, {}
      for pool, err in fleet:pools() do
        assert.is_nil(err, tostring(err))
        pools[pool.vendor .. ":" .. tostring(pool.id)] = pool
      end
      for card in fleet:cards {} do
        if card.pool ~= nil then
          local k = card.vendor .. ":" .. tostring(card.pool)
          counts[k] = (counts[k] or 0) + 1
        end
      end
      assert.is_not_nil(next(counts))
      for k, c in pairs(counts) do
        assert.is_table(pools[k], k)
        assert.are.equal(pools[k].cards, c, k)
      end
    end)

    it("fleet:capabilities(\"tibiot\") -> { network = true, topup = false, ... }", function()
      local caps = fleet:capabilities("tibiot")
      assert.are.equal(true, caps.network)
      assert.are.equal(false, caps.topup)
      for _, a in ipairs({ "suspend", "resume", "network", "speed", "topup", "sms", "tag", "imei_lock", "usage_cap" }) do
        assert.are.equal("boolean", type(caps[a]), a)
      end
    end)

    it("fleet:act(card, \"suspend\") acts; an action a vendor lacks is kind unsupported, before sending", function()
      local card = assert(fleet:card(HW_ICCID))
      local res, err = fleet:act(card, "suspend")
      assert.is_not_nil(res, tostring(err))
      local tcard = assert(fleet:card(TIB_ICCID))
      sb:clear_requests()
      local r2, e2 = fleet:act(tcard, "topup", { package = "X", key = "k1" })
      assert.is_nil(r2)
      assert.are.equal("unsupported", e2.kind)
      assert.are.equal(0, #sb:requests())
    end)

    it("fleet:act(card, unknown action) is nil, err; bad args give kind input", function()
      local card = assert(fleet:card(HW_ICCID))
      local ok, r, err = pcall(fleet.act, fleet, card, "explode")
      if ok then
        assert.is_nil(r)
        assert.is_table(err)
      end
      local r2, e2 = fleet:act(card, "network", { on = "yes" })
      assert.is_nil(r2)
      assert.are.equal("input", e2.kind)
      local r3, e3 = fleet:act(card, "speed", { kbps = 0 / 0 })
      assert.is_nil(r3)
      assert.are.equal("input", e3.kind)
    end)

    it("fleet:act_many(cards, \"network\", { on = false }) returns { card, ok, result, err } per card, in order", function()
      local cards = {}
      for _, iccid in ipairs(F.tib_iccids(3)) do cards[#cards + 1] = assert(fleet:card(iccid)) end
      cards[#cards + 1] = assert(fleet:card(HW_ICCID))
      local results = fleet:act_many(cards, "network", { on = false })
      assert.are.equal(#cards, #results)
      for i, r in ipairs(results) do
        assert.are.equal(cards[i], r.card)
        assert.are.equal("boolean", type(r.ok))
        assert.is_true(r.ok, tostring(r.err))
      end
    end)
  end)

  describe("Rules", function()
    local R = simkit.rules
    local l
    setup(function() l = listener.start(sandbox.root, "http") end)
    teardown(function() if l then listener.stop(l) end end)

    local function make(opts)
      local cl = F.clients(sb)
      local fleet = simkit.fleet { cl.eiot, cl.hw, cl.tib, iccids = { tibiot = F.tib_iccids(2) } }
      local o = { fleet = fleet, store = simkit.store.sqlite(tmpname()), timezone = "+08:00", dry_run = false,
        audit = tmpname(), clock = function() return os.time() end, logger = function() end }
      for k, v in pairs(opts or {}) do o[k] = v end
      return R.engine(o), o, fleet
    end

    local function design_rules(engine, hook)
      engine:rule {
        name = "topup-when-low",
        match = { vendor = "eiotclub", status = "active" },
        when = R.left_below { mb = 200 },
        actions = { R.topup { package = "cheapest" }, R.webhook { url = hook } },
        rearm = "next_day",
      }
      engine:rule {
        name = "month-ladder",
        steps = { { R.used_above { ratio = 0.8 }, R.alert {} },
          { R.used_above { ratio = 0.95 }, R.speed { kbps = 128 },
            R.speed { kbps = "default", at = "next_month" } },
          { R.used_above { ratio = 1.0 }, R.suspend {}, R.resume { at = "next_month" } } },
        rearm = "next_month",
      }
    end

    local function always(name, actions, extra)
      local r = { name = name, match = function(card) return card.iccid == EIOT_ICCID end,
        when = function() return true, 1 end, actions = actions }
      for k, v in pairs(extra or {}) do r[k] = v end
      return r
    end

    it("R.engine{ fleet, store, timezone, dry_run, audit, clock } takes the two DESIGN example rules", function()
      local engine = make()
      design_rules(engine, "http://127.0.0.1:" .. l.port .. "/hook")
      local rep = engine:run()
      assert.is_table(rep)
    end)

    it("plan() is a list of { rule, iccid, vendor, action, value, threshold, key }; nothing written", function()
      local engine, o = make()
      engine:rule(always("p1", { R.sms { text = "low" } }))
      sb:clear_requests()
      local plan = engine:plan()
      assert.is_true(#plan >= 1)
      local it1 = plan[1]
      assert.are.equal("p1", it1.rule)
      assert.are.equal(EIOT_ICCID, it1.iccid)
      assert.are.equal("eiotclub", it1.vendor)
      assert.are.equal("sms", it1.action)
      assert.is_not_nil(it1.key)
      assert.are.equal(0, writes(sb))
      assert.are.same({}, lines_of(o.audit))
    end)

    it("match = { vendor, status } and used_above{ ratio } (used / limit) select the cards a reader computes", function()
      local engine, _, fleet = make()
      engine:rule { name = "ratio", match = { vendor = "eiotclub", status = "active" },
        when = R.used_above { ratio = 0.2 }, actions = { R.sms { text = "x" } } }
      local want = {}
      for card, err in fleet:cards { vendor = "eiotclub", status = "active" } do
        assert.is_nil(err, tostring(err))
        local u = card.usage
        if u.used_mb and u.limit_mb and u.limit_mb > 0 and u.used_mb / u.limit_mb > 0.2 then want[#want + 1] = card.iccid end
      end
      local got = {}
      for _, item in ipairs(engine:plan()) do
        assert.are.equal("ratio", item.rule)
        assert.are.equal(0.2, item.threshold)
        got[#got + 1] = item.iccid
      end
      table.sort(want); table.sort(got)
      assert.is_true(#want >= 2)
      assert.are.same(want, got)
    end)

    it("dry_run = true: run() reads only; no vendor write, no state change, no audit line", function()
      local engine, o = make { dry_run = true }
      engine:rule(always("d1", { R.suspend {} }))
      sb:clear_requests()
      engine:run()
      assert.are.equal(0, writes(sb))
      assert.are.same({}, lines_of(o.audit))
    end)

    it("run() report: { cards, evaluated, fired = { { rule, iccid, vendor, action, key, ok, result|err } }, scheduled, skipped, errors }", function()
      local engine = make()
      engine:rule(always("r1", { R.log {} }))
      local rep = engine:run()
      for _, k in ipairs({ "cards", "evaluated", "fired", "scheduled", "skipped", "errors" }) do
        assert.is_not_nil(rep[k], k)
      end
      assert.are.equal(1, #rep.fired)
      local f = rep.fired[1]
      assert.are.equal("r1", f.rule)
      assert.are.equal(EIOT_ICCID, f.iccid)
      assert.are.equal("eiotclub", f.vendor)
      assert.are.equal("log", f.action)
      assert.is_not_nil(f.key)
      assert.is_true(f.ok, tostring(f.err))
      assert.is_nil(f.err)
    end)

    it("a rule fires at most once per armed period per card (rearm next_day)", function()
      local now = 1796292000
      local engine = make { clock = function() return now end }
      engine:rule(always("once", { R.log {} }, { rearm = "next_day" }))
      assert.are.equal(1, #engine:run().fired)
      assert.are.equal(0, #engine:run().fired)
      now = now + 86400
      assert.are.equal(1, #engine:run().fired)
    end)

    it("audit: one JSON object per line with time, rule, iccid, vendor, value, threshold, decision, action, key", function()
      local engine, o = make()
      engine:rule(always("a1", { R.log {} }))
      engine:run()
      local got = lines_of(o.audit)
      assert.is_true(#got >= 1)
      for _, a in ipairs(got) do
        assert.is_truthy(DECISIONS[a.decision], tostring(a.decision))
        assert.are.equal("a1", a.rule)
        assert.are.equal(EIOT_ICCID, a.iccid)
        assert.are.equal("eiotclub", a.vendor)
        assert.is_number(a.time)
        assert.are.equal(1, a.value)
        if a.decision ~= "skipped" then assert.is_not_nil(a.key) end
      end
    end)

    it("audit may be a function receiving the same table", function()
      local got = {}
      local engine = make { audit = function(t) got[#got + 1] = t end }
      engine:rule(always("af", { R.log {} }))
      engine:run()
      assert.is_true(#got >= 1)
      assert.are.equal("af", got[1].rule)
      assert.is_truthy(DECISIONS[got[1].decision])
    end)

    it("at = \"after:SECONDS\": kept in the store and run by the first run() at which clock() >= due", function()
      local now = 1796292000
      local engine = make { clock = function() return now end }
      engine:rule(always("later", { R.log { at = "after:60" } }))
      local rep = engine:run()
      assert.are.equal(0, #rep.fired)
      assert.is_true((type(rep.scheduled) == "number" and rep.scheduled or #rep.scheduled) >= 1)
      now = now + 59
      assert.are.equal(0, #engine:run().fired)
      now = now + 1
      local rep3 = engine:run()
      assert.are.equal(1, #rep3.fired)
      assert.are.equal("log", rep3.fired[1].action)
    end)

    it("rearm \"clear\" re-arms only once clear = <trigger> holds; \"after:SECONDS\"; \"never\"", function()
      local now, hot, cool = 1796292000, true, false
      local engine = make { clock = function() return now end }
      engine:rule(always("hyst", { R.log {} }, { when = function() return hot, 1 end,
        clear = function() return cool, 0 end, rearm = "clear" }))
      local function fired() now = now + 10 return #engine:run().fired end
      assert.are.same({ 1, 0 }, { fired(), fired() })
      hot = false
      assert.are.equal(0, fired())
      hot = true
      assert.are.equal(0, fired()) -- not cleared: holds again, does not fire
      hot, cool = false, true
      assert.are.equal(0, fired())
      hot, cool = true, false
      assert.are.equal(1, fired())
      local e2 = make { clock = function() return now end }
      e2:rule(always("after", { R.log {} }, { rearm = "after:100" }))
      local t0 = now
      assert.are.equal(1, #e2:run().fired)
      now = t0 + 99
      assert.are.equal(0, #e2:run().fired)
      now = t0 + 100
      assert.are.equal(1, #e2:run().fired)
      local e3 = make { clock = function() return now end }
      e3:rule(always("never", { R.log {} }, { rearm = "never" }))
      assert.are.equal(1, #e3:run().fired)
      now = now + 1e8
      assert.are.equal(0, #e3:run().fired)
    end)

    it("days follow the engine's timezone: rearm next_day re-arms at local midnight (+08:00)", function()
      local now = 1796313540 -- 2026-12-03 15:59:00 UTC = 23:59 at +08:00
      local engine = make { clock = function() return now end }
      engine:rule(always("tz", { R.log {} }, { rearm = "next_day" }))
      assert.are.equal(1, #engine:run().fired)
      now = now + 30
      assert.are.equal(0, #engine:run().fired)
      now = now + 60 -- 16:00:30 UTC = 00:00:30 the next day at +08:00
      assert.are.equal(1, #engine:run().fired)
    end)

    it("each step of a ladder fires once per period, in order", function()
      local now = 1796292000
      local engine = make { clock = function() return now end }
      local hits = {}
      engine:rule { name = "ladder", match = function(card) return card.iccid == EIOT_ICCID end,
        steps = { { R.used_above { ratio = 0.5 }, R.call { fn = function() hits[#hits + 1] = 1 return true end } },
          { R.used_above { ratio = 0.9 }, R.call { fn = function() hits[#hits + 1] = 2 return true end } },
          { R.used_above { ratio = 5 }, R.call { fn = function() hits[#hits + 1] = 3 return true end } } },
        rearm = "next_month" }
      engine:run()
      engine:run()
      assert.are.same({ 1, 2 }, hits) -- card 7 of the sandbox: 95 of 100 MB used
    end)

    it("two engines on one store never both act on one intent", function()
      local path = tmpname()
      local n = 0
      local function one()
        local e = make { store = simkit.store.sqlite(path), clock = function() return 1796292000 end }
        e:rule(always("shared", { R.call { fn = function() n = n + 1 return true end } }))
        return e
      end
      local a, b = one(), one()
      a:run()
      b:run()
      assert.are.equal(1, n)
      os.remove(path)
    end)

    it("a top-up is ordered once per intent; its outTradeNo derives from the intent key", function()
      local path = tmpname()
      local function one()
        local e = make { store = simkit.store.sqlite(path), clock = function() return 1796292000 end }
        e:rule { name = "topup-once", match = function(card) return card.iccid == EIOT_ICCID end,
          when = R.left_below { mb = 200 }, actions = { R.topup { package = "cheapest" } }, rearm = "next_day" }
        return e
      end
      sb:clear_requests()
      local rep = one():run()
      assert.are.equal(1, #rep.fired)
      assert.is_true(rep.fired[1].ok, tostring(rep.fired[1].err))
      one():run()
      local orders = 0
      for _, r in ipairs(sb:requests()) do
        if (r.path or r.uri or ""):find("orderPackage", 1, true) then orders = orders + 1 end
      end
      assert.are.equal(1, orders)
      os.remove(path)
    end)

    it("an order in doubt is audited failed with error.outcome = unknown; the next run reconciles it: done, one order", function()
      local path, now, got = tmpname(), 1796292000, {}
      local function one()
        local e = make { store = simkit.store.sqlite(path), clock = function() return now end,
          audit = function(t) got[#got + 1] = t end }
        e:rule { name = "doubt", match = function(card) return card.iccid == EIOT_ICCID end,
          when = R.left_below { mb = 200 }, actions = { R.topup { package = "cheapest" } }, rearm = "next_day" }
        return e
      end
      sb:clear_requests()
      sb:fault { path = "/api/v3/package/orderPackage", kind = "reset", when = "after", count = 1 }
      sb:fault { path = "/api/v3/package/getOrderPackageDetails", kind = "5xx", count = 50 }
      local rep = one():run()
      assert.are.equal(1, #rep.fired)
      assert.is_false(rep.fired[1].ok)
      local failed
      for _, a in ipairs(got) do if a.decision == "failed" then failed = a end end
      assert.is_table(failed)
      assert.are.equal("unknown", failed.error.outcome)
      assert.are.equal(rep.fired[1].key, failed.key)
      assert.are.equal(200, (sb:control("DELETE", "/_sim/fault")))
      now = now + 120
      got = {}
      one():run()
      local done
      for _, a in ipairs(got) do if a.decision == "done" then done = a end end
      assert.is_table(done)
      assert.are.equal(failed.key, done.key)
      local orders = 0
      for _, r in ipairs(sb:requests()) do
        if (r.path or ""):find("orderPackage", 1, true) then orders = orders + 1 end
      end
      assert.are.equal(1, orders)
      os.remove(path)
    end)

    it("for a vendor that pushes nothing, status_changed is derived from successive snapshots in the store", function()
      local now = 1796292000
      local engine, _, fleet = make { clock = function() return now end }
      engine:rule { name = "changed", match = function(card) return card.iccid == HW_ICCID end,
        when = R.status_changed { from = "active", to = "suspended" }, actions = { R.log {} } }
      assert.are.equal(0, #engine:run().fired)
      assert.is_table(assert(fleet:act(assert(fleet:card(HW_ICCID)), "suspend")))
      assert.are.equal(200, (sb:control("POST", "/_sim/advance", { seconds = 120 }))) -- the work order completes
      now = now + 300
      local rep = engine:run()
      assert.are.equal(1, #rep.fired)
      assert.are.equal(HW_ICCID, rep.fired[1].iccid)
    end)

    it("explain / handle refuse bad input with nil, err (kind input)", function()
      local engine = make()
      engine:rule(always("bad", { R.log {} }))
      for _, bad in ipairs({ 12, {}, "", "x y" }) do
        local v, err = engine:explain(bad)
        assert.is_nil(v)
        assert.are.equal("input", err.kind)
      end
      for _, bad in ipairs({ "FlowAlert", {}, { event = 3 } }) do
        local v, err = engine:handle(bad)
        assert.is_nil(v)
        assert.are.equal("input", err.kind)
      end
    end)

    it("webhook { url, secret }: X-Simkit-Timestamp and X-Simkit-Signature = sha256=HMAC(secret, ts .. \".\" .. body)", function()
      local now = 1796292000
      local engine = make { clock = function() return now end }
      engine:rule(always("hook", { R.webhook { url = "http://127.0.0.1:" .. l.port .. "/c", secret = "k3y" } }))
      local rep = engine:run()
      assert.is_true(rep.fired[1].ok, tostring(rep.fired[1].err))
      local got = listener.records(l)
      local r = got[#got]
      assert.are.equal("POST /c HTTP/1.1", r.line)
      local ts = r.headers["x-simkit-timestamp"]
      assert.are.equal(tostring(now), ts)
      local mine = "sha256=" .. core.hmac_sha256("k3y", ts .. "." .. r.body, "hex")
      assert.are.equal(mine, r.headers["x-simkit-signature"])
      assert.is_table(J.decode(r.body))
    end)

    it("explain(iccid) answers for a card; handle(event) returns a report", function()
      local engine = make()
      engine:rule(always("x1", { R.log {} }))
      local why = engine:explain(EIOT_ICCID)
      assert.is_not_nil(why)
      local body = simkit.notify.sign_eiotclub({ id = "ev-1", event = "FlowAlert", timestamp = os.time(),
        nonce = 1, iccid = EIOT_ICCID, alert_type = 1, alert_value = "100" }, "sandbox-secret")
      local ev = assert(simkit.notify.eiotclub(body, "sandbox-secret"))
      local rep = engine:handle(ev)
      assert.is_table(rep)
      assert.is_table(rep.fired)
    end)

    it("a rules file as a chunk receiving R, engine, or returning function(R, engine); R.load(engine, path)", function()
      local p1, p2 = tmpname(), tmpname()
      local f = assert(io.open(p1, "w"))
      f:write("local R, engine = ...\nengine:rule{ name = 'chunk', when = R.left_below{ mb = 1 }, actions = { R.log{} } }\n")
      f:close()
      f = assert(io.open(p2, "w"))
      f:write("return function(R, engine) engine:rule{ name = 'fn', when = R.used_above{ mb = 1 }, actions = { R.alert{} } } end\n")
      f:close()
      local engine = make()
      assert.are.equal(engine, R.load(engine, p1))
      assert.are.equal(engine, R.load(engine, p2))
      local names = {}
      for _, r in ipairs(engine.rules) do names[r.name] = true end
      assert.is_true(names.chunk and names.fn)
      local e, err = R.load(engine, "/nonexistent/rules.lua")
      assert.is_nil(e)
      assert.are.equal("input", err.kind)
      os.remove(p1); os.remove(p2)
    end)
  end)

  describe("Public API options and caps", function()
    it("max_body: an answer larger than max_body is refused (nil, err)", function()
      local c = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
        base_url = sb.url, retries = 0, max_body = 16, timeout = 5, connect_timeout = 2 })
      local data, err = c:get_cards_info { iccid = EIOT_ICCID }
      assert.is_nil(data)
      assert.is_table(err)
      local ok = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
        base_url = sb.url, retries = 0, timeout = 5, connect_timeout = 2 })
      assert.is_table(assert(ok:get_cards_info { iccid = EIOT_ICCID }))
    end)

    it("timeout: a deadline for the whole attempt; bad timeout/connect_timeout/max_body raise (programming error)", function()
      local function mk(o)
        local t = { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url, retries = 0 }
        for k, v in pairs(o) do t[k] = v end
        return simkit.client("eiotclub", t)
      end
      for _, bad in ipairs({ 0 / 0, -1, 0, math.huge, "5", 1e9 }) do
        assert.has_error(function() mk { timeout = bad } end)
        assert.has_error(function() mk { connect_timeout = bad } end)
        if bad ~= 1e9 then assert.has_error(function() mk { max_body = bad } end) end
      end
      assert.has_error(function() mk { max_body = 2 ^ 41 } end)
      assert.has_error(function() mk { max_body = 10.5 } end)
      sb:fault { path = "*", kind = "delay", delay = 3 }
      local data, err = mk({ timeout = 1, connect_timeout = 1 }):get_cards_info { iccid = EIOT_ICCID }
      assert.is_nil(data)
      assert.are.equal("transport", err.kind)
    end)

    it("a string argument longer than the catalog's cap is kind input, nothing sent (characters, not bytes)", function()
      local c = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
        base_url = sb.url, retries = 0 })
      sb:clear_requests()
      local data, err = c:sms_send_sms { iccid = EIOT_ICCID, message = string.rep("a", 301) }
      assert.is_nil(data)
      assert.are.equal("input", err.kind)
      assert.are.equal(0, #sb:requests())
      assert.is_table(assert(c:sms_send_sms { iccid = EIOT_ICCID, message = string.rep("\228\184\173", 300) }))
    end)

    it("a string argument over the default cap (1 MB) is kind input, nothing sent", function()
      local c = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
        base_url = sb.url, retries = 0 })
      sb:clear_requests()
      local data, err = c:get_cards_info { iccid = string.rep("8", 1024 * 1024 + 1) }
      assert.is_nil(data)
      assert.are.equal("input", err.kind)
      assert.are.equal(0, #sb:requests())
    end)

    it("Orders: new and already-existing orders have one shape, with orderId and the key", function()
      local c = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
        base_url = sb.url, retries = 0 })
      local iccid = "89852012345678900001" -- product 1US-DN in the sandbox
      local pkg = "GJ-LLB-1G-30-1US-DN"
      local a = assert(c:order_package { iccid = iccid, packageCode = pkg, outTradeNo = "contract-1" })
      local b = assert(c:order_package { iccid = iccid, packageCode = pkg, outTradeNo = "contract-1" })
      assert.is_not_nil(a.orderId)
      assert.are.equal(a.orderId, b.orderId)
      assert.are.equal("contract-1", a.outTradeNo)
      assert.are.equal("contract-1", b.outTradeNo)
      -- one shape: the same top-level fields (the vendor's whole table is in _simkit.record)
      local ka, kb = {}, {}
      for k in pairs(a) do ka[#ka + 1] = k end
      for k in pairs(b) do kb[#kb + 1] = k end
      table.sort(ka)
      table.sort(kb)
      assert.are.same(ka, kb)
      assert.are.equal(a.orderNumber, b.orderNumber)
      assert.is_false(a._simkit.duplicate)
      assert.is_true(b._simkit.duplicate)
      assert.is_table(b._simkit.record)
    end)

    it("the receiver's default de-duplication remembers at least the last 10,000 events", function()
      local calls = 0
      local r = simkit.receiver.new { secret = "sandbox-secret", handlers = { FlowAlert = function() calls = calls + 1 end } }
      local function body(i)
        return simkit.notify.sign_eiotclub({ id = "e" .. i, event = "FlowAlert", timestamp = 1703142059,
          nonce = i, iccid = EIOT_ICCID, alert_type = 1, alert_value = "100" }, "sandbox-secret")
      end
      for i = 1, 10000 do
        local _, status = r:handle(body(i))
        assert(status == 200)
      end
      assert.are.equal(10000, calls)
      local _, status = r:handle(body(1))
      assert.are.equal(200, status)
      assert.are.equal(10000, calls)
    end)
  end)

  describe("CLI", function()
    local home
    before_each(function() home = cli.home() end)
    after_each(function() home:remove() end)

    local function config(mode)
      home:config(([[
local url = %q
return {
  default = { eiotclub = { appkey = "sandbox-appkey", secret = os.getenv("T_EIOT"), base_url = url, retries = 0 } },
  hw = { huawei = { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
                    project_id = "0123456789abcdef0123456789abcdef", endpoint = url },
         store = %q },
}
]]):format(sb.url, home.dir .. "/hw.db"), mode)
    end
    local ENV = { T_EIOT = "sandbox-secret" }

    it("simkit call VENDOR OP name=value prints JSON, exit 0 (profile default)", function()
      config()
      local r = home:run({ "call", "eiotclub", "get_cards_info", "iccid=" .. EIOT_ICCID }, ENV)
      assert.are.equal(0, r.rc, r.err)
      local v = assert(J.decode(r.out))
      assert.are.equal(EIOT_ICCID, v.iccid)
    end)

    it("--profile NAME before the command, or $SIMKIT_PROFILE, selects the profile", function()
      config()
      local r = home:run({ "--profile", "hw", "card", HW_ICCID }, ENV)
      assert.are.equal(0, r.rc, r.err)
      assert.is_truthy(r.out:find(HW_ICCID, 1, true))
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      local r2 = home:run({ "card", HW_ICCID }, e)
      assert.are.equal(0, r2.rc, r2.err)
      local r3 = home:run({ "card", HW_ICCID }, ENV) -- default has no huawei client
      assert.are.equal(1, r3.rc)
    end)

    it("a config file that group or others can read is refused, saying why", function()
      config("644")
      local r = home:run({ "call", "eiotclub", "get_cards_info", "iccid=" .. EIOT_ICCID }, ENV)
      assert.are_not.equal(0, r.rc)
      assert.is_truthy(r.err:lower():find("readable") or r.err:lower():find("permission")
        or r.err:find("chmod") or r.err:find("mode"))
      assert.is_nil(r.out:find(EIOT_ICCID, 1, true))
    end)

    it("without $SIMKIT_CONFIG the profiles are read from ~/.config/simkit/config.lua", function()
      config()
      os.execute("mkdir -p " .. cli.quote(home.dir .. "/.config/simkit") .. " && mv " .. cli.quote(home.config_path) ..
        " " .. cli.quote(home.dir .. "/.config/simkit/config.lua"))
      local e = { SIMKIT_CONFIG = "", XDG_CONFIG_HOME = "" }
      for k, v in pairs(ENV) do e[k] = v end
      local r = home:run({ "call", "eiotclub", "get_cards_info", "iccid=" .. EIOT_ICCID }, e)
      assert.are.equal(0, r.rc, r.err)
      assert.are.equal(EIOT_ICCID, assert(J.decode(r.out)).iccid)
    end)

    it("the rules store defaults to $XDG_STATE_HOME/simkit/simkit.db", function()
      config()
      local path = home.dir .. "/r.lua"
      local f = assert(io.open(path, "w"))
      f:write("local R, engine = ...\nengine:rule{ name = 'st', when = R.used_above{ mb = 0 }, actions = { R.log{} } }\n")
      f:close()
      local r = home:run({ "rules", "run", path }, ENV)
      assert.are.equal(0, r.rc, r.err)
      local db = io.open(home.dir .. "/state/simkit/simkit.db", "rb")
      assert.is_not_nil(db)
      db:close()
    end)

    it("exit status 2 on a usage error; 1 when an operation fails (an unsupported action included)", function()
      config()
      for _, args in ipairs({ { "no-such-command" }, { "cards", "--format", "xml" }, { "--profile" } }) do
        local r = home:run(args, ENV)
        assert.are.equal(2, r.rc, r.err)
        assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
        assert.is_truthy(r.err:find("usage", 1, true), r.err)
      end
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      local r2 = home:run({ "act", HW_ICCID, "topup", "package=X" }, e)
      assert.are.equal(1, r2.rc, r2.err)
      assert.is_truthy(r2.err:find("unsupported", 1, true), r2.err)
      local nl = select(2, r2.err:gsub("\n", ""))
      assert.are.equal(1, nl, r2.err)
    end)

    it("an error is one line on stderr with kind and code; exit 1", function()
      config()
      local r = home:run({ "call", "eiotclub", "get_cards_info", "iccid=89852000000000000999" }, ENV)
      assert.are.equal(1, r.rc)
      assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
      assert.is_truthy(r.err:find("vendor", 1, true), r.err)
      assert.is_truthy(r.err:find("42405", 1, true), r.err)
      assert.is_nil(r.err:find("sandbox-secret", 1, true))
    end)

    it("simkit call prints JSON with integers exact (Huawei sim_card_id)", function()
      config()
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      local r = home:run({ "call", "huawei", "list_sim_cards", "--args", '{"limit":50}' }, e)
      assert.are.equal(0, r.rc, r.err)
      assert.is_truthy(r.out:find("1234567890123456789", 1, true))
      assert.is_nil(r.out:find("1.2345678901235e+18", 1, true))
    end)

    it("simkit act ICCID ACTION --dry-run sends no write", function()
      config()
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      sb:clear_requests()
      local r = home:run({ "act", HW_ICCID, "suspend", "--dry-run" }, e)
      assert.are.equal(0, r.rc, r.err)
      for _, q in ipairs(sb:requests()) do
        assert.is_nil((q.path or ""):find("stop", 1, true), q.path)
      end
      local st = assert(simkit.fleet { simkit.client("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
        project_id = "0123456789abcdef0123456789abcdef", endpoint = sb.url }) }:card(HW_ICCID))
      assert.are.equal("active", st.status)
    end)

    it("simkit report --out FILE writes one self-contained HTML page (inline SVG, no network)", function()
      config()
      local out = home.dir .. "/report.html"
      local r = home:run({ "report", "--out", out }, ENV)
      assert.are.equal(0, r.rc, r.err)
      local html = cli.slurp(out)
      assert.is_truthy(html:find("<svg", 1, true))
      assert.is_nil(html:find("<script[^>]-src="))
      assert.is_nil(html:find("<link[^>]-href=[\"']https?:"))
      assert.is_nil(html:find("src=[\"']https?:"))
    end)

    it("simkit cards --vendor V --status S --format json|jsonl|csv", function()
      config()
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      local r = home:run({ "cards", "--vendor", "huawei", "--status", "active", "--format", "json" }, e)
      assert.are.equal(0, r.rc, r.err)
      local list = assert(J.decode(r.out))
      assert.is_true(#list > 0)
      for _, c in ipairs(list) do assert.are.equal("active", c.status) end
      local r2 = home:run({ "cards", "--format", "jsonl" }, e)
      assert.are.equal(0, r2.rc, r2.err)
      for line in r2.out:gmatch("[^\n]+") do assert.is_table(J.decode(line)) end
      local r3 = home:run({ "cards", "--format", "csv" }, e)
      assert.are.equal(0, r3.rc, r3.err)
      assert.is_truthy(r3.out:match("^[^\n]*iccid"))
    end)

    it("simkit rules plan FILE and simkit rules explain FILE ICCID", function()
      config()
      local path = home.dir .. "/rules.lua"
      local f = assert(io.open(path, "w"))
      f:write("local R, engine = ...\nengine:rule{ name = 'cli-plan', when = R.used_above{ mb = 0 }, actions = { R.suspend{} } }\n")
      f:close()
      local e = { SIMKIT_PROFILE = "hw" }
      for k, v in pairs(ENV) do e[k] = v end
      sb:clear_requests()
      local r = home:run({ "rules", "plan", path }, e)
      assert.are.equal(0, r.rc, r.err)
      assert.is_truthy(r.out:find("cli-plan", 1, true))
      assert.are.equal(0, writes(sb))
      local r2 = home:run({ "rules", "explain", path, HW_ICCID }, e)
      assert.are.equal(0, r2.rc, r2.err)
      assert.is_truthy(r2.out:find("cli-plan", 1, true))
    end)
  end)
end)
