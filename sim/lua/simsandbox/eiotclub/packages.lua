--- EIOTCLUB sandbox: packages, orders, refunds, transfers and eSIM goods.
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local M = require "simsandbox.eiotclub.model"
local N = require "simsandbox.eiotclub.notify"
local cards = require "simsandbox.eiotclub.cards"

local floor = math.floor
local format, find = string.format, string.find
local ipairs, pairs = ipairs, pairs
local fail = C.fail

local H = {}

local reg = C.registrar(H)

--- An outTradeNo: 1-32 printable ASCII characters, no comma or space.
function H.trade_no(ctx, name)
  local v = C.str(ctx, name)
  if not v or #v > 32 or not find(v, "^[!-~]+$") or find(v, ",", 1, true) then fail("42001") end
  return v
end

local function order_id(ctx, name)
  local v = C.str(ctx, name or "orderId")
  if not v or not find(v, "^%d+$") or #v > 15 then fail("42003") end
  return tonumber(v)
end

local function remark(ctx, max_len)
  local r = ctx.p.remark
  if type(r) ~= "string" or r == "" then fail("45106") end
  if max_len and C.ulen(r) > max_len then fail("43332", "remark longer than " .. max_len) end
  return r
end
H.remark = remark

local function zone_copy(z, with_img)
  local out = { name = z.name, countries = util.array() }
  if with_img then out.img = z.img end
  for i, c in ipairs(z.countries) do
    local ops = util.array()
    for j, op in ipairs(c.operators) do ops[j] = { name = op.name, networkType = op.networkType } end
    out.countries[i] = { name = c.name, operators = ops }
    if with_img then out.countries[i].img = c.img end
  end
  return out
end
H.zone_copy = zone_copy

----------------------------------------------------------------------------
-- catalog

reg("/api/v3/package/listOrderPackageByIccid", "list_order_package_by_iccid", function(ctx)
  local card = cards.card(ctx)
  local out = util.array()
  for _, p in ipairs(S.package_list) do
    if p.productCode == card.productCode then
      out[#out + 1] = {
        operator = p.operator, packageCode = p.packageCode, packageName = p.packageName,
        productCode = p.productCode, price = C.units(p.price), packageType = p.packageType,
        gzhPrice = C.units(p.gzhPrice), gzhPackageName = p.gzhPackageName, gzhStatus = p.gzhStatus,
        flowSize = p.flowSize, periodSize = p.periodSize, periodType = p.periodType,
      }
    end
  end
  return out
end)

reg("/api/v3/package/listOrderPackageByProduct", "list_order_package_by_product", function(ctx)
  local code = C.str(ctx, "productCode")
  if not code then fail("43332", "productCode is empty") end
  if not S.products[code] then fail("45108", code) end
  local list = util.array()
  for _, p in ipairs(S.package_list) do
    if p.productCode == code then
      list[#list + 1] = {
        packageCode = p.packageCode, packageName = p.packageName, price = p.price,
        packageType = p.packageType, flowSize = p.flowSize, periodSize = p.periodSize,
        periodType = p.periodType, zone = zone_copy(p.zone, true),
      }
    end
  end
  return { list = list }
end)

reg("/api/v3/package/queryOrderPackageByPackageCode", "query_order_package_by_package_code", function(ctx)
  local code = C.str(ctx, "packageCode")
  if not code then fail("42022") end
  local p = S.packages[code]
  if not p then fail("42007", code) end
  return {
    packageCode = p.packageCode, packageName = p.packageName, packageType = p.packageType,
    flowSize = p.flowSize, periodSize = p.periodSize, periodType = p.periodType,
    zone = zone_copy(p.zone, false),
  }
end)

----------------------------------------------------------------------------
-- ordering

