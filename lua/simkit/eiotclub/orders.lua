--- Money-safe EIOTCLUB orders (the eiotclub adapter's `call` hook for every
-- op whose generated descriptor has an `order`: `order_package`,
-- `esim_purchase`, `cloudesim_purchase` (key `outTradeNo`) and `pool_sub`
-- (key `out_trade_no`)). An order is sent once per call and never retried
-- blindly.
--
-- **The key.** Generated when the caller gives none (`"sk" .. unix seconds ..
-- 16 hex digits`, 28 characters) and always handed back: in the result and
-- in every error (`err.key`, `err.key_name`). The vendor refuses a second
-- order with the same key (42002 / 503016), so calling again with the SAME
-- key can never charge twice.
--
-- **One result shape** (new order, "already exists", or found after an
-- ambiguous failure): the fields a new order's answer carries (the
-- descriptor's `order.fields`: `order_package` `orderId`, `orderNumber`;
-- `pool_sub` `order_no`; the other orders: the vendor's table as it came),
-- plus
-- `orderId` (the vendor's order id; for `pool_sub` its `order_no`; looked up
-- when the answer lacks it, nil only when the vendor cannot tell it),
-- the key under its own name, and `_simkit = { key, key_name, reconciled,
-- duplicate, record }` (`record`: the vendor's whole table: the answer, or
-- the order record a duplicate or a lookup returned) (`duplicate`: the vendor said the key exists and this is
-- that order; `reconciled`: the answer was lost and the order was found).
--
-- **Outcomes of a failure** (`err.outcome`):
-- * `"not_placed"` only when certain: nothing reached the vendor (a connect
--   failure, a client-side refusal) or the vendor refused it outright (a
--   business error such as no balance, 501 "too many requests");
-- * `"exists"`: the vendor says an order with this key exists but simkit
--   could not fetch it (`duplicate = true`);
-- * `"unknown"`: the request may have reached the vendor (timeout, reset,
--   5xx, an unreadable answer, vendor 500 / 43331) and simkit could not
--   find the order before its deadline. The vendor may still be processing
--   it: an order may appear later. `retryable = false`, `reuse_key = true`:
--   call again with the same key (never a new one) — the vendor answers a
--   duplicate if the first one went through, and simkit then returns it.
--
-- **Time bound.** A call returns within `order_timeout` seconds (client
-- option, default 3 x `timeout`, never less than `timeout`): the send gets
-- `timeout`, the pause and the lookups share what is left, each request's
-- own timeout cut to the remaining time.
--
-- After an ambiguous failure the order is looked up by its key (after a
-- pause: the request timeout after a timeout, else 0.5 s). `esim_purchase`
-- and `cloudesim_purchase` cannot be looked up by key (`probe` in their
-- descriptor): simkit asks once more WITH THE SAME KEY — accepted: one order,
-- returned `reconciled`; refused as a duplicate: `outcome = "exists"`.
-- @module simkit.eiotclub.orders
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"

local M = {}

--- Generate an idempotency key: at most 32 characters, `[0-9a-z]`.
-- @treturn string
function M.new_key()
  return "sk" .. string.format("%d", math.floor(util.now())) .. util.random_hex(8)
end

local AMBIGUOUS_CODES = { ["500"] = true, ["43331"] = true }

--- May an order that failed with `err` have been placed anyway?
-- @tparam table err a simkit error
-- @treturn boolean
function M.ambiguous(err)
  if err.kind == "transport" then return err.sent ~= false end
  if err.kind == "decode" then return true end
  if err.kind == "http" then return (tonumber(err.status) or 0) >= 500 end
  if err.kind == "vendor" then return AMBIGUOUS_CODES[tostring(err.code)] == true end
  return false
end

local function is_duplicate(spec, err)
  if err.kind ~= "vendor" then return false end
  local code = tostring(err.code)
  for _, c in ipairs(spec.duplicate_codes or {}) do if c == code then return true end end
  return false
end

local function with(err, fields)
  local f = {}
  for k, v in pairs(err) do f[k] = v end
  for k, v in pairs(fields) do f[k] = v end
  return errors.new(f)
end

-- One order's state for a call: the spec, the key, the deadline.
local function left(o)
  return o.deadline - o.ctx.clock()
end

local function pause(o, seconds)
  local s = math.min(seconds, left(o) - 0.1)
  if s > 0 then o.ctx.sleep(s) end
end

local function lookup_opts(o)
  return { deadline = o.deadline, retries = 1 }
end

local function list_of(data)
  if type(data) ~= "table" then return {} end
  if type(data.list) == "table" then return data.list end
  return data
end

