-- simkit.fleet against the sandbox: cards, card, pools, filters, progress,
-- the ICCID index, fewest calls at scale, errors and bad input.
local simkit = require "simkit"
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"

local is54 = math.type ~= nil
local HW1 = "89860321000000000001"      -- Huawei, sim_card_id 2^53 + 1
local EI2 = "89852012345678900002"      -- EIOTCLUB, a 1G in use (300 MB used) and a 1G waiting
local TIB = F.tib_iccids(30)

local function count_by(list, key)
  local n = {}
  for _, x in ipairs(list) do n[x[key]] = (n[x[key]] or 0) + 1 end
  return n
end

local function collect(iter)
  local out, errs = {}, {}
  for card, err in iter do
    if card then out[#out + 1] = card else errs[#errs + 1] = err end
  end
  return out, errs
end

describe("simkit.fleet against the sandbox", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  local function fleet(extra, cl) return (F.fleet(sb, extra, cl)) end

  it("lists every vendor's cards in one shape, each vendor at its largest page size", function()
    local f = fleet { iccids = { tibiot = TIB } }
    local cards, errs = collect(f:cards())
    assert.same({}, errs)
    assert.same({ eiotclub = 12, huawei = 20, tibiot = 30 }, count_by(cards, "vendor"))
    for _, c in ipairs(cards) do
      assert.is_string(c.iccid)
      assert.truthy(c.id)
      assert.truthy(simkit.fleet.vendors[c.vendor].STATUS)
      assert.is_table(c.usage)
      assert.is_table(c.tags)
      assert.is_table(c.raw)
    end
    local eiot = sb:requests { vendor = "eiotclub" }
    local pages = {}
    for _, r in ipairs(eiot) do
      if r.path == "/api/v3/card/getAllCardInfo" then pages[#pages + 1] = sandbox.json.json_decode(r.body) end
    end
    assert.equal(1, #pages)
    assert.equal(500, pages[1].pageSize)
    local hw = sb:requests { vendor = "huawei", path = "/v1/sim-cards" }
    assert.equal(1, #hw)
    assert.equal("500", hw[1].query.limit)
    assert.same({ eiotclub = 3, huawei = 3, tibiot = 30 }, f:calls())
  end)

  it("reads the same usage as every other read op of the vendor", function()
    local f, cl = F.fleet(sb, { iccids = { tibiot = TIB } })
    local by = {}
    for card in f:cards() do by[card.iccid] = card end
    -- EIOTCLUB: getCardsInfo says the same; remainFlow counts the waiting package, left does not
    local info = assert(cl.eiot:get_cards_info { iccid = EI2 })
    local e = by[EI2]
    assert.same({ info.monthUseFlow, info.monthRemainFlow }, { e.usage.used_mb, e.usage.left_mb })
    assert.same({ 300, 1024, 724 }, { e.usage.used_mb, e.usage.limit_mb, e.usage.left_mb })
    assert.equal(1748, info.remainFlow)
    -- Huawei: list_flow_by_sim_cards, show_sim_card and the sandbox state agree
    local st
    for _, c in ipairs(sb:state("huawei").cards) do if c.iccid == HW1 then st = c end end
    local h = by[HW1]
    assert.same({ 12.5, 30, 17.5 }, { h.usage.used_mb, h.usage.limit_mb, h.usage.left_mb })
    assert.equal(st.flow_used, h.usage.used_mb)
    local one = assert(f:card(HW1))
    assert.same(h.usage.used_mb, one.usage.used_mb)
    -- TIBIOT: the month-usage op of this month says the same for a monthly pool
    local t = by[TIB[1]]
    local detail = assert(cl.tib:card_detail { iccid = TIB[1] })
    assert.equal(math.floor(detail.useFlow / 1024 * 100 + 0.5) / 100, t.usage.used_mb)
    assert.equal(1024, t.usage.limit_mb)
  end)

  it("maps the sandbox's 64-bit ids exactly, pooled cards and overruns", function()
    local f = fleet()
    local by = {}
    for card in f:cards { vendor = "huawei" } do by[card.iccid] = card end
    local max = by["89860421000000000006"]
    if is54 then assert.equal(9223372036854775807, max.id) else assert.equal("9223372036854775807", max.id) end
    assert.equal("9007199254740993", simkit.fleet.vendors.huawei.key(by[HW1].id))
    -- over quota, not pooled: 45.59 of 30 used, the vendor's flow_left -15.59
    local over = by["89860321000000000010"].usage
    assert.same({ 45.59, 30, 0 }, { over.used_mb, over.limit_mb, over.left_mb })
    -- pooled, in overage (docs/fleet.md): 40 used of its plan's 20 (flow_left -20); the forward
    -- pool (60 MB, 102.59 used, flow_left -42.59) has nothing left: left 0
    local pooled = by["89860621000000000007"]
    assert.equal("9007199254745001", simkit.fleet.vendors.huawei.key(pooled.pool))
    assert.same({ 40, 20, 0, true }, { pooled.usage.used_mb, pooled.usage.limit_mb, pooled.usage.left_mb,
      pooled.usage.pooled })
    assert.equal(-20, pooled.raw.flow_left)
    -- the same figures through card(iccid) (show_sim_card + one month-usage call)
    local one = assert(f:card("89860621000000000007"))
    assert.same({ 40, 20, 0, true }, { one.usage.used_mb, one.usage.limit_mb, one.usage.left_mb, one.usage.pooled })
    -- the pool's other members: 35.29 of 30 (over its share) and 27.3 of 30, both with the pool's 0 left
    for iccid, want in pairs({ ["8986002100000000008"] = { 35.29, 30, 0 }, ["89860321000000000009"] = { 27.3, 30, 0 } }) do
      local u = by[iccid].usage
      assert.same(want, { u.used_mb, u.limit_mb, u.left_mb }, iccid)
      assert.is_true(u.pooled)
    end
    -- a backward pool's member: its plan's 50 as limit; a backward pool says nothing left (H3354)
    local back = by["89860121000000000014"].usage
    assert.same({ 5.5, 50, true }, { back.used_mb, back.limit_mb, back.pooled })
    assert.is_nil(back.left_mb)
    assert.same({ "fleet-a", "fleet-b" }, by["89860321000000000017"].tags)
    assert.equal("suspended", by["8986002100000000003"].status)
    assert.equal("testing", by["89860321000000000013"].status)
  end)

  it("filters by vendor, status, tag, pool and data left, asking only the vendors that can match", function()
    local f = fleet { iccids = { tibiot = TIB } }
    local list = collect(f:cards { vendor = "huawei" })
    assert.equal(20, #list)
    assert.equal(0, #sb:requests { vendor = "eiotclub" })
    assert.equal(0, #sb:requests { vendor = "tibiot" })
    sb:clear_requests()
    -- EIOTCLUB has no suspended status: not asked; Huawei gets the filter (14)
    list = collect(f:cards { status = "suspended" })
    assert.same({ huawei = 3, tibiot = 3 }, count_by(list, "vendor"))
    assert.equal(0, #sb:requests { vendor = "eiotclub" })
    assert.equal("14", sb:requests { path = "/v1/sim-cards" }[1].query.sim_status)
    list = collect(f:cards { tag = "fleet-a" })
    assert.equal(2, #list)
    list = collect(f:cards { pool = "9007199254745001" })
    assert.equal(3, #list)
    list = collect(f:cards { pool = 380 })
    assert.same({ "89852012345678900003", "89852012345678900004" }, { list[1].iccid, list[2].iccid })
    list = collect(f:cards { left_below_mb = 10, vendor = { "eiotclub", "huawei" }, status = "active" })
    for _, c in ipairs(list) do
      assert.is_true(c.usage.left_mb < 10)
      assert.equal("active", c.status)
    end
    local names = {}
    for _, c in ipairs(list) do names[c.iccid] = true end
    assert.is_true(names["89852012345678900007"]) -- 5 MB left of 100
    assert.is_true(names["89860321000000000010"]) -- over quota
    list = collect(f:cards { status = { "inactive", "deactivated" }, vendor = "eiotclub" })
    assert.equal(4, #list)
    sb:clear_requests()
    list = collect(f:cards { iccids = { EI2, HW1, TIB[3] } })
    assert.equal(3, #list)
    assert.equal(1, #sb:requests { vendor = "tibiot" }) -- TIBIOT: only the card asked for
  end)

  it("refuses bad filters before sending anything", function()
    local f = fleet()
    sb:clear_requests()
    local bad = { { colour = "red" }, { status = "bogus" }, { vendor = "nokia" }, { left_below_mb = 0 / 0 },
      { left_below_mb = math.huge }, { left_below_mb = "10" }, { tag = 5 }, { pool = {} }, { status = {} },
      { on_progress = "yes" }, { iccids = { "12" } } }
    for _, filters in ipairs(bad) do
      local items, errs = collect(f:cards(filters))
      assert.equal(0, #items)
      assert.equal(1, #errs)
      assert.equal("input", errs[1].kind)
    end
    assert.equal(0, #sb:requests())
  end)

  it("reports progress with the total once every vendor told it", function()
    local f = fleet { iccids = { tibiot = TIB } }
    local calls = {}
    local n = 0
    for _ in f:cards { on_progress = function(done, total, info) calls[#calls + 1] = { done, total, info } end } do
      n = n + 1
    end
    assert.equal(62, n)
    local last = calls[#calls]
    assert.same({ 62, 62 }, { last[1], last[2] })
    assert.equal("tibiot", last[3].vendor)
    assert.equal(30, last[3].vendor_total)
    local prev = 0
    for _, c in ipairs(calls) do
      assert.is_true(c[1] >= prev)
      prev = c[1]
    end
    assert.is_nil(calls[1][2]) -- Huawei and TIBIOT had not told theirs yet
    -- a failing callback does not break the listing
    n = 0
    for _ in f:cards { vendor = "eiotclub", on_progress = function() error("boom") end } do n = n + 1 end
    assert.equal(12, n)
  end)

  it("finds a card by ICCID through the index without trying every vendor", function()
    local store = require("simkit.store").memory()
    local f, cl = F.fleet(sb, { store = store })
    -- not indexed: EIOTCLUB and Huawei are asked before TIBIOT
    sb:clear_requests()
    local t = assert(f:card(TIB[2]))
    assert.equal("tibiot", t.vendor)
    assert.is_true(#sb:requests { vendor = "eiotclub" } >= 1)
    assert.is_true(#sb:requests { vendor = "huawei" } >= 1)
    -- indexed now: only TIBIOT, once
    sb:clear_requests()
    local again = assert(f:card(TIB[2])).usage
    -- as_of is the answer's time: two answers may fall in two seconds
    assert.is_true(again.as_of >= t.usage.as_of and again.as_of - t.usage.as_of < 60)
    again.as_of = t.usage.as_of
    assert.same(t.usage, again)
    assert.equal(0, #sb:requests { vendor = "eiotclub" })
    assert.equal(0, #sb:requests { vendor = "huawei" })
    assert.equal(1, #sb:requests { vendor = "tibiot" })
    -- cards{} indexes what it lists; another fleet on the same store knows it
    for _ in f:cards { vendor = "huawei" } do end
    local g = fleet({ store = store }, cl) -- the same clients: one Huawei rate window
    sb:clear_requests()
    local h = assert(g:card(HW1))
    assert.equal("huawei", h.vendor)
    assert.equal(0, #sb:requests { vendor = "eiotclub" })
    assert.equal(0, #sb:requests { vendor = "tibiot" })
    -- a TIBIOT card once found is part of the next listing (TIBIOT cannot list)
    local list = collect(g:cards { vendor = "tibiot" })
    assert.equal(1, #list)
    assert.equal(TIB[2], list[1].iccid)
    -- a stale index entry: the card is looked for elsewhere and re-indexed
    store:set("simkit:fleet:iccid:" .. EI2, "huawei")
    local e = assert(g:card(EI2))
    assert.equal("eiotclub", e.vendor)
    assert.equal("eiotclub", store:get("simkit:fleet:iccid:" .. EI2))
  end)

  it("answers not_found for an unknown ICCID and refuses malformed ones unsent", function()
    local f = fleet()
    local card, err = f:card("89999999999999999999")
    assert.is_nil(card)
    assert.same({ "vendor", "not_found" }, { err.kind, err.code })
    -- an ICCID one vendor refuses the format of (EIOTCLUB: 18-22 digits, Huawei: 19-20) is not its card
    sb:clear_requests()
    card, err = f:card("898600210000001")
    assert.is_nil(card)
    assert.same({ "vendor", "not_found" }, { err.kind, err.code })
    assert.equal(1, #sb:requests { vendor = "eiotclub" })
    -- Huawei and TIBIOT take 19-20 digits: their clients refuse it unsent
    assert.equal(0, #sb:requests { vendor = "huawei" })
    assert.equal(0, #sb:requests { vendor = "tibiot" })
    sb:clear_requests()
    for _, bad in ipairs({ "123", "abcdefghijklmnopqrst", 89860321000000000001, {}, false, string.rep("8", 40) }) do
      card, err = f:card(bad)
      assert.is_nil(card)
      assert.equal("input", err.kind)
    end
    local _
    _, err = f:card()
    assert.equal("input", err.kind)
    assert.equal(0, #sb:requests())
  end)

  it("lists every pool of every vendor (TIBIOT: the pools it was given)", function()
    local f = fleet { pools = { tibiot = { "UP10000001", "UP10000002" } } }
    local pools, errs = collect(f:pools())
    assert.same({}, errs)
    assert.same({ eiotclub = 2, huawei = 3, tibiot = 2 }, count_by(pools, "vendor"))
    local by = {}
    for _, p in ipairs(pools) do by[tostring(simkit.fleet.vendors.huawei.key(p.id) or p.id)] = p end
    assert.same({ 2048, 10240, 8192, 2, "fleet-a" },
      { by["380"].used_mb, by["380"].limit_mb, by["380"].left_mb, by["380"].cards, by["380"].name })
    local fwd = by["9007199254745001"]
    assert.same({ 60, 0, 3 }, { fwd.limit_mb, fwd.left_mb, fwd.cards })
    assert.is_true(fwd.raw.flow_left < 0)
    assert.is_nil(by["UP10000002"].limit_mb) -- usage-billed pool
    assert.equal(12, by["UP10000001"].cards)
  end)

  it("stops with false, err when a vendor call fails", function()
    local f = fleet()
    sb:fault { path = "/v1/sim-cards", kind = "5xx", count = 1 }
    local items, errs = collect(f:cards { vendor = "huawei" })
    assert.equal(0, #items)
    assert.equal(1, #errs)
    assert.equal("http", errs[1].kind)
    sb:fault { path = "/api/v3/pool/list", kind = "5xx", count = 1 }
    items, errs = collect(f:pools())
    assert.equal(1, #errs)
    assert.equal(0, #items) -- EIOTCLUB, the first vendor, failed: nothing after it
  end)

  it("syncs thousands of cards per vendor with the floor's number of calls and no 429/501", function()
    assert.equal(200, (sb:control("POST", "/_sim/config", { cards = 1200 })))
    local tib = {}
    for i = 1, 1200 do tib[i] = string.format("898611223344557%05d", i) end
    local f = fleet { iccids = { tibiot = tib } }
    local n = {}
    for card, err in f:cards() do
      assert.truthy(card, tostring(err))
      n[card.vendor] = (n[card.vendor] or 0) + 1
    end
    assert.same({ eiotclub = 1212, huawei = 1220, tibiot = 1200 }, n)
    -- EIOTCLUB: pool_list + 1 non-empty pool + ceil(1212/500) pages; Huawei: ceil(1220/500) pages
    -- + one month-usage batch per page + 1 pool list; TIBIOT: 1 per card (no batch read)
    assert.same({ eiotclub = 2 + 3, huawei = 3 + 3 + 1, tibiot = 1200 }, f:calls())
    -- the clients have retries = 0: one 501 or 429 would have ended the loop above with an error
    assert.equal(0, sb:state("huawei").rate_limited)
    assert.equal(0, (sb:control("POST", "/_sim/config", { cards = 0 })) == 200 and 0 or 1)
  end)

  it("asks for the UTC billing month when Huawei calls China's a future one", function()
    local util = require "simkit.util"
    local now = select(2, sb:control("GET", "/_sim/clock")).now
    local d = os.date("!*t", math.floor(now))
    local y, m = d.year + (d.month == 12 and 1 or 0), d.month % 12 + 1
    local next_month = util.days_from_civil(y, m, 1) * 86400
    -- 07:00 in China on the 1st: China is in the next month, the sandbox (UTC) is not
    local f = fleet { now = function() return next_month - 3600 end }
    sb:clear_requests()
    local n = 0
    for card, err in f:cards { vendor = "huawei" } do
      assert.truthy(card, tostring(err))
      n = n + 1
    end
    assert.equal(20, n)
    local asked = {}
    for _, r in ipairs(sb:requests { path = "/v1/sim-cards/month-usages" }) do
      asked[#asked + 1] = sandbox.json.json_decode(r.body).billing_cycles[1]
    end
    assert.same({ string.format("%04d-%02d", y, m), os.date("!%Y-%m", next_month - 3600) }, asked)
  end)

  it("raises on programming errors when made", function()
    local cl = F.clients(sb)
    assert.has_error(function() simkit.fleet("x") end)
    assert.has_error(function() simkit.fleet { {} } end)
    assert.has_error(function() simkit.fleet { cl.eiot, cl.eiot } end)
    assert.has_error(function() simkit.fleet { cl.eiot, colour = 1 } end)
    assert.has_error(function() simkit.fleet { cl.tib, iccids = { tibiot = { "x" } } } end)
    assert.has_error(function() simkit.fleet { cl.tib, iccids = { nokia = {} } } end)
    assert.has_error(function() simkit.fleet { cl.tib, pools = "UP1" } end)
    assert.has_error(function() simkit.fleet { cl.tib, store = {} } end)
    assert.has_error(function() simkit.fleet { cl.tib, pace = { tibiot = 0 / 0 } } end)
    assert.has_error(function() simkit.fleet { cl.tib, pace = { tibiot = -1 } } end)
    assert.has_error(function() simkit.fleet { cl.tib, clock = 5 } end)
    local f = simkit.fleet { cl.hw, cl.eiot }
    assert.same({ "eiotclub", "huawei" }, f:vendors())
    assert.equal(cl.hw, f:client("huawei"))
    assert.equal(cl.eiot, f:client("eiotclub"))
    assert.is_nil(f:client("tibiot"))
    assert.is_nil(f:client("nokia"))
    assert.is_nil(f:client(nil))
  end)
end)
