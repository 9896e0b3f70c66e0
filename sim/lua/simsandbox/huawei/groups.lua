--- Traffic pools (§4.4, §4.5), tags (§4.6), custom attributes (§4.7), SMS
-- (§4.8), tri-network card list (§4.10.1) and network switch policies (§4.11).
-- Handlers take the same `ctx` as simsandbox.huawei.cards.
local util = require "simsandbox.util"
local C = require "simsandbox.huawei.common"
local K = require "simsandbox.huawei.cards"

local format, find, lower, match = string.format, string.find, string.lower, string.match
local type, ipairs, tonumber = type, ipairs, tonumber
local null, jid, bad, gsl = C.null, C.jid, C.bad, C.gsl

local G = {}

local function nz(v)
  if v == nil then return null end
  return v
end

----------------------------------------------------------------------------
-- pools

-- Billing cycle "yyyy-MM" -> months before the current one; 403 GSL.00011004
-- outside the last six months (future included).
local function cycle_ago(s, now)
  local y, m = match(s or "", "^(%d%d%d%d)%-(%d%d)$")
  if not y then bad("billing_cycle: yyyy-MM") end
  y, m = tonumber(y), tonumber(m)
  if m < 1 or m > 12 then bad("billing_cycle") end
  local ny, nm = C.ymd(now)
  local ago = C.month_diff(y, m, ny, nm)
  if ago < 0 or ago > 5 then gsl("GSL.00011004") end
  return ago, format("%04d-%02d", y, m)
end

local function cycle_label(now, ago)
  local y, m = C.ymd(now)
  m = m - ago
  while m < 1 do m = m + 12; y = y - 1 end
  return format("%04d-%02d", y, m)
end

