--- `name=value` arguments of `simkit call`, typed by the operation's
-- parameter descriptors (the generated `simkit.vendor.*_ops` tables), and
-- the help text of a vendor and of an operation, generated from the same
-- descriptors.
-- @module simkit.cli.args
local errors = require "simkit.errors"
local json = require "simkit.json"

local M = {}

local VENDOR_MODULE = { eiotclub = "simkit.vendor.eiotclub", huawei = "simkit.vendor.huawei",
  tibiot = "simkit.vendor.tibiot" }

--- The operation descriptors of a vendor (the table its client calls through).
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @treturn table|nil `{ op = descriptor }`, or nil and an input error
function M.ops(vendor)
  local mod = VENDOR_MODULE[vendor]
  if not mod then
    return nil, errors.input("unknown vendor '" .. tostring(vendor) .. "' (eiotclub, huawei, tibiot)")
  end
  return require(mod).ops
end

local sorted_keys = require("simkit.cli.common").sorted_keys

-- What kind of value a parameter takes on the command line.
local function kind_of(p)
  if p.list == "comma" then return "comma" end
  local t = (p.type or "string"):lower()
  if t == "integer" or t == "long" or t == "int" then return "integer" end
  if t == "number" or t == "double" or t == "float" then return "number" end
  if t == "boolean" then return "boolean" end
  if t == "string" then return "string" end
  if t == "array" then
    local it = (p.items_type or "string"):lower()
    if it == "string" or it == "integer" or it == "long" or it == "int" or it == "boolean" then return "list" end
  end
  return "json"
end

local BOOL = { ["true"] = true, ["false"] = false, ["1"] = true, ["0"] = false, yes = true, no = false }

-- One scalar from its text, by type; nil and a message when it does not fit.
local function scalar(name, text, t)
  if t == "integer" or t == "long" or t == "int" then
    if not text:match("^%-?%d+$") then return nil, "'" .. name .. "' takes an integer, got '" .. text .. "'" end
    return text -- exact digits: the client keeps 64-bit values exact
  elseif t == "number" then
    local n = tonumber(text)
    if not n or n ~= n or n == math.huge or n == -math.huge then
      return nil, "'" .. name .. "' takes a finite number, got '" .. text .. "'"
    end
    return n
  elseif t == "boolean" then
    local b = BOOL[text:lower()]
    if b == nil then return nil, "'" .. name .. "' takes true or false, got '" .. text .. "'" end
    return b
  end
  return text
end