local function match_key(item, key)
  return type(item) == "table" and (item.outTradeNo == key or item.out_trade_no == key)
end

-- The lookups by key: op -> function(o) -> "found", item | "absent" | "unknown", err
local LOOKUPS = {
  get_order_package_details = function(o)
    for _, state in ipairs({ 0, 1, 2 }) do
      local data, err = o.ctx:call("get_order_package_details",
        { outTradeNoArrStr = o.key, state = state, page = 1, pageSize = 50 }, lookup_opts(o))
      if not data then return "unknown", err end
      for _, item in ipairs(list_of(data)) do
        if match_key(item, o.key) then return "found", item end
      end
    end
    return "absent"
  end,
  pool_record_list = function(o)
    local data, err = o.ctx:call("pool_record_list",
      { pool_object_id = o.args.pool_object_id, out_trade_no_arr = o.key, page = 1, page_size = 10 }, lookup_opts(o))
    if not data then return "unknown", err end
    for _, item in ipairs(list_of(data)) do
      if match_key(item, o.key) then return "found", item end
    end
    return "absent"
  end,
}

-- The order id when the item found lacks it: package_order_record lists a
-- card's orders with orderId and outTradeNo (newest first, a few pages).
local ID_LOOKUPS = {
  package_order_record = function(o, item)
    local iccid = item.iccid or o.args.iccid
    if type(iccid) ~= "string" then return nil end
    for page = 1, 5 do
      local data = o.ctx:call("package_order_record", { iccid = iccid, orderBy = "createDateDesc", page = page,
        pageSize = 100 }, lookup_opts(o))
      local list = list_of(data)
      for _, r in ipairs(list) do
        if match_key(r, o.key) then return r.orderId end
      end
      if #list < 100 then return nil end
    end
    return nil
  end,
}

-- The one result shape.
local function result(o, data, flags)
  local spec, key = o.spec, o.key
  local src = (type(data) == "table" and data ~= json.null) and data or {}
  local out
  if spec.fields then
    -- one shape: a new order's answer fields, whether the table came from the
    -- answer, a duplicate's record or a lookup (the whole table: _simkit.record)
    out = {}
    for _, f in ipairs(spec.fields) do out[f] = src[f] end
  else
    out = util.copy(src)
  end
  if out[spec.key] == nil or out[spec.key] == "" then out[spec.key] = key end
  if out.orderId == nil and out[spec.id] ~= nil then out.orderId = out[spec.id] end
  if out.orderId == nil and spec.id_lookup and left(o) > 0.1 then
    out.orderId = ID_LOOKUPS[spec.id_lookup](o, out)
  end
  out._simkit = { key = key, key_name = spec.key, reconciled = flags.reconciled or false,
    duplicate = flags.duplicate or false, record = util.copy(src) }
  return out
end

-- Lookups spaced over the time left; "found" or the last status and error.
local function reconcile(o, attempts)
  local status, last_err
  for i = 1, attempts do
    if left(o) <= 0.1 then break end
    local s, v = LOOKUPS[o.spec.lookup](o)
    if s == "found" then return "found", v end
    status = s
    last_err = s == "unknown" and v or last_err
    if i < attempts then pause(o, i) end
  end
  return status or "unknown", last_err
end

local function unknown(o, err, why, extra)
  local f = { kind = "transport", vendor = o.ctx.vendor, op = o.ctx.op, outcome = "unknown", key = o.key,
    key_name = o.spec.key, retryable = false, reuse_key = true, cause = tostring(err), status = err.status,
    code = err.code, category = err.category,
    message = "the order may or may not have been placed (" .. tostring(err.message) .. "); " .. why ..
      ". Call again with the SAME " .. o.spec.key .. " '" .. o.key .. "' (never a new one): the vendor " ..
      "refuses a second order with it, so it cannot charge twice, and simkit returns the order if it exists" }
  for k, v in pairs(extra or {}) do f[k] = v end
  return nil, errors.new(f)
end

-- "already exists": the same shape as a new order, the id looked up.
local function existing(o, err)
  if type(err.data) == "table" and (err.data.orderId ~= nil or err.data[o.spec.id] ~= nil) then
    return result(o, err.data, { duplicate = true })
  end
  if o.spec.lookup then
    local s, item = reconcile(o, 2)
    if s == "found" then return result(o, item, { duplicate = true }) end
  end
  return nil, with(err, { key = o.key, key_name = o.spec.key, duplicate = true, outcome = "exists",
    retryable = false,
    message = tostring(err.message) .. " (an order with " .. o.spec.key .. " '" .. o.key ..
      "' already exists" .. (o.spec.lookup and " but could not be fetched" or
      "; it cannot be looked up by key: see the order notification or the order status op") .. ")" })
