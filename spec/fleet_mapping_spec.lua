-- The fleet's per-vendor mappings, row by row (docs/fleet.md): statuses,
-- units, times, null/absent fields, negative pooled values, 64-bit ids.
-- Pure functions of the vendors' items: no sandbox needed.
local json = require "simkit.json"
local C = require "simkit.fleet.common"
local E = require "simkit.fleet.eiotclub"
local H = require "simkit.fleet.huawei"
local T = require "simkit.fleet.tibiot"

local NOW = 1767225600 -- 2026-01-01T00:00:00Z
local is54 = math.type ~= nil

describe("fleet mapping: common", function()
  it("reads Beijing text times and ISO times with their zone", function()
    assert.equal(NOW, C.local_time("2026-01-01 08:00:00", C.BEIJING))
    assert.equal(NOW - 8 * 3600, C.local_time("2026-01-01", C.BEIJING))
    assert.equal(NOW, C.iso_time("2026-01-01T00:00:00.000Z"))
    assert.equal(NOW, C.iso_time("2026-01-01T08:00:00+08:00"))
    assert.equal(NOW, C.iso_time("2025-12-31T19:00:00-0500"))
    for _, bad in ipairs({ "", "2026-02-30 00:00:00", "2026-13-01", "2026-01-01 25:00:00", "yesterday",
                           "2026-01-01T00:00:00", "2026-01-01T00:00:00+8", 20260101 }) do
      assert.is_nil(C.iso_time(bad), tostring(bad))
      if bad ~= "2026-01-01T00:00:00" then assert.is_nil(C.local_time(bad, C.BEIJING), tostring(bad)) end
    end
    assert.is_nil(C.local_time(nil, 0))
    assert.is_nil(C.iso_time(json.null))
  end)

  it("derives the third of used / limit / left and never reports a negative left", function()
    assert.same({ used_mb = 300, limit_mb = 1024, left_mb = 724, period = "p", as_of = 1 },
      C.usage { used_mb = 300, limit_mb = 1024, period = "p", as_of = 1 })
    assert.equal(1024, C.usage { used_mb = 300, left_mb = 724 }.limit_mb)
    assert.equal(300, C.usage { limit_mb = 1024, left_mb = 724 }.used_mb)
    -- an overrun: 45.59 used of 30, the vendor says -15.59 left
    local u = C.usage { used_mb = 45.59, left_mb = -15.59 }
    assert.same({ 45.59, 30, 0 }, { u.used_mb, u.limit_mb, u.left_mb })
    -- one figure alone derives nothing
    u = C.usage { used_mb = 5 }
    assert.is_nil(u.limit_mb)
    assert.is_nil(u.left_mb)
    -- pooled: no limit of its own, nothing derived
    u = C.usage { used_mb = 5, left_mb = 100, pooled = true }
    assert.same({ 5, nil, 100, true }, { u.used_mb, u.limit_mb, u.left_mb, u.pooled })
  end)

  it("maps unknown and absent statuses to unknown", function()
    assert.equal("unknown", C.status(E.STATUS, nil))
    assert.equal("unknown", C.status(E.STATUS, "SOMETHING_NEW"))
    assert.equal("unknown", C.status(H.STATUS, 99))
    assert.equal("unknown", C.status(T.STATUS, 7))
  end)
end)