local function items_of(text)
  local out = {}
  for item in (text .. ","):gmatch("([^,]*),") do out[#out + 1] = item end
  return out
end

local function close_names(names, name)
  local hits = {}
  local l = name:lower():gsub("_", "")
  for _, n in ipairs(names) do
    local ln = n:lower():gsub("_", "")
    if ln:find(l, 1, true) or l:find(ln, 1, true) then hits[#hits + 1] = n end
  end
  return hits
end

--- Turn `name=value` words (and an optional `--args` JSON object) into the
-- argument table of an operation, each value typed by its parameter.
-- @tparam table op the operation's descriptor
-- @tparam {string,...} words the `name=value` words
-- @tparam[opt] string args_json a JSON object of more arguments
-- @treturn table|nil the arguments, or nil and an input error (a usage error)
function M.parse(op, words, args_json)
  local byname, names = {}, {}
  for _, p in ipairs(op.params or {}) do byname[p.name] = p; names[#names + 1] = p.name end
  for alias, target in pairs(op.aliases or {}) do byname[alias] = byname[target] end
  table.sort(names)
  local out, given = {}, {}
  if args_json ~= nil then
    local v, err = json.decode(args_json)
    if v == nil then return nil, errors.input("--args is not valid JSON: " .. tostring(err)) end
    if type(v) ~= "table" or getmetatable(v) == json.array_mt then
      return nil, errors.input("--args must be a JSON object of arguments")
    end
    for k, x in pairs(v) do out[k] = x end
  end
  for _, w in ipairs(words or {}) do
    local name, text = tostring(w):match("^([^=]+)=(.*)$")
    if not name then
      return nil, errors.input("expected name=value, got '" .. tostring(w) .. "'")
    end
    local p = byname[name]
    if not p then
      local near = close_names(names, name)
      return nil, errors.input("unknown parameter '" .. name .. "'" ..
        (#near > 0 and (" (did you mean " .. table.concat(near, ", ") .. "?)") or "") ..
        "; accepted: " .. (#names > 0 and table.concat(names, ", ") or "none"), { param = name })
    end
    local kind = kind_of(p)
    if given[name] == nil and out[name] ~= nil then
      return nil, errors.input("'" .. name .. "' is given both in --args and as name=value", { param = name })
    end
    if kind == "list" then
      local list = out[name] or json.array({})
      for _, item in ipairs(items_of(text)) do
        local v, err = scalar(name, item, (p.items_type or "string"):lower())
        if v == nil then return nil, errors.input(err, { param = name }) end
        list[#list + 1] = v
      end
      out[name] = list
    elseif kind == "comma" then
      out[name] = out[name] and (out[name] .. "," .. text) or text
    else
      if given[name] then
        return nil, errors.input("'" .. name .. "' is given twice (only lists may repeat)", { param = name })
      end
      if kind == "json" then
        local v, err = json.decode(text)
        if v == nil then
          return nil, errors.input("'" .. name .. "' takes JSON (" .. tostring(p.type) .. "): " .. tostring(err),
            { param = name })
        end
        out[name] = v
      else
        local v, err = scalar(name, text, kind)
        if v == nil then return nil, errors.input(err, { param = name }) end
        out[name] = v
      end
    end
    given[name] = true
  end
  return out
end

-- A limit's text: integral values without an exponent (int64 bounds included).
local function num(v)
  if type(v) == "number" and v == math.floor(v) then
    if v >= 2 ^ 63 - 1024 then return "9223372036854775807" end -- int64's max, read as a float
    if math.abs(v) < 2 ^ 63 then return string.format("%.0f", v) end
  end
  return tostring(v)
end

local function limits(p)
  local l = {}
  if p.enum then
    local e = {}
    for i, x in ipairs(p.enum) do e[i] = tostring(x) end
    l[#l + 1] = "one of " .. table.concat(e, "|")
  end
  if p.min and p.max then l[#l + 1] = num(p.min) .. ".." .. num(p.max)
  elseif p.min then l[#l + 1] = ">= " .. num(p.min)
  elseif p.max then l[#l + 1] = "<= " .. num(p.max) end
  if p.min_length and p.min_length > 0 then l[#l + 1] = "at least " .. p.min_length .. " chars" end
  if p.max_length then l[#l + 1] = "at most " .. p.max_length .. " chars" end
  if p.max_items then l[#l + 1] = "at most " .. p.max_items .. " items" end
  if p.format then l[#l + 1] = "format " .. p.format end
  if p.default ~= nil then l[#l + 1] = "default " .. tostring(p.default) end
  return table.concat(l, ", ")
end

local function type_text(p)
  local k = kind_of(p)
  if k == "list" or k == "comma" then return "list of " .. (p.items_type or "string") .. " (a,b or repeated)" end
  if k == "json" then return tostring(p.type) .. (p.items_type and ("<" .. p.items_type .. ">") or "") .. " as JSON" end
  return tostring(p.type or "string")
end

--- Help text of one operation: what it does and every parameter with its
-- type, whether it is required, and its limits.
-- @tparam string vendor
-- @tparam string name the operation
-- @tparam table op its descriptor
-- @treturn string
function M.op_help(vendor, name, op)
  local lines = { ("Usage: simkit call %s %s [name=value ...] [--args JSON] [--raw]"):format(vendor, name), "" }
  lines[#lines + 1] = (op.summary or name) .. "."
  lines[#lines + 1] = ("%s %s  (%s%s)"):format(op.method or "?", op.path or "?",
    op.read and "read" or "write", op.money and ", spends money" or "")
  lines[#lines + 1] = ""
  local params = op.params or {}
  if #params == 0 then
    lines[#lines + 1] = "No parameters."
  else
    lines[#lines + 1] = "Parameters:"
    local w = 4
    for _, p in ipairs(params) do if #p.name > w then w = #p.name end end
    for _, p in ipairs(params) do
      local lim = limits(p)
      lines[#lines + 1] = ("  %-" .. w .. "s  %-8s  %s%s"):format(p.name, p.required and "required" or "optional",
        type_text(p), lim ~= "" and ("; " .. lim) or "")
    end
  end
  for _, group in ipairs(op.one_of or {}) do
    lines[#lines + 1] = "One of " .. table.concat(group, " or ") .. " is required."
  end
  for _, group in ipairs(op.exclusive or {}) do
    lines[#lines + 1] = "Give only one of " .. table.concat(group, " or ") .. "."
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Help text of a vendor: every operation with its summary.
-- @tparam string vendor
-- @tparam table ops the vendor's descriptors
-- @treturn string
function M.vendor_help(vendor, ops)
  local lines = { ("Usage: simkit call %s OP [name=value ...] [--args JSON] [--raw]"):format(vendor), "",
    ("Operations of %s (simkit call %s OP --help for its parameters):"):format(vendor, vendor) }
  local names = sorted_keys(ops)
  local w = 4
  for _, n in ipairs(names) do if #n > w then w = #n end end
  for _, n in ipairs(names) do
    local op = ops[n]
    lines[#lines + 1] = ("  %-" .. w .. "s  %s%s"):format(n, op.summary or "", op.read and "" or " [write]")
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
