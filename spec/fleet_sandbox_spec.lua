-- The sandbox at fleet scale: N generated cards per vendor (/_sim/config
-- {cards = N}, sim/run start --cards N), kept across resets, and every read
-- op of a vendor answering from the same state.
local json = require "simkit.json"
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("sandbox fleet scale", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  after_each(function() sb:control("POST", "/_sim/config", { cards = 0 }) end)

  local function sizes()
    local t = sb:state("tibiot")
    return { #sb:state("eiotclub").cards, #sb:state("huawei").cards, #t.card_order }
  end

  it("adds N cards per vendor, keeps N across resets and refuses bad values", function()
    assert.same({ 12, 20, 30 }, sizes())
    assert.equal(200, (sb:control("POST", "/_sim/config", { cards = 25 })))
    assert.same({ 37, 45, 55 }, sizes())
    sb:reset()
    assert.same({ 37, 45, 55 }, sizes())
    for _, bad in ipairs({ -1, 20001, 2.5, "10", true }) do
      local st = sb:control("POST", "/_sim/config", { cards = bad })
      assert.equal(400, st, tostring(bad))
    end
    assert.same({ 37, 45, 55 }, sizes())
    assert.equal(200, (sb:control("POST", "/_sim/config", { cards = 0 })))
    assert.same({ 12, 20, 30 }, sizes())
  end)

  it("answers a generated card's usage alike from every read op", function()
    assert.equal(200, (sb:control("POST", "/_sim/config", { cards = 30 })))
    local cl = F.clients(sb)
    -- EIOTCLUB card 14: a package in use and one waiting (every 7th)
    local iccid = "89852012345678000014"
    local info = assert(cl.eiot:get_cards_info { iccid = iccid })
    local list = assert(cl.eiot:get_all_card_info { pageNum = "1", iccids = iccid }).cardInfoList[1]
    assert.same({ info.monthUseFlow, info.monthRemainFlow, info.remainFlow },
      { list.monthUseFlow, list.monthRemainFlow, list.remainFlow })
    assert.near(info.monthRemainFlow + 1024, info.remainFlow, 0.011)
    assert.equal("ACTIVATED_NAME", info.cardStatus)
    assert.equal("ACTIVATION_READY_NAME", assert(cl.eiot:get_cards_info { iccid = "89852012345678000020" }).cardStatus)
    -- Huawei: the listing, show_sim_card, the usage batch and the month usage agree
    local id = "7000000000000000007"
    local one = assert(cl.hw:show_sim_card { sim_card_id = id })
    local flow = assert(cl.hw:list_flow_by_sim_cards { sim_card_ids = json.array { id } })[1]
    local now = select(2, sb:control("GET", "/_sim/clock")).now
    local month = os.date("!%Y-%m", math.floor(now)) -- the Huawei sandbox's month: UTC
    local mu = assert(cl.hw:show_month_usages { sim_card_ids = json.array { id }, billing_cycles = json.array { month } })
    assert.same({ one.flow_used, one.flow_used }, { flow.flow_used, mu.month_usages[1].flow_usages[1].flow_used })
    assert.equal("89860322000000000007", one.iccid)
    -- TIBIOT: card_detail's month figure is the month-usage op's
    local tib = "89861122334455700007"
    local d = assert(cl.tib:card_detail { iccid = tib })
    local m = assert(cl.tib:get_card_month_usage { iccid = tib,
      queryMonth = os.date("!%Y-%m", math.floor(now + 8 * 3600)) }) -- TIBIOT's month: Beijing time
    assert.equal(d.useMonthFlow, m.useFlowKb)
    assert.equal(2097152, d.totalFlow)
  end)

  it("starts with --cards N and refuses a bad N", function()
    local dir = os.tmpname()
    os.remove(dir)
    local p = io.popen(q(sandbox.root .. "/sim/run") .. " start --cards 7 --dir " .. q(dir) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    local url = out:match("(http://127%.0%.0%.1:%d+)")
    assert.truthy(url, out)
    local ok, err = pcall(function()
      local other = setmetatable({ url = url }, { __index = sb })
      assert.equal(19, #other:state("eiotclub").cards)
    end)
    os.execute(q(sandbox.root .. "/sim/run") .. " stop " .. q(dir) .. " >/dev/null 2>&1")
    os.execute("rm -rf " .. q(dir))
    assert(ok, err)
    p = io.popen(q(sandbox.root .. "/sim/run") .. " start --cards lots 2>&1; echo rc=$?")
    out = p:read("*a")
    p:close()
    assert.matches("bad %-%-cards", out)
    assert.matches("rc=1", out)
  end)
end)
