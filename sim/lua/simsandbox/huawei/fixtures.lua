--- Seeded state of the Huawei GSL sandbox (see sim/HUAWEI.md for the table).
--
-- All 64-bit ids are decimal strings. Most exceed 2^53 so that a client that
-- routes them through a double is caught: 9007199254740993 (2^53+1) becomes
-- ...992, 111111111111111111 becomes ...104, 6666660527032540666 ...160.
local C = require "simsandbox.huawei.common"

local F = {}

F.ACCOUNT_ID = "04eef84sandbox0000000000000000ac"
F.AK = "SANDBOXAKEXAMPLE0001"
F.SK = "sandbox-sk-secret"
F.PROJECT_ID = "0123456789abcdef0123456789abcdef"
F.IAM_USER = "sandbox-user"
F.IAM_PASSWORD = "sandbox-password"
F.IAM_DOMAIN = "sandbox-domain"
F.IAM_PROJECT = "cn-north-4"

local T = C.utc_epoch

-- price plans offered by the service (list_pro_price_plans)
local PLANS = {
  { price_plan_id = "100000", price_plan_name = "中国电信消费级每月30M联接服务（1年）", flow_total = 30,
    package_type = 1, period = 12, period_type = 20, effect_type = 1, silent_period_day = 6,
    silent_period_unit = 2, auto_renew = false, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 2, price = 1200, network_type = 1 },
  { price_plan_id = "100001", price_plan_name = "中国联通消费级每月30M联接服务（1年）", flow_total = 30,
    package_type = 1, period = 12, period_type = 20, effect_type = 1, silent_period_day = 6,
    silent_period_unit = 2, auto_renew = false, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 3, price = 1200, network_type = 1 },
  { price_plan_id = "100002", price_plan_name = "中国移动消费级每月30M联接服务（1年）", flow_total = 30,
    package_type = 1, period = 12, period_type = 20, effect_type = 1, silent_period_day = 6,
    silent_period_unit = 2, auto_renew = true, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 1, price = 1500, network_type = 1 },
  { price_plan_id = "100010", price_plan_name = "中国联通消费级每月30M联接服务（流量池）", flow_total = 20,
    package_type = 1, period = 1, period_type = 20, effect_type = 2, silent_period_day = 0,
    silent_period_unit = 2, auto_renew = true, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 3, price = 300, network_type = 1 },
  { price_plan_id = "520040", price_plan_name = "中国电信消费级阶梯流量池联接服务", flow_total = 50,
    package_type = 1, period = 1, period_type = 20, effect_type = 2, silent_period_day = 0,
    silent_period_unit = 2, auto_renew = true, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 2, price = 0, network_type = 1 },
  { price_plan_id = "300001", price_plan_name = "中国移动NB-IoT每年100M联接服务", flow_total = 100,
    package_type = 1, period = 1, period_type = 50, effect_type = 1, silent_period_day = 3,
    silent_period_unit = 2, auto_renew = false, location_desc = "中国", location_type = 1,
    sim_type = 3, carrier_type = 1, price = 800, network_type = 2 },
  { price_plan_id = "500001", price_plan_name = "欧洲eSIM每月1G联接服务", flow_total = 1024,
    package_type = 2, period = 1, period_type = 20, effect_type = 2, silent_period_day = 0,
    silent_period_unit = 3, auto_renew = false, location_desc = "欧洲", location_type = 2,
    sim_type = 2, carrier_type = 201, price = 4900, network_type = 1 },
}

local PLAN_OF_CARRIER = { [1] = "100002", [2] = "100000", [3] = "100001" }
local IMSI_PREFIX = { [1] = "46000", [2] = "46011", [3] = "46001" }

