#!/usr/bin/env lua5.4
--- Pool alert (EIOTCLUB): report every active traffic pool that has used
-- most of its data or is about to expire. Read-only; meant for cron or a
-- monitoring check. Exit status: 0 nothing to report, 2 at least one alert,
-- 1 the pools could not be read.
--
-- Environment: EIOTCLUB_BASE_URL, EIOTCLUB_APPKEY, EIOTCLUB_SECRET,
-- POOL_ALERT_PCT (default 80: alert at 80% of the data used),
-- POOL_ALERT_DAYS (default 3: alert when 3 days or fewer are left).
local simkit = require "simkit"

local base_url = os.getenv("EIOTCLUB_BASE_URL") or "https://oapi.eiotclub.com"
local appkey = os.getenv("EIOTCLUB_APPKEY") or error("set EIOTCLUB_APPKEY")
local secret = os.getenv("EIOTCLUB_SECRET") or error("set EIOTCLUB_SECRET")
local max_pct = tonumber(os.getenv("POOL_ALERT_PCT") or "80")
local min_days = tonumber(os.getenv("POOL_ALERT_DAYS") or "3")

local eiot = simkit.client("eiotclub", { appkey = appkey, secret = secret, base_url = base_url, timeout = 10 })

local data, err = eiot:pool_list {}
if not data then
  io.stderr:write("cannot list pools: ", tostring(err), "\n")
  os.exit(1)
end

local GIB = 1024 * 1024 * 1024
local active, alerts = 0, 0
for _, pool in ipairs(type(data) == "table" and data.list or {}) do
  if pool.status == 2 then -- activated
    active = active + 1
    local total, remain = tonumber(pool.total) or 0, tonumber(pool.remain) or 0
    local used_pct = total > 0 and (total - remain) * 100 / total or 0
    local why = {}
    if used_pct >= max_pct then why[#why + 1] = ("%.0f%% of the data used"):format(used_pct) end
    local days = tonumber(pool.available_days)
    if days and days <= min_days then why[#why + 1] = ("%d day(s) left"):format(days) end
    local line = ("pool %s (%s): %.2f of %.2f GiB left, %d/%d cards, %s day(s) left"):format(
      tostring(pool.pool_object_id), tostring(pool.memo or ""), remain / GIB, total / GIB,
      tonumber(pool.used_pool_lines) or 0, tonumber(pool.pool_lines) or 0, tostring(days or "?"))
    if #why > 0 then
      alerts = alerts + 1
      print("ALERT " .. line .. ": " .. table.concat(why, ", "))
    else
      print("ok    " .. line)
    end
  end
end
print(("%d active pool(s), %d alert(s)"):format(active, alerts))
os.exit(alerts > 0 and 2 or 0)
