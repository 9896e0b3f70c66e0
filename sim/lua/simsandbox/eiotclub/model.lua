--- EIOTCLUB sandbox: package lifecycle, usage, refunds and the views the
-- endpoints answer with.
--
-- A card has at most one package in use (state 1); packages ordered while
-- one is in use wait (state 0) and take effect, in order, when it ends (used
-- up, expired, refunded or transferred away). A card that has never been
-- used (ACTIVATION_READY_NAME / NON_ACTIVATED_NAME) keeps its packages
-- pending until its first data session. A card left with no package stops
-- (DEACTIVATED_NAME, CardStopped) and comes back with the next order.
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local N = require "simsandbox.eiotclub.notify"

local floor, max, min = math.floor, math.max, math.min
local sort = table.sort
local ipairs = ipairs

local M = {}

local MB, DAY = C.MB, C.DAY
local KIND = { [2] = 0, [3] = 1, [4] = 2 }

----------------------------------------------------------------------------
-- physical cards

local NONE = {}

function M.current(card)
  for _, o in ipairs(S.orders_by_iccid[card.iccid] or NONE) do
    if o.state == 1 then return o end
  end
end

function M.pending(card)
  local out = {}
  for _, o in ipairs(S.orders_by_iccid[card.iccid] or NONE) do
    if o.state == 0 then out[#out + 1] = o end
  end
  sort(out, function(a, b) return a.orderId < b.orderId end)
  return out
end

function M.card_orders(card)
  local out = {}
  for i, o in ipairs(S.orders_by_iccid[card.iccid] or NONE) do out[i] = o end
  return out
end

--- Notification item for a package (SubPkgList, PkgEffective, PkgQuantityList).
function M.pkg_item(o, with_dates)
  local pkg = S.packages[o.packageCode]
  local item = {
    iccid = o.iccid, orderId = o.orderId, packageName = pkg.packageName,
    packageCode = o.packageCode, state = o.state, gzhPackageName = pkg.gzhPackageName,
    packageType = pkg.packageType, createDate = C.dt(o.createDate), salesChannel = o.salesChannel,
  }
  if o.outTradeNo and o.outTradeNo ~= "" then item.outTradeNo = o.outTradeNo end
  if o.fromIccid then item.fromIccid = o.fromIccid; item.fromOrderId = o.fromOrderId end
  if with_dates then item.startDate = C.dt(o.startDate); item.endDate = C.dt(o.endDate) end
  return item
end

local function stop_card(card, now)
  if card.status == "ACTIVATED_NAME" then
    card.status = "DEACTIVATED_NAME"
    card.stopped_at = now
    N.send("CardStopped", { iccid = card.iccid }, { now = now })
  end
end

--- Put `o` in use from `at`.
function M.activate(o, at)
  local pkg = S.packages[o.packageCode]
  o.state = 1
  o.startDate = floor(at)
  o.endDate = o.endDate_fixed or (o.startDate + S.period_seconds(pkg))
  o.endDate_fixed = nil
  o.updateDate = floor(at)
  local card = S.cards[o.iccid]
  if card and card.status == "DEACTIVATED_NAME" then card.status = "ACTIVATED_NAME" end
  N.send("PkgEffective", { data = M.pkg_item(o, true) }, { now = at })
end

--- After the package in use ended: the next pending one, or the card stops.
function M.promote(card, at)
  if M.current(card) then return end
  if card.status ~= "ACTIVATED_NAME" and card.status ~= "DEACTIVATED_NAME" then return end
  local nxt = M.pending(card)[1]
  if nxt then
    M.activate(nxt, at)
  else
    stop_card(card, at)
  end
end

--- End a package (used up / expired): state 2, PkgQuantityList, promote.
function M.finish(o, at, quiet)
  o.state = 2
  o.updateDate = floor(at)
  if not quiet then
    N.send("PkgQuantityList", { data = util.array({ M.pkg_item(o) }) }, { now = at })
  end
  local card = S.cards[o.iccid]
  if card then M.promote(card, at) end
end

local function remaining_bytes(o)
  return max(0, o.flow_total_bytes - o.used_bytes)
end
M.remaining_bytes = remaining_bytes

--- FlowAlert checks after usage changed.
local function alerts(o, at, event, key, id)
  local total = o.flow_total_bytes
  local remain = remaining_bytes(o)
  if remain < 100 * MB and not o.alerts[1] then
    o.alerts[1] = true
    N.send(event, { [key] = id, alert_type = 1, alert_value = "100" }, { now = at })
  end
  if total > 0 and remain < total / 10 and not o.alerts[2] then
    o.alerts[2] = true
    N.send(event, { [key] = id, alert_type = 2, alert_value = "10" }, { now = at })
  end
end

--- A data session of `bytes` on a physical card. Returns true, or nil and why.
function M.consume(card, bytes, at, imei, mccmnc)
  if card.status == "RETIRED_NAME" then return nil, "card is retired" end
  if card.status == "ACTIVATION_READY_NAME" or card.status == "NON_ACTIVATED_NAME" then
    if not M.current(card) and not M.pending(card)[1] and not card.pool_id then
      return nil, "card has no package"
    end
    card.status = "ACTIVATED_NAME"
    card.activateDate = floor(at)
    if not M.current(card) and M.pending(card)[1] then M.activate(M.pending(card)[1], at) end
  end
  local pool_rec = card.pool_id and M.pool_active_record(S.pools[card.pool_id])
  local o = M.current(card)
  if not pool_rec and not o then return nil, "card has no usable package" end
  S.add_cdr(card, at - 60, at, bytes, imei or card.imei, mccmnc)
  card.total_used_bytes = card.total_used_bytes + bytes
  if pool_rec then
    pool_rec.used = min(pool_rec.total, pool_rec.used + bytes)
    return true
  end
  local pkg = S.packages[o.packageCode]
  o.used_bytes = o.used_bytes + bytes
  if pkg.packageType ~= 4 and o.used_bytes > o.flow_total_bytes then o.used_bytes = o.flow_total_bytes end
  o.updateDate = floor(at)
  alerts(o, at, "FlowAlert", "iccid", card.iccid)
  if pkg.packageType ~= 4 and o.used_bytes >= o.flow_total_bytes then M.finish(o, at) end
  return true
end

--- Refundable amount in cents (rules of query_refund_amount / refundPackage).
function M.refund_amount(o, pkg, total_bytes, at)
  if at - o.createDate <= DAY then return o.price_cents end
  local ratio = 1
  if o.state == 1 and o.startDate and o.endDate and o.endDate > o.startDate then
    local total_days = floor((o.endDate - o.startDate) / DAY + 0.5)
    local unused_days = max(0, floor((o.endDate - at) / DAY))
    ratio = total_days > 0 and min(1, unused_days / total_days) or 0
    if pkg.packageType == 2 and total_bytes > 0 then
      ratio = min(ratio, max(0, total_bytes - o.used_bytes) / total_bytes)
    end
  elseif o.state ~= 0 then
    ratio = 0
  end
  return floor(o.price_cents * ratio + 1e-9)
end

--- Refund a physical-card order: money back, Refund notification, promote.
function M.refund(o, at, remark)
  local was_current = o.state == 1
  local amount = M.refund_amount(o, S.packages[o.packageCode], o.flow_total_bytes, at)
  o.refund_cents = amount
  o.isRefund = 1
  o.status = -1
  o.state = 2
  o.remark = remark
  o.updateDate = floor(at)
  S.balance = S.balance + amount
  N.send("Refund", { iccid = o.iccid, orderId = o.orderId, outTradeNo = o.outTradeNo or "",
    orderAmount = C.money(o.price_cents), refundAmount = C.money(amount) }, { now = at })
  if was_current then
    local card = S.cards[o.iccid]
    if card then M.promote(card, at) end
  end
  return amount
end

--- Expected end of all the card's packages (in use + pending).
local function expected_end(cur, pend)
  local t = cur and cur.endDate or nil
  for _, o in ipairs(pend) do
    local pkg = S.packages[o.packageCode]
    t = (t or S.now_hint or 0) + S.period_seconds(pkg)
  end
  return t
end

--- get_cards_info / get_all_card_info view (`full` adds the list-only fields).
function M.card_view(card, full)
  local o = M.current(card)
  local pkg = o and S.packages[o.packageCode]
  local pend = M.pending(card)
  local total, remain = 0, 0
  if o then total, remain = o.flow_total_bytes, remaining_bytes(o) end
  local all_total, all_remain = total, remain
  for _, p in ipairs(pend) do
    all_total = all_total + p.flow_total_bytes
    all_remain = all_remain + remaining_bytes(p)
  end
  local month_remain = remain
  local pool_rec = card.pool_id and M.pool_active_record(S.pools[card.pool_id])
  if pool_rec then month_remain = max(0, pool_rec.total - pool_rec.used) end
  local v = {
    iccid = card.iccid, imsi = card.imsi, activateDate = C.dt(card.activateDate),
    cardStatus = card.status, isRealName = card.isRealName,
    monthRemainFlow = C.mb(month_remain), monthUseFlow = C.mb(o and o.used_bytes or 0),
    remainFlowType = card.pool_id and 1 or 0, productCode = card.productCode,
    packageEndDate = C.dt(o and o.endDate), dataFlow = C.mb(all_total), remainFlow = C.mb(all_remain),
    expectedEndDate = C.dt(expected_end(o, pend)),
    imeiPoolStatus = card.imeiPoolStatus, imeiPoolUnlockCount = card.imeiPoolUnlockCount,
    isIMEIPool = card.plockGroupId and 1 or 0, network = card.network,
    totalUseFlow = C.mb(card.total_used_bytes), packageCode = o and o.packageCode or "",
    packageKind = pkg and KIND[pkg.packageType] or 0,
  }
  if full then
    v.orderId = o and o.orderId or 0
    v.flowTotal = C.mb(total)
    v.flowRemain = C.mb(remain)
    v.packageType = pkg and pkg.packageType or 0
    v.packageName = pkg and pkg.packageName or ""
    v.gzhPackageName = pkg and pkg.gzhPackageName or ""
    v.imei = card.imei
  else
    v.eid = card.eid
    v.remark = card.remark
  end
  return v
end

--- package_order_record item.
function M.order_record(o)
  local pkg = S.packages[o.packageCode]
  return {
    packageName = pkg.packageName, iccid = o.iccid, state = o.state, price = C.units(o.price_cents),
    createDate = C.dt(o.createDate), startDate = C.dt(o.startDate), endDate = C.dt(o.endDate),
    flowTotal = C.mb(o.flow_total_bytes), gzhPackageName = pkg.gzhPackageName,
    totalActive = pkg.periodSize, currency = o.currency, orderId = o.orderId,
    packageCode = o.packageCode, renew = o.renew, packageType = pkg.packageType,
    isRefund = o.isRefund, periodType = pkg.periodType, outTradeNo = o.outTradeNo or "",
    updateDate = C.dt(o.updateDate), flowRemain = C.mb(remaining_bytes(o)),
    flowUsageBytes = o.used_bytes,
  }
end

--- get_order_package_details item.
function M.order_detail(o)
  local pkg = S.packages[o.packageCode]
  return {
    packageName = pkg.packageName, iccid = o.iccid, state = o.state, price = C.units(o.price_cents),
    createDate = C.dt(o.createDate), startDate = C.dt(o.startDate), endDate = C.dt(o.endDate),
    flowTotal = C.mb(o.flow_total_bytes), flowRemain = C.mb(remaining_bytes(o)),
    gzhPackageName = pkg.gzhPackageName, totalActive = pkg.periodSize, currency = o.currency,
    packageCode = o.packageCode, renew = o.renew, packageType = pkg.packageType,
    isRefund = o.isRefund, periodType = pkg.periodType, orderNumber = o.orderNumber,
    outTradeNo = o.outTradeNo or "",
  }
end

----------------------------------------------------------------------------
-- cloud eSIMs (sizes in bytes)

function M.cloud_current(ce)
  for _, o in ipairs(S.cloud_order_list) do
    if o.eid == ce.eid and o.state == 1 then return o end
  end
end

function M.cloud_pending(ce)
  local out = {}
  for _, o in ipairs(S.cloud_order_list) do
    if o.eid == ce.eid and o.state == 0 then out[#out + 1] = o end
  end
  sort(out, function(a, b) return a.eshopOrderId < b.eshopOrderId end)
  return out
end

function M.cloud_item(o, with_dates)
  local pkg = S.cloud_packages[o.packageCode]
  local item = {
    eid = o.eid, eshopOrderId = o.eshopOrderId, packageName = pkg.packageName,
    packageCode = o.packageCode, state = o.state, gzhPackageName = pkg.packageName,
    packageType = pkg.packageType, createDate = C.dt(o.createDate), salesChannel = o.salesChannel,
  }
  if o.outTradeNo and o.outTradeNo ~= "" then item.outTradeNo = o.outTradeNo end
  if o.fromEid then item.fromEid = o.fromEid; item.fromEshopOrderId = o.fromEshopOrderId end
  if with_dates then item.startDate = C.dt(o.startDate); item.endDate = C.dt(o.endDate) end
  return item
end

function M.cloud_activate(o, at)
  local pkg = S.cloud_packages[o.packageCode]
  o.state = 1
  o.startDate = floor(at)
  o.endDate = o.endDate_fixed or (o.startDate + pkg.periodSize * DAY)
  o.endDate_fixed = nil
  o.updateDate = floor(at)
  local ce = S.clouds[o.eid]
  if ce and (ce.status == "DEACTIVATED_NAME" or ce.status == "ACTIVATION_READY_NAME") then
    ce.status = "ACTIVATED_NAME"
    ce.activateDate = ce.activateDate or floor(at)
  end
  N.send("CloudESimPkgActivate", { data = M.cloud_item(o, true) }, { now = at })
end

function M.cloud_promote(ce, at)
  if M.cloud_current(ce) then return end
  local nxt = M.cloud_pending(ce)[1]
  if nxt then
    M.cloud_activate(nxt, at)
  elseif ce.status == "ACTIVATED_NAME" then
    ce.status = "DEACTIVATED_NAME"
    N.send("CloudESimCardStopped", { eid = ce.eid }, { now = at })
  end
end

function M.cloud_finish(o, at)
  o.state = 2
  o.updateDate = floor(at)
  N.send("CloudESimPkgDeactivate", { data = util.array({ M.cloud_item(o) }) }, { now = at })
  local ce = S.clouds[o.eid]
  if ce then M.cloud_promote(ce, at) end
end

function M.cloud_consume(ce, bytes, at, imei, mccmnc)
  local o = M.cloud_current(ce)
  if not o then
    local nxt = M.cloud_pending(ce)[1]
    if not nxt then return nil, "eSIM has no usable package" end
    M.cloud_activate(nxt, at)
    o = nxt
  end
  S.add_cdr(ce, at - 60, at, bytes, imei or ce.imei, mccmnc)
  o.used_bytes = min(o.flow_total_bytes, o.used_bytes + bytes)
  o.updateDate = floor(at)
  alerts(o, at, "CloudESimFlowAlert", "eid", ce.eid)
  if o.used_bytes >= o.flow_total_bytes then M.cloud_finish(o, at) end
  return true
end

function M.cloud_refund(o, at, remark)
  local was_current = o.state == 1
  local amount = M.refund_amount(o, S.cloud_packages[o.packageCode], o.flow_total_bytes, at)
  o.refund_cents = amount
  o.isRefund = 1
  o.status = 3
  o.state = 2
  o.remark = remark
  o.updateDate = floor(at)
  S.balance = S.balance + amount
  N.send("CloudESimRefund", { eid = o.eid, eshopOrderId = o.eshopOrderId, outTradeNo = o.outTradeNo or "",
    orderAmount = C.money(o.price_cents), refundAmount = C.money(amount) }, { now = at })
  if was_current then
    local ce = S.clouds[o.eid]
    if ce then M.cloud_promote(ce, at) end
  end
  return amount
end

function M.cloud_view(ce)
  local o = M.cloud_current(ce)
  local pkg = o and S.cloud_packages[o.packageCode]
  local total, remain = 0, 0
  local last_end = o and o.endDate
  for _, p in ipairs(M.cloud_pending(ce)) do
    total = total + p.flow_total_bytes
    remain = remain + remaining_bytes(p)
    last_end = (last_end or S.now_hint or 0) + S.cloud_packages[p.packageCode].periodSize * DAY
  end
  if o then
    total = total + o.flow_total_bytes
    remain = remain + remaining_bytes(o)
  end
  return {
    eid = ce.eid, cardStatus = ce.status, activateDate = C.dt(ce.activateDate),
    packageEndDate = C.dt(o and o.endDate),
    currentPkgRemainBytes = o and remaining_bytes(o) or 0,
    currentPkgUsedBytes = o and o.used_bytes or 0,
    currentPkgTotalBytes = o and o.flow_total_bytes or 0,
    totalFlowBytes = total, remainFlowBytes = remain, productCode = ce.productCode,
    expectedEndDate = C.dt(last_end), packageCode = o and o.packageCode or "",
    packageType = pkg and pkg.packageType or 0, packageName = pkg and pkg.packageName or "",
  }
end

function M.cloud_record(o)
  local pkg = S.cloud_packages[o.packageCode]
  return {
    eid = o.eid, packageCode = o.packageCode, packageType = pkg.packageType,
    packageName = pkg.packageName, orderId = o.eshopOrderId, gzhPackageName = pkg.packageName,
    state = o.state, price = C.units(o.price_cents), currency = o.currency,
    createDate = C.dt(o.createDate), startDate = C.dt(o.startDate), endDate = C.dt(o.endDate),
    totalActive = pkg.periodSize, periodType = pkg.periodType,
    flowTotalBytes = o.flow_total_bytes, flowRemainBytes = remaining_bytes(o),
    renew = o.renew, isRefund = o.isRefund, eshopOrderId = o.eshopOrderId,
  }
end

----------------------------------------------------------------------------
-- data pools

--- The pool's record in use (status_code 3), if any.
function M.pool_active_record(pool)
  if not pool then return nil end
  for _, r in ipairs(S.pool_records) do
    if r.pool_object_id == pool.pool_object_id and r.status_code == 3 then return r end
  end
end

function M.pool_view(p)
  local r = M.pool_active_record(p)
  local now = S.now_hint or 0
  local t = S.pool_types[p.pool_type_code]
  return {
    pool_object_id = p.pool_object_id, pool_lines = p.pool_lines, used_pool_lines = #p.card_order,
    total = r and r.total or 0, remain = r and max(0, r.total - r.used) or 0,
    total_active = t.total_active,
    available_days = r and max(0, floor((r.expire_timestamp - now) / DAY)) or 0,
    expire_timestamp = r and r.expire_timestamp or 0, status = p.status,
    create_at = p.create_at, memo = p.memo or "",
  }
end

----------------------------------------------------------------------------
-- time

--- Start pool `p`'s next pending subscription at time `t` (the
-- active one ended or was cancelled), or stop the pool when none is pending.
function M.pool_next(p, t)
  for _, q in ipairs(S.pool_records) do
    if q.pool_object_id == p.pool_object_id and q.status_code == 2 then
      q.status_code = 3
      q.active_timestamp = t
      q.expire_timestamp = t + S.pool_types[q.pool_type_code].total_active * DAY
      return
    end
  end
  p.status = -1
end

--- Bring the state up to `now`: expire packages and pool records, start the
-- pending ones. Called before every request and on /_sim/advance.
function M.tick(now)
  S.now_hint = now
  for _ = 1, 50 do
    local changed = false
    for _, o in ipairs(S.order_list) do
      if o.state == 1 and o.endDate and o.endDate <= now then
        M.finish(o, o.endDate)
        changed = true
      end
    end
    for _, o in ipairs(S.cloud_order_list) do
      if o.state == 1 and o.endDate and o.endDate <= now then
        M.cloud_finish(o, o.endDate)
        changed = true
      end
    end
    if not changed then break end
  end
  for _, r in ipairs(S.pool_records) do
    if r.status_code == 3 and r.expire_timestamp <= now then
      r.status_code = -2
      local p = S.pools[r.pool_object_id]
      if p then M.pool_next(p, r.expire_timestamp) end
    end
  end
end

return M
