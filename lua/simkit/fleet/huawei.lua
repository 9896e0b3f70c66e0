--- Huawei Cloud GSL in the fleet model: the mapping (data) and the calls
-- that fill it. Sources and reasoning: docs/fleet.md (seed lines of
-- shared/seeds/huawei-gsl-api-reference.txt).
--
-- Cards come from `list_sim_cards` (500 a page, 1 call/s) whose flow
-- figures are "as of 24:00 yesterday" (L493-L494): they give the plan's
-- total (used + left); the current month's use comes from
-- `show_month_usages` (500 cards a call, L985: ten times the 50 of
-- list_flow_by_sim_cards), the pools' remaining data from `list_sim_pools`.
-- The client paces every call (5/s per account, 1/s for list_sim_cards).
-- Ids are 64-bit and stay exact (Lua integers on 5.3+, digit strings on
-- LuaJIT).
-- @module simkit.fleet.huawei
local C = require "simkit.fleet.common"
local util = require "simkit.util"
local json = require "simkit.json"

local V = { name = "huawei" }

V.PAGE_SIZE = 500   -- list_sim_cards / list_sim_pools limit: 10-500 (L412)
V.MONTH_BATCH = 500 -- show_month_usages: at most 500 sim_card_ids (L985)
V.TAG_BATCH = 500   -- batch_set_tags: at most 500 sim_card_ids (L4037)
V.SMS_BATCH = 500   -- send_sms cids: no stated cap; 500 like the other batch ops

--- sim_status -> normalised status (DESIGN.md; seed L477).
V.STATUS = { ["10"] = "testing", ["11"] = "inactive", ["13"] = "inactive", ["14"] = "suspended",
  ["20"] = "active", ["30"] = "deactivated" }

--- action -> op (false: Huawei GSL has none; no operation buys data).
V.OPS = {
  suspend = "stop_sim_card", resume = "reset_sim_card", network = "start_stop_net",
  speed = "set_speed_value", topup = false, sms = "send_sms", tag = "batch_set_tags",
  imei_lock = "register_imei", usage_cap = "set_exceed_cut_net",
}

local function key(id) return util.integer_text(id) end
V.key = key

local function tags_of(names)
  local out = {}
  if type(names) == "string" then
    for t in names:gmatch("[^,]+") do out[#out + 1] = t end
  end
  return out
end

--- One card: a list_sim_cards / show_sim_card item, its use this month
-- (MB, show_month_usages; nil: the listing's figures of yesterday 24:00 are
-- used) and its pool's remaining MB (pooled cards).
function V.card(item, used_now, pool_left, now)
  local pooled = item.sim_pool_id ~= nil and item.sim_pool_id ~= json.null
  local used_y, left_y = C.num(item.flow_used), C.num(item.flow_left)
  local as_of = now
  if used_now == nil then
    -- "data as of 24:00 yesterday" (China, UTC+8)
    as_of = math.floor((now + C.BEIJING) / 86400) * 86400 - C.BEIJING
  end
  local usage
  -- the plan's total = yesterday's used + left ("剩余流量" / "已用流量",
  -- L493-L494); flow_left is negative once the card used more than that
  local limit = used_y and left_y and used_y + left_y or nil
  if pooled then
    -- a pooled card's plan total is the share it brings to the pool: its
    -- limit; used above it means it draws on the other cards' shares (its
    -- flow_left negative, the sandbox's card 7: 40 used of 20). What it can
    -- still use is the pool's remaining data (the pool may be over too:
    -- -42.59, L3064-L3085): left = the pool's left, clamped at 0
    usage = C.usage { used_mb = used_now or used_y, limit_mb = limit, left_mb = pool_left, pooled = true,
      period = "month", as_of = as_of }
  else
    usage = C.usage { used_mb = used_now or used_y, limit_mb = limit,
      left_mb = (used_now == nil or limit == nil) and left_y or nil, period = "month", as_of = as_of }
  end
  return {
    vendor = "huawei",
    iccid = C.str(item.iccid) or C.str(item.cid),
    id = item.sim_card_id,
    status = C.status(V.STATUS, item.sim_status),
    vendor_status = item.sim_status,
    imsi = C.str(item.imsi), msisdn = C.str(item.msisdn), imei = C.str(item.imei),
    pool = pooled and item.sim_pool_id or nil,
    plan = C.str(item.price_plan_name),
    usage = usage,
    expires = C.iso_time(item.expire_time),
    activated = C.iso_time(item.act_date),
    tags = tags_of(item.tag_names),
    raw = item,
  }
end

