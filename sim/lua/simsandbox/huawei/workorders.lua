--- The asynchronous operations (stop, reset, enable, cut-net, exceed-cut-net,
-- bind-device, clear-real-name, speed-limit, switch-network, set-policy):
-- each creates a work order that completes with the sandbox clock and then
-- applies its effect; and the work order queries (§4.9).
local util = require "simsandbox.util"
local C = require "simsandbox.huawei.common"
local K = require "simsandbox.huawei.cards"

local floor, max = math.floor, math.max
local format, find = string.format, string.find
local type, ipairs, tostring = type, ipairs, tostring
local null, jid, bad, gsl = C.null, C.jid, C.bad, C.gsl
local path_id = K.path_id

local W = {}

local function nz(v)
  if v == nil then return null end
  return v
end

----------------------------------------------------------------------------
-- asynchronous operations -> work orders

local STATUS_NAME = { [10] = "可测试", [11] = "未激活", [13] = "可激活", [14] = "已停用",
                      [20] = "在用", [30] = "已拆机" }

-- Kbps values each carrier accepts (document, set_speed_value).
local TELECOM_SPEEDS, UNICOM_SPEEDS = { [-1] = true, [1] = true, [64] = true, [256] = true,
  [512] = true }, { [-1] = true, [256] = true, [512] = true, [1024] = true, [2048] = true,
  [7424] = true }
for _, mbps in ipairs({ 1, 3, 5, 7, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150 }) do
  TELECOM_SPEEDS[mbps * 1024] = true
end

local function unsupported(msg) gsl("GSL.00011015", msg) end

-- Per operation: where the ICCID comes from, the check at request time
-- (returns the work order type and the arguments kept for the effect), and
-- the effect applied when the work order completes.
local OPS = {}

OPS.stop_sim_card = {
  iccid_in = "body", pending_code = "GSL.00016010",
  check = function(c, b)
    C.b_int(b, "down_up_switch", 0, 9)
    if c.sim_status ~= 20 then gsl("GSL.00016020") end
    return 5
  end,
  apply = function(c) c.sim_status = 14; c.operator_status = 5 end,
}

OPS.reset_sim_card = {
  iccid_in = "body", pending_code = "GSL.00016009",
  check = function(c, b)
    C.b_int(b, "down_up_switch", 0, 9)
    if c.sim_status ~= 14 then gsl("GSL.00016019") end
    if c.operator_status == 1 then gsl("GSL.00016012") end
    return 4
  end,
  apply = function(c) c.sim_status = 20; c.operator_status = -1 end,
}

OPS.enable_sim_card = {
  iccid_in = "query", pending_code = "GSL.00016015",
  check = function(c)
    if c.sim_status ~= 10 and c.sim_status ~= 11 and c.sim_status ~= 13 then
      C.fail(403, "GSL.00016014", "您操作的卡状态已为" .. (STATUS_NAME[c.sim_status] or
        tostring(c.sim_status)) .. "，无法发起激活操作。")
    end
    return 10
  end,
  apply = function(c, _, now) c.sim_status = 20; c.operator_status = -1; c.act_date = now end,
}

OPS.start_stop_net = {
  iccid_in = "body",
  check = function(c, b)
    local action = C.b_str(b, "action", 1, 10, true)
    if action ~= "ADD" and action ~= "DEL" then bad("action: ADD or DEL") end
    if c.carrier ~= 2 then unsupported("当前SIM卡不支持操作: 断网/恢复在用仅支持中国电信卡") end
    return action == "ADD" and 11 or 20, { cut = action == "ADD" }
  end,
  apply = function(c, a) c.cut_net = a.cut end,
}

OPS.set_exceed_cut_net = {
  iccid_in = "body",
  check = function(c, b)
    local action = C.b_int(b, "action", 1, 2, true)
    local quota = b.quota
    if quota == null then quota = nil end
    if type(quota) == "number" then
      if quota ~= floor(quota) then bad("quota") end
      quota = format("%d", quota)
    end
    if quota ~= nil and (type(quota) ~= "string" or not (quota == "-1" or find(quota, "^%d+$"))) then
      bad("quota: 0, -1 or a positive integer")
    end
    if action == 1 and quota == nil then bad("quota is required to set the threshold") end
    local pooled = c.pool_id or c.back_pool_id
    if c.carrier ~= 2 and not pooled then
      unsupported("当前SIM卡不支持操作: 达量断网仅支持中国电信卡和联通、移动组池卡")
    end
    return action == 1 and 12 or 21, { set = action == 1, quota = quota }
  end,
  apply = function(c, a)
    c.exceed = a.set
    c.exceed_quota = a.set and a.quota or nil
  end,
}