-- The physical SIM cards. carrier: 1 China Mobile, 2 China Telecom, 3 China Unicom.
-- Keep this list in step with the table in sim/HUAWEI.md.
local CARDS = {
  { id = "9007199254740993", iccid = "89860321000000000001", carrier = 2, status = 20,
    used = 12.5, real_named = true, imei = "864500000000001", tags = { "9007199254770001" },
    attrs = { "north" }, bind_remain = 2, note = "telecom, in use, everything allowed" },
  { id = "111111111111111111", iccid = "89860121000000000002", carrier = 3, status = 20,
    used = 25.75, real_named = true, imei = "864500000000002" },
  { id = "6666660527032540666", iccid = "8986002100000000003", carrier = 1, status = 14,
    operator_status = 5, used = 30, note = "19-char ICCID, stopped by user" },
  { id = "10000000000000001", iccid = "89860321000000000004", carrier = 2, status = 13,
    used = 0, act = false, bind_remain = 2, note = "activatable" },
  { id = "9007199254740995", iccid = "89860321000000000005", carrier = 2, status = 11,
    used = 0, act = false, bind_remain = 2, note = "inactive" },
  { id = "9223372036854775807", iccid = "89860421000000000006", carrier = 1, status = 20,
    used = 3.2, real_named = true, imei = "864500000000006", note = "int64 max" },
  { id = "1234567890123456789", iccid = "89860621000000000007", carrier = 3, status = 20,
    used = 40, plan = "100010", pool = "9007199254745001", real_named = true },
  { id = "6666660527032540667", iccid = "8986002100000000008", carrier = 1, status = 20,
    used = 35.29, plan = "100002", pool = "9007199254745001" },
  { id = "6666660527032540668", iccid = "89860321000000000009", carrier = 2, status = 20,
    used = 27.3, plan = "100000", pool = "9007199254745001", bind_remain = 1 },
  { id = "9007199254741000", iccid = "89860321000000000010", carrier = 2, status = 20,
    used = 45.59, real_named = true, bind_remain = 2, note = "over quota: flow_left -15.59" },
  { id = "9007199254741001", iccid = "89860121000000000011", carrier = 3, status = 14,
    operator_status = 1, used = 30, note = "stopped: data exhausted (resume -> 16012)" },
  { id = "9007199254741002", iccid = "89860021000000000012", carrier = 1, status = 30,
    used = 0, note = "dismantled" },
  { id = "9007199254741003", iccid = "89860321000000000013", carrier = 2, status = 10,
    used = 0.5, act = false, bind_remain = 2, note = "testable" },
  { id = "9007199254741004", iccid = "89860121000000000014", carrier = 3, status = 20,
    used = 5.5, plan = "520040", back_pool = "9007199254746001" },
  { id = "9007199254741005", iccid = "89860321000000000015", carrier = 2, status = 20,
    used = 7.25, plan = "520040", back_pool = "9007199254746001", bind_remain = 2 },
  { id = "9007199254741006", iccid = "89860021000000000016", carrier = 1, status = 14,
    operator_status = 3, used = 1.0, plan = "520040", back_pool = "9007199254746001" },
  { id = "9007199254741007", iccid = "89860321000000000017", carrier = 2, status = 20,
    used = 8.88, tags = { "9007199254770001", "9007199254770002" }, bind_remain = 2 },
  { id = "9007199254741008", iccid = "89860121000000000018", carrier = 3, status = 20,
    used = 2.5, real_named = false, note = "unicom, not real-named (speed limit refused)" },
  { id = "9007199254741009", iccid = "89860321000000000019", carrier = 2, status = 20,
    used = 15, speed = 1024, exceed = "20", bind_remain = 0, real_named = true,
    note = "speed 1024 Kbps, exceed-cut-net 20 MB, no re-binds left" },
  { id = "4900000000000", iccid = "89860021000000000020", carrier = 1, status = 20,
    used = 0.98, order = "494000000000", note = "small id (< 2^53), the doc's example" },
}
F.CARDS = CARDS

local function card_from(spec, idx)
  local plan_id = spec.plan or PLAN_OF_CARRIER[spec.carrier]
  local tags = {}
  for i, t in ipairs(spec.tags or {}) do tags[i] = t end
  local attrs = {}
  for i = 1, 6 do attrs[i] = spec.attrs and spec.attrs[i] or nil end
  local act = spec.act ~= false and T(2023, 3, 1, 2, 0, idx) or nil
  return {
    id = spec.id,
    iccid = spec.iccid,
    carrier = spec.carrier,
    sim_status = spec.status,
    operator_status = spec.operator_status or (spec.status == 14 and 5 or -1),
    flow_used = spec.used,
    plan_id = plan_id,
    pool_id = spec.pool,
    back_pool_id = spec.back_pool,
    order_id = spec.order or (idx <= 10 and "9007199254750001" or "9007199254750002"),
    imei = spec.imei,
    msisdn = string.format("86147%010d", 1000 + idx),
    imsi = IMSI_PREFIX[spec.carrier] .. string.format("%010d", 2000 + idx),
    act_date = act,
    expire_time = T(2027, 2, 28, 15, 59, 59),
    real_named = spec.real_named == true,
    cut_net = false,
    exceed = spec.exceed ~= nil,
    exceed_quota = spec.exceed,
    bind_remain = spec.carrier == 2 and (spec.bind_remain or 2) or nil,
    speed = spec.speed,
    tags = tags,
    attrs = attrs,
    plan_inst_id = C.id_add("9007199254760000", idx),
    plan_create = T(2023, 2, 20, 3, 21, 22),
    index = idx,
  }