local function cycles_of(q, now)
  local bc = C.q_str(q, "billing_cycle", 7, 7)
  local all = C.q_bool(q, "all_billing_cycle")
  local out = {}
  if all then
    for ago = 0, 5 do out[#out + 1] = { ago = ago, label = cycle_label(now, ago) } end
  elseif bc then
    local ago, label = cycle_ago(bc, now)
    out[1] = { ago = ago, label = label }
  else
    out[1] = { ago = 0, label = cycle_label(now, 0) }
  end
  return out
end

local function members_of(S, field, id)
  return C.filter(S.card_list, function(c) return c[field] == id end)
end

local function counts(members)
  local act, inact, dis = 0, 0, 0
  for _, c in ipairs(members) do
    if c.sim_status == 20 then act = act + 1
    elseif c.sim_status == 30 then dis = dis + 1
    elseif c.sim_status ~= 14 then inact = inact + 1 end
  end
  return act, inact, dis
end

local function used_of(members, ago)
  local used = 0
  for _, c in ipairs(members) do used = used + K.month_flow(c, ago) end
  return K.round2(used)
end

local function list_pools(ctx, back)
  local S, q, now = ctx.S, ctx.q, ctx.now
  local limit, offset = C.paging(q)
  local name = C.q_str(q, "pool_name", 0, 100)
  local statuses = {}
  if not back then
    for _, s in ipairs(C.q_list(q, "status", true)) do
      if s ~= "0" and s ~= "1" then bad("status") end
      statuses[tonumber(s)] = true
    end
  end
  local cycles = cycles_of(q, now)
  local pools = back and S.back_pools or S.pools
  local rows = {}
  for _, p in ipairs(pools) do
    local keep = not (name and name ~= "" and not C.contains(p.pool_name, name))
    if keep and next(statuses) and not statuses[p.status] then keep = false end
    if keep then
      local members = members_of(S, back and "back_pool_id" or "pool_id", p.id)
      local act, inact, dis = counts(members)
      local plan = S.plan_by_id[p.price_plan_id] or {}
      for _, cy in ipairs(cycles) do
        local used = used_of(members, cy.ago)
        local row = {
          id = jid(p.id), pool_name = p.pool_name, price_plan_name = nz(plan.price_plan_name),
          price_plan_id = p.price_plan_id, effective_time = C.iso(p.effective_time),
          expired_time = C.iso(p.expired_time), billing_cycle = cy.label, flow_used = used,
          quantity = #members, modify_time = C.iso(p.modify_time), order_id = jid(p.order_id),
          activated_sim_quantity = act, inactive_sim_quantity = inact,
          disassembled_sim_quantity = dis, order_ids = p.order_ids,
        }
        if back then
          row.pool_status = p.pool_status
          row.status_time = C.iso(p.status_time)
        else
          row.flow_total = p.flow_total
          row.flow_left = K.round2(p.flow_total - used)
          row.status = p.status
        end
        rows[#rows + 1] = row
      end
    end
  end
  return C.paged("pools", rows, limit, offset)
end

function G.list_sim_pools(ctx) return list_pools(ctx, false) end
function G.list_back_pools(ctx) return list_pools(ctx, true) end

local function list_members(ctx, back)
  local S, q = ctx.S, ctx.q
  local id = K.path_id(ctx, back and "back_pool_id" or "sim_pool_id")
  local pool = (back and S.back_pool_by_id or S.pool_by_id)[id]
  if not pool then gsl("GSL.00014003") end
  local limit, offset = C.paging(q)
  local cid = C.q_str(q, "cid")
  local bc = C.q_str(q, "billing_cycle")
  if not bc or bc == "" then bad("billing_cycle is required") end
  local ago = cycle_ago(bc, ctx.now)
  local members = C.filter(members_of(S, back and "back_pool_id" or "pool_id", id), function(c)
    return not (cid and cid ~= "" and c.iccid ~= cid)
  end)
  local out = util.array()
  for i, c in ipairs(C.page(members, limit, offset)) do
    out[i] = { id = jid(pool.id), cid = c.iccid, sim_price_plan_id = jid(c.plan_inst_id),
               flow_used = K.month_flow(c, ago) }
    if back then out[i].sim_status = c.sim_status end
  end
  return 200, { limit = limit, offset = offset, count = #members, pool_members = out }
end

function G.list_sim_pool_members(ctx) return list_members(ctx, false) end
function G.list_back_pool_members(ctx) return list_members(ctx, true) end

----------------------------------------------------------------------------
-- tags

local function tag_used(S, id)
  for _, c in ipairs(S.card_list) do
    for _, t in ipairs(c.tags) do
      if t == id then return true end
    end
  end
  return false
end

local function tag_view(S, t)
  return { id = jid(t.id), tag_name = t.tag_name, status = tag_used(S, t.id) and 1 or 0 }
end

function G.list_tags(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local name = C.q_str(q, "tag_name", 0, 256)
  local status = C.q_int(q, "status", 0, 1)
  local rows = {}
  for _, t in ipairs(S.tags) do
    local v = tag_view(S, t)
    if not (name and name ~= "" and not C.contains(t.tag_name, name))
        and not (status and v.status ~= status) then
      rows[#rows + 1] = v
    end
  end
  return C.paged("tags", rows, limit, offset)
end

local ILLEGAL_NAME = "[%c<>\"'&\\/]"

function G.create_tag(ctx)
  local S = ctx.S
  local name = C.b_str(ctx.b, "tag_name", 1, 100, true)
  if find(name, ILLEGAL_NAME) or not find(name, "%S") then gsl("GSL.00022001") end
  for _, t in ipairs(S.tags) do
    if t.tag_name == name then gsl("GSL.00022002") end
  end
  if #S.tags >= 200 then gsl("GSL.00022003") end
  local t = { id = S.next_tag_id, tag_name = name }
  S.next_tag_id = C.id_add(S.next_tag_id, 1)
  S.tags[#S.tags + 1] = t
  S.tag_by_id[t.id] = t
  return 200, tag_view(S, t)
end

function G.delete_tag(ctx)
  local S = ctx.S
  local id = K.path_id(ctx, "tag_id")
  if not S.tag_by_id[id] then gsl("GSL.00022004") end
  S.tag_by_id[id] = nil
  for i, t in ipairs(S.tags) do
    if t.id == id then table.remove(S.tags, i); break end
  end
  for _, c in ipairs(S.card_list) do
    for i = #c.tags, 1, -1 do
      if c.tags[i] == id then table.remove(c.tags, i) end
    end
  end
  return 200, true
end

-- The 4.6.4 examples print these codes with nine digits (GSL.000160051..54,
-- L4125-4157) where the error table has GSL.00016051..54; the sandbox answers
-- what the examples show.
local function list_text(ids)
  return "[" .. table.concat(ids, ", ") .. "]"
end

function G.batch_set_tags(ctx)
  local S, b = ctx.S, ctx.b
  if b.file_temp_id ~= nil and b.file_temp_id ~= null then gsl("GSL.00012016") end
  local ids = C.b_array(b, "sim_card_ids")
  local iccids = C.b_array(b, "iccids")
  local tag_ids = C.b_array(b, "tag_ids") or {}
  local use_ids = ids and #ids > 0
  local n = use_ids and #ids or (iccids and #iccids or 0)
  if n < 1 or n > 500 then
    C.fail(400, "GSL.000160051", "SIM卡数量必须介于1和500之间，请重新输入！")
  end
  if #tag_ids > 10 then
    C.fail(400, "GSL.000160052", "标签数量必须介于0-10之间，请重新输入！")
  end
  local cards, missing, dup, seen = {}, {}, {}, {}
  local what = use_ids and "simCardId" or "iccid"
  for _, v in ipairs(use_ids and ids or iccids) do
    local key, c
    if use_ids then
      key = C.to_id(v)
      if not key then bad("sim_card_ids") end
      c = S.cards[key]
    else
      if not C.valid_iccid(v) then bad("iccids") end
      key = v
      c = S.by_iccid[v]
    end
    if seen[key] then dup[#dup + 1] = key end
    seen[key] = true
    if c then cards[#cards + 1] = c else missing[#missing + 1] = key end
  end
  local tags, tmissing, tdup, tseen = {}, {}, {}, {}
  for _, v in ipairs(tag_ids) do
    local id = C.to_id(v)
    if not id then bad("tag_ids") end
    if tseen[id] then tdup[#tdup + 1] = id end
    tseen[id] = true
    if S.tag_by_id[id] then tags[#tags + 1] = id else tmissing[#tmissing + 1] = id end
  end
  if #missing > 0 then
    C.fail(400, "GSL.000160053", "以下" .. what .. "不存在或没有操作权限，请重新输入！ "
      .. what .. " : " .. list_text(missing))
  end
  if #tmissing > 0 then
    C.fail(400, "GSL.000160053", "以下tagId不存在或没有操作权限，请重新输入！ tagId : " .. list_text(tmissing))
  end
  if #dup > 0 then
    C.fail(400, "GSL.000160054", "以下" .. what .. "重复，请重新输入！ " .. what .. " : " .. list_text(dup))
  end
  if #tdup > 0 then
    C.fail(400, "GSL.000160054", "以下tagId重复，请重新输入！ tagId : " .. list_text(tdup))
  end
  for _, c in ipairs(cards) do
    local t = {}
    for i, id in ipairs(tags) do t[i] = id end
    c.tags = t
  end
  return 200, true
end

----------------------------------------------------------------------------
-- custom attributes (six slots: customer_attribute1..6)

local CN_NUM = { "一", "二", "三", "四", "五", "六" }
local RESERVED = {
  iccid = true, msisdn = true, imsi = true, imei = true, cid = true, ["标签"] = true,
  ["状态"] = true, ["套餐"] = true, ["sim卡状态"] = true, ["流量池"] = true, ["批次号"] = true,
  ["已用流量"] = true, ["剩余流量"] = true, ["激活时间"] = true, ["到期时间"] = true,
}

local function attr_view(a)
  return {
    id = jid(a.id), default_attr_name_cn = "自定义属性" .. CN_NUM[a.slot],
    default_attr_name_en = "Custom attribute " .. a.slot, cust_attr_name = a.cust_attr_name,
    status = a.status, create_time = C.iso(a.create_time), modify_time = C.iso(a.modify_time),
  }
end

function G.list_attributes(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local name = C.q_str(q, "cust_attr_name", 0, 32)
  local status = C.q_int(q, "status", 0, 1)
  local rows = {}
  for _, a in ipairs(S.attributes) do
    if not (name and name ~= "" and not C.contains(a.cust_attr_name, name))
        and not (status and a.status ~= status) then
      rows[#rows + 1] = attr_view(a)
    end
  end
  return C.paged("attributes", rows, limit, offset)
end

local function check_attr_name(S, name, self_id)
  if name == "" or C.ulen(name) > 32 or find(name, ILLEGAL_NAME) or not find(name, "%S") then
    gsl("GSL.00027001")
  end
  if RESERVED[lower(name)] then gsl("GSL.00027003") end
  for _, a in ipairs(S.attributes) do
    if a.cust_attr_name == name and a.id ~= self_id then gsl("GSL.00027002") end
  end
end

function G.create_attribute(ctx)
  local S, now = ctx.S, ctx.now
  local name = C.b_str(ctx.b, "cust_attr_name", nil, nil, true)
  check_attr_name(S, name)
  local used = {}
  for _, a in ipairs(S.attributes) do used[a.slot] = true end
  local slot
  for i = 1, 6 do
    if not used[i] then slot = i; break end
  end
  if not slot then gsl("GSL.00027004") end
  local a = { id = S.next_attr_id, slot = slot, cust_attr_name = name, status = 1,
              create_time = now, modify_time = now }
  S.next_attr_id = C.id_add(S.next_attr_id, 1)
  S.attributes[#S.attributes + 1] = a
  table.sort(S.attributes, function(x, y) return x.slot < y.slot end)
  S.attr_by_id[a.id] = a
  return 200, { id = jid(a.id) }
end

local function attr_of(ctx)
  local id = K.path_id(ctx, "attribute_id")
  local a = ctx.S.attr_by_id[id]
  if not a then gsl("GSL.00027005") end
  return a
end

function G.update_attribute(ctx)
  local a = attr_of(ctx)
  local name = C.b_str(ctx.b, "cust_attr_name", nil, nil, true)
  check_attr_name(ctx.S, name, a.id)
  a.cust_attr_name = name
  a.modify_time = ctx.now
  return 200, true
end

function G.enable_attribute(ctx)
  local a = attr_of(ctx)
  a.status = 1
  a.modify_time = ctx.now
  return 200, true
end

function G.disable_attribute(ctx)
  local a = attr_of(ctx)
  a.status = 0
  a.modify_time = ctx.now
  return 200, true
end

function G.batch_set_attributes(ctx)
  local S, b = ctx.S, ctx.b
  if b.file_temp_id ~= nil and b.file_temp_id ~= null then gsl("GSL.00012016") end
  local items = C.b_array(b, "attributes")
  if not items or #items < 1 or #items > 500 then bad("attributes: 1-500 items") end
  local enabled = {}
  for _, a in ipairs(S.attributes) do
    if a.status == 1 then enabled[a.slot] = true end
  end
  local failures, plan = util.array(), {}
  for _, it in ipairs(items) do
    if type(it) ~= "table" then bad("attributes") end
    if it.sim_card_id == nil or it.sim_card_id == null then
      C.fail(400, "GSL.00010004", "sim_card_id:不能为null")
    end
    local id = C.to_id(it.sim_card_id)
    if not id then bad("sim_card_id") end
    local c
    if id == "0" then
      if not C.valid_iccid(it.iccid) then bad("iccid") end
      c = S.by_iccid[it.iccid]
    else
      c = S.cards[id]
    end
    local values = {}
    for slot = 1, 6 do
      local v = it["customer_attribute" .. slot]
      if v ~= nil and v ~= null then
        if type(v) ~= "string" or C.ulen(v) > 100 then bad("customer_attribute" .. slot) end
        values[slot] = v
      end
    end
    if not c then
      failures[#failures + 1] = { fail_reason = "sim卡不存在或没有SIM卡的访问权限!",
                                  sim_card_id = id ~= "0" and id or it.iccid }
    else
      for slot = 1, 6 do
        if values[slot] and not enabled[slot] then
          failures[#failures + 1] = { fail_reason = "自定义属性" .. CN_NUM[slot] .. "未启用",
                                      sim_card_id = c.id }
        end
      end
      plan[#plan + 1] = { card = c, values = values }
    end
  end
  if #failures > 0 then
    -- error_msg carries a JSON-encoded array (L4946-4949); nothing is applied
    C.fail(400, "GSL.00012031", util.json_encode(failures))
  end
  for _, p in ipairs(plan) do
    for slot, v in pairs(p.values) do
      p.card.attrs[slot] = v ~= "" and v or nil
    end
  end
  return 200, true
end

----------------------------------------------------------------------------
-- SMS

local SMS_DELIVERY_SECONDS = 5

function G.send_sms(ctx)
  local S, b, now = ctx.S, ctx.b, ctx.now
  local content = C.b_str(b, "sms_content", nil, nil, true)
  if content == "" or C.ulen(content) > 1000 then bad("sms_content: 1-1000 characters") end
  if b.template_id ~= nil and b.template_id ~= null and not C.to_id(b.template_id) then
    bad("template_id")
  end
  if b.file_temp_id ~= nil and b.file_temp_id ~= null then gsl("GSL.00012016") end
  local cids = C.b_array(b, "cids")
  local targets = {}
  if cids and #cids > 0 then
    for _, cid in ipairs(cids) do
      if type(cid) ~= "string" then bad("cids") end
      local c = S.by_iccid[cid]
      local m = S.multiply_by_cid[cid]
      if c then
        targets[#targets + 1] = { cid = cid, msisdn = c.msisdn, carrier = c.carrier,
                                  ok = c.sim_status == 20 }
      elseif m then
        targets[#targets + 1] = { cid = cid, msisdn = null, carrier = m.online_carrier, ok = true }
      else
        gsl("GSL.00011011", "iccid: [" .. cid .. "] 不存在")
      end
    end
  elseif b.order_id ~= nil and b.order_id ~= null then
    local oid = C.to_id(b.order_id)
    if not oid then bad("order_id") end
    for _, c in ipairs(S.card_list) do
      if c.order_id == oid and c.carrier ~= 3 then
        targets[#targets + 1] = { cid = c.iccid, msisdn = c.msisdn, carrier = c.carrier,
                                  ok = c.sim_status == 20 }
      end
    end
    if #targets == 0 then gsl("GSL.00011001") end
  else
    bad("one of cids, order_id, file_temp_id is required")
  end
  for _, t in ipairs(targets) do
    if t.carrier == 3 then
      gsl("GSL.00011015", "当前SIM卡不支持操作: 短信仅支持中国移动和中国电信卡 (" .. t.cid .. ")")
    end
  end
  for _, t in ipairs(targets) do
    S.sms[#S.sms + 1] = { cid = t.cid, msisdn = t.msisdn, sent_time = now, sms_status = 1,
                          deliver_at = now + SMS_DELIVERY_SECONDS, fails = not t.ok,
                          sms_content = content }
  end
  return 200, true
end

function G.list_sms_details(ctx)
  local S, q, now = ctx.S, ctx.q, ctx.now
  local limit, offset = C.paging(q)
  local cid = C.q_str(q, "cid")
  local st, et = C.q_str(q, "start_time"), C.q_str(q, "end_time")
  local t0 = st and st ~= "" and (C.parse_time(st) or bad("start_time")) or nil
  local t1 = et and et ~= "" and (C.parse_time(et) or bad("end_time")) or nil
  local rows = {}
  for i = #S.sms, 1, -1 do
    local s = S.sms[i]
    if s.sms_status == 1 and s.deliver_at and now >= s.deliver_at then
      s.sms_status = s.fails and 3 or 2
      if not s.fails then s.received_time = s.deliver_at end
    end
    if not (cid and cid ~= "" and s.cid ~= cid) and not (t0 and s.sent_time < t0)
        and not (t1 and s.sent_time > t1) then
      rows[#rows + 1] = { cid = s.cid, msisdn = nz(s.msisdn), sent_time = C.iso(s.sent_time),
                          received_time = C.iso(s.received_time), sms_status = s.sms_status,
                          sms_content = s.sms_content }
    end
  end
  return C.paged("sms_details", rows, limit, offset)
end

----------------------------------------------------------------------------
-- tri-network cards and network switch policies

function G.list_sim_device_multiply(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local order_id = C.q_str(q, "order_id", 1, 20)
  if order_id and not find(order_id, "^%d+$") then bad("order_id") end
  local cid = C.q_str(q, "cid", 1, 20)
  local iccid = C.q_str(q, "iccid", 1, 20)
  local carrier = C.q_int(q, "online_carrier", 1, 3)
  local sid = C.q_id(q, "sim_card_id")
  local version = C.q_int(q, "version", 1, 2)
  local list = C.filter(S.multiply, function(m)
    if order_id and m.order_id ~= order_id then return false end
    if cid and m.cid ~= cid then return false end
    if iccid and m.iccid_mobile ~= iccid and m.iccid_unicom ~= iccid and m.iccid_telcom ~= iccid then
      return false
    end
    if carrier and m.online_carrier ~= carrier then return false end
    if sid and m.id ~= sid then return false end
    if version and m.version ~= version then return false end
    return true
  end)
  local out = util.array()
  for i, m in ipairs(C.page(list, limit, offset)) do
    local p = S.policy_by_id[m.policy_id]
    out[i] = {
      sim_card_id = m.id,                 -- a JSON string, as in the example (L5569)
      cid = m.cid, iccid_mobile = nz(m.iccid_mobile), iccid_unicom = nz(m.iccid_unicom),
      iccid_telcom = nz(m.iccid_telcom), online_carrier = m.online_carrier,
      network_switch_policy_id = jid(m.policy_id), policy_name = p and p.policy_name or null,
      version = m.version, order_id = jid(m.order_id),
    }
  end
  return 200, { limit = limit, offset = offset, count = #list, sim_cards = out }
end

local function policy_view(p)
  return {
    id = jid(p.id), policy_name = p.policy_name, preferred_carrier = nz(p.preferred_carrier),
    least_preferred_carrier = nz(p.least_preferred_carrier), optimal_signal = nz(p.optimal_signal),
    auto_switch = nz(p.auto_switch), weak_signal_switch = nz(p.weak_signal_switch),
    connect_ip = nz(p.connect_ip), create_time = C.iso(p.create_time),
    modify_time = C.iso(p.modify_time), status = p.status, type = p.type, used = p.used,
    version = p.version, switch_order = nz(p.switch_order), blacklist = nz(p.blacklist),
  }
end

function G.list_network_switch_policies(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local name = C.q_str(q, "policy_name", 0, 32)
  local version = C.q_int(q, "version", 1, 2)
  local rows = {}
  for _, p in ipairs(S.policies) do
    if not (name and name ~= "" and not C.contains(p.policy_name, name))
        and not (version and p.version ~= version) then
      rows[#rows + 1] = policy_view(p)
    end
  end
  return C.paged("network_switch_policy_list", rows, limit, offset)
end

function G.add_network_switch_policy(ctx)
  local S, b, now = ctx.S, ctx.b, ctx.now
  local version = C.b_int(b, "version", 1, 2, true)
  local name = C.b_str(b, "policy_name", 0, 32) or ""
  for _, p in ipairs(S.policies) do
    if p.policy_name == name then gsl("GSL.00015034", C.MSG["GSL.00015034"], 400) end
  end
  if #S.policies >= 50 then gsl("GSL.00015035", nil, 400) end
  local p = { id = S.next_policy_id, policy_name = name, create_time = now, modify_time = now,
              status = 1, type = 1, used = false, version = version }
  if version == 1 then
    p.preferred_carrier = C.b_int(b, "preferred_carrier", 1, 4)
    p.least_preferred_carrier = C.b_int(b, "least_preferred_carrier", 1, 3)
    p.optimal_signal = C.b_bool(b, "optimal_signal") or false
    p.auto_switch = C.b_bool(b, "auto_switch") or false
    p.weak_signal_switch = C.b_bool(b, "weak_signal_switch")
    p.connect_ip = C.b_str(b, "connect_ip", 0, 64)
    if p.preferred_carrier and p.preferred_carrier == p.least_preferred_carrier then
      gsl("GSL.00015032", nil, 400)
    end
    if not p.weak_signal_switch and (p.connect_ip == nil or p.connect_ip == "") then
      gsl("GSL.00015033", nil, 400)
    end
    p.blacklist = C.b_int(b, "blacklist", 0, 3) or 0
  else
    local order = C.b_str(b, "switch_order", 0, 10) or "1,2,3"
    local a, b2, c = match(order, "^([123]),([123]),([123])$")
    if not a or a == b2 or a == c or b2 == c then gsl("GSL.00015039", nil, 400) end
    p.switch_order = order
    p.blacklist = C.b_int(b, "blacklist", 0, 3) or 0
    p.optimal_signal, p.auto_switch = false, false
  end
  S.next_policy_id = C.id_add(S.next_policy_id, 1)
  S.policies[#S.policies + 1] = p
  S.policy_by_id[p.id] = p
  return 200, true
end

return G
