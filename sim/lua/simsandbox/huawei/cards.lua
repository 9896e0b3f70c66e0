--- SIM card endpoints (§4.1, the synchronous ones), price plans and usage
-- (§4.2, §4.3). The asynchronous ones are in simsandbox.huawei.workorders.
--
-- Handlers take `ctx = { S, cfg, req, q, b, p, now }` (state, config,
-- request, query table, decoded body, path captures, sandbox clock) and
-- return status, value.
local util = require "simsandbox.util"
local C = require "simsandbox.huawei.common"

local floor = math.floor
local format = string.format
local concat, sort = table.concat, table.sort
local type, ipairs, tonumber = type, ipairs, tonumber
local null, jid, bad, gsl = C.null, C.jid, C.bad, C.gsl

local K = {}

local function round2(x)
  if x >= 0 then return floor(x * 100 + 0.5) / 100 end
  return -floor(-x * 100 + 0.5) / 100
end
K.round2 = round2

local function nz(v)
  if v == nil then return null end
  return v
end

----------------------------------------------------------------------------
-- views

function K.tag_names(S, c)
  local names = {}
  for _, tid in ipairs(c.tags) do
    local t = S.tag_by_id[tid]
    if t then names[#names + 1] = t.tag_name end
  end
  if #names == 0 then return null end
  return concat(names, ",")
end

function K.flow_total(S, c)
  local plan = S.plan_by_id[c.plan_id]
  return plan and plan.flow_total or 0
end

--- SimDeviceVO of a card (show_sim_card, list_sim_cards).
function K.card_view(S, c)
  local plan = S.plan_by_id[c.plan_id]
  local v = {
    sim_card_id = jid(c.id),
    account_id = S.account_id,
    cid = c.iccid,
    sim_pool_id = jid(c.pool_id or c.back_pool_id),
    imei = nz(c.imei),
    sim_status = c.sim_status,
    device_status = null,
    device_model = null,
    act_date = C.iso(c.act_date),
    device_status_date = null,
    node_id = null,
    iccid = c.iccid,
    network_type = null,
    dbm = null,
    signal_level = null,
    sim_type = 3,
    tag_names = K.tag_names(S, c),
    order_id = jid(c.order_id),
    expire_time = C.iso(c.expire_time),
    price_plan_name = plan and plan.price_plan_name or null,
    sim_price_plan_id = jid(c.plan_inst_id),
    flow_left = round2(K.flow_total(S, c) - c.flow_used),
    flow_used = round2(c.flow_used),
    operator_status = c.operator_status,
    msisdn = c.msisdn,
    imsi = c.imsi,
    real_named = c.real_named,
    cut_net_flag = c.cut_net,
    exceed_cut_net_flag = c.exceed,
    exceed_cut_net_quota = c.exceed_quota and tonumber(c.exceed_quota) or null,
    imei_bind_remain_times = nz(c.bind_remain),
    speed_value = c.speed and c.speed ~= -1 and c.speed or null,
  }
  for i = 1, 6 do v["customer_attribute" .. i] = nz(c.attrs[i]) end
  return v
end

----------------------------------------------------------------------------
-- card lookup

--- The card of path id `id`, or of `iccid` when id is "0".
function K.resolve(S, id, iccid)
  if id == "0" then
    if iccid == nil or iccid == null or iccid == "" then bad("iccid is required when sim_card_id is 0") end
    if not C.valid_iccid(iccid) then bad("iccid") end
    local c = S.by_iccid[iccid]
    if not c then gsl("GSL.00011001") end
    return c
  end
  local c = S.cards[id]
  if not c then gsl("GSL.00011001") end
  return c
end

local function path_id(ctx, name)
  local id = C.to_id(ctx.p[1])
  if not id then bad(name or "sim_card_id") end
  return id
end
K.path_id = path_id

----------------------------------------------------------------------------
-- 4.1.1 list_sim_cards

local SORT_KEYS = {
  cid = function(c) return c.iccid end,
  flow_used = function(c) return c.flow_used end,
  flow_left = function(c, S) return K.flow_total(S, c) - c.flow_used end,
  act_date = function(c) return c.act_date or 0 end,
  expire_time = function(c) return c.expire_time or 0 end,
}

function K.list_sim_cards(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local mtype = C.q_int(q, "main_search_type", 0, 99)
  local mkey = C.q_str(q, "main_search_key", 0, 128)
  local sim_status = C.q_int(q, "sim_status", 0, 99)
  local device_status = C.q_int(q, "device_status", 0, 99)
  local sim_type = C.q_int(q, "sim_type", 0, 99)
  local order = C.q_str(q, "order")
  if order and order ~= "asc" and order ~= "desc" then bad("order") end
  local sortk = C.q_str(q, "sort")
  if sortk and not SORT_KEYS[sortk] then bad("sort") end
  local msisdn = C.q_str(q, "msisdn", 0, 32)
  local attrs = {}
  for i = 1, 6 do attrs[i] = C.q_str(q, "customer_attribute" .. i, 0, 100) end
  local min_used = C.q_int(q, "min_used_flow", 0, 2147483647)
  local max_used = C.q_int(q, "max_used_flow", 0, 2147483647)
  local min_left = C.q_int(q, "min_left_flow", 0, 2147483647)
  local max_left = C.q_int(q, "max_left_flow", 0, 2147483647)
  local real_named = C.q_bool(q, "real_named")
  local order_id = C.q_id(q, "order_id")
  local filter_down = C.q_bool(q, "filter_downtime_period")
  C.q_int(q, "pool_flag", 0, 99)
  local tag_ids = C.q_list(q, "tag_id")
  if #tag_ids > 10 then bad("tag_id: at most 10") end
  for i, t in ipairs(tag_ids) do tag_ids[i] = C.to_id(t) or bad("tag_id") end
  local order_ids = C.q_list(q, "order_ids")
  for i, o in ipairs(order_ids) do order_ids[i] = C.to_id(o) or bad("order_ids") end
  local plan_ids = C.q_list(q, "price_plan_id")
  if #plan_ids > 30 then bad("price_plan_id: at most 30") end

  local list = C.filter(S.card_list, function(c)
    if mkey and mkey ~= "" then
      if mtype == 2 then
        if c.order_id ~= mkey then return false end
      elseif mtype == 3 then
        if c.imei ~= mkey then return false end
      elseif c.iccid ~= mkey then
        return false
      end
    end
    if sim_status and c.sim_status ~= sim_status then return false end
    if device_status then return false end -- physical cards have no device status
    if sim_type and sim_type ~= 3 then return false end
    if msisdn and msisdn ~= "" and c.msisdn ~= msisdn then return false end
    for i = 1, 6 do
      if attrs[i] and attrs[i] ~= "" and c.attrs[i] ~= attrs[i] then return false end
    end
    local left = K.flow_total(S, c) - c.flow_used
    if min_used and c.flow_used < min_used then return false end
    if max_used and c.flow_used > max_used then return false end
    if min_left and left < min_left then return false end
    if max_left and left > max_left then return false end
    if real_named ~= nil and c.real_named ~= real_named then return false end
    if order_id and c.order_id ~= order_id then return false end
    if filter_down and c.sim_status == 14 then return false end
    if #tag_ids > 0 then
      local hit = false
      for _, want in ipairs(tag_ids) do
        for _, have in ipairs(c.tags) do
          if have == want then hit = true end
        end
      end
      if not hit then return false end
    end
    if #order_ids > 0 then
      local hit = false
      for _, o in ipairs(order_ids) do if c.order_id == o then hit = true end end
      if not hit then return false end
    end
    if #plan_ids > 0 then
      local hit = false
      for _, p in ipairs(plan_ids) do if c.plan_id == p then hit = true end end
      if not hit then return false end
    end
    return true
  end)
  if sortk or order == "desc" then
    local keyf = SORT_KEYS[sortk or "cid"]
    if not sortk then keyf = function(c) return c.index end end
    local desc = order == "desc"
    sort(list, function(a, b)
      local ka, kb = keyf(a, S), keyf(b, S)
      if ka == kb then return a.index < b.index end
      if desc then return ka > kb end
      return ka < kb
    end)
  end
  local page = C.page(list, limit, offset)
  local out = util.array()
  for i, c in ipairs(page) do out[i] = K.card_view(S, c) end
  return ctx.cfg.list_sim_cards_status,
    { limit = limit, offset = offset, count = #list, sim_cards = out }
end

----------------------------------------------------------------------------
-- 4.1.5 show_sim_card, 4.1.7 show_real_named

function K.show_sim_card(ctx)
  local id = path_id(ctx)
  local c = K.resolve(ctx.S, id, C.q_str(ctx.q, "iccid"))
  return 200, K.card_view(ctx.S, c)
end

function K.show_real_named(ctx)
  local id = path_id(ctx)
  local c = K.resolve(ctx.S, id, C.q_str(ctx.q, "iccid"))
  return 200, { iccid = c.iccid, real_named = c.real_named }
end

----------------------------------------------------------------------------
-- usage: deterministic history so repeated queries agree

--- Data used by card `c` on day (y, m, d), in MB.
function K.daily_flow(c, y, m, d)
  if c.sim_status ~= 20 and c.sim_status ~= 14 then return 0 end
  return round2(((c.index * 37 + d * 11 + m * 5 + y) % 97) / 100 + 0.01)
end

--- Data used by card `c` in the month `ago` months before the current one.
function K.month_flow(c, ago)
  if ago == 0 then return round2(c.flow_used) end
  if c.sim_status ~= 20 and c.sim_status ~= 14 then return 0 end
  return round2(((c.index * 53 + ago * 17) % 300) / 10 + 0.27)
end

-- Cards named by `sim_card_ids` (ids) or, when that is empty, `iccids`.
local function cards_by_ids_or_iccids(S, ids, iccids, max_n)
  local out = {}
  if ids and #ids > 0 then
    if #ids > max_n then bad("sim_card_ids: at most " .. max_n) end
    for _, v in ipairs(ids) do
      local id = C.to_id(v)
      if not id then bad("sim_card_ids") end
      local c = S.cards[id]
      if not c then gsl("GSL.00011001") end
      out[#out + 1] = c
    end
  elseif iccids and #iccids > 0 then
    if #iccids > max_n then gsl("GSL.00011010") end
    for _, v in ipairs(iccids) do
      if type(v) ~= "string" then bad("iccids") end
      local c = S.by_iccid[v]
      if not c then gsl("GSL.00011011", "iccid: [" .. v .. "] 不存在") end
      out[#out + 1] = c
    end
  else
    bad("sim_card_ids and iccids must not both be empty")
  end
  return out
end

-- 4.1.4 show_month_usages
function K.show_month_usages(ctx)
  local S, b = ctx.S, ctx.b
  local ids = C.b_array(b, "sim_card_ids")
  local iccids = C.b_array(b, "iccids")
  if iccids and (not ids or #ids == 0) then
    for _, v in ipairs(iccids) do
      if not C.valid_iccid(v) then bad("iccids") end
    end
  end
  local cards = cards_by_ids_or_iccids(S, ids, iccids, 500)
  local cycles = C.b_array(b, "billing_cycles")
  if not cycles or #cycles == 0 then bad("billing_cycles is required") end
  if #cycles > 6 then bad("billing_cycles: at most 6") end
  local ny, nm = C.ymd(ctx.now)
  local parsed = {}
  for i, bc in ipairs(cycles) do
    local y, m = string.match(type(bc) == "string" and bc or "", "^(%d%d%d%d)%-(%d%d)$")
    if not y then bad("billing_cycles: yyyy-MM") end
    y, m = tonumber(y), tonumber(m)
    if m < 1 or m > 12 then bad("billing_cycles") end
    local ago = C.month_diff(y, m, ny, nm)
    if ago < 0 or ago > 5 then gsl("GSL.00011004") end
    parsed[i] = { label = format("%04d%02d", y, m), ago = ago }
  end
  local out = util.array()
  for _, c in ipairs(cards) do
    local usages = util.array()
    for _, p in ipairs(parsed) do
      usages[#usages + 1] = { billing_cycle = p.label, flow_used = K.month_flow(c, p.ago) }
    end
    out[#out + 1] = { sim_card_id = jid(c.id), iccid = c.iccid, flow_usages = usages }
  end
  return 200, { month_usages = out }
end

-- 4.1.13 list_sim_card_flow_per_day
function K.list_sim_card_flow_per_day(ctx)
  local S, b = ctx.S, ctx.b
  local ids = C.b_array(b, "sim_card_ids")
  local iccids = C.b_array(b, "iccids") or C.b_array(b, "iccid") -- the example's key
  if ids and #ids > 0 and iccids and #iccids > 0 then
    bad("sim_card_ids and iccids are mutually exclusive")
  end
  local cards = cards_by_ids_or_iccids(S, ids, iccids, 100)
  local month, date = b.month, b.date
  if month == null then month = nil end
  if date == null then date = nil end
  if type(month) == "number" then month = format("%d", month) end
  if type(date) == "number" then date = format("%d", date) end
  if (month and date) or (not month and not date) then bad("exactly one of month and date") end
  local ty, tm, td = C.ymd(ctx.now)
  local today = C.days_from_civil(ty, tm, td)
  local ly, lm = ty, tm - 1
  if lm == 0 then ly, lm = ty - 1, 12 end
  local first_allowed = C.days_from_civil(ly, lm, 1)
  local days = {}
  if month then
    local y, m = string.match(type(month) == "string" and month or "", "^(%d%d%d%d)(%d%d)$")
    if not y then bad("month: yyyyMM") end
    y, m = tonumber(y), tonumber(m)
    if not ((y == ty and m == tm) or (y == ly and m == lm)) then
      bad("month: only the last or the current month")
    end
    for d = 1, C.month_days(y, m) do
      if C.days_from_civil(y, m, d) < today then days[#days + 1] = { y, m, d } end
    end
  else
    local y, m, d = string.match(type(date) == "string" and date or "", "^(%d%d%d%d)(%d%d)(%d%d)$")
    if not y then bad("date: yyyyMMdd") end
    y, m, d = tonumber(y), tonumber(m), tonumber(d)
    if m < 1 or m > 12 or d < 1 or d > C.month_days(y, m) then bad("date") end
    local n = C.days_from_civil(y, m, d)
    if n < first_allowed or n >= today then bad("date: from the first day of last month to yesterday") end
    days[1] = { y, m, d }
  end
  local out = util.array()
  for _, day in ipairs(days) do
    local flows = util.array()
    for _, c in ipairs(cards) do
      flows[#flows + 1] = { sim_card_id = jid(c.id), iccid = c.iccid,
                            flow = K.daily_flow(c, day[1], day[2], day[3]) }
    end
    out[#out + 1] = { date = format("%04d%02d%02d", day[1], day[2], day[3]), sim_flow = flows }
  end
  return 200, out
end

----------------------------------------------------------------------------
-- 4.2.1 list_pro_price_plans

function K.list_pro_price_plans(ctx)
  local S, q = ctx.S, ctx.q
  local limit, offset = C.paging(q)
  local key = C.q_str(q, "main_search_key", 0, 256)
  local flow_total = C.q_int(q, "flow_total", 0)
  local network_type = C.q_int(q, "network_type", 0)
  local location_type = C.q_int(q, "location_type", 0)
  local carrier_type = C.q_int(q, "carrier_type", 0)
  C.q_int(q, "country_type", 0)
  local list = C.filter(S.plans, function(p)
    if key and key ~= "" and not C.contains(p.price_plan_name, key) then return false end
    if flow_total and p.flow_total ~= flow_total then return false end
    if network_type and p.network_type ~= network_type then return false end
    if location_type and p.location_type ~= location_type then return false end
    if carrier_type and p.carrier_type ~= carrier_type then return false end
    return true
  end)
  local out = util.array()
  for i, p in ipairs(C.page(list, limit, offset)) do
    out[i] = {
      price_plan_id = p.price_plan_id, price_plan_name = p.price_plan_name,
      description = p.price_plan_name, flow_total = p.flow_total, package_type = p.package_type,
      period = p.period, period_type = p.period_type, effect_type = p.effect_type,
      silent_period_day = p.silent_period_day, silent_period_unit = p.silent_period_unit,
      auto_renew = p.auto_renew, location_desc = p.location_desc,
      location_type = p.location_type, sim_type = p.sim_type, carrier_type = p.carrier_type,
      price = p.price,
    }
  end
  return 200, { limit = limit, offset = offset, count = #list, price_plans = out }
end

----------------------------------------------------------------------------
-- 4.3.1 list_sim_price_plans (bare array), 4.3.2 list_flow_by_sim_cards

function K.list_sim_price_plans(ctx)
  local S, q = ctx.S, ctx.q
  local id = C.q_id(q, "sim_card_id", true)
  local c = K.resolve(S, id, C.q_str(q, "iccid"))
  C.q_bool(q, "real_time")
  local limit, offset = C.paging(q)
  local plan = S.plan_by_id[c.plan_id] or {}
  local total = K.flow_total(S, c)
  local inst = {
    id = jid(c.plan_inst_id),
    account_id = S.account_id,
    sim_card_id = jid(c.id),
    status = c.sim_status == 14 and 5 or (c.sim_status == 20 and 2 or 1),
    price_plan_id = c.plan_id,
    cid = c.iccid,
    order_id = c.order_id,             -- a String in SimPricePlanVO (doc L2635)
    create_time = C.iso(c.plan_create),
    active_time = C.iso(c.act_date),
    stop_time = null,
    flow_total = total,
    flow_used = round2(c.flow_used),
    flow_left = round2(total - c.flow_used),
    using = c.sim_status == 20 and "1" or "0",
    price_plan_name = plan.price_plan_name or null,
    description = null,
    package_type = plan.auto_renew and 1 or 0,
    effect_type = plan.effect_type or 1,
    silent_period_day = plan.silent_period_day or 0,
    silent_period_unit = plan.silent_period_unit or 2,
    auto_renew = plan.auto_renew and 1 or 0,
    location_desc = plan.location_desc or "中国",
  }
  return 200, C.page({ inst }, limit, offset)
end

function K.list_flow_by_sim_cards(ctx)
  local S, b = ctx.S, ctx.b
  local ids = C.b_array(b, "sim_card_ids")
  -- the document's table and example say "iccid", the SDK model "iccids": both accepted
  local iccids = C.b_array(b, "iccid") or C.b_array(b, "iccids")
  if iccids and #iccids > 64 then gsl("GSL.00011010") end
  local cards = cards_by_ids_or_iccids(S, ids, iccids, 50)
  local out = util.array()
  for _, c in ipairs(cards) do
    local plan = S.plan_by_id[c.plan_id] or {}
    local total = K.flow_total(S, c)
    out[#out + 1] = {
      id = jid(c.plan_inst_id), account_id = S.account_id, sim_card_id = jid(c.id),
      price_plan_id = c.plan_id, price_plan_name = plan.price_plan_name or null,
      iccid = c.iccid, flow_total = total, flow_used = round2(c.flow_used),
      flow_left = round2(total - c.flow_used),
    }
  end
  return 200, out
end

return K
