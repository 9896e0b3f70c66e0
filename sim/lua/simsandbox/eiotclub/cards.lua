--- EIOTCLUB sandbox: card business endpoints (card info, warnings, network,
-- IMEI pool, SMS, device binding, refresh guards, batch reset and tasks).
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local M = require "simsandbox.eiotclub.model"
local N = require "simsandbox.eiotclub.notify"

local format, find = string.format, string.find
local ipairs = ipairs
local fail = C.fail

local H = {}

local reg = C.registrar(H)

----------------------------------------------------------------------------
-- shared lookups

--- The physical card named by parameter `name` (default "iccid").
function H.card(ctx, name)
  local iccid = C.str(ctx, name or "iccid")
  if not iccid or not C.iccid_ok(iccid) then fail("41003") end
  local card = S.cards[iccid]
  if not card then fail("42405", iccid) end
  return card
end

local function page_num(ctx, name)
  local n = C.int(ctx, name)
  if not n or n < 1 then fail("42403") end
  return n
end

local function page_size(ctx, name, default, maximum, required)
  local n = C.int(ctx, name)
  if n == nil then
    if required then fail("42407") end
    return default
  end
  if not n or n < 1 or (maximum and n > maximum) then fail("42407") end
  return n
end
H.page_num, H.page_size = page_num, page_size

--- The 5-minute guard of refresh_usage / cancel_location (and the cloud twins).
function H.guard(op, key, now)
  local k = op .. ":" .. key
  local last = S.guards[k]
  if last and now - last < S.cfg.guard_seconds then fail("44001") end
  S.guards[k] = now
end

local STATUSES = { ACTIVATION_READY_NAME = true, NON_ACTIVATED_NAME = true, ACTIVATED_NAME = true,
  DEACTIVATED_NAME = true, RETIRED_NAME = true }
H.STATUSES = STATUSES

----------------------------------------------------------------------------
-- card info

