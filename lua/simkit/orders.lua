--- Money-safe EIOTCLUB orders (used by the eiotclub adapter's `call` hook).
--
-- The ordering ops `order_package`, `esim_purchase`, `cloudesim_purchase`
-- (key `outTradeNo`) and `pool_sub` (key `out_trade_no`) are sent **at most
-- once per call**, never retried blindly:
--
-- * the idempotency key is generated when the caller gives none
--   (`"sk" .. unix seconds .. 16 hex digits`, 28 characters) and is always
--   handed back: in the result (`data[key_name]` and `data._simkit.key`) and
--   in every error (`err.key`, `err.key_name`);
-- * when the outcome is ambiguous (the request may have reached the vendor:
--   a timeout/reset/partial answer, an unreadable answer, HTTP 5xx, vendor
--   500 or 43331) the order is looked up by its key (a few attempts):
--   - found: the order is returned, `data._simkit.reconciled = true`;
--   - certainly absent: the original error is returned with
--     `retryable = true`, `outcome = "not_placed"` (safe to call again with
--     the same key);
--   - lookup impossible or failing: an error of kind "transport" with
--     `outcome = "unknown"`, `retryable = false` and the key: check before
--     ordering again (a new call with the SAME key is refused by the vendor
--     as a duplicate, never charged twice);
-- * "already exists" (42002, 503016): the existing order is looked up and
--   returned as a success with `data._simkit.duplicate = true`.
--
-- The result of a successful order is the vendor's `data` (a table), plus
-- the key under its own name and `_simkit = { key=, key_name=,
-- reconciled=, duplicate= }`.
--
-- `esim_purchase` and `cloudesim_purchase` cannot be looked up by their key
-- (their order status takes the platform's order id only, and the Cloud
-- eSIM package records carry no outTradeNo), but the vendor refuses a second
-- purchase with the same key (503016 "duplicate order number", 42002
-- "outTradeNo exists"). After an ambiguous
-- failure simkit therefore asks once more WITH THE SAME KEY, after a pause
-- (the request timeout after a timeout, else 0.5 s):
--   - accepted: the first request was not placed and this one is; the
--     order is returned with `data._simkit.reconciled = true` (one order);
--   - 503016 / 42002: the first request was placed; an error with
--     `outcome = "exists"`, `duplicate = true` (its details come with the
--     order status op once the platform's order id is known);
--   - anything else: `outcome = "unknown"` as above (a business error such
--     as "balance insufficient" may be the first order's doing).
--
-- Refunds (`refund_package`, `esim_refund`, `cloudesim_refund`, `pool_unsub`)
-- are sent once and retried only after a 501 (rejected unprocessed).
-- @module simkit.orders
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"

local M = {}

--- Generate an idempotency key: at most 32 characters, `[0-9a-z]`.
-- @treturn string
function M.new_key()
  return "sk" .. string.format("%d", math.floor(util.now())) .. util.random_hex(8)
end

local function match_key(item, key)
  return type(item) == "table" and (item.outTradeNo == key or item.out_trade_no == key)
end

local function list_of(data)
  if type(data) ~= "table" then return {} end
  if type(data.list) == "table" then return data.list end
  return data
end

-- Lookups: function(client, args, key) -> "found", order | "absent" | "unknown", err
local function lookup_package(client, _, key)
  for _, state in ipairs({ 0, 1, 2 }) do
    local data, err = client:call("get_order_package_details",
      { outTradeNoArrStr = key, state = state, page = 1, pageSize = 50 })
    if not data then return "unknown", err end
    for _, item in ipairs(list_of(data)) do
      if match_key(item, key) then return "found", item end
    end
  end
  return "absent"
end

local function lookup_pool(client, args, key)
  local data, err = client:call("pool_record_list",
    { pool_object_id = args.pool_object_id, out_trade_no_arr = key, page = 1, page_size = 10 })
  if not data then return "unknown", err end
  for _, item in ipairs(list_of(data)) do
    if match_key(item, key) then return "found", item end
  end
  return "absent"
end

--- The ordering ops: op -> `{ key = <param name>, lookup = function|nil,
-- probe = true when a resend with the same key is the only way to learn
-- the outcome }`.
M.ORDERS = {
  order_package = { key = "outTradeNo", lookup = lookup_package },
  esim_purchase = { key = "outTradeNo", lookup = nil, probe = true },
  cloudesim_purchase = { key = "outTradeNo", lookup = nil, probe = true },
  pool_sub = { key = "out_trade_no", lookup = lookup_pool },
}

--- The refund ops (sent once; resent only after a 501).
M.REFUNDS = { refund_package = true, esim_refund = true, cloudesim_refund = true, pool_unsub = true }

local DUPLICATE = { ["42002"] = true, ["503016"] = true }
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

local function timed_out(err)
  return err.kind == "transport" and err.category == "timeout"
end

-- After a timeout the request may still be in progress at the vendor: wait
-- about the request timeout (0.5 to 10 s) before asking about it.
local function timeout_pause(ctx)
  return math.min(10, math.max(0.5, ctx.cfg.timeout or 1))
end

local function with(err, fields)
  local f = {}
  for k, v in pairs(err) do f[k] = v end
  for k, v in pairs(fields) do f[k] = v end
  return errors.new(f)
end

local function result(spec, key, data, flags)
  local out
  if type(data) == "table" and data ~= json.null then out = data else out = {} end
  if out[spec.key] == nil then out[spec.key] = key end
  out._simkit = { key = key, key_name = spec.key, reconciled = flags.reconciled or false,
    duplicate = flags.duplicate or false }
  return out
end

-- A few lookups, waiting between them; "absent" only when every attempt
-- says so.
local function reconcile(ctx, spec, args, key, attempts, slow)
  local status, last_err
  local waits = { 0.5, 1, 2 }
  if slow then
    -- after a timeout: space the lookups by the request timeout
    local w = timeout_pause(ctx)
    waits = { w, w }
  end
  for i = 1, attempts do
    local ok, s, v = pcall(spec.lookup, ctx.client, args, key)
    if not ok then s, v = "unknown", errors.new { kind = "input", message = tostring(s) } end
    if s == "found" then return "found", v end
    status = (status == nil or status == "absent") and s or status
    if s == "unknown" then last_err = v end
    if i < attempts then ctx.cfg.sleep(waits[i] or 2) end
  end
  if last_err then return "unknown", last_err end
  return status
end

--- Place an order (the body of the adapter's `call` hook for an ordering op).
-- @tparam table ctx the call context
-- @tparam table args the validated arguments
-- @tparam function send the pipeline's `send(args, opts)`
-- @return the order (see module doc), or nil and an error
function M.place(ctx, args, send)
  local spec = M.ORDERS[ctx.op]
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
  local keyed = { key = key, key_name = spec.key }
  local data, err = send(args)
  if not err then return result(spec, key, data, {}) end

  if err.kind == "vendor" and DUPLICATE[tostring(err.code)] then
    if spec.lookup then
      local s, order = reconcile(ctx, spec, args, key, 2)
      if s == "found" then return result(spec, key, order, { duplicate = true }) end
    end
    return nil, with(err, { key = key, key_name = spec.key, duplicate = true, outcome = "exists",
      retryable = false,
      message = tostring(err.message) .. " (an order with " .. spec.key .. " '" .. key ..
        "' already exists" .. (spec.lookup and " but could not be fetched" or
        "; it cannot be looked up by key: see the order notification or esim_order_status") .. ")" })
  end

  if not M.ambiguous(err) then
    return nil, with(err, keyed)
  end
  if not spec.lookup then
    local probe_note = ""
    if spec.probe then
      ctx.cfg.sleep(timed_out(err) and timeout_pause(ctx) or 0.5)
      local pdata, perr = send(args, { retries = 0 })
      if not perr then return result(spec, key, pdata, { reconciled = true }) end
      if perr.kind == "vendor" and DUPLICATE[tostring(perr.code)] then
        return nil, with(perr, { key = key, key_name = spec.key, duplicate = true, outcome = "exists",
          retryable = false, cause = tostring(err),
          message = "an order with this key exists (the first request reached the vendor; its state is not " ..
            "known here): the first request failed (" .. tostring(err.message) ..
            ") but asking again with " .. spec.key .. " '" .. key .. "' is refused as a duplicate (" ..
            tostring(perr.code) .. "); its details come with the order status op once its order id is known" })
      end
      probe_note = "; asking again with the same key did not settle it (" .. tostring(perr.message) .. ")"
    end
    return nil, errors.new { kind = "transport", vendor = ctx.vendor, op = ctx.op, outcome = "unknown",
      key = key, key_name = spec.key, retryable = false, cause = tostring(err), status = err.status,
      code = err.code,
      message = "the order may or may not have been placed (" .. tostring(err.message) .. ")" .. probe_note ..
        "; " .. ctx.op .. " cannot be looked up by " .. spec.key .. ". Retrying with the same " .. spec.key ..
        " '" .. key .. "' cannot charge twice (the vendor refuses a duplicate key)" }
  end
  local s, v = reconcile(ctx, spec, args, key, 3, timed_out(err))
  if s == "found" then return result(spec, key, v, { reconciled = true }) end
  if s == "absent" then
    return nil, with(err, { key = key, key_name = spec.key, retryable = true, outcome = "not_placed",
      message = tostring(err.message) .. " — no order with " .. spec.key .. " '" .. key ..
        "' exists: it was not placed; safe to retry with the same " .. spec.key ..
        " (should it still appear, the vendor answers the retry as a duplicate and simkit returns it)" })
  end
  return nil, errors.new { kind = "transport", vendor = ctx.vendor, op = ctx.op, outcome = "unknown",
    key = key, key_name = spec.key, retryable = false, cause = tostring(err),
    lookup_error = v and tostring(v) or nil,
    message = "the order may or may not have been placed (" .. tostring(err.message) ..
      ") and looking it up failed; check " .. spec.key .. " '" .. key ..
      "' before ordering again (reuse the same key: the vendor refuses a duplicate)" }
end

--- Send a refund once: never retried, except when the vendor rejected it
-- before doing anything (501 "too many requests", `err.not_processed`).
-- @tparam table ctx
-- @tparam table args
-- @tparam function send
function M.refund(_, args, send)
  return send(args)
end

return M