end

-- No lookup by key: ask once more with the same key.
local function probe(o, err, send)
  pause(o, (err.kind == "transport" and err.category == "timeout") and math.min(10, o.ctx.cfg.timeout) or 0.5)
  local pdata, perr = send(o.args, { retries = 0, deadline = o.deadline })
  if not perr then return result(o, pdata, { reconciled = true }) end
  if is_duplicate(o.spec, perr) then
    return nil, with(perr, { key = o.key, key_name = o.spec.key, duplicate = true, outcome = "exists",
      retryable = false, cause = tostring(err),
      message = "an order with this key exists (the first request reached the vendor; its state is not " ..
        "known here): the first request failed (" .. tostring(err.message) ..
        ") but asking again with " .. o.spec.key .. " '" .. o.key .. "' is refused as a duplicate (" ..
        tostring(perr.code) .. "); its details come with the order status op once its order id is known" })
  end
  return unknown(o, err, "asking again with the same key did not settle it (" .. tostring(perr.message) .. ")")
end

--- Place an order (the body of the adapter's `call` hook for an ordering op).
-- @tparam table ctx the call context (`spec.order`, `call`, `clock`, `sleep`, `cfg`)
-- @tparam table args the validated arguments
-- @tparam function send the pipeline's `send(args, opts)`
-- @return the order (see module doc), or nil and an error
function M.place(ctx, args, send)
  local spec = ctx.spec.order
  local key = args[spec.key]
  if key == nil or key == "" then
    key = M.new_key()
    args = util.copy(args)
    args[spec.key] = key
  elseif type(key) ~= "string" or key:find("[,%s]") then
    -- the lookups send the key in a comma-separated list: a key with a comma
    -- or a space could never be found, and a placed order would look absent
    return nil, errors.input("'" .. spec.key .. "' must not contain commas or spaces (simkit looks the order " ..
      "up by it)", { vendor = ctx.vendor, op = ctx.op, param = spec.key })
  end
  local cfg = ctx.cfg
  local budget = math.max(cfg.order_timeout or 3 * cfg.timeout, cfg.timeout)
  local o = { ctx = ctx, spec = spec, key = key, args = args, deadline = ctx.clock() + budget }
  local data, err = send(args, { deadline = o.deadline })
  if not err then return result(o, data, {}) end
  if is_duplicate(spec, err) then return existing(o, err) end
  if not M.ambiguous(err) then
    -- nothing reached the vendor, or the vendor refused it: certain
    return nil, with(err, { key = key, key_name = spec.key, outcome = "not_placed" })
  end
  if spec.probe then return probe(o, err, send) end
  pause(o, (err.kind == "transport" and err.category == "timeout") and math.min(10, cfg.timeout) or 0.5)
  local s, v = reconcile(o, 3)
  if s == "found" then return result(o, v, { reconciled = true }) end
  if s == "absent" then
    return unknown(o, err, "no order with this key was found by the time simkit stopped looking (the vendor " ..
      "may still be processing it)")
  end
  return unknown(o, err, "looking it up failed (" .. tostring(v and v.message) .. ")",
    { lookup_error = v and tostring(v) or nil })
end

--- Look an order up at the vendor by its key; no order is sent. For callers
-- that keep their own ledger (the rules engine reconciles an order in doubt
-- with it).
-- @tparam table client an EIOTCLUB client
-- @tparam string op the ordering op whose descriptor names a lookup
--   (`order_package`, `pool_sub`)
-- @tparam string key the order key
-- @tparam[opt] table args the order's arguments (`pool_sub`: `pool_object_id`)
-- @tparam[opt] number budget seconds the lookups may take (default 30)
-- @return `"found", item` | `"absent"` | `"unknown", err`
function M.lookup(client, op, key, args, budget)
  local d = require("simkit.vendor.eiotclub_ops")[op]
  local spec = type(d) == "table" and d.order
  if not spec or not spec.lookup then
    error("simkit.eiotclub.orders.lookup: '" .. tostring(op) .. "' is not an order that can be looked up by key", 2)
  end
  if type(key) ~= "string" or key == "" then
    return "unknown", errors.input("an order key must be a non-empty string")
  end
  local ctx = { clock = util.monotonic, sleep = util.sleep,
    call = function(_, name, a) return client:call(name, a) end } -- (ctx:call, as in the pipeline)
  local o = { ctx = ctx, spec = spec, key = key, args = args or {}, deadline = util.monotonic() + (budget or 30) }
  return LOOKUPS[spec.lookup](o)
end

return M
