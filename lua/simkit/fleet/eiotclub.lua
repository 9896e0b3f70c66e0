--- EIOTCLUB in the fleet model: the mapping (data) and the few calls that
-- fill it. Every field's source and the reasoning behind each choice are in
-- docs/fleet.md (seed lines of shared/seeds/eiotclub-apifox-export.txt).
--
-- Cards come from `get_all_card_info` (500 a page, every usage field
-- included: no per-card call); pool membership from `pool_list` +
-- `pool_card_list` (one call per non-empty pool). Text times are Beijing
-- time (UTC+8).
-- @module simkit.fleet.eiotclub
local C = require "simkit.fleet.common"

local V = { name = "eiotclub" }

--- Page size of get_all_card_info (the seed: "每页500条", L325; no maximum stated).
V.PAGE_SIZE = 500

--- cardStatus -> normalised status (DESIGN.md; seed L444).
V.STATUS = {
  ACTIVATION_READY_NAME = "inactive", NON_ACTIVATED_NAME = "inactive",
  ACTIVATED_NAME = "active", ACTIVATED_BASE = "active",
  DEACTIVATED_NAME = "deactivated", RETIRED_NAME = "deactivated",
}

--- The cardStatus values the listing accepts as a filter (seed L376).
V.FILTERABLE = { ACTIVATION_READY_NAME = true, NON_ACTIVATED_NAME = true, ACTIVATED_NAME = true,
  DEACTIVATED_NAME = true, RETIRED_NAME = true }

--- action -> the op doing it (false: EIOTCLUB has none).
V.OPS = {
  suspend = false, resume = false, network = false, speed = false, tag = false, usage_cap = false,
  topup = "order_package", sms = "sms_send_sms", imei_lock = "bind_device",
}

--- One card of get_all_card_info (or the same item fetched by ICCID).
-- @tparam table item the vendor's item
-- @param pool the card's pool id (pool_object_id) or nil
-- @tparam number now epoch seconds of the answer (usage.as_of)
function V.card(item, pool, now)
  local pooled = C.num(item.remainFlowType) == 1
  local used, left = C.num(item.monthUseFlow), C.num(item.monthRemainFlow)
  return {
    vendor = "eiotclub",
    iccid = item.iccid,
    id = item.iccid, -- EIOTCLUB has no card id of its own: the ICCID is the key
    status = C.status(V.STATUS, item.cardStatus),
    vendor_status = item.cardStatus,
    imsi = C.str(item.imsi),
    msisdn = C.str(item.msisdn),
    imei = C.str(item.imei),
    pool = pool,
    plan = C.str(item.packageCode),
    usage = C.usage {
      used_mb = used,
      -- the current package only: remainFlow / dataFlow also count packages
      -- waiting to start (seed L507-L511), flowRemain's unit is not stated
      left_mb = left,
      limit_mb = (not pooled) and C.num(item.flowTotal) or nil,
      pooled = pooled, period = "package", as_of = now,
    },
    expires = C.local_time(item.packageEndDate, C.BEIJING),
    activated = C.local_time(item.activateDate, C.BEIJING),
    tags = {},
    raw = item,
  }
end

--- A pool of pool_list (total/remain in bytes, times unix seconds).
function V.pool(item)
  local total, remain = C.num(item.total), C.num(item.remain)
  local expires = C.num(item.expire_timestamp)
  return {
    vendor = "eiotclub", id = item.pool_object_id, name = C.str(item.memo),
    limit_mb = total and C.round2(total / C.MB),
    left_mb = remain and C.round2(remain / C.MB),
    used_mb = total and remain and C.round2((total - remain) / C.MB),
    cards = C.num(item.used_pool_lines),
    expires = (expires and expires > 0) and expires or nil,
    raw = item,
  }
end

