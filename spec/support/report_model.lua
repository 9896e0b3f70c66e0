--- A report data model shaped like the fleet's cards and pools, the rules'
-- audit lines and usage snapshots (for spec/report_spec.lua and the
-- rendering in docs/report.png). Deterministic: no clock, no randomness.
local M = {}

local DAY = 86400
M.NOW = 1796256000 -- 2026-12-03 00:00 UTC

local function card(vendor, iccid, status, used, limit, pool)
  return { vendor = vendor, iccid = iccid, status = status, pool = pool,
    usage = { used_mb = used, limit_mb = limit, left_mb = limit and (limit - used) or nil, period = "month" } }
end

function M.model()
  local cards = {
    card("eiotclub", "89852012345678900001", "active", 1234.56, 5120, "P-EU"),
    card("eiotclub", "89852012345678900002", "active", 300, 1024, "P-EU"),
    card("eiotclub", "89852012345678900003", "active", 980, 1024, "P-EU"),
    card("eiotclub", "89852012345678900004", "suspended", 2048, 2048),
    card("huawei", "89860321000000000001", "active", 12.5, 30, "9007199254745001"),
    card("huawei", "89860121000000000002", "active", 25.75, 30, "9007199254745001"),
    card("huawei", "89860421000000000006", "active", 3.2, 30),
    card("huawei", "89860321000000000005", "inactive", 0, 30),
    card("tibiot", "89861122334455667701", "active", 700, 1024, "UP10000001"),
    card("tibiot", "89861122334455667702", "testing", 40, nil),
  }
  local history = {}
  for i, c in ipairs(cards) do
    local used = c.usage.used_mb
    local rate = used / (10 + i) -- MB per day
    history[c.iccid] = { { time = M.NOW - 6 * DAY, used_mb = used - 6 * rate }, { time = M.NOW, used_mb = used } }
  end
  local pools = {
    { vendor = "eiotclub", id = "P-EU", name = "Europe 10 GB", used_mb = 2514.56, limit_mb = 10240, left_mb = 7725.44, cards = 3 },
    { vendor = "huawei", id = 9007199254745001, name = "CN shared 60 MB", used_mb = 38.25, limit_mb = 60, left_mb = 21.75,
      cards = 2 },
    { vendor = "tibiot", id = "UP10000001", name = "UP10000001", used_mb = 700, limit_mb = 1024, left_mb = 324, cards = 1 },
  }
  local audit = {}
  local rules = { "topup-when-low", "month-ladder", "pool-alert" }
  for d = 13, 0, -1 do
    for r, name in ipairs(rules) do
      local t = M.NOW - d * DAY + r * 600
      for k = 1, (d + r) % 4 do
        audit[#audit + 1] = { time = t + k, rule = name, iccid = cards[k].iccid, vendor = cards[k].vendor,
          decision = "skipped", reason = "not armed" }
      end
      if (d + r) % 3 == 0 then
        audit[#audit + 1] = { time = t + 10, rule = name, iccid = cards[r].iccid, vendor = cards[r].vendor,
          decision = "fired", action = name == "topup-when-low" and "topup" or "alert", key = name .. ":" .. d }
      end
      if d == 4 and r == 2 then
        audit[#audit + 1] = { time = t + 20, rule = name, iccid = cards[5].iccid, vendor = "huawei", decision = "failed",
          action = "speed", error = { kind = "vendor", code = "GSL.0001" } }
      end
    end
  end
  local orders = {
    { time = M.NOW - 2 * DAY, iccid = cards[3].iccid, vendor = "eiotclub", package = "GJ-LLB-1G-30-1US-DN",
      order_id = "10004711", status = "confirmed", cost = 4.5, currency = "USD" },
    { time = M.NOW - 9 * DAY, iccid = cards[2].iccid, vendor = "eiotclub", package = "GJ-LLB-1G-30-1US-DN",
      order_id = "10004702", status = "confirmed", cost = 4.5, currency = "USD" },
  }
  return { title = "simkit fleet report — example model", now = M.NOW, cards = cards, pools = pools,
    history = history, audit = audit, orders = orders }
end

return M
