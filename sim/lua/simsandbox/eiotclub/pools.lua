--- EIOTCLUB sandbox: data pools (snake_case parameters, bytes, unix seconds).
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local M = require "simsandbox.eiotclub.model"
local cards = require "simsandbox.eiotclub.cards"
local packages = require "simsandbox.eiotclub.packages"

local floor = math.floor
local format, find = string.format, string.find
local ipairs = ipairs
local fail = C.fail

local H = {}

local reg = C.registrar(H)

local function pool_of(ctx)
  local id = C.int(ctx, "pool_object_id")
  if not id then fail("42404") end
  local p = S.pools[id]
  if not p then fail("42404", tostring(id)) end
  return p
end

local function iccid_list(ctx)
  local l = C.list(ctx, "iccid_arr")
  if not l then fail("41001") end
  for _, i in ipairs(l) do
    if not C.iccid_ok(i) then fail("41001", i) end
  end
  return l
end

local function pool_type(ctx)
  local code = C.str(ctx, "pool_type_code")
  if not code then fail("43332", "pool_type_code is empty") end
  local t = S.pool_types[code]
  if not t then fail("42007", code) end
  return t
end

reg("/api/v3/pool/pkg/list", "pool_pkg_list", function(ctx)
  if C.str(ctx, "iccid") then cards.card(ctx) end
  local only
  if C.int(ctx, "pool_object_id") ~= nil then only = pool_of(ctx).pool_type_code end
  local list = util.array()
  for _, t in ipairs(S.pool_type_list) do
    if not only or t.pool_type_code == only then
      list[#list + 1] = { pool_type_code = t.pool_type_code, pool_lines = t.pool_lines,
        total_active = t.total_active, total_data = t.total_data }
    end
  end
  return { list = list }
end)