describe("fleet mapping: EIOTCLUB", function()
  local function item(extra)
    local t = { iccid = "89852012345678900002", imsi = "454123456789002", cardStatus = "ACTIVATED_NAME",
      monthUseFlow = 300, monthRemainFlow = 724, remainFlowType = 0, flowTotal = 1024, flowRemain = 724,
      dataFlow = 2048, remainFlow = 1748, packageCode = "GJ-LLB-1G-30-1US-DN",
      packageEndDate = "2026-01-31 08:00:00", activateDate = "2025-06-01 12:30:00",
      expectedEndDate = "2026-03-02 08:00:00", imei = "860000000000021", orderId = 10004704 }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end

  it("maps every cardStatus", function()
    local want = { ACTIVATION_READY_NAME = "inactive", NON_ACTIVATED_NAME = "inactive",
      ACTIVATED_NAME = "active", ACTIVATED_BASE = "active", DEACTIVATED_NAME = "deactivated",
      RETIRED_NAME = "deactivated", SUSPENDED_SOMEHOW = "unknown" }
    for vendor_value, status in pairs(want) do
      local card = E.card(item { cardStatus = vendor_value }, nil, NOW)
      assert.equal(status, card.status, vendor_value)
      assert.equal(vendor_value, card.vendor_status)
    end
  end)

  it("takes the current package's figures, not the ones counting a package waiting to start", function()
    local it_ = item()
    local card = E.card(it_, nil, NOW)
    assert.same({ used_mb = 300, limit_mb = 1024, left_mb = 724, period = "package", as_of = NOW },
      card.usage)
    assert.equal(1748, card.raw.remainFlow) -- kept in raw, not used
    assert.equal(it_, card.raw)
    assert.equal("eiotclub", card.vendor)
    assert.equal(card.iccid, card.id)
    assert.equal("GJ-LLB-1G-30-1US-DN", card.plan)
    assert.equal(C.local_time("2026-01-31 00:00:00", 0), card.expires)
    assert.equal(C.local_time("2025-06-01 04:30:00", 0), card.activated)
    assert.same({}, card.tags)
  end)

  it("gives a pooled card the pool's remaining data and no limit of its own", function()
    local card = E.card(item { remainFlowType = 1, monthRemainFlow = 8192, flowRemain = 1536 }, 380, NOW)
    assert.same({ used_mb = 300, left_mb = 8192, pooled = true, period = "package", as_of = NOW }, card.usage)
    assert.equal(380, card.pool)
  end)

  it("leaves absent and empty fields nil", function()
    local card = E.card({ iccid = "89852012345678900009", cardStatus = "ACTIVATION_READY_NAME",
      imei = "", packageCode = "", activateDate = json.null }, nil, NOW)
    assert.is_nil(card.imei)
    assert.is_nil(card.plan)
    assert.is_nil(card.activated)
    assert.is_nil(card.expires)
    assert.is_nil(card.usage.used_mb)
    assert.is_nil(card.usage.left_mb)
    assert.is_nil(card.usage.limit_mb)
  end)

  it("converts pools from bytes", function()
    local p = E.pool { pool_object_id = 380, memo = "fleet-a", total = 10 * 1073741824,
      remain = 8 * 1073741824, used_pool_lines = 2, expire_timestamp = NOW, status = 2 }
    assert.same({ "eiotclub", 380, "fleet-a", 10240, 8192, 2048, 2, NOW },
      { p.vendor, p.id, p.name, p.limit_mb, p.left_mb, p.used_mb, p.cards, p.expires })
    p = E.pool { pool_object_id = 387, memo = "", total = 0, remain = 0, used_pool_lines = 0, expire_timestamp = 0 }
    assert.is_nil(p.expires)
    assert.is_nil(p.name)
  end)
end)