end

F.FLEET_ID_BASE = "7000000000000000000"    -- + i: generated sim_card_ids (> 2^53)
F.FLEET_ICCID_PREFIX = "8986032200"         -- + 10 digits: generated ICCIDs
local FLEET_STATUS = { [0] = 14, [1] = 11, [2] = 30, [3] = 10, [4] = 13 }

--- Spec of generated card `i` (fleet scale, /_sim/config {cards=N}): mostly
-- in use, a few of every other status, every 10th in the forward pool.
local function fleet_spec(i)
  local pooled = i % 10 == 5
  return {
    id = C.id_add(F.FLEET_ID_BASE, i), iccid = string.format("%s%010d", F.FLEET_ICCID_PREFIX, i),
    carrier = i % 3 + 1, status = FLEET_STATUS[i % 25] or 20,
    used = ((i * 37) % 3000) / 100, act = (i % 25 ~= 1 and i % 25 ~= 4) and nil or false,
    plan = pooled and "100010" or nil, pool = pooled and "9007199254745001" or nil,
    real_named = i % 2 == 0, imei = string.format("8645%011d", i),
  }
end

--- Build a fresh state table, with `fleet_cards` generated cards.
function F.build(fleet_cards)
  local S = {
    cards = {}, card_list = {}, by_iccid = {},
    plans = PLANS, plan_by_id = {},
    pools = {}, pool_by_id = {},
    back_pools = {}, back_pool_by_id = {},
    tags = {}, tag_by_id = {}, next_tag_id = "9007199254770004",
    attributes = {}, attr_by_id = {}, next_attr_id = "9007199254780003",
    policies = {}, policy_by_id = {}, next_policy_id = "111111111111111120",
    multiply = {}, multiply_by_id = {}, multiply_by_cid = {},
    sms = {},
    work_orders = {}, wo_by_id = {}, next_wo_id = "9007199254800001",
    next_wo_detail_id = "9007199254900001",
    last_op = {},
  }
  for _, p in ipairs(PLANS) do S.plan_by_id[p.price_plan_id] = p end

  local function add(c)
    S.cards[c.id] = c
    S.card_list[#S.card_list + 1] = c
    S.by_iccid[c.iccid] = c
  end
  for i, spec in ipairs(CARDS) do add(card_from(spec, i)) end
  for i = 1, fleet_cards or 0 do add(card_from(fleet_spec(i), #CARDS + i)) end

  local pools = {
    { id = "9007199254745001", pool_name = "sandbox-forward-pool", price_plan_id = "100010",
      flow_total = 60, order_id = "9007199254750001", order_ids = "9007199254750001", status = 1,
      effective_time = T(2023, 2, 28, 16, 0, 0), expired_time = T(2027, 2, 28, 15, 59, 59),
      modify_time = T(2024, 9, 22, 18, 57, 15) },
    { id = "9007199254745002", pool_name = "old-abandoned-pool", price_plan_id = "100010",
      flow_total = 0, order_id = "9007199254750002", order_ids = "9007199254750002", status = 0,
      effective_time = T(2022, 8, 26, 16, 0, 0), expired_time = T(2022, 9, 26, 15, 59, 59),
      modify_time = T(2022, 9, 26, 16, 0, 0) },
  }
  for _, p in ipairs(pools) do
    S.pools[#S.pools + 1] = p
    S.pool_by_id[p.id] = p
  end
  local bp = { id = "9007199254746001", pool_name = "sandbox-back-pool", price_plan_id = "520040",
    order_id = "9007199254750002", order_ids = "9007199254750002", pool_status = 2,
    effective_time = T(2023, 2, 28, 16, 0, 0), expired_time = T(2027, 2, 28, 15, 59, 59),
    status_time = T(2023, 3, 1, 0, 0, 0), modify_time = T(2024, 9, 22, 18, 57, 15) }
  S.back_pools[1] = bp
  S.back_pool_by_id[bp.id] = bp

  local tags = {
    { id = "9007199254770001", tag_name = "fleet-a" },
    { id = "9007199254770002", tag_name = "fleet-b" },
    { id = "9007199254770003", tag_name = "spare" },
  }
  for _, t in ipairs(tags) do
    S.tags[#S.tags + 1] = t
    S.tag_by_id[t.id] = t
  end

  local attrs = {
    { id = "9007199254780001", slot = 1, cust_attr_name = "region", status = 1,
      create_time = T(2023, 3, 1, 8, 0, 0), modify_time = T(2023, 3, 1, 8, 0, 0) },
    { id = "9007199254780002", slot = 2, cust_attr_name = "project", status = 0,
      create_time = T(2023, 3, 1, 8, 0, 1), modify_time = T(2023, 4, 1, 8, 0, 0) },
  }
  for _, a in ipairs(attrs) do
    S.attributes[#S.attributes + 1] = a
    S.attr_by_id[a.id] = a
  end

  local policies = {
    { id = "1111111111111111", policy_name = "默认策略无SDK版", optimal_signal = false,
      auto_switch = false, create_time = T(2023, 11, 1, 8, 0, 0), modify_time = T(2023, 11, 1, 8, 0, 0),
      status = 1, type = 0, used = true, version = 2, switch_order = "3,1,2", blacklist = 0 },
    { id = "111111111111111112", policy_name = "默认策略SDK版", preferred_carrier = 4,
      least_preferred_carrier = 2, optimal_signal = true, auto_switch = true,
      weak_signal_switch = true, create_time = T(2023, 11, 1, 8, 0, 0),
      modify_time = T(2023, 11, 1, 8, 0, 0), status = 1, type = 0, used = true, version = 1,
      blacklist = 0 },
  }
  for _, p in ipairs(policies) do
    S.policies[#S.policies + 1] = p
    S.policy_by_id[p.id] = p
  end

  local multiply = {
    { id = "7777777777777777777", cid = "88888888888881", iccid_mobile = "89860061000000000001",
      iccid_unicom = "89860161000000000001", iccid_telcom = "89860331000000000001",
      online_carrier = 1, policy_id = "1111111111111111", version = 2, order_id = "123456789" },
    { id = "7777777777777777778", cid = "8888888888888888881", iccid_mobile = "89860061000000000002",
      iccid_unicom = "89860161000000000002", iccid_telcom = "89860331000000000002",
      online_carrier = 3, policy_id = "111111111111111112", version = 1, order_id = "123456789" },
    { id = "7777777777777777779", cid = "88888888888883", iccid_mobile = "89860061000000000003",
      iccid_unicom = "89860161000000000003", online_carrier = 1,
      policy_id = "1111111111111111", version = 2, order_id = "123456790",
      note = "no China Telecom profile: switching to carrier 2 -> GSL.00011063" },
  }
  for _, m in ipairs(multiply) do
    S.multiply[#S.multiply + 1] = m
    S.multiply_by_id[m.id] = m
    S.multiply_by_cid[m.cid] = m
  end

  S.sms[1] = { cid = "89860321000000000001", msisdn = S.card_list[1].msisdn,
    sent_time = T(2024, 3, 22, 0, 0, 0), received_time = T(2024, 3, 22, 0, 0, 3),
    sms_status = 2, sms_content = "sandbox hello" }

  -- one finished work order from the past (the document's example ids)
  local wo = {
    id = "5388214536425984", sim_type = 3, work_order_type = 4,
    req_detail = "容器ID:89860121000000000002", status = 4,
    create_time = T(2023, 7, 29, 9, 50, 58), finish_time = T(2023, 7, 29, 9, 55, 0),
    work_order_source = 8, card_id = "111111111111111111", op = "reset_sim_card",
    details = { { id = "5367068399387648", status = 1, cid = "89860121000000000002",
      sim_card_id = "111111111111111111", create_time = T(2023, 7, 29, 9, 50, 58),
      finish_time = T(2023, 7, 29, 9, 55, 0) } },
  }
  S.work_orders[1] = wo
  S.wo_by_id[wo.id] = wo
  return S
end

return F
