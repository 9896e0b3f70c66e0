#!/usr/bin/env lua5.4
--- Generates lua/simkit/vendor/<vendor>_ops.lua from ../shared/spec/<vendor>.json.
-- The catalogs are the machine-readable form of the vendors' documents; the
-- generated tables are data only (op -> method, path, params, response shape).
-- Curated facts the catalogs do not carry (which ops only read, where a seed
-- overrides the catalog) live in OVERRIDES below, each with its reason.
--
-- Usage: lua5.4 tools/gen_vendor.lua [SPEC_DIR] [OUT_DIR]
--        lua5.4 tools/gen_vendor.lua --check [SPEC_DIR] [OUT_DIR]   (exit 1 if stale)
local cjson = require "cjson"

local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  return keys
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true
end

local function ser(v, indent)
  indent = indent or ""
  local tv = type(v)
  if tv == "string" then return string.format("%q", v):gsub("\\\n", "\\n")
  elseif tv == "number" then
    -- cjson decodes every number as a float: write integral ones as exact
    -- integers (9223372036854774784, not tostring's lossy 9.2233720368548e+18),
    -- other floats with enough digits to read back the same double
    local i = math.tointeger(v)
    if i then return string.format("%d", i) end
    return string.format("%.17g", v)
  elseif tv == "boolean" then return tostring(v)
  elseif tv == "table" then
    if next(v) == nil then return "{}" end
    local inner = indent .. "  "
    local out = {}
    if is_array(v) then
      local simple = true
      for _, x in ipairs(v) do if type(x) == "table" then simple = false end end
      if simple then
        for _, x in ipairs(v) do out[#out + 1] = ser(x) end
        return "{ " .. table.concat(out, ", ") .. " }"
      end
      for _, x in ipairs(v) do out[#out + 1] = inner .. ser(x, inner) .. "," end
    else
      for _, k in ipairs(sorted_keys(v)) do
        local key = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or ("[" .. ser(k) .. "]")
        out[#out + 1] = inner .. key .. " = " .. ser(v[k], inner) .. ","
      end
    end
    return "{\n" .. table.concat(out, "\n") .. "\n" .. indent .. "}"
  end
  error("cannot serialise " .. tv)
end

local function null_to_nil(v)
  if v == cjson.null then return nil end
  return v
end

-- Keep only the parameter facts a client validates with.
local PARAM_KEYS = { "type", "required", "enum", "min", "max", "min_length", "max_length",
  "min_items", "max_items", "items_type", "format", "default", "numeric_string", "deprecated", "required_when",
  "items_enum" }

local function param(p, extra)
  local out = { name = p.name }
  for _, k in ipairs(PARAM_KEYS) do
    local v = null_to_nil(p[k])
    if v ~= nil then out[k] = v end
  end
  if type(out.enum) == "table" and not is_array(out.enum) then
    -- {"1": "desc", ...}: the keys are the allowed values
    local vals = {}
    for k in pairs(out.enum) do vals[#vals + 1] = tonumber(k) or k end
    table.sort(vals, function(a, b) return tostring(a) < tostring(b) end)
    out.enum = vals
  end
  -- an enum on an Array constrains its items, not the whole value
  if type(out.type) == "string" and out.type:lower() == "array" and out.enum then
    out.items_enum, out.enum = out.enum, nil
  end
  -- per-item limits of an Array
  for from, to in pairs({ items_min_length = "item_min_length", items_max_length = "item_max_length",
    items_min = "item_min", items_max = "item_max" }) do
    local v = null_to_nil(p[from])
    if v ~= nil then out[to] = v end
  end
  if p.list_format == "comma-separated" then out.list = "comma" end
  if p["in"] ~= nil and p["in"] ~= cjson.null then out.loc = p["in"] end -- path | query | body
  if type(p.items_fields) == "table" then
    -- an Array of objects: the fields of each item (Huawei batch_set_attributes)
    out.fields = {}
    for i, f in ipairs(p.items_fields) do
      out.fields[i] = param(f)
      out.fields[i].loc = nil
    end
  end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

---------------------------------------------------------------------------
-- Curated overrides (reason beside each).
local OVERRIDES = {
  eiotclub = {
    -- Ops that change nothing at the vendor: safe to retry. Everything else
    -- is a write and is never retried blindly (DESIGN.md).
    reads = { "get_all_card_info", "get_cards_info", "package_order_record",
      "list_order_package_by_iccid", "query_account_warning_card", "query_card_number",
      "list_profit_info", "switch_options", "query_refund_amount", "agent_balance",
      "query_package", "product", "list_order_package_by_product",
      "query_order_package_by_package_code", "esim_goods", "esim_order_status",
      "esim_query_refund_amount", "get_order_package_details", "task_query",
      "cloudesim_list", "cloudesim_get", "cloudesim_pkg_list", "cloudesim_pkg_record_list",
      "cloudesim_order_status", "cloudesim_query_refund_amount", "pool_pkg_list", "pool_list",
      "pool_record_list", "pool_card_can_add_list", "pool_card_list", "pool_by_iccid",
      "cdr_traffic_query" },
    -- Refunds move money too (issue 4): never retried blindly.
    money = { "refund_package", "esim_refund", "cloudesim_refund", "pool_unsub" },
    -- "by orderNumber or outTradeNo ... at most 50" (L4445, 42009): a cap on
    -- the items of several comma lists together.
    list_total = { get_order_package_details = { max = 50, params = { "orderNumberArrStr", "outTradeNoArrStr" } } },
    -- Orders (DESIGN.md "Orders"): the catalog's idempotency_key is generated
    -- by simkit when the caller gives none; `id` is the answer's order id
    -- field; `lookup` finds the order by its key after an ambiguous failure;
    -- `probe`: no lookup by key exists, so the same key is sent once more.
    orders = {
      -- "by orderNumber or outTradeNo" (L4440-4446); its items carry no
      -- orderId (L4604-4607): packageOrderRecord (L949) has orderId and
      -- outTradeNo (`id_lookup`)
      -- `fields`: what a new order's answer carries (L5666-5667: data.orderNumber, data.orderId); a
      -- duplicate or recovered order is shown with the same top-level fields (the record in _simkit.record)
      order_package = { id = "orderId", lookup = "get_order_package_details", id_lookup = "package_order_record",
        fields = { "orderId", "orderNumber" } },
      -- 503016: "query the eSIM order details" (L3995), by the platform's id only
      esim_purchase = { id = "orderId", probe = true },
      -- data.orderId (L8496); the package records carry no outTradeNo
      cloudesim_purchase = { id = "orderId", probe = true },
      -- data.order_no (L11059); pool/record/list by out_trade_no (L11134)
      pool_sub = { id = "order_no", lookup = "pool_record_list", fields = { "order_no" } },
    },
    -- "42002 outTradeNo already exists" (L244), "503016 duplicate order number" (L264)
    duplicate_codes = { "42002", "503016" },
    -- "only once per 5 minutes" per card (L5179, L5266): simkit refuses a
    -- second call for the same card before it is sent
    guards = { refresh_usage = "iccid", cancel_location = "iccid" },
    -- What a vendor code means for the client (the error tables' extra facts):
    -- kind (else "auth" for the auth/permission classes, else "vendor"),
    -- retry_after (seconds), not_processed (rejected before any effect).
    codes = {
      ["501"] = { kind = "rate_limited", not_processed = true }, -- "Too many requests" (L185)
      ["44001"] = { kind = "rate_limited", retry_after = 300 }, -- "refresh once every 5 mins" (L262)
      ["44002"] = { retryable = false }, -- "Refresh failed" (L263): not retried automatically
      -- "Too frequent card unlocking" (L269): no period stated, 60 s is simkit's guess
      ["45102"] = { kind = "rate_limited", retry_after = 60 },
    },
  },
  huawei = {
    -- POSTs that only query (the SDK's "show"/"list" names).
    reads = { "show_month_usages", "list_sim_card_flow_per_day", "list_flow_by_sim_cards" },
    -- Limits the seed states and the catalog leaves out: at most 30 price
    -- plan ids (L441, notes quirk 13).
    max_items = { list_sim_cards = { price_plan_id = 30 } },
    -- Cross-parameter rules of the seed: at least one of (L985-986, L4034/4038,
    -- L2779/2783, L136), and not both (L2266-2272, L2779/2783, L136).
    one_of = {
      show_month_usages = { { "sim_card_ids", "iccids" } },
      batch_set_tags = { { "sim_card_ids", "iccids" } },
      list_flow_by_sim_cards = { { "sim_card_ids", "iccid" } },
      list_sim_card_flow_per_day = { { "sim_card_ids", "iccids" } },
    },
    exclusive = {
      list_flow_by_sim_cards = { { "sim_card_ids", "iccid" } },
      list_sim_card_flow_per_day = { { "sim_card_ids", "iccids" }, { "month", "date" } },
    },
    -- The SDK's name for a parameter the document names otherwise (notes quirk
    -- 12): accepted from the caller, sent under the document's name.
    aliases = { list_flow_by_sim_cards = { iccids = "iccid" } },
    -- What a code means for the client (error code table L6270-6310):
    -- kind, retryable, retry_after (s), pending_work_order.
    codes = {
      ["GSL.00010001"] = { kind = "auth" }, -- token invalid (L6278)
      ["GSL.00010002"] = { kind = "auth" }, -- user frozen (L6279)
      ["GSL.00011007"] = { retryable = true, retry_after = 2 }, -- "try again later" (L6285)
      ["GSL.00016009"] = { pending_work_order = true }, -- unfinished resumption orders (L6295)
      ["GSL.00016010"] = { pending_work_order = true }, -- pending suspension orders (L6296)
      ["GSL.00016015"] = { pending_work_order = true }, -- pending activation orders (L6299)
      ["GSL.00016016"] = { retry_after = 300 }, -- "not ... within 5 minutes" (L6300): not retried
      ["GSL.00011009"] = { retryable = false }, -- 500 "File not exists" (L6308): change the request
      ["GSL.00016005"] = { retryable = false }, -- 500 "Unsupported business handling order" (L6309)
    },
    -- Paged lists (offset = page number, limit = page size, `count` = the
    -- records in all pages): op -> the answer's list field (seed line), or
    -- false for a bare top-level array (list_sim_price_plans, L2604).
    paging = {
      list_sim_cards = "sim_cards", -- L463
      list_pro_price_plans = "price_plans", -- L2458
      list_sim_price_plans = false, -- L2604
      list_sim_pools = "pools", -- L2989
      list_sim_pool_members = "pool_members", -- L3180
      list_back_pools = "pools", -- L3340
      list_back_pool_members = "pool_members", -- L3532
      list_tags = "tags", -- L3689
      list_attributes = "attributes", -- L4225
      list_sms_details = "sms_details", -- L5092
      list_work_orders = "work_orders", -- L5194
      list_work_order_details = "work_order_details", -- L5360
      list_sim_device_multiply = "sim_cards", -- L5520
      list_network_switch_policies = "network_switch_policy_list", -- L5932
    },
    -- simkit's page size for client:pages (the API's default is 10)
    page_size = 100,
  },
  tibiot = {
    reads = {},
    -- "ICCID Array, A maximum of 10 can be passed in" (tibiot-api-doc.txt
    -- L258): simkit accepts any number and sends them in batches of 10, so
    -- the cap moves from the parameter to the op's `batch`
    batch = { operate_card_network = { param = "iccids", size = 10 } },
  },
}

local function set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

function M.eiotclub(spec)
  local ov = OVERRIDES.eiotclub
  local reads, money = set_of(ov.reads), set_of(ov.money)
  local ops = {}
  for _, e in ipairs(spec.endpoints) do
    local key = null_to_nil(e.idempotency_key)
    local order = ov.orders[e.op]
    local params = {}
    for _, p in ipairs(e.params) do
      -- an order's key is optional: simkit generates it when absent
      params[#params + 1] = param(p, (order and p.name == key) and { required = false, generated = true } or nil)
    end
    local dev = null_to_nil(e.system_param_deviations)
    local op = {
      method = e.method, path = e.path, summary = e.summary_en, params = params,
      read = reads[e.op] or nil,
      money = (e.spends_money or money[e.op]) and true or nil,
      idempotency_key = key,
      order = order and {
        key = assert(key, e.op .. ": an order needs the catalog's idempotency_key"), id = order.id,
        lookup = order.lookup, id_lookup = order.id_lookup, probe = order.probe, fields = order.fields,
        duplicate_codes = ov.duplicate_codes,
      } or nil,
      guard = ov.guards[e.op] and { param = ov.guards[e.op],
        interval = assert(e.rate_limit and null_to_nil(e.rate_limit.min_interval_s), e.op .. ": no interval") } or nil,
      one_of = null_to_nil(e.one_of_required),
      nonce_string = (dev and dev.nonce) and true or nil,
      list_total = ov.list_total[e.op],
      deprecated = (e.deprecated or e.deprecated_since) and {
        since = null_to_nil(e.deprecated_since), replaced_by = null_to_nil(e.replaced_by) } or nil,
      min_interval = e.rate_limit and null_to_nil(e.rate_limit.min_interval_s) or nil,
      response = {
        code_type = e.response.code_type, shape = e.response.data_shape,
        items_path = null_to_nil(e.response.items_path),
        data_optional = null_to_nil(e.response.data_optional),
        envelope = e.response.envelope,
      },
    }
    if e.pagination then
      local pg = e.pagination
      op.pagination = {
        page = pg.page_param, page_type = pg.page_param_type, size = null_to_nil(pg.size_param),
        default_size = null_to_nil(pg.default_size), max_size = null_to_nil(pg.max_size),
        items = null_to_nil(pg.items_path), total = null_to_nil(pg.total_path),
        total_kind = null_to_nil(pg.total_kind),
      }
    end
    ops[e.op] = op
  end
  return ops
end

function M.huawei(spec)
  local O = OVERRIDES.huawei
  local reads = set_of(O.reads)
  local ops = {}
  for _, e in ipairs(spec.endpoints) do
    local params = {}
    for _, loc in ipairs({ "path_params", "query_params", "body_params" }) do
      for _, p in ipairs(e[loc]) do
        local cap = O.max_items[e.op] and O.max_items[e.op][p.name]
        params[#params + 1] = param(p, cap and { max_items = cap })
      end
    end
    -- "sim_card_id 0 means: by this parameter" (e.g. L690 iccid, L5652 cid),
    -- read from the parameters' own descriptions
    local zero_id
    for _, loc in ipairs({ "path_params", "query_params", "body_params" }) do
      for _, p in ipairs(e[loc]) do
        local d = tostring(null_to_nil(p.description_zh) or "") .. " " .. tostring(null_to_nil(p.description_en) or "")
        if p.name ~= "sim_card_id" and d:find("sim_card_id", 1, true)
            and (d:find("为 ?0") or d:find("sim_card_id is 0", 1, true)) then
          zero_id = { param = "sim_card_id", by = p.name }
        end
      end
    end
    local items, pagination = O.paging[e.op], nil
    if items ~= nil then
      local max
      for _, p in ipairs(e.query_params) do if p.name == "limit" then max = null_to_nil(p.max) end end
      pagination = { page = "offset", size = "limit", default_size = O.page_size, max_size = max,
        items = items or nil, total = items and "count" or nil, total_kind = items and "records" or nil }
    end
    ops[e.op] = {
      method = e.method, path = e.uri, summary = e.summary_en, params = params,
      pagination = pagination, zero_id = zero_id,
      read = (e.method == "GET" or reads[e.op]) or nil,
      async = e.async or nil,
      rate_per_s = null_to_nil(e.rate_limit_per_s),
      response = { shape = e.response.body_shape, status = e.response.success_status },
      sdk_query = e.sdk and e.sdk.query_params or nil,
      aliases = O.aliases[e.op],
      one_of = O.one_of[e.op],
      exclusive = O.exclusive[e.op],
    }
  end
  return ops
end

function M.tibiot(spec)
  local O = OVERRIDES.tibiot
  local ops = {}
  for _, e in ipairs(spec.endpoints) do
    local batch = O.batch[e.op]
    local params = {}
    for _, p in ipairs(e.params) do
      local out = param(p)
      if batch and p.name == batch.param then
        assert(out.max_items == batch.size, e.op .. ": the catalog's cap changed")
        out.max_items = nil
      end
      params[#params + 1] = out
    end
    ops[e.op] = {
      method = e.method, path = e.path, summary = e.summary_en, params = params,
      read = (e.method == "GET") or nil, async = e.async or nil, batch = batch,
    }
  end
  return ops
end

--- Error-code tables: code -> { class, retryable, en } (EIOTCLUB) or
-- { status, en } (Huawei).
function M.errors(vendor, spec)
  local out = {}
  local extra = OVERRIDES[vendor].codes or {}
  for _, e in ipairs(spec.error_codes or {}) do
    local code = tostring(e.code)
    local t
    if vendor == "eiotclub" then
      t = { class = e.class, retryable = e.retryable or nil, en = e.en }
      if e.class == "auth" or e.class == "permission" then t.kind = "auth" end
    elseif vendor == "huawei" then
      t = { status = null_to_nil(e.http_status), en = e.en }
    end
    if t then
      for k, v in pairs(extra[code] or {}) do t[k] = v end
      out[code] = t
    end
  end
  for code in pairs(extra) do assert(out[code], vendor .. ": override for unknown code " .. code) end
  return next(out) and out or nil
end

local FILES = { eiotclub = "eiotclub.json", huawei = "huawei-gsl.json", tibiot = "tibiot.json" }

--- Render one vendor's generated modules as Lua source: { [suffix] = text }.
function M.render(vendor, spec_dir)
  local f = assert(io.open(spec_dir .. "/" .. FILES[vendor], "rb"))
  local spec = cjson.decode(f:read("a"))
  f:close()
  local head = "-- GENERATED by tools/gen_vendor.lua from ../shared/spec/" .. FILES[vendor]
    .. " -- do not edit.\n-- luacheck: ignore\nreturn "
  local out = { ops = head .. ser(M[vendor](spec)) .. "\n" }
  local errs = M.errors(vendor, spec)
  if errs then out.errors = head .. ser(errs) .. "\n" end
  return out
end

M.VENDORS = { "eiotclub", "huawei", "tibiot" }

if arg and arg[0] and arg[0]:match("gen_vendor%.lua$") then
  package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
  require("outputs").main(arg, { spec_dir = "../shared/spec", out_dir = "lua/simkit/vendor",
    regenerate = "lua5.4 tools/gen_vendor.lua spec/catalog lua/simkit/vendor",
    files = function(spec_dir, out_dir)
      local files = {}
      for _, v in ipairs(M.VENDORS) do
        for suffix, text in pairs(M.render(v, spec_dir)) do
          files[#files + 1] = { path = out_dir .. "/" .. v .. "_" .. suffix .. ".lua", text = text }
        end
      end
      table.sort(files, function(x, y) return x.path < y.path end)
      return files
    end })
end

return M