reg("/api/v3/card/getAllCardInfo", "get_all_card_info", function(ctx)
  local page = page_num(ctx, "pageNum")
  local size = page_size(ctx, "pageSize", 500)
  local status = C.str(ctx, "cardStatus")
  if status ~= nil and not STATUSES[status] then fail("43332", "cardStatus") end
  local iccids = C.list(ctx, "iccids")
  if iccids == false then fail("41001") end
  local want
  if iccids then
    want = {}
    for _, i in ipairs(iccids) do
      if not C.iccid_ok(i) then fail("41001", i) end
      want[i] = true
    end
  end
  local list = {}
  for _, card in ipairs(S.card_list) do
    if (not status or card.status == status) and (not want or want[card.iccid]) then
      list[#list + 1] = card
    end
  end
  local slice, pages = C.page(list, page, size)
  for i, card in ipairs(slice) do slice[i] = M.card_view(card, true) end
  return { cardInfoList = slice, totalPage = pages }
end)

reg("/api/v3/card/getCardsInfo", "get_cards_info", function(ctx)
  return M.card_view(H.card(ctx), false)
end)

reg("/api/v3/card/refreshCard", "refresh_card", function(ctx)
  local card = H.card(ctx)
  card.refreshed_at = ctx.now
end, { no_data = true })

reg("/api/v3/card/product", "product", function(ctx)
  return { productCode = H.card(ctx).productCode }
end)

local WARN_VALUE = { 100, 10, 7 }

reg("/api/v3/outputApi/queryAccountWarningCard", "query_account_warning_card", function(ctx)
  local page = page_num(ctx, "pageNum")
  local typ = C.int(ctx, "type")
  if typ == false or (typ and (typ < 1 or typ > 3)) then fail("43332", "type") end
  local iccid = C.str(ctx, "iccid")
  if iccid == false or (iccid and not C.iccid_ok(iccid)) then fail("41003") end
  local items = {}
  for _, card in ipairs(S.card_list) do
    local o = card.status == "ACTIVATED_NAME" and M.current(card)
    if o and (not iccid or card.iccid == iccid) then
      local remain, total = M.remaining_bytes(o), o.flow_total_bytes
      local hits = {
        remain < 100 * C.MB,
        total > 0 and remain < total / 10,
        o.endDate and o.endDate - ctx.now < 7 * C.DAY,
      }
      for t = 1, 3 do
        if hits[t] and (not typ or typ == t) then
          items[#items + 1] = { iccid = card.iccid, type = tostring(t), earlyWarningValue = WARN_VALUE[t] }
        end
      end
    end
  end
  local slice, pages = C.page(items, page, 500)
  return { totalPage = pages, cardInfoList = slice }
end)

reg("/api/v3/outputApi/queryCardNumber", "query_card_number", function()
  local n = { totalCard = 0, activatedCard = 0, usingCard = 0, orderedCard = 0, deactivatedCard = 0 }
  for _, card in ipairs(S.card_list) do
    n.totalCard = n.totalCard + 1
    if card.activateDate then n.activatedCard = n.activatedCard + 1 end
    if card.status == "ACTIVATED_NAME" and M.current(card) then n.usingCard = n.usingCard + 1 end
    if card.ordered then n.orderedCard = n.orderedCard + 1 end
    if card.status == "DEACTIVATED_NAME" then n.deactivatedCard = n.deactivatedCard + 1 end
  end
  return n
end)

reg("/api/v3/outputApi/listProfitInfo", "list_profit_info", function(ctx)
  local page = page_num(ctx, "pageNum")
  local size = page_size(ctx, "pageSize", nil, nil, true)
  local param = C.str(ctx, "param")
  local product = C.str(ctx, "productCode")
  local from, to
  local sd, ed = C.str(ctx, "startDate"), C.str(ctx, "endDate")
  if sd then from = C.parse_dt(sd); if not from then fail("42409", "startDate") end end
  if ed then to = C.parse_dt(ed); if not to then fail("42409", "endDate") end end
  local wd = C.int(ctx, "ifWithdrawDeposit")
  if wd == false or (wd and (wd < 0 or wd > 3)) then fail("43332", "ifWithdrawDeposit") end
  local wt = C.int(ctx, "withdrawDepositType")
  if wt == false or (wt and wt ~= 1 and wt ~= 2) then fail("43332", "withdrawDepositType") end
  local number = C.str(ctx, "orderNumber")
  local list = {}
  for _, r in ipairs(S.profits) do
    if (not param or r.iccid == param or r.msisdn == param)
      and (not product or r.productCode == product)
      and (not from or r.createDate >= from) and (not to or r.createDate <= to)
      and (wd == nil or r.ifWithdrawDeposit == wd) and (wt == nil or r.withdrawDepositType == wt)
      and (not number or r.orderNumber == number) then
      list[#list + 1] = r
    end
  end
  table.sort(list, function(a, b) return a.createDate > b.createDate end)
  local slice = C.page(list, page, size)
  for i, r in ipairs(slice) do
    slice[i] = {
      id = r.id, iccid = r.iccid, platformId = r.platformId, orderId = r.orderId,
      incomeMoney = r.incomeMoney, actualProfit = r.actualProfit, childProfit = r.childProfit,
      company = r.company, type = r.type, createDate = C.dt(r.createDate), mem = r.mem,
      actualPrice = r.actualPrice, packageUserName = r.packageUserName,
      settleCurrency = r.settleCurrency, payCurrency = r.payCurrency, packageCode = r.packageCode,
      payRate = r.payRate, renew = r.renew,
    }
  end
  return { total = #list, data = slice }
end)

reg("/api/v3/agent/balance", "agent_balance", function()
  return { currency = S.currency, balance = C.money(S.balance) }
end)

----------------------------------------------------------------------------
-- network

reg("/api/v3/card/switchOptions", "switch_options", function(ctx)
  local card = H.card(ctx)
  local kind = S.products[card.productCode].kind
  local ops = util.array()
  for i, n in ipairs(S.NETWORKS[kind]) do ops[i] = n end
  return { operators = ops, network = card.network }
end)

reg("/api/v3/card/switchOperator", "switch_operator", function(ctx)
  local card
  local iccid, imsi = C.str(ctx, "iccid"), C.str(ctx, "imsi")
  if iccid then
    card = H.card(ctx)
  elseif imsi then
    if not find(imsi, "^%d+$") or #imsi < 14 or #imsi > 15 then fail("41013") end
    card = S.cards_by_imsi[imsi]
    if not card then fail("42405", imsi) end
  else
    fail("41003", "iccid or imsi required")
  end
  local network = C.str(ctx, "network")
  if not network then fail("41014") end
  if card.status ~= "ACTIVATED_NAME" then fail("45105") end
  local allowed = false
  for _, n in ipairs(S.NETWORKS[S.products[card.productCode].kind]) do
    if n == network then allowed = true end
  end
  if not allowed then fail("45107", network) end
  card.network = network
end, { no_data = true })

----------------------------------------------------------------------------
-- IMEI pool lock

reg("/api/v3/card/imeiUnlock", "imei_unlock", function(ctx)
  local card = H.card(ctx)
  if card.last_unlock and ctx.now - card.last_unlock < S.cfg.guard_seconds then fail("45102") end
  if not card.plockGroupId or card.imeiPoolStatus ~= 1 then fail("45104") end
  if card.imeiPoolUnlockCount >= S.cfg.unlock_limit then fail("45103") end
  card.imeiPoolStatus = 0
  card.imeiPoolUnlockCount = card.imeiPoolUnlockCount + 1
  card.last_unlock = ctx.now
  N.send("IMEIUnLock", { iccid = card.iccid })
  return { imeiPoolUnlockCount = card.imeiPoolUnlockCount }
end)

reg("/api/v3/card/plockAddImei", "plock_add_imei", function(ctx)
  local imei = C.str(ctx, "imei")
  if not imei or not C.imei_ok(imei) then fail("41015") end
  local gid = C.int(ctx, "plockGroupId")
  if not gid then fail("43332", "plockGroupId") end
  local pool = S.imei_pools[gid]
  if not pool then fail("42408") end
  for _, i in ipairs(pool.imeis) do
    if i == imei then return util.object() end
  end
  pool.imeis[#pool.imeis + 1] = imei
  return util.object()
end)

----------------------------------------------------------------------------
-- SMS, device binding

reg("/api/v3/sms/sendSms", "sms_send_sms", function(ctx)
  local text = ctx.p.message
  if type(text) ~= "string" or text == "" or C.ulen(text) > 300 then fail("42000") end
  local card = H.card(ctx)
  if card.status == "RETIRED_NAME" then fail("45101", "card retired") end
  local id = format("SMS%010d", S.seq.sms)
  S.seq.sms = S.seq.sms + 1
  S.sms[#S.sms + 1] = { trans_id = id, iccid = card.iccid, message = text, time = ctx.now }
  return { trans_id = id }
end)

reg("/api/v3/card/bindDevice", "bind_device", function(ctx)
  local card = H.card(ctx)
  local imei = C.str(ctx, "imei")
  if not imei or not C.imei_ok(imei) then fail("41015") end
  card.imei = imei
  card.bound = true
end, { no_data = true })

reg("/api/v3/card/unbindDevice", "unbind_device", function(ctx)
  local card = H.card(ctx)
  card.imei = ""
  card.bound = false
end, { no_data = true })

----------------------------------------------------------------------------
-- refresh guards

reg("/api/v3/card/refreshUsage", "refresh_usage", function(ctx)
  local card = H.card(ctx)
  H.guard("refresh_usage", card.iccid, ctx.now)
end, { no_data = true })

reg("/api/v3/card/cancelLocation", "cancel_location", function(ctx)
  local card = H.card(ctx)
  H.guard("cancel_location", card.iccid, ctx.now)
end, { no_data = true })

----------------------------------------------------------------------------
-- batch reset and tasks

reg("/api/v3/card/reset", "reset", function(ctx)
  local iccids = C.list(ctx, "iccids")
  if not iccids then fail("41001") end
  if #iccids > 100 then fail("41007") end
  for _, i in ipairs(iccids) do
    if not C.iccid_ok(i) then fail("41001", i) end
    if not S.cards[i] then fail("42405", i) end
  end
  local id = tostring(S.seq.task)
  S.seq.task = S.seq.task + 1
  local t = { id = id, created = ctx.now, iccids = iccids,
    result = format("success: %d cards reset", #iccids) }
  S.tasks[id] = t
  S.task_list[#S.task_list + 1] = t
end, { no_data = true })

--- Task status by age: "0" waiting (< 2 s), "1" running (< 5 s), then "2".
function H.task_status(t, now)
  if t.fixed then return t.fixed end
  local age = now - t.created
  if age < 2 then return "0" end
  if age < 5 then return "1" end
  return "2"
end

reg("/api/v3/task/query", "task_query", function(ctx)
  local ids = C.list(ctx, "ids")
  if ids == nil then fail("43332", "ids is empty") end
  if ids == false then fail("43332", "ids") end
  if #ids > 100 then fail("41007") end
  local out = util.array()
  for _, id in ipairs(ids) do
    local t = S.tasks[id]
    if t then
      local st = H.task_status(t, ctx.now)
      out[#out + 1] = { id = t.id, status = st,
        result = (st == "2" or t.fixed) and t.result or "" }
    end
  end
  return out
end, { no_message = true })

return H
