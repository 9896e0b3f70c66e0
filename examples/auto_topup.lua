#!/usr/bin/env lua5.4
--- Auto top-up (EIOTCLUB): order a data package for every active card whose
-- remaining data is below a threshold. Safe to run from cron repeatedly:
-- the order key (outTradeNo) is derived from the card and the day, so a
-- second run the same day can never buy twice (the vendor answers "already
-- exists" and simkit reports the existing order).
--
-- Environment: EIOTCLUB_BASE_URL, EIOTCLUB_APPKEY, EIOTCLUB_SECRET,
-- TOPUP_THRESHOLD_MB (default 200), TOPUP_DRY_RUN=1 to only print.
local simkit = require "simkit"

local base_url = os.getenv("EIOTCLUB_BASE_URL") or "https://oapi.eiotclub.com"
local appkey = os.getenv("EIOTCLUB_APPKEY") or error("set EIOTCLUB_APPKEY")
local secret = os.getenv("EIOTCLUB_SECRET") or error("set EIOTCLUB_SECRET")
local threshold = tonumber(os.getenv("TOPUP_THRESHOLD_MB") or "200")
local dry_run = os.getenv("TOPUP_DRY_RUN") == "1"

local eiot = simkit.client("eiotclub", { appkey = appkey, secret = secret, base_url = base_url, timeout = 10 })

local function cheapest_package(iccid)
  local pkgs, err = eiot:list_order_package_by_iccid { iccid = iccid }
  if not pkgs then return nil, err end
  local best
  for _, p in ipairs(type(pkgs) == "table" and pkgs or {}) do
    if p.packageType == 2 and (not best or p.price < best.price) then best = p end
  end
  return best
end

local checked, low, ordered, failed = 0, 0, 0, 0
for card, err in eiot:pages("get_all_card_info", { cardStatus = "ACTIVATED_NAME" }) do
  if not card then
    io.stderr:write("listing cards failed: ", tostring(err), "\n")
    os.exit(1)
  end
  checked = checked + 1
  local info, ierr = eiot:get_cards_info { iccid = card.iccid }
  if not info then
    failed = failed + 1
    print(("%s  cannot read usage: %s"):format(card.iccid, tostring(ierr)))
  elseif type(info) == "table" and tonumber(info.remainFlow) and tonumber(info.remainFlow) < threshold then
    low = low + 1
    local pkg, perr = cheapest_package(card.iccid)
    if not pkg then
      print(("%s  %.1f MB left, no package to order (%s)"):format(card.iccid, info.remainFlow, tostring(perr)))
    elseif dry_run then
      print(("%s  %.1f MB left, would order %s"):format(card.iccid, info.remainFlow, pkg.packageCode))
    else
      -- one intent per card per day: the key makes the order idempotent
      local key = ("topup%s%s"):format(card.iccid:sub(-12), os.date("!%Y%m%d"))
      local order, oerr = eiot:order_package { iccid = card.iccid, packageCode = pkg.packageCode, outTradeNo = key }
      if order and order._simkit and order._simkit.duplicate then
        print(("%s  %.1f MB left, already ordered today (outTradeNo %s): not bought again"):format(card.iccid,
          info.remainFlow, key))
      elseif order then
        ordered = ordered + 1
        print(("%s  %.1f MB left, ordered %s (outTradeNo %s)"):format(card.iccid, info.remainFlow,
          pkg.packageCode, key))
      else
        failed = failed + 1
        print(("%s  order failed: %s"):format(card.iccid, tostring(oerr)))
      end
    end
  end
end
print(("checked %d cards: %d low, %d ordered, %d failures"):format(checked, low, ordered, failed))
os.exit(failed == 0 and 0 or 1)