--- A forward pool of list_sim_pools or a backward pool of list_back_pools.
function V.pool(item, back)
  local total, used, left = C.num(item.flow_total), C.num(item.flow_used), C.num(item.flow_left)
  return {
    vendor = "huawei", id = item.id, name = C.str(item.pool_name),
    used_mb = C.round2(used), limit_mb = C.round2(total),
    left_mb = left and C.round2(math.max(0, left)) or (total and used and C.round2(math.max(0, total - used))),
    cards = C.num(item.quantity), expires = C.iso_time(item.expired_time),
    back = back or nil, raw = item,
  }
end

local function walk(vc, op, items_key)
  local out, page = {}, 0
  repeat
    page = page + 1
    local data, err = vc.call(op, { limit = V.PAGE_SIZE, offset = page })
    if not data then return nil, err end
    local list = type(data[items_key]) == "table" and data[items_key] or {}
    for _, p in ipairs(list) do out[#out + 1] = p end
    local count = C.num(data.count)
  until #list < V.PAGE_SIZE or (count and page * V.PAGE_SIZE >= count)
  return out
end

--- pool id -> remaining MB of every forward pool (cached per sync).
local function pool_lefts(vc, cache)
  if cache.lefts then return cache.lefts end
  local list, err = walk(vc, "list_sim_pools", "pools")
  if not list then return nil, err end
  local map = {}
  for _, p in ipairs(list) do map[key(p.id)] = V.pool(p).left_mb end
  cache.lefts = map
  return map
end

--- The billing month (yyyy-MM) of `now`: China's (UTC+8) first, then UTC.
function V.months(now)
  local bj, utc = os.date("!%Y-%m", now + C.BEIJING), os.date("!%Y-%m", now)
  return bj, utc ~= bj and utc or nil
end

--- sim_card_id -> MB used this month of `items` (show_month_usages, 500 a
-- call). The month is China's; when the vendor calls it a future month
-- (GSL.00011004: its clock is in the previous one, a few hours a month),
-- the UTC month is asked instead, once per sync.
local function month_use(vc, items, cache)
  local ids = {}
  for _, it in ipairs(items) do ids[#ids + 1] = it.sim_card_id end
  local map = {}
  local bj, utc = V.months(vc.now())
  for _, chunk in ipairs(C.chunks(ids, V.MONTH_BATCH)) do
    local function ask(month)
      return vc.call("show_month_usages", { sim_card_ids = json.array(chunk), billing_cycles = json.array { month } })
    end
    local data, err = ask(cache.month or bj)
    if not data and utc and not cache.month and err.code == "GSL.00011004" then
      cache.month = utc
      data, err = ask(utc)
    end
    if not data then return nil, err end
    cache.month = cache.month or bj
    for _, r in ipairs(type(data.month_usages) == "table" and data.month_usages or {}) do
      local u = type(r.flow_usages) == "table" and r.flow_usages[1] or nil
      if u then map[key(r.sim_card_id)] = C.num(u.flow_used) end
    end
  end
  return map
end

local function cards_of(vc, items, cache)
  local map, err = month_use(vc, items, cache)
  if not map then return nil, err end
  local lefts
  for _, it in ipairs(items) do
    if it.sim_pool_id ~= nil and it.sim_pool_id ~= json.null then
      lefts, err = pool_lefts(vc, cache)
      if not lefts then return nil, err end
      break
    end
  end
  local now = vc.now()
  local out = {}
  for i, it in ipairs(items) do
    out[i] = V.card(it, map[key(it.sim_card_id)], lefts and lefts[key(it.sim_pool_id)], now)
  end
  return out
end

--- A pager over the tenant's cards (see simkit.fleet.eiotclub.lister).
function V.lister(vc, hint)
  local page, done, cache = 0, false, {}
  local status
  if hint.status then
    local values = {}
    for v, s in pairs(V.STATUS) do if s == hint.status then values[#values + 1] = v end end
    if #values == 1 then status = tonumber(values[1]) end
  end
  local info = { vendor = "huawei" }
  return function()
    if done then return nil end
    page = page + 1
    local data, err = vc.call("list_sim_cards", { limit = V.PAGE_SIZE, offset = page, sim_status = status })
    if not data then return false, err end
    local items = type(data.sim_cards) == "table" and data.sim_cards or {}
    local count = C.num(data.count)
    done = #items < V.PAGE_SIZE or (count ~= nil and page * V.PAGE_SIZE >= count)
    if #items == 0 then return nil end
    local out, cerr = cards_of(vc, items, cache)
    if not out then return false, cerr end
    info.total, info.page = count, page
    return out, info
  end
end

--- One card by ICCID (show_sim_card with sim_card_id 0), or nil when
-- Huawei does not know it.
function V.one(vc, iccid)
  local item, err = vc.call("show_sim_card", { sim_card_id = 0, iccid = iccid })
  if not item then
    if err and (err.code == "GSL.00011001" or err.status == 404) then return nil end
    return nil, err
  end
  local out, cerr = cards_of(vc, { item }, {})
  if not out then return nil, cerr end
  return out[1]
end

--- Every forward and backward pool.
function V.pools(vc)
  local out = {}
  local list, err = walk(vc, "list_sim_pools", "pools")
  if not list then return nil, err end
  for _, p in ipairs(list) do out[#out + 1] = V.pool(p) end
  list, err = walk(vc, "list_back_pools", "pools")
  if not list then return nil, err end
  for _, p in ipairs(list) do out[#out + 1] = V.pool(p, true) end
  return out
end

--- tag name -> tag id (list_tags, cached per fleet).
local function tag_ids(vc, names)
  if not vc.cache.tags then
    local list, err = walk(vc, "list_tags", "tags")
    if not list then return nil, err end
    local map = {}
    for _, t in ipairs(list) do map[t.tag_name] = t.id end
    vc.cache.tags = map
  end
  local ids = {}
  for i, n in ipairs(names) do
    local id = vc.cache.tags[n]
    if id == nil then
      vc.cache.tags = nil -- a tag made since: look again next time
      return nil, C.input("tag: no Huawei tag named '" .. n .. "' (create it with create_tag)",
        { vendor = "huawei", op = "tag", param = "tags" })
    end
    ids[i] = id
  end
  return ids
end

-- per-card ops: the body of each (sim_card_id is the path id)
local BUILD = {
  suspend = function() return {} end,
  resume = function() return {} end,
  network = function(a) return { action = a.on and "DEL" or "ADD" } end, -- ADD cuts off (L1611)
  speed = function(a) return { speed_value = a.kbps == "default" and -1 or a.kbps } end, -- -1 = no limit (L2149)
  imei_lock = function(a) return { bind_type = 1, imei = a.imei } end, -- 1 = ordinary re-bind (L1889)
  usage_cap = function(a)                                              -- 1 set, 2 cancel (L1746)
    if a.mb == false then return { action = 2 } end
    return { action = 1, quota = tostring(a.mb) }
  end,
}

--- Do `action` on several cards of this vendor with as few calls as the
-- vendor allows; returns the per-card outcomes { ok, result, err } in order.
function V.act_batch(vc, cards, action, args, progress)
  local out = {}
  if action == "tag" or action == "sms" then
    local ids
    if action == "tag" then
      local err
      ids, err = tag_ids(vc, args.tags)
      if not ids then
        for i = 1, #cards do out[i] = { ok = false, err = err } end
        return out
      end
    end
    local size = action == "tag" and V.TAG_BATCH or V.SMS_BATCH
    local done = 0
    for _, chunk in ipairs(C.chunks(cards, size)) do
      local a
      if action == "tag" then
        local list = {}
        for i, c in ipairs(chunk) do list[i] = c.id end
        a = { sim_card_ids = json.array(list), tag_ids = json.array(ids) }
      else
        local list = {}
        for i, c in ipairs(chunk) do list[i] = c.iccid end
        a = { sms_content = args.text, cids = json.array(list) }
      end
      local data, err = vc.call(V.OPS[action], a)
      for _ = 1, #chunk do
        out[#out + 1] = err and { ok = false, err = err } or { ok = true, result = { op = V.OPS[action], data = data } }
      end
      done = done + #chunk
      progress(done)
    end
    return out
  end
  for i, card in ipairs(cards) do
    local a = BUILD[action](args)
    a.sim_card_id = card.id
    local data, err = vc.call(V.OPS[action], a)
    out[i] = data and { ok = true, result = { op = V.OPS[action], data = data,
      work_order_id = type(data) == "table" and data.work_order_id or nil } } or { ok = false, err = err }
    progress(i)
  end
  return out
end

--- Wait for the work orders of `outcomes` (client:wait); a failed work
-- order turns its card's outcome into a failure.
function V.wait(vc, outcomes, opts)
  for _, o in ipairs(outcomes) do
    if o.ok and o.result.work_order_id ~= nil then
      local wo, err = vc.client:wait(o.result.work_order_id, opts)
      if wo then o.result.work_order = wo else o.ok, o.err = false, err end
    end
  end
end

return V
