--- Fleet sync at scale: `fleet:cards()` over 3,000 generated cards per
-- vendor in the sandbox (POST /_sim/config {cards = 3000}), against
--   (a) the naive per-card script a user would write: list the cards at
--       the default page size, then one usage call per card (EIOTCLUB
--       get_cards_info, Huawei show_month_usages for one card, TIBIOT
--       card_detail), at the same pacing, run on the first 300 cards of each
--       vendor (SIMKIT_BENCH_NAIVE_CARDS) and scaled: it is linear in them;
--   (b) the floor: the fewest calls the vendors' page and batch sizes allow
--       and the least time their rate limits allow for them.
-- Prints vendor calls per 1,000 cards and wall time; goals: calls <= 1.1 x
-- the floor, wall time <= 1.2 x the rate-limit floor. Nothing is asserted.
--
-- Time: the Huawei limiter's waits and the fleet's pacing use fake clocks
-- whose sleeps are counted instead of slept (the Huawei ones also move the
-- sandbox clock, so its own 5/s and 1/s limits hold: 0 x 429 is checked and
-- printed). Wall time = real elapsed + counted sleeps. For the naive run the
-- sandbox's EIOTCLUB and Huawei limiters are relaxed, since its waits are
-- counted instead of slept (minutes of Huawei waits moving the sandbox clock
-- would put TIBIOT's signed timestamps out of range); its modelled wall time
-- still pays every wait the client's limiter and the pacing ask for.
local simkit = require "simkit"
local util = require "simkit.util"
local sandbox = require "spec.support.sandbox"
local F = require "spec.support.fleet"

local N = tonumber(os.getenv("SIMKIT_BENCH_CARDS")) or 3000
-- the naive script is linear in the cards (a call per card): it runs on the
-- first M cards of each vendor and its figures are scaled to the vendor's N
local M = math.min(N, tonumber(os.getenv("SIMKIT_BENCH_NAIVE_CARDS")) or 300)
local PACE = simkit.fleet.PACE

local sb = sandbox.start()
local ok, err = pcall(function()
  assert(sb:control("POST", "/_sim/config", { cards = N }) == 200)
  local tib = {}
  for i = 1, N do tib[i] = string.format("898611223344557%05d", i) end

  -- (b) the floor, per vendor: calls and seconds
  local e_cards, h_cards = N + 12, N + 20
  local ceil = math.ceil
  local h_pages = ceil(h_cards / 500)
  local floor = {
    eiotclub = { calls = ceil(e_cards / 500) + 2, cards = e_cards },     -- pages + pool_list + 1 non-empty pool
    huawei = { calls = h_pages * 2 + 1, cards = h_cards },                -- pages + 1 month-usage batch (500) each + pool list
    tibiot = { calls = N, cards = N },                                    -- no batch read exists
  }
  floor.eiotclub.seconds = (floor.eiotclub.calls - 1) / PACE.eiotclub
  -- list_sim_cards 1/s; the whole account 5/s: the larger bound
  floor.huawei.seconds = math.max(h_pages - 1, (floor.huawei.calls - 1) / 5)
  floor.tibiot.seconds = (N - 1) / PACE.tibiot

  -- the fleet
  -- clocks: real time plus the counted sleeps (a call's own time counts
  -- towards the pacing interval, as with a real clock)
  local cl = F.clients(sb, F.clock(sb, true))
  cl.pace = F.clock(nil, true)
  local fleet = F.fleet(sb, { iccids = { tibiot = tib } }, cl)
  -- one sync per vendor, each timed alone (a vendor's first page is not
  -- billed to the one listed before it)
  local per = {}
  for _, v in ipairs({ "eiotclub", "huawei", "tibiot" }) do
    local r0, s0 = util.monotonic(), cl.fake.slept + cl.pace.slept
    local n = 0
    for card, cerr in fleet:cards { vendor = v } do
      if not card then error(tostring(cerr)) end
      n = n + 1
    end
    per[v] = { cards = n, seconds = (util.monotonic() - r0) + (cl.fake.slept + cl.pace.slept - s0) }
  end
  local calls = fleet:calls()
  local rate_limited = sb:state("huawei").rate_limited

  -- (a) the naive script: default page sizes, one usage call per card
  assert(sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = false },
    huawei = { rate_limit = false } }) == 200)
  local ncl = F.clients(sb, F.clock(nil, true)) -- Huawei waits counted, not slept, sandbox clock left alone
  local naive = {}
  local function timed(name, f)
    local pc, last = F.clock(nil, true), nil
    local scale = per[name].cards / M
    local function pace(rate) -- the same pacing as the fleet's
      local now = pc.clock()
      if last and now - last < 1 / rate then pc.sleep(1 / rate - (now - last)) end
      last = pc.clock()
    end
    local s0, r0 = ncl.fake.slept, util.monotonic()
    local n = f(pace)
    naive[name] = { calls = n * scale, seconds = ((util.monotonic() - r0) + (ncl.fake.slept - s0) + pc.slept) * scale }
  end
  timed("eiotclub", function(pace)
    local n = 0
    for item, ierr in ncl.eiot:pages("get_all_card_info", {}) do
      if not item then error(tostring(ierr)) end
      assert(ncl.eiot:get_cards_info { iccid = item.iccid })
      n = n + 1
      pace(PACE.eiotclub)
      if n >= M then break end
    end
    return n + n / 500
  end)
  timed("huawei", function()
    local n = 0
    for item, ierr in ncl.hw:pages("list_sim_cards", {}) do
      if not item then error(tostring(ierr)) end
      assert(ncl.hw:show_month_usages { sim_card_ids = require("simkit.json").array { item.sim_card_id },
        billing_cycles = require("simkit.json").array { os.date("!%Y-%m") } })
      n = n + 1
      if n >= M then break end
    end
    return n + n / 100
  end)
  timed("tibiot", function(pace)
    for i = 1, M do
      assert(ncl.tib:card_detail { iccid = tib[i] })
      pace(PACE.tibiot)
    end
    return M
  end)

  print(string.format("fleet sync of %d generated cards per vendor (+ the seeded ones); Huawei 429s: %d;"
    .. " naive script run on %d cards per vendor, scaled", N, rate_limited, M))
  print(string.format("%-9s %6s | %9s %9s %9s %6s | %8s %8s %8s %6s", "vendor", "cards", "calls/1k",
    "naive/1k", "floor/1k", "x flr", "wall s", "naive s", "floor s", "x flr"))
  for _, v in ipairs({ "eiotclub", "huawei", "tibiot" }) do
    local k = 1000 / per[v].cards
    local fl = floor[v]
    print(string.format("%-9s %6d | %9.1f %9.1f %9.1f %6.2f | %8.1f %8.1f %8.1f %6.2f", v, per[v].cards,
      calls[v] * k, naive[v].calls * k, fl.calls * k, calls[v] / fl.calls,
      per[v].seconds, naive[v].seconds, fl.seconds, fl.seconds > 0 and per[v].seconds / fl.seconds or 0))
  end
  print("goals: calls <= 1.10 x floor, wall <= 1.20 x the rate-limit floor (TIBIOT: the fleet's own pace, "
    .. PACE.tibiot .. "/s; EIOTCLUB " .. PACE.eiotclub .. "/s)")
end)
sb:stop()
if not ok then error(err, 0) end