reg("/api/v3/package/orderPackage", "order_package", function(ctx)
  local card = cards.card(ctx)
  local code = C.str(ctx, "packageCode")
  if not code then fail("41018", "packageCode is empty") end
  local otn = H.trade_no(ctx, "outTradeNo")
  if S.orders_by_otn[otn] then fail("42002", otn) end
  local pkg = S.packages[code]
  if not pkg then fail("41018", code) end
  if pkg.productCode ~= card.productCode then fail("41050") end
  if card.status == "RETIRED_NAME" then fail("41036", "card retired") end
  if S.balance < pkg.price then fail("45112") end
  S.balance = S.balance - pkg.price
  local o = S.new_order(card, pkg, { outTradeNo = otn, createDate = floor(ctx.now),
    updateDate = floor(ctx.now) })
  S.add_order(o)
  N.send("SubPkgList", { data = util.array({ M.pkg_item(o) }) })
  if not M.current(card) and (card.status == "ACTIVATED_NAME" or card.status == "DEACTIVATED_NAME") then
    M.activate(o, ctx.now)
  end
  return { orderNumber = o.orderNumber, orderId = o.orderId }
end)

local function card_order(ctx)
  local card = cards.card(ctx)
  local id = order_id(ctx)
  local o = S.orders[id]
  if not o or o.iccid ~= card.iccid then fail("42004", tostring(id)) end
  return o, card
end

reg("/api/v3/package/queryPackage", "query_package", function(ctx)
  local o = card_order(ctx)
  return { status = o.status }
end)

reg("/api/v3/package/queryRefundAmount", "query_refund_amount", function(ctx)
  local o = card_order(ctx)
  local cents = 0
  if o.isRefund == 0 and o.state ~= 2 then
    cents = M.refund_amount(o, S.packages[o.packageCode], o.flow_total_bytes, ctx.now)
  end
  return { amount = C.money(cents), currency = o.currency, amount_int = cents }
end)

reg("/api/v3/package/refundPackage", "refund_package", function(ctx)
  local o = card_order(ctx)
  local r = remark(ctx, 200)
  if o.isRefund == 1 or o.state == 2 then fail("42008") end
  M.refund(o, ctx.now, r)
  return util.object()
end)

----------------------------------------------------------------------------
-- order queries

local function id_set(ctx, name, digits)
  local l = C.list(ctx, name)
  if l == false then fail(digits and "42003" or "43332", name) end
  if not l then return nil, 0 end
  local set = {}
  for _, v in ipairs(l) do
    if digits and not find(v, "^%d+$") then fail("42003", v) end
    set[digits and tonumber(v) or v] = true
  end
  return set, #l
end

local function state_filter(ctx)
  local st = C.int(ctx, "state")
  if st == false or (st and (st < 0 or st > 2)) then fail("43332", "state") end
  return st
end

local function time_filter(ctx, name)
  local v = C.str(ctx, name)
  if v == nil then return nil end
  local t = v and C.parse_dt(v)
  if not t then fail("42409", name) end
  return t
end

