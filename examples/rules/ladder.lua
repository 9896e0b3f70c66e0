--- An escalation ladder over the month (Huawei: speed, suspend): at 80 % of
-- the plan an alert, at 95 % throttle to 256 kbps until the next month, at
-- 100 % suspend until the next month. Each step fires once per month, in
-- order; the restores are scheduled in the store and run by the first run
-- after the month turns (timezone and billing anchor of the engine).
--   lua5.4 examples/rules/run.lua examples/rules/ladder.lua
return function(R, engine)
  engine:rule {
    name = "month-ladder",
    -- cards with a quota of their own: a pooled card's limit is only its share of the
    -- pool (docs/fleet.md), and it may use more while the pool has data; see pool_alert.lua
    match = function(card)
      return card.vendor == "huawei" and card.status == "active" and not card.usage.pooled
    end,
    steps = {
      { R.used_above { ratio = 0.8 }, R.alert { message = "80% of the month's data used" } },
      { R.used_above { ratio = 0.95 }, R.speed { kbps = 256 }, R.speed { kbps = "default", at = "next_month" } },
      { R.used_above { ratio = 1.0 }, R.suspend {}, R.resume { at = "next_month" } },
    },
    rearm = "next_month",
  }
end
