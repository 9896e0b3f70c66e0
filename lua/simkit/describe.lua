--- What simkit knows about one operation, as a plain Lua table: the facts
-- `client:describe(op)` returns and docs/reference/*.md prints (both come
-- from here, so they cannot disagree).
--
-- Shape of a description (absent fields are nil):
--
--     {
--       vendor = "huawei", name = "list_sim_cards",
--       method = "GET", path = "/v1/sim-cards", summary = "List SIM cards ...",
--       read = true,              -- changes nothing at the vendor (retried on failure)
--       money = false,            -- spends or refunds money: sent at most once, never retried blindly
--       idempotency_key = "outTradeNo",  -- the vendor's key that makes an order at most once
--       async = false,            -- the vendor finishes the work later (a task / batch id comes back)
--       deprecated = { since = "...", replaced_by = "..." },
--       params = {                -- in the vendor's order
--         { name = "limit", type = "Long", required = false, location = "query",
--           min = 10, max = 500, default = 10 },
--         { name = "main_search_key", type = "String", required = false,
--           max_length = 128, max_length_source = "catalog",   -- or "default"
--           text = "valid UTF-8 without control characters ..." },
--         ...                     -- also: enum, min_length, format, numeric_string,
--                                 -- list = "comma", items_type, items_enum, min_items,
--                                 -- max_items, item_max_length, fields (array of objects),
--                                 -- required_when, generated (simkit makes it when absent),
--                                 -- per_request_max_items (the vendor takes at most this
--                                 -- many per request; simkit splits a longer list)
--       },
--       one_of = { { "sim_card_ids", "iccids" } },      -- at least one of each group
--       exclusive = { { "month", "date" } },            -- at most one of each group
--       list_total = { max = 50, params = { ... } },    -- items of several lists together
--       aliases = { iccids = "iccid" },                 -- other accepted name -> vendor's name
--       rate_limit = { per_s = 1, min_interval_s = 300, account_per_s = 5 },
--                                 -- this op's own limit, once per card per interval,
--                                 -- all ops of one account together (simkit paces to it;
--                                 -- EIOTCLUB: the default of the client option rate_limit)
--       paging = { page = "offset", size = "limit", default_size = 100, max_size = 500,
--                  items = "sim_cards", total = "count", total_kind = "records" },
--       order = { key = "outTradeNo", id = "orderId", lookup = "get_order_package_details",
--                 id_lookup = "package_order_record", probe = nil, duplicate_codes = { ... } },
--                                 -- money ops: how simkit keeps an order at most once
--       guard = { param = "iccid", interval = 300 },  -- refused before sending within interval
--       batch = { param = "iccids", size = 10 },      -- the list simkit splits into requests of size
--       returns = { shape = "object", items = "...", ... },   -- the descriptor's response facts
--       facts = { ... },          -- every other fact of the op's descriptor, by its own name
--     }
--
-- @module simkit.describe
local errors = require "simkit.errors"
local util = require "simkit.util"
local validate = require "simkit.validate"

local M = {}

local VENDORS = { eiotclub = true, huawei = true, tibiot = true }

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- Descriptor keys this module turns into the named fields above; any other
-- key is copied into `facts` as it is, so a fact added to the descriptors
-- shows up without a change here.
local HANDLED = {
  method = true, path = true, summary = true, params = true, read = true, money = true,
  idempotency_key = true, async = true, deprecated = true, one_of = true, exclusive = true,
  list_total = true, aliases = true, rate_per_s = true, min_interval = true, pagination = true,
  response = true, order = true, guard = true, batch = true,
}

local PARAM_RENAMED = { loc = "location" }

local function is_string_type(t)
  return (t or "string"):lower() == "string"
end

local function describe_param(p)
  local d = {}
  for k, v in pairs(p) do d[PARAM_RENAMED[k] or k] = copy(v) end
  d.required = p.required and true or false
  d.type = p.type or "string"
  if is_string_type(p.type) then
    d.max_length, d.max_length_source = validate.max_length(p)
    d.text = validate.TEXT_RULE .. (p.allow_newlines and ", except LF and CR" or "")
  elseif (p.type or ""):lower() == "array" and is_string_type(p.items_type) and not p.fields then
    local cap, source = validate.max_length({ max_length = p.item_max_length })
    d.item_max_length, d.item_max_length_source = cap, source
    d.text = validate.TEXT_RULE .. (p.allow_newlines and ", except LF and CR" or "")
  end
  if p.fields then
    d.fields = {}
    for i, f in ipairs(p.fields) do d.fields[i] = describe_param(f) end
  end
  return d
end

-- The paging facts: the descriptor's, completed by the adapter's hook
-- (functions left out).
local function paging(vendor, name, op)
  local pg = copy(op.pagination) or {}
  local hook = vendor.pagination and vendor.pagination(name, op)
  if not hook and next(pg) == nil then return nil end
  for k, v in pairs(hook or {}) do
    if type(v) ~= "function" and pg[k] == nil then pg[k] = copy(v) end
  end
  if pg.size and pg.max_size == nil then
    for _, p in ipairs(op.params) do
      if p.name == pg.size then pg.max_size = p.max end
    end
  end
  pg.items_key = nil
  return pg
end

--- The names closest to `word` (a misspelt operation), best first: the
-- client's own "did you mean" (`simkit.util.closest`), on the word's first
-- 200 characters, case-insensitive, unquoted.
-- @tparam string word what was asked for
-- @tparam table names the valid names
-- @tparam[opt=3] number n how many at most
-- @treturn table up to `n` names; empty when none is close
function M.closest(word, names, n)
  if type(word) ~= "string" or type(names) ~= "table" then
    error("simkit.describe.closest: pass a string and a list of names", 2)
  end
  n = n or 3
  if type(n) ~= "number" or n ~= n or n < 0 then
    error("simkit.describe.closest: n must be a number >= 0", 2)
  end
  local w = word:sub(1, 200):lower()
  local out = {}
  if w == "" then return out end
  for i, quoted in ipairs(util.closest(w, names, n)) do out[i] = quoted:sub(2, -2) end
  return out
end

local function sorted_ops(vendor)
  local names = {}
  for k in pairs(vendor.ops) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- Describe one operation of a vendor module.
-- @tparam table vendor the vendor module (`simkit.vendor.<name>`)
-- @tparam string name the operation
-- @treturn table|nil the description (shape above), or nil and an error
--   with `kind = "input"` naming the closest operations ("did you mean")
function M.vendor_op(vendor, name)
  if type(name) ~= "string" then
    return nil, errors.input("the operation name must be a string, got " .. type(name),
      { vendor = vendor.name })
  end
  local op = vendor.ops[name]
  if type(op) ~= "table" then
    local near = M.closest(name, sorted_ops(vendor))
    -- the name as asked, short and printable (it may be anything)
    local shown = name:sub(1, 64):gsub("[%z\1-\31\127-\255]", "?") .. (#name > 64 and "..." or "")
    return nil, errors.input("unknown operation '" .. shown .. "' of " .. vendor.name ..
      (#near > 0 and (" (did you mean '" .. table.concat(near, "', '") .. "'?)") or
        " (client:operations() lists them)"), { vendor = vendor.name, suggestions = near })
  end
  local d = {
    vendor = vendor.name, name = name, method = op.method, path = op.path, summary = op.summary,
    read = op.read and true or false, money = op.money and true or false,
    idempotency_key = op.idempotency_key, async = op.async and true or false,
    deprecated = copy(op.deprecated), one_of = copy(op.one_of), exclusive = copy(op.exclusive),
    list_total = copy(op.list_total), aliases = copy(op.aliases),
    returns = copy(op.response), paging = paging(vendor, name, op),
    params = {}, facts = {},
  }
  for i, p in ipairs(op.params) do
    d.params[i] = describe_param(p)
    -- a descriptor's `batch` names the list the adapter splits into requests of `size`
    if op.batch and op.batch.param == p.name then d.params[i].per_request_max_items = op.batch.size end
  end
  d.order, d.guard, d.batch = copy(op.order), copy(op.guard), copy(op.batch)
  if op.rate_per_s or op.min_interval or vendor.RATE_LIMIT then
    d.rate_limit = { per_s = op.rate_per_s, min_interval_s = op.min_interval, account_per_s = vendor.RATE_LIMIT }
  end
  for k, v in pairs(op) do
    if not HANDLED[k] then d.facts[k] = copy(v) end
  end
  return d
end

--- Describe one operation by vendor name.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @tparam string name the operation
-- @treturn table|nil the description, or nil and an input error
function M.vendor(vendor, name)
  if type(vendor) ~= "string" or not VENDORS[vendor] then
    local shown = tostring(vendor):sub(1, 64):gsub("[%z\1-\31\127-\255]", "?")
    return nil, errors.input("unknown vendor '" .. shown .. "' (eiotclub, huawei, tibiot)")
  end
  return M.vendor_op(require("simkit.vendor." .. vendor), name)
end

--- Describe one operation of a client (`client:describe(op)`).
-- @tparam simkit.client client a client made by `simkit.client`
-- @tparam string name the operation
-- @treturn table|nil the description, or nil and an input error ("did you mean")
function M.op(client, name)
  if type(client) ~= "table" or type(client.vendor) ~= "function" then
    error("simkit.describe.op: pass a client made by simkit.client (use client:describe(op))", 2)
  end
  return M.vendor(client:vendor(), name)
end

--- The names of every operation of a vendor, sorted.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @treturn table names
function M.operations(vendor)
  if not VENDORS[vendor] then error("simkit.describe: unknown vendor '" .. tostring(vendor) .. "'", 2) end
  return sorted_ops(require("simkit.vendor." .. vendor))
end

return M
