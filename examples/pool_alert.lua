--- Pool alert, as a rules file: alert when a card's pool has used
-- POOL_ALERT_PCT percent (default 80) of its data or expires within
-- POOL_ALERT_DAYS days (default 3), at most once a day per card, and (when
-- ALERT_WEBHOOK is set) POST it, signed with ALERT_WEBHOOK_SECRET.
--   lua5.4 examples/rules/run.lua examples/pool_alert.lua
local R, engine = ...
local pct = tonumber(os.getenv("POOL_ALERT_PCT") or "80")
local days = tonumber(os.getenv("POOL_ALERT_DAYS") or "3")

local function pool_expires_within(_, ctx)
  local p = ctx.pool
  if not (p and p.expires) then return false, nil end
  local left = (p.expires - ctx.now) / 86400
  return left >= 0 and left <= days, left
end

local actions = { R.alert { message = "pool nearly used or expiring" } }
if os.getenv("ALERT_WEBHOOK") then
  actions[#actions + 1] = R.webhook { url = os.getenv("ALERT_WEBHOOK"), secret = os.getenv("ALERT_WEBHOOK_SECRET") }
end

engine:rule {
  name = "pool-alert",
  match = function(card) return card.pool ~= nil end,
  when = R.any { R.pool_used_above { ratio = pct / 100 }, pool_expires_within },
  actions = actions,
  rearm = "next_day",
}
