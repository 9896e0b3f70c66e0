-- simkit.fleet actions against the sandbox: every action on every vendor
-- (supported ones change the vendor's state; unsupported ones send
-- nothing), act_many's batching, partial failure and progress, bad input.
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"
local C = require "simkit.fleet.common"

local TIB = F.tib_iccids(30)

local function find(list, field, value)
  for _, x in ipairs(list) do if x[field] == value then return x end end
end

local VALID = {
  suspend = {}, resume = {}, network = { on = false }, speed = { kbps = 64 },
  topup = { package = "GJ-LLB-1G-30-1US-DN", key = "fleet-spec-0001" }, sms = { text = "hello" },
  tag = { tags = { "fleet-b" } }, imei_lock = { imei = "860000000000099" }, usage_cap = { mb = 20 },
}

describe("simkit.fleet actions against the sandbox", function()
  local sb, fleet, cl

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function()
    sb:reset()
    assert.equal(200, (sb:control("POST", "/_sim/config", { huawei = { work_order_seconds = 0 },
      tibiot = { batch_seconds = 0 } })))
    fleet, cl = F.fleet(sb, { iccids = { tibiot = TIB } })
  end)

  local function card(iccid) return assert(fleet:card(iccid)) end
  local function hw_state(iccid) return find(sb:state("huawei").cards, "iccid", iccid) end

  it("says honestly what each vendor can do", function()
    assert.same({ suspend = false, resume = false, network = false, speed = false, topup = true, sms = true,
      tag = false, imei_lock = true, usage_cap = false }, fleet:capabilities("eiotclub"))
    assert.same({ suspend = true, resume = true, network = true, speed = true, topup = false, sms = true,
      tag = true, imei_lock = true, usage_cap = true }, fleet:capabilities("huawei"))
    assert.same({ suspend = false, resume = false, network = true, speed = false, topup = false, sms = false,
      tag = false, imei_lock = false, usage_cap = false }, fleet:capabilities("tibiot"))
    for _, bad in ipairs({ "nokia", 5, nil, "" }) do
      local caps, err = fleet:capabilities(bad)
      assert.is_nil(caps)
      assert.equal("input", err.kind)
    end
  end)

  it("refuses every unsupported action on every vendor before sending anything", function()
    local cards = { eiotclub = card("89852012345678900001"), huawei = card("89860321000000000001"),
      tibiot = card(TIB[1]) }
    for vendor, c in pairs(cards) do
      local caps = fleet:capabilities(vendor)
      for _, action in ipairs(C.ACTIONS) do
        if not caps[action] then
          sb:clear_requests()
          local res, err = fleet:act(c, action, VALID[action])
          assert.is_nil(res, vendor .. " " .. action)
          assert.equal("unsupported", err.kind, vendor .. " " .. action)
          assert.equal(vendor, err.vendor)
          assert.equal(0, #sb:requests(), vendor .. " " .. action)
          -- act_many: the same answer per card, nothing sent
          local results = assert(fleet:act_many({ c, c }, action, VALID[action]))
          assert.equal(2, #results)
          assert.is_false(results[2].ok)
          assert.equal("unsupported", results[2].err.kind)
          assert.equal(0, #sb:requests())
        end
      end
    end
  end)

  it("does every EIOTCLUB action: top-up once per intent key, SMS, IMEI lock", function()
    local c = card("89852012345678900001")
    local res = assert(fleet:act(c, "topup", VALID.topup))
    assert.equal("order_package", res.op)
    assert.equal("fleet-spec-0001", res.data.outTradeNo)
    -- the same intent again: no second order (the orders path finds the first)
    assert(fleet:act(c, "topup", VALID.topup))
    local n = 0
    for _, o in ipairs(sb:state("eiotclub").orders) do if o.outTradeNo == "fleet-spec-0001" then n = n + 1 end end
    assert.equal(1, n)
    assert(fleet:act(c, "sms", { text = "hello fleet" }))
    local st = sb:state("eiotclub")
    assert.equal("hello fleet", st.sms[#st.sms].message)
    assert.equal(c.iccid, st.sms[#st.sms].iccid)
    assert(fleet:act(c, "imei_lock", { imei = "860000000000099" }))
    assert.equal("860000000000099", find(sb:state("eiotclub").cards, "iccid", c.iccid).imei)
    -- a vendor refusal comes back as the vendor's error
    local _, err = fleet:act(c, "topup", { package = "NO-SUCH-PACKAGE", key = "fleet-spec-0002" })
    assert.equal("vendor", err.kind)
  end)

  it("does every Huawei action and waits for the work orders when asked", function()
    local wait = { wait = true, wait_opts = { interval = 0.5, timeout = 30 } }
    local res = assert(fleet:act(card("89860321000000000001"), "suspend", nil, wait))
    assert.equal("stop_sim_card", res.op)
    assert.equal(4, res.work_order.status)
    assert.equal(14, hw_state("89860321000000000001").sim_status)
    assert(fleet:act(card("8986002100000000003"), "resume", {}, wait))
    assert.equal(20, hw_state("8986002100000000003").sim_status)
    assert(fleet:act(card("89860321000000000017"), "network", { on = false }, wait))
    assert.is_true(hw_state("89860321000000000017").cut_net_flag)
    assert(fleet:act(card("89860321000000000019"), "speed", { kbps = 64 }, wait))
    assert.equal(64, hw_state("89860321000000000019").speed_value)
    assert(fleet:act(card("89860321000000000005"), "speed", { kbps = "default" }, wait))
    assert.is_true(sandbox.json.null == hw_state("89860321000000000005").speed_value
      or hw_state("89860321000000000005").speed_value == nil)
    assert(fleet:act(card("89860321000000000009"), "usage_cap", { mb = 20 }, wait))
    assert.is_true(hw_state("89860321000000000009").exceed_cut_net_flag)
    assert.equal(20, hw_state("89860321000000000009").exceed_cut_net_quota)
    local before = hw_state("89860321000000000015").imei_bind_remain_times
    assert(fleet:act(card("89860321000000000015"), "imei_lock", { imei = "864500000000015" }, wait))
    assert.equal(before - 1, hw_state("89860321000000000015").imei_bind_remain_times)
    assert(fleet:act(card("89860421000000000006"), "sms", { text = "hi" }))
    local sms = sb:state("huawei").sms
    assert.same({ "89860421000000000006", "hi" }, { sms[#sms].cid, sms[#sms].sms_content })
    assert(fleet:act(card("89860121000000000002"), "tag", { tags = { "fleet-b", "spare" } }))
    assert.equal("fleet-b,spare", hw_state("89860121000000000002").tag_names)
    -- without waiting: the work order id comes back at once
    res = assert(fleet:act(card("89860321000000000017"), "suspend"))
    assert.truthy(res.work_order_id)
    -- an unknown tag name is refused before batch_set_tags is sent
    sb:clear_requests()
    local _, err = fleet:act(card("89860121000000000002"), "tag", { tags = { "no-such-tag" } })
    assert.equal("input", err.kind)
    assert.equal(0, #sb:requests { path = "/v1/sim-tags/batch-set" })
    -- a refusal (China Mobile card: no speed limit) is the vendor's error
    _, err = fleet:act(card("89860421000000000006"), "speed", { kbps = 64 })
    assert.equal("vendor", err.kind)
  end)

  it("switches TIBIOT networks in batches of 10 and waits for each card's outcome", function()
    local cards = {}
    for i = 1, 25 do cards[i] = card(TIB[i]) end
    sb:clear_requests()
    local progress = {}
    local results = assert(fleet:act_many(cards, "network", { on = false },
      { on_progress = function(done, total) progress[#progress + 1] = { done, total } end }))
    assert.equal(3, #sb:requests { path = "/api/v1/card/operation/network" })
    local st = sb:state("tibiot")
    assert.equal(10, st.max_iccids_per_request)
    assert.equal(25, #results)
    for i, r in ipairs(results) do
      assert.equal(cards[i], r.card)
      -- 11 (status 18) and 13 (99) are refused by the vendor, the others switched
      if i == 11 or i == 13 then
        assert.is_false(r.ok, i)
        assert.equal("vendor", r.err.kind)
      else
        assert.is_true(r.ok, i .. " " .. tostring(r.err))
        assert.is_false(st.cards[TIB[i]].network)
        assert.equal(3, r.result.batch_status)
      end
    end
    assert.same({ { 10, 25 }, { 20, 25 }, { 25, 25 } }, progress)
  end)

  it("fails only the cards of a failed chunk, and a card whose batch entry fails", function()
    local cards = {}
    for i = 1, 12 do if i ~= 11 then cards[#cards + 1] = card(TIB[i]) end end
    assert.equal(200, (sb:control("POST", "/_sim/config", { tibiot = { fail_iccids = { TIB[12] } } })))
    sb:fault { path = "/api/v1/card/operation/network", kind = "5xx", count = 1 }
    local results = assert(fleet:act_many(cards, "network", { on = false }))
    for i = 1, 10 do
      assert.is_false(results[i].ok)
      assert.equal("http", results[i].err.kind)
    end
    assert.is_false(results[11].ok) -- TIB[12]: accepted, then its batch entry failed (4)
    assert.equal("batch_failed", results[11].err.code)
    assert.equal(8, sb:state("tibiot").cards[TIB[1]].cardStatus) -- the failed chunk changed nothing
  end)

  it("groups a mixed list per vendor and keeps the order of the cards", function()
    local list = { card(TIB[1]), card("89852012345678900001"), card("89860321000000000001"), card(TIB[2]),
      card("89860321000000000017") }
    sb:clear_requests()
    local results = assert(fleet:act_many(list, "network", { on = false }))
    assert.same({ true, false, true, true, true },
      { results[1].ok, results[2].ok, results[3].ok, results[4].ok, results[5].ok })
    assert.equal("unsupported", results[2].err.kind)
    for i, r in ipairs(results) do assert.equal(list[i], r.card) end
    assert.equal(1, #sb:requests { path = "/api/v1/card/operation/network" })
    assert.equal(0, #sb:requests { vendor = "eiotclub" })
    -- Huawei tags: one list_tags and one batch_set_tags for all the cards
    local hw = { card("89860321000000000001"), card("89860121000000000002"), card("89860321000000000004") }
    sb:clear_requests()
    results = assert(fleet:act_many(hw, "tag", { tags = { "spare" } }))
    for _, r in ipairs(results) do assert.is_true(r.ok, tostring(r.err)) end
    assert.equal(1, #sb:requests { path = "/v1/sim-tags/batch-set" })
    assert.equal("spare", hw_state("89860321000000000004").tag_names)
    -- per-card Huawei work orders: one refusal fails only its card
    results = assert(fleet:act_many({ card("89860321000000000019"), card("89860421000000000006") }, "speed",
      { kbps = 64 }))
    assert.is_true(results[1].ok, tostring(results[1].err))
    assert.truthy(results[1].result.work_order_id)
    assert.is_false(results[2].ok)
    assert.equal("vendor", results[2].err.kind)
  end)

  it("refuses bad input: unknown action, wrong arguments, foreign or malformed cards", function()
    local h = card("89860321000000000001")
    sb:clear_requests()
    local _, err = fleet:act(h, "explode")
    assert.equal("input", err.kind)
    for _, args in ipairs({ { on = "no" }, { on = 0 / 0 }, "off", { on = true, x = 1 } }) do
      _, err = fleet:act(h, "network", args)
      assert.equal("input", err.kind)
    end
    for _, kbps in ipairs({ 0 / 0, math.huge, -1, 1e15, 2.5, "fast" }) do
      _, err = fleet:act(h, "speed", { kbps = kbps })
      assert.equal("input", err.kind, tostring(kbps))
    end
    -- a Huawei card relabelled as EIOTCLUB: the index knows better
    local fake = {}
    for k, v in pairs(h) do fake[k] = v end
    fake.vendor = "eiotclub"
    _, err = fleet:act(fake, "sms", { text = "x" })
    assert.equal("input", err.kind)
    assert.matches("huawei card", err.message)
    for _, bad in ipairs({ "89860321000000000001", 5, {}, { vendor = "nokia", iccid = "89860321000000000001" },
      { vendor = "huawei", iccid = "x" }, { vendor = "huawei", iccid = "89860321000000000001" } }) do
      _, err = fleet:act(bad, "suspend")
      assert.equal("input", err.kind)
    end
    local res
    res, err = fleet:act_many("cards", "suspend")
    assert.is_nil(res)
    assert.equal("input", err.kind)
    res, err = fleet:act_many({ h }, "explode")
    assert.is_nil(res)
    assert.equal("input", err.kind)
    res, err = fleet:act_many({ h }, "suspend", nil, { on_progress = 5 })
    assert.is_nil(res)
    assert.equal("input", err.kind)
    res = assert(fleet:act_many({ "junk", h }, "sms", { text = "x" }))
    assert.equal("input", res[1].err.kind)
    assert.is_true(res[2].ok, tostring(res[2].err))
    -- nothing but the one SMS reached a vendor
    local reqs = sb:requests()
    assert.equal(1, #reqs)
    assert.equal("/v1/sms-send-infos", reqs[1].path)
    -- a fleet without that vendor's client
    local eonly = require("simkit").fleet { cl.eiot }
    _, err = eonly:act(h, "suspend")
    assert.equal("input", err.kind)
  end)
end)
