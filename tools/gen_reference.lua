#!/usr/bin/env lua5.4
--- Generates docs/reference/<vendor>.md: every operation of a vendor with its
-- parameters (type, required, limits, one-of rules), what it returns, rate
-- limits, whether it spends money and how it pages.
--
-- The facts come from `simkit.describe` (the same table `client:describe(op)`
-- returns, built from the generated op descriptors); the catalogs add only
-- the words (parameter and field descriptions, the vendor-wide notes).
--
-- Usage (from the repository root, with the C core built):
--   LUA_CPATH='build/lua5.4/?.so;;' lua5.4 tools/gen_reference.lua [SPEC_DIR] [OUT_DIR]
--   LUA_CPATH='build/lua5.4/?.so;;' lua5.4 tools/gen_reference.lua --check [SPEC_DIR] [OUT_DIR]
--     (exit 1 and name the stale files when the pages are not up to date)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local cjson = require "cjson"
local describe = require "simkit.describe"
local validate = require "simkit.validate"

local M = {}

M.FILES = { eiotclub = "eiotclub.json", huawei = "huawei-gsl.json", tibiot = "tibiot.json" }
M.TITLES = { eiotclub = "EIOTCLUB", huawei = "Huawei Cloud GSL", tibiot = "TIBIOT" }
M.VENDORS = { "eiotclub", "huawei", "tibiot" }

local function null(v)
  if v == cjson.null then return nil end
  return v
end

-- Keys in a stable order: numbers (and numeric strings) by value, then text.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local na, nb = tonumber(a), tonumber(b)
    if na and nb and na ~= nb then return na < nb end
    if (na ~= nil) ~= (nb ~= nil) then return na ~= nil end
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  return keys
end

-- A value written compactly and always the same way (keys sorted).
local function show(v)
  if type(v) == "table" then
    local n = #v
    local parts = {}
    if n > 0 then
      for i = 1, n do parts[i] = show(v[i]) end
      return "[" .. table.concat(parts, ", ") .. "]"
    end
    for _, k in ipairs(sorted_keys(v)) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  elseif math.type and math.type(v) == "integer" then
    return string.format("%d", v)
  elseif type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^64 then
    return string.format("%.0f", v) -- exact: an integral double, never "9.2e+18"
  end
  return tostring(v)
end

-- One table cell: no pipes or line breaks to break the table.
local function cell(s)
  s = tostring(s or "")
  s = s:gsub("\r?\n", " "):gsub("|", "\\|")
  return s
end

local function code(s) return "`" .. tostring(s) .. "`" end

local function list_of(t, sep)
  local out = {}
  for i, v in ipairs(t) do out[i] = code(show(v)) end
  return table.concat(out, sep or ", ")
end