reg("/api/v3/package/packageOrderRecord", "package_order_record", function(ctx)
  local card = cards.card(ctx)
  local st = state_filter(ctx)
  local states = id_set(ctx, "stateArrStr", true)
  local ids = id_set(ctx, "orderIdArrStr", true)
  local cs, ce = time_filter(ctx, "createDateStart"), time_filter(ctx, "createDateEnd")
  local us, ue = time_filter(ctx, "updateDateStart"), time_filter(ctx, "updateDateEnd")
  local order_by = C.str(ctx, "orderBy")
  if order_by ~= nil and order_by ~= "createDateDesc" then fail("43332", "orderBy") end
  local page = C.int(ctx, "page")
  if page == false or (page and page < 1) then fail("42403") end
  local size = cards.page_size(ctx, "pageSize", 100)
  local list = {}
  for _, o in ipairs(M.card_orders(card)) do
    if (st == nil or o.state == st) and (not states or states[o.state])
      and (not ids or ids[o.orderId])
      and (not cs or o.createDate >= cs) and (not ce or o.createDate <= ce)
      and (not us or o.updateDate >= us) and (not ue or o.updateDate <= ue) then
      list[#list + 1] = o
    end
  end
  table.sort(list, function(a, b)
    if a.createDate ~= b.createDate then
      if order_by then return a.createDate > b.createDate end
      return a.createDate < b.createDate
    end
    if order_by then return a.orderId > b.orderId end
    return a.orderId < b.orderId
  end)
  local slice = C.page(list, page or 1, size)
  for i, o in ipairs(slice) do slice[i] = M.order_record(o) end
  return slice, { total = #list }
end)

reg("/api/v3/package/getOrderPackageDetails", "get_order_package_details", function(ctx)
  local numbers, n1 = id_set(ctx, "orderNumberArrStr", false)
  local otns, n2 = id_set(ctx, "outTradeNoArrStr", false)
  if n1 + n2 > 50 then fail("42009") end
  if not numbers and not otns then fail("43332", "orderNumberArrStr or outTradeNoArrStr required") end
  local st = state_filter(ctx)
  if st == nil then fail("43332", "state is required") end
  local page = C.int(ctx, "page")
  if not page or page < 1 then fail("42403") end
  local size = cards.page_size(ctx, "pageSize", nil, 50, true)
  local list = {}
  for _, o in ipairs(S.order_list) do
    if o.state == st and ((numbers and numbers[o.orderNumber]) or (otns and o.outTradeNo and otns[o.outTradeNo])) then
      list[#list + 1] = o
    end
  end
  local slice = C.page(list, page, size)
  for i, o in ipairs(slice) do slice[i] = M.order_detail(o) end
  return slice
end)

----------------------------------------------------------------------------
-- transfer

reg("/api/v3/card/transferPkg", "transfer_pkg", function(ctx)
  local old = cards.card(ctx, "oldIccid")
  local new = cards.card(ctx, "newIccid")
  if old.iccid == new.iccid then fail("43332", "oldIccid equals newIccid") end
  local o
  local oid = C.str(ctx, "orderId")
  if oid then
    o = S.orders[order_id(ctx)]
  else
    local number = C.str(ctx, "orderNumber")
    if not number then fail("42003") end
    o = S.orders_by_number[number]
  end
  if not o or o.iccid ~= old.iccid then fail("42004") end
  if o.state == 2 or o.isRefund == 1 then fail("42006") end
  local pkg = S.packages[o.packageCode]
  if pkg.productCode ~= new.productCode then fail("41050") end
  if new.status == "RETIRED_NAME" then fail("41036", "card retired") end
  local was_current = o.state == 1
  o.state = 2
  o.transferredTo = new.iccid
  o.updateDate = floor(ctx.now)
  local n = S.new_order(new, pkg, {
    createDate = floor(ctx.now), updateDate = floor(ctx.now), price_cents = 0,
    flow_total_bytes = o.flow_total_bytes, used_bytes = o.used_bytes, salesChannel = "TRANSFER",
    fromIccid = old.iccid, fromOrderId = o.orderId, memo = C.str(ctx, "memo") or nil,
  })
  for k, v in pairs(o.alerts) do n.alerts[k] = v end
  S.add_order(n)
  S.transfers[#S.transfers + 1] = { from = old.iccid, to = new.iccid, orderId = o.orderId,
    newOrderId = n.orderId, time = ctx.now }
  N.send("SubPkgList", { data = util.array({ M.pkg_item(n) }) })
  if not M.current(new) and (new.status == "ACTIVATED_NAME" or new.status == "DEACTIVATED_NAME") then
    if was_current then n.endDate_fixed = o.endDate end
    M.activate(n, ctx.now)
  end
  if was_current then M.promote(old, ctx.now) end
  return { newPkgCode = n.packageCode, newOrderId = n.orderId }
end)

----------------------------------------------------------------------------
-- eSIM goods

local function goods_by_code(code)
  for _, g in ipairs(S.esim_goods) do
    if g.code == code then return g end
  end
end

reg("/api/v3/esim/goods", "esim_goods", function()
  local list = util.array()
  for _, g in ipairs(S.esim_goods) do
    local p = S.packages[g.packageCode]
    list[#list + 1] = {
      code = g.code, name = g.name, price = g.price,
      package = {
        packageCode = p.packageCode, packageName = p.packageName, productCode = p.productCode,
        packageType = p.packageType, flowSize = p.flowSize, periodSize = p.periodSize,
        periodType = p.periodType, zone = zone_copy(p.zone, true),
      },
    }
  end
  return { list = list }
end, { code_type = "int" })

reg("/api/v3/esim/purchase", "esim_purchase", function(ctx)
  local code = C.str(ctx, "eSIMGoodsCode")
  if not code or #code > 255 then fail("45109", "eSIMGoodsCode") end
  local otn = H.trade_no(ctx, "outTradeNo")
  if S.esim_orders_by_otn[otn] then fail("503016", otn) end
  local g = goods_by_code(code)
  if not g then fail("45109", code) end
  if g.stock <= 0 then fail("45110") end
  if S.balance < g.price then fail("45112") end
  S.balance = S.balance - g.price
  g.stock = g.stock - 1
  local n = S.seq.esim_card
  S.seq.esim_card = n + 1
  local pkg = S.packages[g.packageCode]
  local card = {
    iccid = format("%s%04d", "8985201234567891", n), imsi = format("4541234567891%02d", n % 100),
    msisdn = "", productCode = pkg.productCode, status = "ACTIVATION_READY_NAME",
    isRealName = 0, imei = "", eid = format("89049032000000000000000000%06d", n), remark = "",
    network = "", imeiPoolStatus = 0, imeiPoolUnlockCount = 0, total_used_bytes = 0, ordered = false,
  }
  S.add_card(card)
  local o = S.new_order(card, pkg, { price_cents = g.price, createDate = floor(ctx.now),
    updateDate = floor(ctx.now), salesChannel = "API" })
  S.add_order(o)
  N.send("SubPkgList", { data = util.array({ M.pkg_item(o) }) })
  local id = tostring(S.seq.esim)
  S.seq.esim = S.seq.esim + 1
  local eo = { orderId = id, outTradeNo = otn, goodsCode = g.code, iccid = card.iccid,
    activationCode = format("LPA:1$smdp.sandbox.eiotclub.invalid$%s", util.random_hex(24):upper()),
    status = 2, price_cents = g.price, createDate = floor(ctx.now), packageOrderId = o.orderId }
  S.esim_orders[id] = eo
  S.esim_orders_by_otn[otn] = eo
  S.esim_order_list[#S.esim_order_list + 1] = eo
  return { iccid = eo.iccid, activationCode = eo.activationCode, orderId = eo.orderId }
end, { code_type = "int" })

local function esim_order(ctx)
  local id = C.str(ctx, "orderId")
  if not id then fail("42003") end
  local eo = S.esim_orders[id]
  if not eo then fail("45111", id) end
  return eo
end

reg("/api/v3/esim/orderStatus", "esim_order_status", function(ctx)
  local eo = esim_order(ctx)
  local done = eo.status == 2 or eo.status == 3
  return { status = eo.status, iccid = done and eo.iccid or "", activationCode = done and eo.activationCode or "" }
end)

local function esim_refund_cents(eo, now)
  if eo.status ~= 2 then return 0 end
  local o = S.orders[eo.packageOrderId]
  if not o or o.isRefund == 1 then return 0 end
  return M.refund_amount(o, S.packages[o.packageCode], o.flow_total_bytes, now)
end

reg("/api/v3/esim/queryRefundAmount", "esim_query_refund_amount", function(ctx)
  local eo = esim_order(ctx)
  return { amount = esim_refund_cents(eo, ctx.now), currency = S.currency }
end)

reg("/api/v3/esim/refund", "esim_refund", function(ctx)
  local eo = esim_order(ctx)
  local r = remark(ctx)
  if eo.status ~= 2 then fail("45113") end
  local cents = esim_refund_cents(eo, ctx.now)
  eo.status = 3
  eo.refund_cents = cents
  eo.remark = r
  S.balance = S.balance + cents
  local o = S.orders[eo.packageOrderId]
  if o then
    o.isRefund, o.status, o.state, o.refund_cents = 1, -1, 2, cents
    o.updateDate = floor(ctx.now)
  end
  local card = S.cards[eo.iccid]
  if card then card.status = "RETIRED_NAME" end
  return util.object()
end, { code_type = "int" })

return H
