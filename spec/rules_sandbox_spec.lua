-- simkit.rules over the real fleet and the sandbox (sim/): top-ups counted
-- in the sandbox's orders over a fault matrix (zero duplicates), the
-- process killed between send and answer, dry run with no vendor write,
-- event mode from a signed EIOTCLUB notification.
local simkit = require "simkit"
local R = require "simkit.rules"
local store = require "simkit.store"
local notify = require "simkit.notify"
local ledger = require "simkit.rules.ledger"
local sandbox = require "spec.support.sandbox"

local LOW = "89852012345678900007" -- the sandbox's active EIOTCLUB card with 5 MB left
local T0 = 1796292000
local ORDER_PATH = "/api/v3/package/orderPackage"

describe("simkit.rules against the sandbox", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  local function eiot_client(extra)
    local o = { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url, retries = 0, timeout = 1 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return simkit.client("eiotclub", o)
  end

  local function engine(st, t, extra, client)
    local eiot = client or eiot_client()
    local fleet = require("simkit.fleet") { eiot, pace = { eiotclub = false } }
    local lines = {}
    local o = { fleet = fleet, clients = { eiot }, store = st, clock = function() return t.now end,
      audit = function(l) lines[#lines + 1] = l end, logger = function() end }
    for k, v in pairs(extra or {}) do o[k] = v end
    local e = R.engine(o)
    e:rule { name = "topup", match = { vendor = "eiotclub", status = "active" }, when = R.left_below { mb = 200 },
      actions = { R.topup { package = "cheapest" } }, rearm = "next_day" }
    return e, lines
  end

  -- the orders of the engine (order keys "sr..."; the sandbox has seeded ones)
  local function orders_of(iccid)
    local list, keys = sb:engine_orders(iccid), {}
    for _, o in ipairs(list) do keys[o.outTradeNo] = (keys[o.outTradeNo] or 0) + 1 end
    return #list, keys
  end

  local function order_requests()
    return #sb:requests { path = ORDER_PATH }
  end

  it("tops up the low card once a day and never twice", function()
    local t, st = { now = T0 }, store.memory()
    local e, lines = engine(st, t)
    local rep = e:run()
    assert.are.equal(1, #rep.fired, #rep.errors > 0 and tostring(rep.errors[1].message) or nil)
    assert.is_true(rep.fired[1].ok)
    assert.are.equal(LOW, rep.fired[1].iccid)
    local key = ledger.order_key(rep.fired[1].key)
    for _ = 1, 3 do
      t.now = t.now + 600
      e:run()
    end
    local n, keys = orders_of(LOW)
    assert.are.equal(1, n)
    assert.are.equal(1, keys[key])
    assert.are.equal(1, order_requests())
    -- the audit line of the order says what was bought, its price and the vendor's order id
    -- (the report's "orders placed with their cost" reads them)
    local done
    for _, l in ipairs(lines) do if l.action == "topup" and l.decision == "done" then done = l end end
    assert.is_table(done)
    local placed
    for _, o in ipairs(sb:state("eiotclub").orders) do if o.outTradeNo == key then placed = o end end
    assert.are.equal(placed.packageCode, done.package)
    assert.is_number(done.cost)
    assert.is_true(done.cost > 0)
    assert.is_not_nil(done.order_id)
    assert.are.equal(tostring(placed.orderId), tostring(done.order_id))
  end)

  -- faults on the first order request; the engine runs three times
  local MATRIX = {
    { kind = "5xx", when = "before", placed = false },
    { kind = "5xx", when = "after", placed = true },
    { kind = "reset", when = "before", placed = false },
    { kind = "reset", when = "after", placed = true },
    { kind = "html", when = "after", placed = true },
    { kind = "truncate", when = "after", placed = true },
    { kind = "vendor", vendor_code = "43331", when = "after", placed = true },
    { kind = "delay", delay = 2, when = "before", placed = true }, -- timeout, processed later
    { kind = "delay", delay = 2, when = "after", placed = true },  -- processed, then timeout
  }
  for _, f in ipairs(MATRIX) do
    it("zero duplicate top-ups: " .. f.kind .. " " .. f.when .. " processing", function()
      local t, st = { now = T0 }, store.memory()
      local e, lines = engine(st, t)
      sb:fault { path = ORDER_PATH, kind = f.kind, when = f.when, delay = f.delay, vendor_code = f.vendor_code,
        count = 1 }
      e:run()
      -- the vendor finishes a delayed request after `delay`: look it up only after that
      if f.kind == "delay" then require("socket").sleep(f.delay + 2) end
      for _ = 1, 3 do
        t.now = t.now + 600
        e:run()
      end
      local n, keys = orders_of(LOW)
      for k, c in pairs(keys) do assert.are.equal(1, c, "duplicate order " .. k) end
      assert.are.equal(f.placed and 1 or 0, n)
      -- one order request per intent, ever
      assert.are.equal(1, order_requests())
      local intent = "topup|" .. LOW .. "|2026-12-03|1|1:topup"
      local rec = st:get("simkit:rules:l:" .. intent)
      assert.are.equal(f.placed and "confirmed" or "failed", rec.status)
      local final = {}
      for _, l in ipairs(lines) do
        if l.key == intent and (l.decision == "done" or l.decision == "failed") then final[#final + 1] = l.decision end
      end
      assert.are.equal(f.placed and "done" or "failed", final[#final])
    end)
  end

  it("the process killed between send and answer: one order, reconciled by a later run", function()
    local t = { now = T0 }
    local st = store.memory { clock = function() return t.now end }
    local real = require("simkit.transport.curl").new { timeout = 2 }
    local killing = true
    local dying = eiot_client { transport = function(req)
      local res, msg, cat = real(req)
      if killing and req.url:find(ORDER_PATH, 1, true) then error("killed between send and answer") end
      return res, msg, cat
    end }
    local e = engine(st, t, { lease_ttl = 120 }, dying)
    local ok, err = pcall(e.run, e)
    assert.is_false(ok)
    assert.matches("killed between send and answer", err)
    killing = false
    assert.are.equal(1, (orders_of(LOW)))
    -- the next cron run, a new process, within the lease: nothing sent
    local e2, lines = engine(st, t, { lease_ttl = 120 })
    t.now = t.now + 60
    e2:run()
    assert.are.equal(1, order_requests())
    -- after the lease: looked up by the order key, confirmed
    t.now = t.now + 120
    local rep = e2:run()
    assert.are.equal(1, rep.reconciled)
    local done = 0
    for _, l in ipairs(lines) do if l.decision == "done" and l.action == "topup" then done = done + 1 end end
    assert.are.equal(1, done)
    assert.are.equal(1, (orders_of(LOW)))
    assert.are.equal(1, order_requests())
  end)

  it("dry run / plan: the sandbox receives no write and the store is unchanged", function()
    local t, st = { now = T0 }, store.memory()
    local e, lines = engine(st, t)
    assert.is_true(st:set("seen", 1))
    local before = {}
    for k, v in pairs(st.data) do before[k] = v end
    sb:clear_requests()
    local plan = e:plan()
    assert.are.equal(1, #plan)
    assert.are.equal(LOW, plan[1].iccid)
    assert.are.equal("topup", plan[1].action)
    assert.are.equal(0, order_requests())
    for _, r in ipairs(sb:requests { vendor = "eiotclub" }) do
      assert.truthy(r.path:find("get", 1, true) or r.path:find("list", 1, true) or r.path:find("query", 1, true)
        or r.path:find("Info", 1, true) or r.path:find("pool", 1, true), "a write during plan(): " .. r.path)
    end
    assert.are.same(before, st.data)
    assert.are.equal(0, #lines)
    assert.are.equal(0, (orders_of(LOW)))
  end)

  it("event mode: a signed CardStopped notification fires an sms rule at once", function()
    local t, st = { now = T0 }, store.memory()
    local e = engine(st, t)
    e:rule { name = "stopped", when = R.event { "CardStopped" },
      actions = { R.sms { text = "your card was stopped" } } }
    local body = notify.sign_eiotclub({ id = "n1", event = "CardStopped", timestamp = 1, nonce = 12345,
      iccid = LOW }, "sandbox-secret")
    local ev = assert(notify.eiotclub(body, "sandbox-secret"))
    sb:clear_requests()
    local rep = assert(e:handle(ev))
    assert.are.equal(1, #rep.fired)
    assert.is_true(rep.fired[1].ok, tostring(rep.fired[1].err))
    assert.are.equal("sms", rep.fired[1].action)
    assert.are.equal(0, order_requests()) -- the poll rule did not run
    -- the same event again (a redelivery): the rule is not re-armed
    rep = e:handle(ev)
    assert.are.equal(0, #rep.fired)
  end)
end)