--- ICCID -> pool id of every pool's members (1 + non-empty pools calls).
local function membership(vc)
  local data, err = vc.call("pool_list", {})
  if not data then return nil, err end
  local map = {}
  for _, p in ipairs(type(data.list) == "table" and data.list or {}) do
    if (C.num(p.used_pool_lines) or 1) > 0 then
      local members, merr = vc.call("pool_card_list", { pool_object_id = p.pool_object_id })
      if not members then return nil, merr end
      for _, m in ipairs(type(members.list) == "table" and members.list or {}) do
        map[m.iccid] = p.pool_object_id
      end
    end
  end
  return map
end

--- A pager over the account's cards: each call returns the next page of
-- cards, nil at the end, or false, err. `hint.status` (a normalised status)
-- is pushed down to the vendor when exactly one vendor value matches.
function V.lister(vc, hint)
  local page, pages, pools = 0, nil, nil
  local status
  if hint.status then
    local values = {}
    for v, s in pairs(V.STATUS) do if s == hint.status then values[#values + 1] = v end end
    if #values == 1 and V.FILTERABLE[values[1]] then status = values[1] end
  end
  local info = { vendor = "eiotclub" }
  return function()
    if pages and page >= pages then return nil end
    if not pools then
      local err
      pools, err = membership(vc)
      if not pools then return false, err end
    end
    page = page + 1
    local data, err = vc.call("get_all_card_info", { pageNum = tostring(page), pageSize = V.PAGE_SIZE,
      cardStatus = status })
    if not data then return false, err end
    local list = type(data.cardInfoList) == "table" and data.cardInfoList or {}
    pages = C.num(data.totalPage) or (#list < V.PAGE_SIZE and page or page + 1)
    if #list == 0 then pages = page end
    local now = vc.now()
    local out = {}
    for i, item in ipairs(list) do out[i] = V.card(item, pools[item.iccid], now) end
    info.pages, info.page = pages, page
    -- the total is known once the last page is: before, pages x page size bounds it
    info.total = page >= pages and ((page - 1) * V.PAGE_SIZE + #list) or nil
    return out, info
  end
end

-- the answers that mean "not an ICCID of this account" (seed error table)
local NOT_MINE = { ["41001"] = true, ["41003"] = true, ["42405"] = true }

--- One card by ICCID (the listing filtered by ICCID: the same fields as
-- `cards`), or nil when the vendor does not know it.
function V.one(vc, iccid)
  local data, err = vc.call("get_all_card_info", { pageNum = "1", iccids = iccid })
  if not data then
    if err.kind == "vendor" and NOT_MINE[tostring(err.code)] then return nil end
    return nil, err
  end
  local item = type(data.cardInfoList) == "table" and data.cardInfoList[1] or nil
  if not item or item.iccid ~= iccid then return nil end
  local pool
  if C.num(item.remainFlowType) == 1 then
    local p, perr = vc.call("pool_by_iccid", { iccid = iccid })
    if not p then return nil, perr end
    pool = (C.num(p.pool_object_id) or 0) > 0 and p.pool_object_id or nil
  end
  return V.card(item, pool, vc.now())
end

--- Every pool of the account.
function V.pools(vc)
  local data, err = vc.call("pool_list", {})
  if not data then return nil, err end
  local out = {}
  for i, p in ipairs(type(data.list) == "table" and data.list or {}) do out[i] = V.pool(p) end
  return out
end

local BUILD = {
  -- through the client's money-safe orders path (one request per intent key)
  topup = function(card, a) return { iccid = card.iccid, packageCode = a.package, outTradeNo = a.key } end,
  sms = function(card, a) return { iccid = card.iccid, message = a.text } end,
  imei_lock = function(card, a) return { iccid = card.iccid, imei = a.imei } end,
}

--- Do `action` on one card (arguments already checked).
function V.act(vc, card, action, args)
  local data, err = vc.call(V.OPS[action], BUILD[action](card, args))
  if data == nil and err then return nil, err end
  return { op = V.OPS[action], data = data }
end

return V