OPS.register_imei = {
  iccid_in = "body",
  check = function(c, b)
    local bind_type = C.b_int(b, "bind_type", 1, 2, true)
    local imei = C.b_str(b, "imei", 1, 32)
    if bind_type == 2 and not imei then bad("imei is required for bind_type 2") end
    if c.carrier == 3 then unsupported("当前SIM卡不支持操作: 机卡重绑仅支持中国电信卡和中国移动卡") end
    if c.carrier == 1 and bind_type ~= 1 then
      unsupported("当前SIM卡不支持操作: 中国移动卡仅支持普通机卡重绑")
    end
    if c.carrier == 2 and (c.bind_remain or 0) <= 0 then
      unsupported("当前SIM卡不支持操作: 本月机卡重绑次数已用完")
    end
    return 13, { bind_type = bind_type, imei = imei }
  end,
  apply = function(c, a)
    if a.bind_type == 2 then
      c.imei = a.imei
    elseif not c.imei then
      c.imei = format("8645%011d", c.index)
    end
    if c.bind_remain then c.bind_remain = max(0, c.bind_remain - 1) end
  end,
}

OPS.delete_real_name = {
  iccid_in = "query",
  check = function(c)
    if c.carrier ~= 2 then unsupported("当前SIM卡不支持操作: 实名信息清除仅支持中国电信卡") end
    return 14
  end,
  apply = function(c) c.real_named = false end,
}

OPS.set_speed_value = {
  iccid_in = "body",
  check = function(c, b)
    local v = C.b_int(b, "speed_value", -1, nil, true)
    if c.carrier == 1 then unsupported("当前SIM卡不支持操作: 限速仅支持中国电信和中国联通实体卡") end
    if c.carrier == 2 and not TELECOM_SPEEDS[v] then gsl("GSL.00011016") end
    if c.carrier == 3 then
      if not UNICOM_SPEEDS[v] then gsl("GSL.00011016") end
      if not c.real_named then unsupported("当前SIM卡不支持操作: 联通卡需先完成个人实名认证") end
    end
    return 15, { speed = v }
  end,
  apply = function(c, a) c.speed = a.speed end,
}

-- tri-network cards: the card is a multiply card (path id, or 0 + body cid)
OPS.switch_network = {
  multiply = true,
  check = function(m, b)
    local carrier = C.b_int(b, "carrier_type", nil, nil, true)
    local field = ({ "iccid_mobile", "iccid_telcom", "iccid_unicom" })[carrier]
    if not field or not m[field] then gsl("GSL.00011063") end
    return 24, { carrier = carrier }
  end,
  apply = function(m, a) m.online_carrier = a.carrier end,
}

OPS.set_network_switch_policy = {
  multiply = true,
  check = function(_, b, S)
    local v = b.network_switch_policy_id
    if v == nil or v == null then bad("network_switch_policy_id is required") end
    local pid = C.to_id(v)
    if not pid then bad("network_switch_policy_id") end
    if not S.policy_by_id[pid] then gsl("GSL.00015028") end
    return 25, { policy = pid }
  end,
  apply = function(m, a, _, S)
    m.policy_id = a.policy
    local p = S.policy_by_id[a.policy]
    if p then p.used = true end
  end,
}

W.OPS = OPS

local PENDING_CODE = { [4] = "GSL.00016009", [5] = "GSL.00016010", [10] = "GSL.00016015" }

