-- simkit.fleet's one error convention (docs/fleet.md, "Errors"): unknown or
-- unconfigured vendor names, unknown statuses and filter values of the wrong
-- type are data errors (nil, err / an iterator yielding false, err once, kind
-- "input", nothing sent); only programming errors raise, saying what to do.
local simkit = require "simkit"
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"

local EI1 = "89852012345678900001"
local HW1 = "89860321000000000001"

-- the whole of an iterator's output (at most `cap` items)
local function drain(iter, cap)
  local out = {}
  for _ = 1, cap or 5 do
    local a, b = iter()
    out[#out + 1] = { a, b }
    if a == nil then break end
  end
  return out
end

-- exactly one `false, err` of kind "input", then the end
local function assert_input_once(iter, what)
  local got = drain(iter)
  assert.equal(2, #got, what)
  assert.is_false(got[1][1], what)
  assert.equal("input", got[1][2].kind, what)
  assert.is_string(got[1][2].message, what)
  assert.is_nil(got[2][1], what)
  return got[1][2]
end

describe("simkit.fleet errors", function()
  local sb, fleet, cl

  setup(function()
    sb = sandbox.start()
    cl = F.clients(sb)
    -- EIOTCLUB and Huawei only: TIBIOT is a known vendor this fleet has no client for
    fleet = simkit.fleet { cl.eiot, cl.hw, clock = cl.pace.clock, sleep = cl.pace.sleep }
  end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() sb:clear_requests() end)

  it("yields one input error for an unknown vendor, status or wrong-typed filter value, sending nothing", function()
    local bad = {
      { vendor = "nokia" }, { vendor = { "huawei", "nokia" } }, { vendor = 5 }, { vendor = {} }, { vendor = 0 / 0 },
      { vendor = math.huge }, { vendor = true }, { vendor = { x = "huawei" } }, { vendor = ("x"):rep(100000) },
      { status = "bogus" }, { status = { "active", "sleepy" } }, { status = 20 }, { status = { 0 / 0 } },
      { status = false }, { status = "ACTIVE" },
      { tag = 5 }, { tag = "" }, { tag = {} }, { tag = true },
      { pool = {} }, { pool = true }, { pool = 0 / 0 }, { pool = math.huge }, { pool = 1.5 }, { pool = 2 ^ 70 },
      { left_below_mb = "10" }, { left_below_mb = 0 / 0 }, { left_below_mb = -math.huge }, { left_below_mb = {} },
      { iccids = HW1 }, { iccids = { 5 } }, { iccids = { "12" } }, { iccids = { HW1, 0 / 0 } },
      { on_progress = "yes" }, { on_progress = {} },
      { colour = "red" }, { [1] = "huawei" },
    }
    for i, filters in ipairs(bad) do assert_input_once(fleet:cards(filters), "filter set " .. i) end
    assert.equal(0, #sb:requests())
  end)

  it("treats a vendor this fleet has no client for as a data error, naming what it has", function()
    local err = assert_input_once(fleet:cards { vendor = "tibiot" }, "tibiot")
    assert.equal("vendor", err.param)
    assert.equal("tibiot", err.vendor)
    assert.matches("no tibiot client", err.message)
    assert.matches("eiotclub, huawei", err.message)
    assert_input_once(fleet:cards { vendor = { "eiotclub", "tibiot" } }, "a list with one unconfigured")
    assert.equal(0, #sb:requests())
    -- client(): the same checks, as nil, err
    for _, v in ipairs({ "tibiot", "nokia", 5, "", 0 / 0 }) do
      local c, cerr = fleet:client(v)
      assert.is_nil(c)
      assert.equal("input", cerr.kind)
    end
    assert.equal(cl.hw, fleet:client("huawei"))
    -- act(): a card of an unconfigured or unknown vendor, unsent
    for _, v in ipairs({ "tibiot", "nokia", 7 }) do
      local res, aerr = fleet:act({ vendor = v, iccid = "89861122334455660001" }, "network", { on = false })
      assert.is_nil(res)
      assert.equal("input", aerr.kind)
    end
    local results = assert(fleet:act_many({ { vendor = "tibiot", iccid = "89861122334455660001" } }, "network",
      { on = false }))
    assert.is_false(results[1].ok)
    assert.equal("input", results[1].err.kind)
    assert.equal(0, #sb:requests())
    -- capabilities() describes a vendor, not this fleet: known vendors answer, unknown ones are input errors
    assert.same({ suspend = false, resume = false, network = true, speed = false, topup = false, sms = false,
      tag = false, imei_lock = false, usage_cap = false }, fleet:capabilities("tibiot"))
    local caps, cerr = fleet:capabilities("nokia")
    assert.is_nil(caps)
    assert.equal("input", cerr.kind)
  end)

  it("still lists what the filters allow once they are right", function()
    local n = 0
    for card, err in fleet:cards { vendor = "eiotclub", status = { "active", "inactive" } } do
      assert.truthy(card, tostring(err))
      assert.equal("eiotclub", card.vendor)
      n = n + 1
    end
    assert.is_true(n > 0)
    local card = assert(fleet:card(EI1))
    assert.equal("eiotclub", card.vendor)
  end)

  it("raises on programming errors, saying what to write", function()
    for _, filters in ipairs({ "active", 5, true, function() end }) do
      local ok, msg = pcall(fleet.cards, fleet, filters)
      assert.is_false(ok)
      assert.matches("filters must be a table such as", msg, 1, true)
    end
    local calls = {
      cards = function() return fleet.cards { vendor = "huawei" } end,
      card = function() return fleet.card(HW1) end,
      pools = function() return fleet.pools() end,
      capabilities = function() return fleet.capabilities("huawei") end,
      client = function() return fleet.client("huawei") end,
      vendors = function() return fleet.vendors() end,
      calls = function() return fleet.calls() end,
      act = function() return fleet.act({ vendor = "huawei", iccid = HW1, id = 1 }, "suspend") end,
      act_many = function() return fleet.act_many({}, "suspend") end,
    }
    for name, fn in pairs(calls) do
      local ok, msg = pcall(fn)
      assert.is_false(ok, name)
      assert.matches("call it as fleet:" .. name .. "(...) (with a colon)", msg, 1, true)
    end
    assert.equal(0, #sb:requests())
  end)
end)
