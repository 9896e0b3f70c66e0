--- EIOTCLUB sandbox: Cloud eSIM endpoints (EIDs; sizes in bytes).
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local M = require "simsandbox.eiotclub.model"
local N = require "simsandbox.eiotclub.notify"
local cards = require "simsandbox.eiotclub.cards"
local packages = require "simsandbox.eiotclub.packages"

local floor = math.floor
local find = string.find
local ipairs, pairs = ipairs, pairs
local fail = C.fail

local H = {}

local reg = C.registrar(H)

--- The Cloud eSIM named by parameter `name` (default "eid").
local function esim(ctx, name)
  name = name or "eid"
  local eid = C.str(ctx, name)
  if not eid or not find(eid, "^%d+$") or #eid < 20 or #eid > 40 then fail("43332", name .. " is empty or malformed") end
  local ce = S.clouds[eid]
  if not ce then fail("900911", eid) end
  return ce
end

reg("/api/v3/cloudesim/list", "cloudesim_list", function(ctx)
  local page = cards.page_num(ctx, "pageNum")
  local size = cards.page_size(ctx, "pageSize", 500)
  local status = C.str(ctx, "cardStatus")
  if status ~= nil and not cards.STATUSES[status] then fail("43332", "cardStatus") end
  local eids = C.list(ctx, "eids")
  if eids == false then fail("43332", "eids") end
  local want
  if eids then
    want = {}
    for _, e in ipairs(eids) do want[e] = true end
  end
  local list = {}
  for _, ce in ipairs(S.cloud_list) do
    if (not status or ce.status == status) and (not want or want[ce.eid]) then list[#list + 1] = ce end
  end
  local slice, pages = C.page(list, page, size)
  for i, ce in ipairs(slice) do slice[i] = M.cloud_view(ce) end
  return { cardInfoList = slice, totalPage = pages }
end)

reg("/api/v3/cloudesim/get", "cloudesim_get", function(ctx)
  return M.cloud_view(esim(ctx))
end)

reg("/api/v3/cloudesim/pkg/list", "cloudesim_pkg_list", function(ctx)
  local ce = esim(ctx)
  local list = util.array()
  for _, p in ipairs(S.cloud_package_list) do
    if p.productCode == ce.productCode then
      list[#list + 1] = {
        price = p.price, flowSizeBytes = p.flowSizeBytes, packageCode = p.packageCode,
        productCode = p.productCode, packageName = p.packageName, packageType = p.packageType,
        periodSize = p.periodSize, periodType = p.periodType, zone = packages.zone_copy(p.zone, true),
      }
    end
  end
  return { list = list }
end)

local function time_filter(ctx, name)
  local v = C.str(ctx, name)
  if v == nil then return nil end
  local t = v and C.parse_dt(v)
  if not t then fail("42409", name) end
  return t
end

reg("/api/v3/cloudesim/pkg/record/list", "cloudesim_pkg_record_list", function(ctx)
  local ce = esim(ctx)
  local cs, ce_ = time_filter(ctx, "createDateStart"), time_filter(ctx, "createDateEnd")
  local us, ue = time_filter(ctx, "updateDateStart"), time_filter(ctx, "updateDateEnd")
  local ids
  local l = C.list(ctx, "orderIdArrStr")
  if l == false then fail("42003") end
  if l then
    ids = {}
    for _, v in ipairs(l) do
      if not find(v, "^%d+$") then fail("42003", v) end
      ids[tonumber(v)] = true
    end
  end
  local page = C.int(ctx, "page")
  if page == false or (page and page < 1) then fail("42403") end
  local size = cards.page_size(ctx, "pageSize", 500, 1000)
  local list = {}
  for _, o in ipairs(S.cloud_order_list) do
    if o.eid == ce.eid and (not ids or ids[o.eshopOrderId])
      and (not cs or o.createDate >= cs) and (not ce_ or o.createDate <= ce_)
      and (not us or o.updateDate >= us) and (not ue or o.updateDate <= ue) then
      list[#list + 1] = o
    end
  end
  local slice = C.page(list, page or 1, size)
  for i, o in ipairs(slice) do slice[i] = M.cloud_record(o) end
  return { list = slice, total = #list }
end)

reg("/api/v3/cloudesim/refreshUsage", "cloudesim_refresh_usage", function(ctx)
  local ce = esim(ctx)
  cards.guard("cloudesim_refresh_usage", ce.eid, ctx.now)
  return util.object()
end)

reg("/api/v3/cloudesim/cancelSession", "cloudesim_cancel_session", function(ctx)
  local ce = esim(ctx)
  cards.guard("cloudesim_cancel_session", ce.eid, ctx.now)
  return util.object()
end)

reg("/api/v3/cloudesim/purchase", "cloudesim_purchase", function(ctx)
  local ce = esim(ctx)
  local otn = packages.trade_no(ctx, "outTradeNo")
  local code = C.str(ctx, "packageCode")
  if not code then fail("41018", "packageCode is empty") end
  if S.cloud_orders_by_otn[otn] then fail("42002", otn) end
  local pkg = S.cloud_packages[code]
  if not pkg then fail("41018", code) end
  if pkg.productCode ~= ce.productCode then fail("41050") end
  if S.balance < pkg.price then fail("45112") end
  S.balance = S.balance - pkg.price
  local o = S.new_cloud_order(ce, pkg, { outTradeNo = otn, createDate = floor(ctx.now),
    updateDate = floor(ctx.now) })
  S.add_cloud_order(o)
  N.send("CloudESimSubPkgList", { data = util.array({ M.cloud_item(o) }) })
  if not M.cloud_current(ce) and ce.status ~= "ACTIVATION_READY_NAME" and ce.status ~= "NON_ACTIVATED_NAME" then
    M.cloud_activate(o, ctx.now)
  end
  return { outTradeNo = otn, orderId = o.orderId, eshopOrderId = o.eshopOrderId }
end)

--- The order named by eshopOrderId (preferred) or the deprecated orderId.
local function cloud_order(ctx)
  local eshop = C.int(ctx, "eshopOrderId")
  if eshop == false then fail("42003") end
  local o
  if eshop then
    o = S.cloud_orders[eshop]
  else
    local id = C.str(ctx, "orderId")
    if not id then fail("42003", "eshopOrderId or orderId required") end
    o = S.cloud_orders_by_id[id]
  end
  if not o then fail("42004") end
  return o
end

reg("/api/v3/cloudesim/orderStatus", "cloudesim_order_status", function(ctx)
  local o = cloud_order(ctx)
  return { status = o.status, eid = o.eid }
end)

local function refund_cents(o, now)
  if o.status ~= 2 or o.state == 2 then return 0 end
  return M.refund_amount(o, S.cloud_packages[o.packageCode], o.flow_total_bytes, now)
end

reg("/api/v3/cloudesim/queryRefundAmount", "cloudesim_query_refund_amount", function(ctx)
  local o = cloud_order(ctx)
  return { currency = o.currency, amount = refund_cents(o, ctx.now) }
end)

reg("/api/v3/cloudesim/refund", "cloudesim_refund", function(ctx)
  local r = packages.remark(ctx)
  local o = cloud_order(ctx)
  if o.status ~= 2 or o.state == 2 then fail("45113") end
  M.cloud_refund(o, ctx.now, r)
  return util.object()
end)

reg("/api/v3/cloudesim/transferPkg", "cloudesim_transfer_pkg", function(ctx)
  local old = esim(ctx, "oldEid")
  local new = esim(ctx, "newEid")
  if old.eid == new.eid then fail("43332", "oldEid equals newEid") end
  local id = C.int(ctx, "oldEshopOrderId")
  if not id then fail("42003") end
  local o = S.cloud_orders[id]
  if not o or o.eid ~= old.eid then fail("42004") end
  if o.state == 2 or o.isRefund == 1 then fail("42006") end
  local pkg = S.cloud_packages[o.packageCode]
  local was_current = o.state == 1
  o.state = 2
  o.transferredTo = new.eid
  o.updateDate = floor(ctx.now)
  local n = S.new_cloud_order(new, pkg, {
    createDate = floor(ctx.now), updateDate = floor(ctx.now), price_cents = 0,
    flow_total_bytes = o.flow_total_bytes, used_bytes = o.used_bytes, salesChannel = "TRANSFER",
    fromEid = old.eid, fromEshopOrderId = o.eshopOrderId, memo = C.str(ctx, "memo") or nil,
  })
  for k, v in pairs(o.alerts) do n.alerts[k] = v end
  S.add_cloud_order(n)
  N.send("CloudESimSubPkgList", { data = util.array({ M.cloud_item(n) }) })
  if not M.cloud_current(new) and new.status ~= "ACTIVATION_READY_NAME" then
    if was_current then n.endDate_fixed = o.endDate end
    M.cloud_activate(n, ctx.now)
  end
  if was_current then M.cloud_promote(old, ctx.now) end
  return { newPkgCode = n.packageCode, newEshopOrderId = n.eshopOrderId }
end)

return H