describe("fleet mapping: Huawei", function()
  local LIST = [[{"sim_card_id": 9223372036854775807, "iccid": "89860421000000000006",
    "cid": "89860421000000000006", "sim_pool_id": null, "imei": "864500000000006", "sim_status": 20,
    "act_date": "2023-03-01T02:00:06.000Z", "expire_time": "2027-02-28T15:59:59.000+00:00",
    "tag_names": "fleet-a,fleet-b", "price_plan_name": "plan", "flow_left": -15.59, "flow_used": 45.59,
    "msisdn": "8614700001006", "imsi": "460000000002006"}]]

  it("maps every sim_status", function()
    local want = { [10] = "testing", [11] = "inactive", [13] = "inactive", [14] = "suspended",
      [20] = "active", [30] = "deactivated", [12] = "unknown" }
    for v, status in pairs(want) do
      local card = H.card({ sim_card_id = 1, iccid = "89860421000000000006", sim_status = v }, nil, nil, NOW)
      assert.equal(status, card.status, v)
      assert.equal(v, card.vendor_status)
    end
  end)

  it("keeps 64-bit ids exact", function()
    local item = json.decode(LIST)
    local card = H.card(item, nil, nil, NOW)
    if is54 then
      assert.equal("integer", math.type(card.id))
      assert.equal(9223372036854775807, card.id)
    else
      assert.equal("9223372036854775807", card.id) -- LuaJIT: beyond 2^53 ids are digit strings
    end
    item = json.decode([[{"sim_card_id": 9007199254740993, "sim_pool_id": 9007199254745001, "sim_status": 20}]])
    card = H.card(item, nil, 12, NOW)
    assert.equal("9007199254740993", H.key(card.id))
    assert.equal("9007199254745001", H.key(card.pool))
  end)

  it("takes this month's use when known: the plan's total from yesterday's used + left, an overrun as left 0", function()
    local item = json.decode(LIST)
    local card = H.card(item, 46.01, nil, NOW)
    assert.same({ used_mb = 46.01, limit_mb = 30, left_mb = 0, period = "month", as_of = NOW }, card.usage)
    assert.equal(-15.59, card.raw.flow_left)
    item.flow_used, item.flow_left = 12.5, 17.5
    assert.same({ used_mb = 13, limit_mb = 30, left_mb = 17, period = "month", as_of = NOW }, H.card(item, 13, nil, NOW).usage)
  end)

  it("asks for China's billing month first, then UTC's when they differ", function()
    assert.same({ "2026-01" }, { H.months(NOW) })
    assert.same({ "2026-01", "2025-12" }, { H.months(NOW - 3600) }) -- 07:00 in Beijing on Jan 1st
    assert.same({ "2025-12" }, { H.months(NOW - 9 * 3600) })
  end)

  it("falls back to the listing's figures of yesterday 24:00 (Beijing)", function()
    local card = H.card(json.decode(LIST), nil, nil, NOW + 3600) -- 09:00 Beijing on Jan 1st
    assert.same({ used_mb = 45.59, limit_mb = 30, left_mb = 0, period = "month", as_of = NOW - 8 * 3600 }, card.usage)
  end)

  it("gives a pooled card its plan's total as limit and the pool's remaining data as left", function()
    -- 40 used of its plan's 20 (flow_left -20, as of yesterday): over its share, drawing on the pool
    local item = json.decode([[{"sim_card_id": 1234567890123456789, "iccid": "89860621000000000007",
      "sim_pool_id": 9007199254745001, "sim_status": 20, "flow_left": -20, "flow_used": 40}]])
    local card = H.card(item, 40, 17.5, NOW)
    assert.same({ used_mb = 40, limit_mb = 20, left_mb = 17.5, pooled = true, period = "month", as_of = NOW },
      card.usage)
    -- used today beyond yesterday's figures: the limit stays the plan's total
    card = H.card(item, 44.25, 13.25, NOW)
    assert.same({ 44.25, 20, 13.25 }, { card.usage.used_mb, card.usage.limit_mb, card.usage.left_mb })
    -- the pool over too (its flow_left -42.59, clamped by the pool's mapping): nothing left
    card = H.card(item, 40, 0, NOW)
    assert.same({ 40, 20, 0 }, { card.usage.used_mb, card.usage.limit_mb, card.usage.left_mb })
    -- within its share: left is still the pool's, not limit - used
    item.flow_used, item.flow_left = 5, 15
    card = H.card(item, 6, 300, NOW)
    assert.same({ 6, 20, 300 }, { card.usage.used_mb, card.usage.limit_mb, card.usage.left_mb })
    card = H.card(item, nil, nil, NOW) -- the pool's left unknown (a backward pool)
    assert.is_nil(card.usage.left_mb)
    assert.equal(20, card.usage.limit_mb)
    -- no flow_left: no limit, nothing made up
    item.flow_left = nil
    card = H.card(item, 6, 300, NOW)
    assert.same({ 6, nil, 300 }, { card.usage.used_mb, card.usage.limit_mb, card.usage.left_mb })
    item.flow_left, item.flow_used = 0 / 0, 5
    card = H.card(item, 6, 300, NOW)
    assert.is_nil(card.usage.limit_mb)
  end)

  it("reads times, tags and absent fields", function()
    local card = H.card(json.decode(LIST), nil, nil, NOW)
    assert.equal(C.iso_time("2023-03-01T02:00:06Z"), card.activated)
    assert.equal(C.iso_time("2027-02-28T15:59:59Z"), card.expires)
    assert.same({ "fleet-a", "fleet-b" }, card.tags)
    assert.equal("plan", card.plan)
    card = H.card(json.decode([[{"sim_card_id": 5, "cid": "89860321000000000005", "iccid": null,
      "sim_status": 11, "imei": null, "act_date": null, "tag_names": null, "sim_pool_id": null}]]), nil, nil, NOW)
    assert.equal("89860321000000000005", card.iccid)
    assert.same({}, card.tags)
    assert.is_nil(card.imei)
    assert.is_nil(card.activated)
    assert.is_nil(card.pool)
  end)

  it("maps pools, an overdrawn one as left 0", function()
    local p = H.pool(json.decode([[{"id": 9007199254745001, "pool_name": "fwd", "flow_total": 60,
      "flow_used": 102.59, "flow_left": -42.59, "quantity": 3, "expired_time": "2027-02-28T15:59:59.000Z"}]]))
    assert.same({ 102.59, 60, 0, 3 }, { p.used_mb, p.limit_mb, p.left_mb, p.cards })
    assert.equal("9007199254745001", H.key(p.id))
    p = H.pool(json.decode([[{"id": 2, "pool_name": "back", "flow_used": 13.75, "quantity": 3}]]), true)
    assert.same({ 13.75, true }, { p.used_mb, p.back })
    assert.is_nil(p.left_mb)
  end)
end)

describe("fleet mapping: TIBIOT", function()
  local function item(extra)
    local t = { iccid = "89861122334455660001", imsi = "460013700000001", msisdn = "1064812340001",
      imei = "864512300007919", totalFlow = 1048576, useFlow = 1536, useMonthFlow = 1024,
      billingMethod = 1, cardStatus = 8, apn = "CMIOT" }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end

  it("maps every cardStatus", function()
    local want = { [1] = "inactive", [4] = "suspended", [8] = "active", [12] = "testing",
      [16] = "suspended", [18] = "deactivated", [99] = "unknown", [3] = "unknown" }
    for v, status in pairs(want) do
      local card = T.card(item { cardStatus = v }, NOW)
      assert.equal(status, card.status, v)
      assert.equal(v, card.vendor_status)
    end
  end)

  it("converts KB to MB and counts the billing cycle", function()
    local card = T.card(item(), NOW)
    assert.same({ used_mb = 1.5, limit_mb = 1024, left_mb = 1022.5, period = "cycle", as_of = NOW }, card.usage)
    assert.equal("tibiot", card.vendor)
    assert.equal(card.iccid, card.id)
    assert.is_nil(card.pool)
  end)

  it("has no limit for usage-billed cards or a totalFlow of 0 and over-use shows left 0", function()
    assert.is_nil(T.card(item { billingMethod = 2 }, NOW).usage.limit_mb)
    assert.is_nil(T.card(item { billingMethod = 2 }, NOW).usage.left_mb)
    assert.is_nil(T.card(item { totalFlow = 0 }, NOW).usage.limit_mb)
    local u = T.card(item { totalFlow = 1024, useFlow = 4096 }, NOW).usage
    assert.same({ 4, 1, 0 }, { u.used_mb, u.limit_mb, u.left_mb })
    u = T.card({ iccid = "89861122334455660001", cardStatus = 8 }, NOW).usage
    assert.is_nil(u.used_mb)
  end)

  it("maps pools (KB; no limit for poolType 2; expires at the end of endTime, Beijing)", function()
    local p = T.pool { upoolCode = "UP10000003", upoolName = "统付池C", enUpoolName = "Pool C", poolType = 3,
      useFlow = 2048, totalFlow = 41943040, totalCard = 8, endTime = "2026-12-31" }
    assert.same({ "UP10000003", "Pool C", 2, 40960, 40958, 8 },
      { p.id, p.name, p.used_mb, p.limit_mb, p.left_mb, p.cards })
    assert.equal(C.local_time("2027-01-01 00:00:00", C.BEIJING), p.expires)
    p = T.pool { upoolCode = "UP10000002", poolType = 2, useFlow = 1024, totalFlow = 0, totalCard = 10 }
    assert.is_nil(p.limit_mb)
    assert.is_nil(p.left_mb)
    assert.is_nil(p.expires)
  end)
end)

describe("fleet mapping: action arguments", function()
  it("accepts the documented shapes", function()
    assert.same({ on = false }, C.check_args("network", { on = false }))
    assert.same({ kbps = "default" }, C.check_args("speed", { kbps = "default" }))
    assert.same({ kbps = 128 }, C.check_args("speed", { kbps = 128 }))
    assert.same({ package = "P", key = "k1" }, C.check_args("topup", { package = "P", key = "k1" }))
    assert.same({ tags = { "a", "b" } }, C.check_args("tag", { tags = { "a", "b" } }))
    assert.same({ tags = {} }, C.check_args("tag", { tags = {} }))
    assert.same({ mb = false }, C.check_args("usage_cap", { mb = false }))
    assert.same({ mb = 0 }, C.check_args("usage_cap", { mb = 0 }))
    assert.same({}, C.check_args("suspend"))
  end)

  it("refuses wrong types, NaN, infinities, huge values and unknown arguments", function()
    local nan = 0 / 0
    local bad = {
      { "network", { on = "yes" } }, { "network", {} }, { "speed", { kbps = 0 } }, { "speed", { kbps = nan } },
      { "speed", { kbps = math.huge } }, { "speed", { kbps = 1e12 } }, { "speed", { kbps = 1.5 } },
      { "speed", { kbps = "fast" } }, { "topup", { package = 5 } }, { "topup", { package = "" } },
      { "topup", { package = "P", key = string.rep("k", 33) } }, { "sms", { text = "" } },
      { "sms", { text = string.rep("x", 5000) } }, { "tag", { tags = "x" } }, { "tag", { tags = { 1 } } },
      { "tag", { tags = { x = "a" } } }, { "tag", { tags = { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11" } } },
      { "imei_lock", { imei = "" } }, { "imei_lock", { imei = "86 00" } }, { "usage_cap", { mb = -1 } },
      { "usage_cap", { mb = nan } }, { "usage_cap", { mb = 1.5 } }, { "usage_cap", { mb = -math.huge } },
      { "suspend", { now = true } }, { "network", { on = true, extra = 1 } }, { "sms", "hello" },
      { "resume", { [1] = "x" } },
    }
    for _, b in ipairs(bad) do
      local norm, err = C.check_args(b[1], b[2])
      assert.is_nil(norm, b[1])
      assert.equal("input", err.kind, b[1])
      assert.equal(b[1], err.op)
    end
  end)
end)