reg("/api/v3/pool/create", "pool_create", function(ctx)
  local t = pool_type(ctx)
  local id = S.seq.pool
  S.seq.pool = id + 1
  local p = { pool_object_id = id, pool_type_code = t.pool_type_code, pool_lines = t.pool_lines,
    memo = C.str(ctx, "memo") or "", status = 1, create_at = floor(ctx.now), cards = {}, card_order = {} }
  S.pools[id] = p
  S.pool_list[#S.pool_list + 1] = p
  return { pool_object_id = id }
end)

reg("/api/v3/pool/list", "pool_list", function(ctx)
  local want
  local l = C.list(ctx, "pool_object_id_arr")
  if l == false then fail("42404") end
  if l then
    want = {}
    for _, v in ipairs(l) do
      if not find(v, "^%d+$") then fail("42404", v) end
      want[tonumber(v)] = true
    end
  end
  local memo = C.str(ctx, "memo")
  local list = util.array()
  for _, p in ipairs(S.pool_list) do
    if (not want or want[p.pool_object_id]) and (not memo or find(p.memo or "", memo, 1, true)) then
      list[#list + 1] = M.pool_view(p)
    end
  end
  return { list = list }
end)

reg("/api/v3/pool/delete", "pool_delete", function(ctx)
  local p = pool_of(ctx)
  if #p.card_order > 0 then fail("43332", "pool is not empty") end
  S.pools[p.pool_object_id] = nil
  for i, q in ipairs(S.pool_list) do
    if q == p then table.remove(S.pool_list, i); break end
  end
  return util.object()
end)

reg("/api/v3/pool/sub", "pool_sub", function(ctx)
  local p = pool_of(ctx)
  local t = pool_type(ctx)
  local otn = packages.trade_no(ctx, "out_trade_no")
  if S.pool_records_by_otn[otn] then fail("42002", otn) end
  if t.pool_type_code ~= p.pool_type_code then fail("41050", "pool type differs from the pool's") end
  if S.balance < t.price then fail("45112") end
  S.balance = S.balance - t.price
  local active = M.pool_active_record(p)
  local now = floor(ctx.now)
  local rec = { pool_record_id = S.seq.pool_record, pool_object_id = p.pool_object_id,
    order_no = format("PO2026%06d", S.seq.pool_order), out_trade_no = otn,
    pool_type_code = t.pool_type_code, status_code = active and 2 or 3,
    active_timestamp = active and 0 or now,
    expire_timestamp = active and 0 or now + t.total_active * C.DAY,
    total = t.total_data, used = 0, create_at = now, price = t.price }
  S.seq.pool_record = S.seq.pool_record + 1
  S.seq.pool_order = S.seq.pool_order + 1
  S.pool_records[#S.pool_records + 1] = rec
  S.pool_records_by_otn[otn] = rec
  S.pool_records_by_no[rec.order_no] = rec
  p.status = 2
  return { order_no = rec.order_no }
end)

local function set_of(ctx, name, numeric)
  local l = C.list(ctx, name)
  if l == false then fail("43332", name) end
  if not l then return nil end
  local s = {}
  for _, v in ipairs(l) do
    if numeric then
      if not find(v, "^%-?%d+$") then fail("43332", name) end
      s[tonumber(v)] = true
    else
      s[v] = true
    end
  end
  return s
end

local function range(ctx, name)
  local v = C.int(ctx, name)
  if v == false then fail("42409", name) end
  return v
end

reg("/api/v3/pool/record/list", "pool_record_list", function(ctx)
  local p = pool_of(ctx)
  local nos, otns = set_of(ctx, "order_no_arr"), set_of(ctx, "out_trade_no_arr")
  local types, codes = set_of(ctx, "pool_type_code_arr"), set_of(ctx, "status_code_arr", true)
  local cs, ce = range(ctx, "create_at_start"), range(ctx, "create_at_end")
  local as, ae = range(ctx, "active_timestamp_start"), range(ctx, "active_timestamp_end")
  local es, ee = range(ctx, "expire_timestamp_start"), range(ctx, "expire_timestamp_end")
  local page = C.int(ctx, "page")
  if not page or page < 1 then fail("42403") end
  local size = cards.page_size(ctx, "page_size", nil, 1000, true)
  local list = {}
  for _, r in ipairs(S.pool_records) do
    if r.pool_object_id == p.pool_object_id and (not nos or nos[r.order_no])
      and (not otns or otns[r.out_trade_no]) and (not types or types[r.pool_type_code])
      and (not codes or codes[r.status_code])
      and (not cs or r.create_at >= cs) and (not ce or r.create_at <= ce)
      and (not as or r.active_timestamp >= as) and (not ae or r.active_timestamp <= ae)
      and (not es or r.expire_timestamp >= es) and (not ee or r.expire_timestamp <= ee) then
      list[#list + 1] = r
    end
  end
  local slice = C.page(list, page, size)
  for i, r in ipairs(slice) do
    slice[i] = { pool_record_id = r.pool_record_id, order_no = r.order_no, out_trade_no = r.out_trade_no,
      pool_type_code = r.pool_type_code, status_code = r.status_code,
      expire_timestamp = r.expire_timestamp, active_timestamp = r.active_timestamp,
      total = r.total, used = r.used, create_at = r.create_at }
  end
  return { list = slice }
end)

reg("/api/v3/pool/unsub", "pool_unsub", function(ctx)
  local p = pool_of(ctx)
  local no, otn = C.str(ctx, "order_no"), C.str(ctx, "out_trade_no")
  if not no and not otn then fail("42003", "order_no or out_trade_no required") end
  local rec = (no and S.pool_records_by_no[no]) or (otn and S.pool_records_by_otn[otn])
  if not rec or rec.pool_object_id ~= p.pool_object_id then fail("42004") end
  if rec.status_code < 0 then fail("42006") end
  local was_active = rec.status_code == 3
  if rec.status_code == 2 then S.balance = S.balance + rec.price end -- never started: full refund
  rec.status_code = -1
  if was_active then M.pool_next(p, floor(ctx.now)) end
  return util.object()
end)

--- Whether `iccid` can join pool `p` (and why not).
local function can_add(iccid)
  local card = S.cards[iccid]
  if not card then return false, "not in account" end
  if card.pool_id then return false, "already in a pool" end
  if card.status == "RETIRED_NAME" then return false, "retired" end
  return true
end

reg("/api/v3/pool/card/can_add_list", "pool_card_can_add_list", function(ctx)
  local p = pool_of(ctx)
  local free = p.pool_lines - #p.card_order
  local list = util.array()
  for _, i in ipairs(iccid_list(ctx)) do
    if free > 0 and can_add(i) then
      list[#list + 1] = { iccid = i }
      free = free - 1
    end
  end
  return { list = list }
end)

reg("/api/v3/pool/card/add", "pool_card_add", function(ctx)
  local p = pool_of(ctx)
  local l = iccid_list(ctx)
  if #p.card_order + #l > p.pool_lines then fail("41007") end
  local seen = {}
  for _, i in ipairs(l) do
    local ok, why = can_add(i)
    if not ok or seen[i] then fail("41001", i .. ": " .. (why or "repeated")) end
    seen[i] = true
  end
  for _, i in ipairs(l) do
    p.cards[i] = floor(ctx.now)
    p.card_order[#p.card_order + 1] = i
    S.cards[i].pool_id = p.pool_object_id
  end
  return util.object()
end)

reg("/api/v3/pool/card/list", "pool_card_list", function(ctx)
  local p = pool_of(ctx)
  local list = util.array()
  for _, i in ipairs(p.card_order) do list[#list + 1] = { iccid = i, create_at = p.cards[i] } end
  return { list = list }
end)

reg("/api/v3/pool/card/remove", "pool_card_remove", function(ctx)
  local p = pool_of(ctx)
  local l = iccid_list(ctx)
  for _, i in ipairs(l) do
    if not p.cards[i] then fail("41001", i .. ": not in this pool") end
  end
  for _, i in ipairs(l) do
    p.cards[i] = nil
    for k, v in ipairs(p.card_order) do
      if v == i then table.remove(p.card_order, k); break end
    end
    if S.cards[i] then S.cards[i].pool_id = nil end
  end
  return util.object()
end)

reg("/api/v3/pool/by_iccid", "pool_by_iccid", function(ctx)
  local card = cards.card(ctx)
  return { pool_object_id = card.pool_id or 0 }
end)

return H