--- Pending (status 3) work orders of a card.
local function pending_orders(S, key)
  local out = {}
  for _, wo in ipairs(S.work_orders) do
    if wo.status == 3 and wo.card_key == key then out[#out + 1] = wo end
  end
  return out
end

--- Handler factory for the ten asynchronous operations.
function W.async(op)
  local spec = OPS[op]
  return function(ctx)
    local S, b, q, cfg, now = ctx.S, ctx.b, ctx.q, ctx.cfg, ctx.now
    local id = path_id(ctx)
    local card, key, cid
    if spec.multiply then
      if id == "0" then
        local want = C.b_str(b, "cid", 1, 256)
        if not want then bad("cid is required when sim_card_id is 0") end
        card = S.multiply_by_cid[want]
      else
        card = S.multiply_by_id[id]
      end
      if not card then
        if id ~= "0" and S.cards[id] then unsupported("当前SIM卡不支持操作: 仅支持三网卡") end
        gsl("GSL.00011001")
      end
      key, cid = "m" .. card.id, card.cid
    else
      local iccid
      if spec.iccid_in == "body" then iccid = b.iccid else iccid = C.scalar(q, "iccid") end
      card = K.resolve(S, id, iccid)
      key, cid = "c" .. card.id, card.iccid
    end
    -- a pending stop / resume / activation order blocks every operation on the card
    for _, wo in ipairs(pending_orders(S, key)) do
      local code = PENDING_CODE[wo.work_order_type]
      if code then gsl(code) end
      if wo.op == op then gsl("GSL.00016016") end
    end
    -- the same operation on the same card within 5 minutes
    local last = S.last_op[key .. "|" .. op]
    if last and cfg.repeat_guard_seconds > 0 and now - last < cfg.repeat_guard_seconds then
      gsl("GSL.00016016")
    end
    local wtype, args = spec.check(card, b, S)
    S.last_op[key .. "|" .. op] = now
    local fail = false
    if cfg.fail_next_work_order and cfg.fail_next_work_order > 0 then
      fail = true
      cfg.fail_next_work_order = cfg.fail_next_work_order - 1
    end
    local woid = S.next_wo_id
    S.next_wo_id = C.id_add(woid, 1)
    local did = S.next_wo_detail_id
    S.next_wo_detail_id = C.id_add(did, 1)
    local wo = {
      id = woid, sim_type = 3, work_order_type = wtype, req_detail = "容器ID:" .. cid,
      status = 3, create_time = now, due = now + cfg.work_order_seconds,
      work_order_source = 8, card_key = key, card = card, op = op, args = args or {},
      fail = fail,
      details = { { id = did, status = 2, cid = cid, sim_card_id = card.id, create_time = now } },
    }
    S.work_orders[#S.work_orders + 1] = wo
    S.wo_by_id[woid] = wo
    return 200, { work_order_id = jid(woid) }
  end
end

--- Complete the work orders that are due. Called before every request.
function W.tick(S, now)
  for _, wo in ipairs(S.work_orders) do
    if wo.status == 3 and wo.due and wo.due <= now then
      local d = wo.details[1]
      wo.finish_time = wo.due
      d.finish_time = wo.due
      if wo.fail then
        wo.status = 6
        wo.fail_reason = "运营商处理失败，请稍后重试。(sandbox: fail_next_work_order)"
        d.status = 3
        d.description = wo.fail_reason
      else
        OPS[wo.op].apply(wo.card, wo.args, wo.due, S)
        wo.status = 4
        d.status = 1
      end
    end
  end
end

----------------------------------------------------------------------------
-- 4.9 work orders

local function wo_view(wo)
  local ok, failed, proc = 0, 0, 0
  for _, d in ipairs(wo.details) do
    if d.status == 1 then ok = ok + 1 elseif d.status == 3 then failed = failed + 1 else proc = proc + 1 end
  end
  return {
    id = jid(wo.id), sim_type = wo.sim_type, work_order_type = wo.work_order_type,
    req_detail = wo.req_detail, total_count = #wo.details, success_count = ok,
    fail_count = failed, process_count = proc, status = wo.status,
    create_time = C.iso(wo.create_time), finish_time = C.iso(wo.finish_time),
    fail_reason = nz(wo.fail_reason), response = null,
    work_order_source = wo.work_order_source, work_order_source_desc = "用户操作生成(api)",
  }
end
W.wo_view = wo_view

function W.list_work_orders(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local key = C.q_str(q, "main_search_key", 0, 17)
  local sim_type = C.q_int(q, "sim_type", 1, 10)
  local wtype = C.q_int(q, "work_order_type", 1, 99)
  local status = C.q_int(q, "status", 1, 7)
  local list = C.filter(S.work_orders, function(wo)
    if key and key ~= "" and wo.id ~= key then return false end
    if sim_type and wo.sim_type ~= sim_type then return false end
    if wtype and wo.work_order_type ~= wtype then return false end
    if status and wo.status ~= status then return false end
    return true
  end)
  -- newest first
  local rev = {}
  for i = #list, 1, -1 do rev[#rev + 1] = list[i] end
  local out = util.array()
  for i, wo in ipairs(C.page(rev, limit, offset)) do out[i] = wo_view(wo) end
  return 200, { limit = limit, offset = offset, count = #rev, work_orders = out }
end

function W.list_work_order_details(ctx)
  local S, q = ctx.S, ctx.q
  local id = path_id(ctx, "work_order_id")
  local limit, offset = C.paging(q)
  local key = C.q_str(q, "main_search_key")
  local sim_type = C.q_int(q, "sim_type", 1, 10)
  local status = C.q_int(q, "status", 1, 3)
  local wo = S.wo_by_id[id]
  local list = {}
  if wo then
    list = C.filter(wo.details, function(d)
      if key and key ~= "" and d.cid ~= key then return false end
      if sim_type and wo.sim_type ~= sim_type then return false end
      if status and d.status ~= status then return false end
      return true
    end)
  end
  local out = util.array()
  for i, d in ipairs(C.page(list, limit, offset)) do
    out[i] = {
      id = jid(d.id), sim_type = wo.sim_type, status = d.status, cid = d.cid,
      sim_card_id = d.sim_card_id,          -- a JSON string, as in the example (L5415)
      create_time = C.iso(d.create_time), finish_time = C.iso(d.finish_time),
      description = nz(d.description),
    }
  end
  return 200, { limit = limit, offset = offset, count = #list, work_order_details = out }
end

return W
