--- Auto top-up (EIOTCLUB), as a rules file: order a data package for every
-- active card whose remaining data is below TOPUP_THRESHOLD_MB (default
-- 200), exactly once per dip below the threshold.
--
-- Run it with examples/rules/run.lua (or R.load(engine, path) in your own
-- script, or from nginx):
--   lua5.4 examples/rules/run.lua examples/auto_topup.lua          # act
--   lua5.4 examples/rules/run.lua --plan examples/auto_topup.lua   # dry run
--
-- What the old hand-written script got wrong, and the rule does not:
-- * it bought again the next day when its cheapest package (100 MB) left the
--   card below the 200 MB threshold: here the package is the cheapest one
--   that lifts the card above the threshold, and the rule re-arms only once
--   the card was above the threshold again (rearm = "clear");
-- * it called get_cards_info for every card although the listing had the
--   value: the fleet reads usage with the vendor's batch queries;
-- * it kept no state: the engine's store keeps the rule state and the
--   ledger (pending -> sent -> confirmed), and the order key (outTradeNo)
--   comes from the intent, so no run — overlapping, crashed, on another
--   node — ever sends a second order for one intent.
local R, engine = ...
local threshold = tonumber(os.getenv("TOPUP_THRESHOLD_MB") or "200")

-- the cheapest package that brings the card above the threshold; else the largest
local function enough(card, packages)
  local left = card.usage and card.usage.left_mb or 0
  local best, largest
  for _, p in ipairs(packages) do
    if p.type == 2 and p.price and p.mb then
      if left + p.mb >= threshold and (not best or p.price < best.price) then best = p end
      if not largest or p.mb > largest.mb then largest = p end
    end
  end
  return best or largest
end

engine:rule {
  name = "auto-topup",
  match = { vendor = "eiotclub", status = "active" },
  when = R.left_below { mb = threshold },
  actions = { R.topup { package = enough }, R.log { message = "topped up" } },
  rearm = "clear",
  clear = R.none { R.left_below { mb = threshold } },
}