-- The limits of one parameter, in words.
local function limits(p)
  local out = {}
  local function add(s) out[#out + 1] = s end
  if p.list == "comma" then
    add("comma-separated list (a Lua array is accepted) of " .. (p.items_type or "string"))
  end
  if p.items_type and p.list ~= "comma" then add("items: " .. p.items_type) end
  if p.enum then add("one of " .. list_of(p.enum)) end
  if p.items_enum then add("items one of " .. list_of(p.items_enum)) end
  if p.numeric_string then add("digits only") end
  if p.min ~= nil then add(">= " .. show(p.min)) end
  if p.max ~= nil then add("<= " .. show(p.max)) end
  if p.min_length and p.min_length > 0 then add("at least " .. show(p.min_length) .. " characters") end
  if p.max_length then
    add("at most " .. show(p.max_length) .. " characters" ..
      (p.max_length_source == "default" and " (simkit's default cap)" or ""))
  end
  if p.min_items and p.min_items > 0 then add("at least " .. show(p.min_items) .. " items") end
  if p.max_items then add("at most " .. show(p.max_items) .. " items") end
  if p.item_min_length and p.item_min_length > 0 then add("items at least " .. show(p.item_min_length) .. " characters") end
  if p.item_max_length then
    add("items at most " .. show(p.item_max_length) .. " characters" ..
      (p.item_max_length_source == "default" and " (simkit's default cap)" or ""))
  end
  if p.item_min ~= nil then add("items >= " .. show(p.item_min)) end
  if p.item_max ~= nil then add("items <= " .. show(p.item_max)) end
  if p.format then add("format " .. code(p.format)) end
  if p.default ~= nil then add("default " .. code(show(p.default))) end
  if p.required_when then add("required when " .. show(p.required_when)) end
  if p.per_request_max_items then
    add("at most " .. show(p.per_request_max_items) .. " per request (simkit splits a longer list)")
  end
  if p.generated then add("simkit generates it when absent") end
  if p.allow_newlines then add("LF and CR allowed") end
  if p.deprecated then add("deprecated") end
  return table.concat(out, "; ")
end

-- The catalog's words for each parameter and each response field of an op.
local function catalog_words(vendor, e)
  local params, fields = {}, {}
  local function add_params(list)
    for _, p in ipairs(list or {}) do
      local text = null(p.description_en) or ""
      if null(p.constraint) then text = text .. (text ~= "" and " " or "") .. "(" .. p.constraint .. ")" end
      params[p.name] = text
      for _, f in ipairs(null(p.items_fields) or {}) do params[p.name .. "." .. f.name] = null(f.description_en) end
    end
  end
  if vendor == "huawei" then
    add_params(e.path_params); add_params(e.query_params); add_params(e.body_params)
  else
    add_params(e.params)
  end
  local list = vendor == "tibiot" and e.response_fields or (e.response and e.response.fields) or {}
  for _, f in ipairs(list) do
    local words = null(f.description_en) or ""
    if null(f.unit) then words = words .. (words ~= "" and " " or "") .. "(" .. f.unit .. ")" end
    if null(f.note) then words = words .. (words ~= "" and " " or "") .. f.note end
    local enum = null(f.enum)
    if type(enum) == "table" then
      local parts = {}
      if #enum > 0 then
        for i, v in ipairs(enum) do parts[i] = tostring(v) end
      else
        for _, k in ipairs(sorted_keys(enum)) do parts[#parts + 1] = k .. " " .. tostring(enum[k]) end
      end
      words = words .. (words ~= "" and "; " or "") .. table.concat(parts, ", ")
    end
    fields[#fields + 1] = { path = f.path, type = null(f.type) or "", words = words }
  end
  return params, fields
end

local function render_params(lines, d, words)
  if #d.params == 0 then
    lines[#lines + 1] = "No parameters."
    lines[#lines + 1] = ""
    return
  end
  lines[#lines + 1] = "| parameter | type | required | limits | description |"
  lines[#lines + 1] = "|---|---|---|---|---|"
  local function row(p, prefix)
    local name = prefix .. p.name
    lines[#lines + 1] = "| " .. table.concat({ code(name), cell(p.type), p.required and "yes" or "no",
      cell(limits(p)), cell(words[name] or "") }, " | ") .. " |"
    for _, f in ipairs(p.fields or {}) do row(f, name .. "[].") end
  end
  for _, p in ipairs(d.params) do row(p, "") end
  lines[#lines + 1] = ""
end

local function render_rules(lines, d)
  local rules = {}
  for _, g in ipairs(d.one_of or {}) do rules[#rules + 1] = "at least one of " .. list_of(g, " or ") end
  for _, g in ipairs(d.exclusive or {}) do rules[#rules + 1] = "at most one of " .. list_of(g, " or ") end
  if d.list_total then
    rules[#rules + 1] = list_of(d.list_total.params, " and ") .. " hold at most " .. show(d.list_total.max) ..
      " items together"
  end
  for _, k in ipairs(sorted_keys(d.aliases or {})) do
    rules[#rules + 1] = code(k) .. " is accepted for " .. code(d.aliases[k])
  end
  for _, r in ipairs(rules) do lines[#lines + 1] = "- Rule: " .. r end
end

local function render_op(lines, d, e, vendor)
  local words, fields = {}, {}
  if e then words, fields = catalog_words(vendor, e) end
  lines[#lines + 1] = "## " .. d.name
  lines[#lines + 1] = ""
  lines[#lines + 1] = (d.summary or "") .. (d.deprecated and (" **Deprecated**" ..
    (d.deprecated.since and (" since " .. show(d.deprecated.since)) or "") ..
    (d.deprecated.replaced_by and ("; use " .. code(show(d.deprecated.replaced_by))) or "") .. ".") or "")
  lines[#lines + 1] = ""
  local kind = d.read and "read (changes nothing; retried on failure)" or "write (never retried blindly)"
  if d.money then kind = "**spends money** (sent at most once, never retried blindly)" end
  lines[#lines + 1] = "- " .. code(d.method .. " " .. d.path) .. " — " .. kind
  if d.idempotency_key then
    lines[#lines + 1] = "- Idempotency key: " .. code(d.idempotency_key)
  end
  if d.order then
    local o = d.order
    local how
    if o.lookup then
      how = "after an ambiguous failure simkit looks the order up by its key with " .. code(o.lookup)
    elseif o.probe then
      how = "no lookup by key exists: after an ambiguous failure the same key is sent once more" ..
        " (the vendor refuses a duplicate)"
    end
    lines[#lines + 1] = "- Order: at most once per key " .. code(o.key) ..
      (o.id and ("; the result carries the order id " .. code(o.id)) or "") ..
      (o.id_lookup and (" (looked up with " .. code(o.id_lookup) .. " when a duplicate answer lacks it)") or "") ..
      (how and ("; " .. how) or "") ..
      (o.duplicate_codes and ("; vendor codes " .. list_of(o.duplicate_codes) .. " mean the key exists") or "")
  end
  if d.guard then
    lines[#lines + 1] = "- Guard: at most once per " .. show(d.guard.interval) .. " s per " ..
      code(d.guard.param) .. "; an earlier call is refused before sending (`kind = \"rate_limited\"`)"
  end
  if d.async then lines[#lines + 1] = "- Asynchronous: the vendor finishes the work later" end
  if d.rate_limit then
    local parts = {}
    if d.rate_limit.per_s then parts[#parts + 1] = show(d.rate_limit.per_s) .. " call(s)/s for this operation" end
    if d.rate_limit.min_interval_s then
      parts[#parts + 1] = "once per " .. show(d.rate_limit.min_interval_s) .. " s per card"
    end
    if d.rate_limit.account_per_s then
      parts[#parts + 1] = show(d.rate_limit.account_per_s) .. " calls/s per account, all operations together" ..
        (vendor == "eiotclub" and " (simkit's default pacing, client option `rate_limit`)" or " (simkit paces to it)")
    end
    lines[#lines + 1] = "- Rate limit: " .. table.concat(parts, "; ")
  end
  if e and type(null(e.rate_limit)) == "table" and null(e.rate_limit.source) then
    lines[#lines + 1] = "- Vendor limit: " .. cell(e.rate_limit.source)
  end
  if d.paging then
    local pg = d.paging
    local parts = { "page " .. code(pg.page) }
    if pg.size then parts[#parts + 1] = "size " .. code(pg.size) end
    if pg.default_size then parts[#parts + 1] = "client:pages default size " .. show(pg.default_size) end
    if pg.max_size then parts[#parts + 1] = "at most " .. show(pg.max_size) end
    if pg.items then parts[#parts + 1] = "items at " .. code(pg.items) end
    if pg.total then parts[#parts + 1] = "total at " .. code(pg.total) .. " (" .. tostring(pg.total_kind) .. ")" end
    for _, k in ipairs(sorted_keys(pg)) do
      if not ({ page = 1, size = 1, default_size = 1, max_size = 1, items = 1, total = 1, total_kind = 1,
        page_type = 1 })[k] then
        parts[#parts + 1] = k .. " " .. code(show(pg[k]))
      end
    end
    lines[#lines + 1] = "- Paging (`client:pages`): " .. table.concat(parts, ", ")
  end
  render_rules(lines, d)
  for _, k in ipairs(sorted_keys(d.facts)) do
    lines[#lines + 1] = "- " .. k .. ": " .. code(show(d.facts[k]))
  end
  lines[#lines + 1] = ""
  render_params(lines, d, words)
  local ret = d.returns or {}
  local rparts = {}
  for _, k in ipairs(sorted_keys(ret)) do rparts[#rparts + 1] = k .. " " .. code(show(ret[k])) end
  lines[#lines + 1] = "Returns" .. (#rparts > 0 and (" (" .. table.concat(rparts, ", ") .. ")") or "") ..
    (#fields > 0 and ":" or ".")
  lines[#lines + 1] = ""
  if #fields > 0 then
    lines[#lines + 1] = "| field | type | description |"
    lines[#lines + 1] = "|---|---|---|"
    for _, f in ipairs(fields) do
      lines[#lines + 1] = "| " .. code(f.path) .. " | " .. cell(f.type) .. " | " .. cell(f.words) .. " |"
    end
    lines[#lines + 1] = ""
  end
end

-- Vendor-wide facts from the catalog.
local function vendor_notes(vendor, spec)
  local out = {}
  if vendor == "huawei" then
    for _, r in ipairs(null(spec.rate_limits) or {}) do
      local t = null(r.limit) and (show(r.limit) .. " call(s) per " .. r.per .. " — " .. r.scope)
        or (r.scope .. ": " .. (null(r.note) or ""))
      out[#out + 1] = "- " .. cell(t)
    end
  elseif vendor == "eiotclub" then
    out[#out + 1] = "- \"Too frequent\" answers (codes 501, 44001) are rate limits: simkit backs off and retries reads."
  elseif vendor == "tibiot" then
    local n = require("simkit.vendor.tibiot").max_iccids
    out[#out + 1] = "- Network operations take at most " .. n .. " ICCIDs per request: simkit sends longer lists in" ..
      " chunks of " .. n .. "."
    out[#out + 1] = "- The signing scheme is published only in the vendor's SDK: the `signer` option is required."
  end
  return out
end

--- Render one vendor's reference page as Markdown.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @tparam string spec_dir the catalogs' directory
-- @treturn string the page
function M.render(vendor, spec_dir)
  local f = assert(io.open(spec_dir .. "/" .. M.FILES[vendor], "rb"))
  local spec = cjson.decode(f:read("a"))
  f:close()
  local by_op, order, seen = {}, {}, {}
  for _, e in ipairs(spec.endpoints) do
    by_op[e.op] = e
    order[#order + 1] = e.op
    seen[e.op] = true
  end
  for _, name in ipairs(describe.operations(vendor)) do
    if not seen[name] then order[#order + 1] = name end
  end
  local lines = {
    "# " .. M.TITLES[vendor] .. " operations reference",
    "",
    "<!-- GENERATED by tools/gen_reference.lua from spec/catalog/" .. M.FILES[vendor] ..
      " and the op descriptors: do not edit. -->",
    "",
    "Every operation is a client method (`client:" .. order[1] .. "{ ... }`) taking one table of the" ..
      " vendor's parameter names; `client:describe(\"" .. order[1] .. "\")` returns the same facts as a" ..
      " Lua table (see [README.md](README.md)). Arguments are checked before anything is sent: a" ..
      " bad one gives `nil, err` with `err.kind == \"input\"`. " ..
      (vendor == "huawei" and "The result is the decoded response body" or
        "The result is the decoded `data` part of the vendor's answer") ..
      "; the field paths under \"Returns\" are those of the vendor's answer.",
    "",
    "Every string parameter (list and array items and object fields included) must be " ..
      validate.TEXT_RULE .. ", at most its catalog cap or, where the catalog gives none, " ..
      validate.DEFAULT_MAX_LENGTH .. " characters (simkit's default cap); no one parameter's value" ..
      " exceeds " .. validate.MAX_PARAM_BYTES .. " bytes. Numbers must be finite; integers fit 64 bits.",
    "",
  }
  local notes = vendor_notes(vendor, spec)
  if #notes > 0 then
    lines[#lines + 1] = "Vendor-wide limits:"
    lines[#lines + 1] = ""
    for _, n in ipairs(notes) do lines[#lines + 1] = n end
    lines[#lines + 1] = ""
  end
  lines[#lines + 1] = "| operation | request | kind | summary |"
  lines[#lines + 1] = "|---|---|---|---|"
  local descs = {}
  for _, name in ipairs(order) do
    local d = assert(describe.vendor(vendor, name))
    descs[#descs + 1] = d
    local kind = d.money and "money" or (d.read and "read" or "write")
    lines[#lines + 1] = "| [" .. name .. "](#" .. name .. ") | " .. code(d.method .. " " .. d.path) ..
      " | " .. kind .. " | " .. cell(d.summary) .. " |"
  end
  lines[#lines + 1] = ""
  for _, d in ipairs(descs) do render_op(lines, d, by_op[d.name], vendor) end
  while lines[#lines] == "" do lines[#lines] = nil end
  return table.concat(lines, "\n") .. "\n"
end

if arg and arg[0] and arg[0]:match("gen_reference%.lua$") then
  package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
  require("outputs").main(arg, { spec_dir = "spec/catalog", out_dir = "docs/reference",
    regenerate = "LUA_CPATH='build/lua5.4/?.so;;' lua5.4 tools/gen_reference.lua",
    files = function(spec_dir, out_dir)
      local files = {}
      for _, v in ipairs(M.VENDORS) do
        files[#files + 1] = { path = out_dir .. "/" .. v .. ".md", text = M.render(v, spec_dir) }
      end
      return files
    end })
end

return M
