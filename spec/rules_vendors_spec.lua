-- simkit.rules: what the engine asks a vendor directly (packages for
-- topup{ package = "cheapest" }, the lookup of an order in doubt by its
-- key), against the EIOTCLUB sandbox.
local simkit = require "simkit"
local R = require "simkit.rules"
local vendors = require "simkit.rules.vendors"
local ledger = require "simkit.rules.ledger"
local sandbox = require "spec.support.sandbox"
local fake = require "spec.support.fakefleet"

local ICCID = "89852012345678900001"

describe("simkit.rules vendor reads against the sandbox", function()
  local sb, eiot, clients
  setup(function()
    sb = sandbox.start()
    eiot = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url,
      retries = 0, timeout = 5 })
    clients = vendors.index({ eiot })
  end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  it("lists the packages a card can order, as { code, price, mb, ... }", function()
    local list = assert(vendors.packages(clients, { vendor = "eiotclub", iccid = ICCID }))
    assert.is_true(#list > 0)
    for _, p in ipairs(list) do
      assert.are.equal("string", type(p.code))
      assert.are.equal("number", type(p.price))
    end
    -- no client for the vendor: unsupported, nothing sent
    local v, err = vendors.packages(clients, { vendor = "huawei", iccid = ICCID })
    assert.is_nil(v)
    assert.are.equal("unsupported", err.kind)
  end)

  it("looks an order up by its key: found, absent, unknown when the vendor fails", function()
    local key = ledger.order_key("rule|" .. ICCID .. "|2026-12-03|1|1:topup")
    local list = assert(vendors.packages(clients, { vendor = "eiotclub", iccid = ICCID }))
    assert(eiot:order_package { iccid = ICCID, packageCode = list[1].code, outTradeNo = key })
    local card = { vendor = "eiotclub", iccid = ICCID }
    local state, order = vendors.lookup(clients, card, key)
    assert.are.equal("found", state)
    assert.are.equal(key, order.outTradeNo)
    assert.are.equal("absent", (vendors.lookup(clients, card, ledger.order_key("other"))))
    sb:fault { path = "/api/v3/package/getOrderPackageDetails", kind = "5xx", count = 5 }
    local st, _, err = vendors.lookup(clients, card, key)
    assert.are.equal("unknown", st)
    assert.truthy(err)
    st, _, err = vendors.lookup(clients, { vendor = "tibiot", iccid = ICCID }, key)
    assert.are.equal("unknown", st)
    assert.are.equal("unsupported", err.kind)
  end)

  it("an engine with clients tops up the cheapest package, and a package function gets the list", function()
    local card = fake.card("eiotclub", ICCID, 900, 1000)
    local fleet = fake.new({ card })
    local seen
    local e = R.engine { fleet = fleet, clients = { eiot }, clock = function() return 1796292000 end,
      logger = function() end }
    e:rule { name = "cheap", when = R.left_below { mb = 200 }, actions = { R.topup { package = "cheapest" } } }
    e:rule { name = "big", when = R.left_below { mb = 200 }, actions = { R.topup { package = function(_, pkgs)
      seen = pkgs
      local best
      for _, p in ipairs(pkgs) do if p.mb and (not best or p.mb > best.mb) then best = p end end
      return best
    end } } }
    local rep = e:run()
    assert.are.equal(2, #rep.fired)
    assert.is_true(rep.fired[1].ok)
    local list = vendors.packages(clients, card)
    local cheapest, biggest
    for _, p in ipairs(list) do
      if not cheapest or p.price < cheapest.price then cheapest = p end
      if p.mb and (not biggest or p.mb > biggest.mb) then biggest = p end
    end
    assert.are.equal(cheapest.code, fleet.acts[1].args.package)
    assert.are.equal(biggest.code, fleet.acts[2].args.package)
    assert.are.equal(#list, #seen)
  end)

  it("clients must be simkit clients (a programming error)", function()
    assert.has_error(function() R.engine { clients = { {} } } end)
    assert.has_error(function() R.engine { clients = "eiot" } end)
  end)
end)
