--- Argument validation against a vendor table's parameter specs (internal).
-- Checks names, required, types, enums, lengths, list sizes and formats, and
-- returns a normalised copy (lists joined, numeric strings typed) — all before
-- anything is sent.
--
-- One text rule for every string a caller passes, whatever the vendor, the
-- parameter's place (query, path, body) or its nesting (list and array items,
-- object fields): it must be valid UTF-8 (RFC 3629: no overlong forms, no
-- surrogates, nothing above U+10FFFF), must hold no control byte (C0 0x00-0x1F,
-- NUL included, and DEL 0x7F; no vendor document allows one, not even in an
-- SMS text; a parameter whose descriptor says `allow_newlines = true` may hold
-- LF and CR), and must fit its cap: the catalog's `max_length` in characters,
-- else `DEFAULT_MAX_LENGTH`. No one parameter's value — a string, a list, all
-- the strings of an array together — exceeds `MAX_PARAM_BYTES`.
-- @module simkit.validate
local core = require "simkit.core"
local json = require "simkit.json"
local util = require "simkit.util"

local text_check, int_text = core.text_check, core.int_text
local byte, sub = string.byte, string.sub

local M = {}

--- The cap, in characters, of a string parameter whose catalog gives none.
M.DEFAULT_MAX_LENGTH = 65536

--- The most bytes one parameter's value may hold (1 MiB), whatever its caps.
M.MAX_PARAM_BYTES = 1048576

--- The text rule in one sentence (the reference and `describe` quote it).
M.TEXT_RULE = "valid UTF-8 without control characters (bytes 0x00-0x1F and 0x7F)"

local function ulen(s)
  if utf8 and utf8.len then return utf8.len(s) or #s end
  local n = 0
  for _ in s:gmatch("[^\128-\191]") do n = n + 1 end
  return n
end

--- Why a string breaks the text rule, or nil when it keeps it.
-- @tparam string s the text
-- @tparam[opt] boolean allow_newlines LF and CR allowed
-- @treturn string|nil what is wrong, with the byte position
function M.text_error(s, allow_newlines)
  if type(s) ~= "string" then
    error("simkit.validate.text_error: the text must be a string, got " .. type(s), 2)
  end
  -- one C pass (simkit.core.text_check): the same rule on every VM
  local what, at, b = text_check(s, allow_newlines)
  if not what then return nil end
  if what == "utf8" then return "is not valid UTF-8 (byte " .. at .. ")" end
  if b == 0 then return "contains a NUL byte (byte " .. at .. ")" end
  return string.format("contains a control character (0x%02X at byte %d)", b, at)
end

--- The cap, in characters, of a string parameter (or of its items).
-- @tparam table p a parameter spec
-- @treturn number the cap
-- @treturn string "catalog" or "default"
function M.max_length(p)
  if type(p) ~= "table" then
    error("simkit.validate.max_length: pass a parameter spec (a table), got " .. type(p), 2)
  end
  if p.max_length then return p.max_length, "catalog" end
  return M.DEFAULT_MAX_LENGTH, "default"
end

local FORMATS = {
  ["yyyy-MM-dd"] = "^%d%d%d%d%-%d%d%-%d%d$",
  ["yyyy-MM"] = "^%d%d%d%d%-%d%d$",
  ["yyyyMM"] = "^%d%d%d%d%d%d$",
  ["yyyyMMdd"] = "^%d%d%d%d%d%d%d%d$",
  ["yyyy-MM-dd HH:mm:ss"] = "^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$",
}

local function date_ok(fmt, s)
  local pat = FORMATS[fmt]
  if not pat then return true end -- a format we do not know: not checked
  if not s:match(pat) then return false end
  local digits = s:gsub("%D", "")
  local mo = tonumber(digits:sub(5, 6))
  if mo < 1 or mo > 12 then return false end
  if #digits >= 8 then
    local d = tonumber(digits:sub(7, 8))
    if d < 1 or d > util.days_in_month(tonumber(digits:sub(1, 4)), mo) then return false end
  end
  if #digits >= 14 then
    local h, mi, se = tonumber(digits:sub(9, 10)), tonumber(digits:sub(11, 12)), tonumber(digits:sub(13, 14))
    if h > 23 or mi > 59 or se > 59 then return false end
  end
  return true
end

-- Type names lower-cased once (catalogs write "Long", "String", ...).
local LOWER = setmetatable({}, { __index = function(t, k)
  local v = k:lower()
  t[k] = v
  return v
end })

local INTEGER_TYPES = { integer = true, long = true, int = true }

local function is_integer_type(t)
  return INTEGER_TYPES[LOWER[t]] or false
end

-- Normalise an integer-typed value: Lua integer, integral float, or a
-- string of digits (64-bit ids decoded on LuaJIT come as strings).
local INT64_MAX, INT64_MIN_ABS = "9223372036854775807", "9223372036854775808"

local function to_integer(v)
  local text
  if type(v) == "string" then
    -- canonical digits (no leading zeros: "007" would be invalid JSON, "-0"
    -- is 0), in one C pass
    text = int_text(v)
    if not text then return nil end
    -- the common case: canonical and short (<= 15 characters: exact on every
    -- VM, below 2^53; <= 18 where Lua has integers: 18 digits fit int64)
    if text == v and (#v <= 15 or (math.type and #v <= 18)) then
      return tonumber(v) -- an integer on 5.3+
    end
  else
    if math.type and math.type(v) == "integer" then return v end
    text = util.integer_text(v) -- an integral float
    if not text then return nil end
    text = int_text(text) -- "-0" is 0
  end
  local neg = byte(text, 1) == 45 -- "-"
  local digits = neg and sub(text, 2) or text
  local limit = neg and INT64_MIN_ABS or INT64_MAX
  if #digits > #limit or (#digits == #limit and digits > limit) then return nil end -- beyond int64
  if math.type then
    local n = math.tointeger(tonumber(text))
    if n and string.format("%d", n) == text then return n end
    return text -- beyond int64: keep the exact text
  end
  local n = tonumber(text)
  if n and math.abs(n) < 2^53 then return n end -- 2^53+1 reads back as 2^53
  return text
end

local function in_enum(enum, v)
  for _, e in ipairs(enum) do
    if e == v or tostring(e) == tostring(v) then return true end
  end
  return false
end

-- "'name' must be one of: a, b" for a value outside the parameter's enum
local function enum_error(p)
  local allowed = {}
  for _, e in ipairs(p.enum) do allowed[#allowed + 1] = tostring(e) end
  return "'" .. p.name .. "' must be one of: " .. table.concat(allowed, ", ")
end

local function fail(p, msg)
  return nil, "'" .. p.name .. "' " .. msg
end

-- A value of a type the validator knows nothing more about (an object, an
-- array item of an untyped array): every string in it, keys included, keeps
-- the text rule, and its strings together stay under MAX_PARAM_BYTES.
local function check_any(p, v)
  local total, nodes, path = 0, 0, {}
  local function walk(x, depth)
    nodes = nodes + 1
    if nodes > 100000 then return "holds more than 100000 values" end
    if type(x) == "string" then
      total = total + #x
      if total > M.MAX_PARAM_BYTES then return "is larger than " .. M.MAX_PARAM_BYTES .. " bytes" end
      return M.text_error(x, p.allow_newlines)
    elseif type(x) == "number" then
      if x ~= x or x == math.huge or x == -math.huge then return "holds a number that is not finite" end
    elseif type(x) == "table" then
      if path[x] or depth > 64 then return "is nested too deeply (or holds a cycle)" end
      path[x] = true
      for k, y in pairs(x) do
        local e = walk(k, depth + 1) or walk(y, depth + 1)
        if e then return e end
      end
      path[x] = nil
    elseif type(x) ~= "boolean" then
      return "holds a " .. type(x) .. " (only text, numbers, booleans and tables are sent)"
    end
    return nil
  end
  local e = walk(v, 0)
  if e then return fail(p, e) end
  return v
end

local function check_scalar(p, v, ptype)
  ptype = LOWER[ptype or "string"]
  if ptype == "string" then
    if type(v) == "number" then
      local t = util.integer_text(v)
      if not t then return fail(p, "must be a string (got a non-integral number)") end
      v = t
    elseif type(v) ~= "string" then
      return fail(p, "must be a string, got " .. type(v))
    end
    local cap = M.max_length(p)
    -- bytes first: a 10 MB value is refused without being scanned
    if #v > M.MAX_PARAM_BYTES or #v > 4 * cap then
      return fail(p, "is longer than " .. cap .. " characters")
    end
    local bad = M.text_error(v, p.allow_newlines)
    if bad then return fail(p, bad) end
    if p.numeric_string and not v:match("^%d+$") then
      return fail(p, "must be a number written as a string of digits")
    end
    if #v > cap and ulen(v) > cap then
      return fail(p, "is longer than " .. cap .. " characters")
    end
    if p.min_length and ulen(v) < p.min_length then
      return fail(p, "is shorter than " .. p.min_length .. " characters")
    end
    if p.format and not date_ok(p.format, v) then
      return fail(p, "must have the format " .. p.format)
    end
    if p.numeric_string and (p.min or p.max) then
      local n = tonumber(v)
      if p.min and n < p.min then return fail(p, "must be >= " .. p.min) end
      if p.max and n > p.max then return fail(p, "must be <= " .. p.max) end
    end
    return v
  elseif is_integer_type(ptype) then
    local n = to_integer(v)
    if n == nil then return fail(p, "must be a 64-bit integer, got " .. tostring(v)) end
    if type(n) == "number" then
      if p.min and n < p.min then return fail(p, "must be >= " .. p.min) end
      if p.max and n > p.max then return fail(p, "must be <= " .. p.max) end
    else -- beyond 2^53 on LuaJIT: the exact text
      if p.max and n:sub(1, 1) ~= "-" then return fail(p, "must be <= " .. p.max) end
      if p.min and n:sub(1, 1) == "-" then return fail(p, "must be >= " .. p.min) end
    end
    return n
  elseif ptype == "number" or ptype == "double" or ptype == "float" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      return fail(p, "must be a finite number")
    end
    if p.min and v < p.min then return fail(p, "must be >= " .. p.min) end
    if p.max and v > p.max then return fail(p, "must be <= " .. p.max) end
    return v
  elseif ptype == "boolean" then
    if type(v) ~= "boolean" then return fail(p, "must be a boolean (true/false)") end
    return v
  elseif ptype == "object" then
    if type(v) ~= "table" then return fail(p, "must be a table") end
    return check_any(p, v)
  end
  return check_any(p, v)
end

local function is_seq(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true
end

local function check_list(p, v)
  local raw
  if type(v) == "table" then
    if not is_seq(v) then return fail(p, "must be an array (a sequence)") end
    raw = v
  elseif type(v) == "string" or type(v) == "number" then
    local s = type(v) == "string" and v or util.integer_text(v)
    if not s then return fail(p, "must be a comma-separated string or an array") end
    local cap = M.max_length(p)
    if #s > M.MAX_PARAM_BYTES or #s > 4 * cap then -- refused before it is split
      return fail(p, "is longer than " .. cap .. " characters")
    end
    raw = {}
    for item in (s .. ","):gmatch("([^,]*),") do
      item = item:match("^%s*(.-)%s*$")
      if item == "" then return fail(p, "has an empty item") end
      raw[#raw + 1] = item
    end
  else
    return fail(p, "must be a comma-separated string or an array")
  end
  if #raw > M.max_length(p) then -- the joined list could not fit its cap
    return fail(p, "is longer than " .. M.max_length(p) .. " characters")
  end
  -- every item typed like a parameter of items_type, written exactly
  -- (integer text, never "1e+14" as tostring gives on LuaJIT)
  local items = {}
  for i, x in ipairs(raw) do
    local s, err = check_scalar({ name = p.name .. "[" .. i .. "]", allow_newlines = p.allow_newlines }, x,
      p.items_type or "string")
    if s == nil then return nil, err end
    s = util.integer_text(s) or tostring(s)
    if s:find(",", 1, true) then return fail(p, "items must not contain commas") end
    if s == "" then return fail(p, "items must not be empty") end
    items[#items + 1] = s
  end
  if #items == 0 then return fail(p, "must not be empty") end
  if p.max_items and #items > p.max_items then
    return fail(p, "has " .. #items .. " items, at most " .. p.max_items .. " allowed")
  end
  if p.items_enum then
    for _, it in ipairs(items) do
      if not in_enum(p.items_enum, it) then return fail(p, "item '" .. it .. "' is not allowed") end
    end
  end
  -- the list is sent as one string: its cap is the parameter's
  local joined = table.concat(items, ",")
  local cap = M.max_length(p)
  if #joined > M.MAX_PARAM_BYTES or (#joined > cap and ulen(joined) > cap) then
    return fail(p, "is longer than " .. cap .. " characters (all items joined by commas)")
  end
  return joined
end

-- One object item of an Array whose items have `fields` (validated and
-- normalised like top-level parameters; unknown fields refused).
local function check_object(p, fields, v, name)
  if type(v) ~= "table" or getmetatable(v) == json.array_mt then
    return fail(p, "items must be tables (objects), item " .. name .. " is a " .. type(v))
  end
  local byname = util.by_name(fields)
  local out = {}
  for k in pairs(v) do
    if type(k) ~= "string" or not byname[k] then
      local names = {}
      for _, f in ipairs(fields) do names[#names + 1] = f.name end
      return nil, "'" .. name .. "' has an unknown field '" .. tostring(k) .. "' (accepted: "
        .. table.concat(names, ", ") .. ")"
    end
  end
  for _, f in ipairs(fields) do
    local x = v[f.name]
    if x == json.null or x == "" then x = nil end
    local fname = name .. "." .. f.name
    if x == nil then
      if f.required then return nil, "'" .. fname .. "' is required" end
    else
      local fp = setmetatable({ name = fname }, { __index = f })
      local nx, err = check_scalar(fp, x, f.type)
      if nx == nil then return nil, err end
      if f.enum and not in_enum(f.enum, nx) then return nil, "'" .. fname .. "' is not an allowed value" end
      out[f.name] = nx
    end
  end
  return out
end

local function check_array(p, v)
  if type(v) ~= "table" or not is_seq(v) then
    return fail(p, "must be an array (a Lua sequence)")
  end
  if #v == 0 and (p.required or (p.min_items or 0) > 0) then return fail(p, "must not be empty") end
  if p.min_items and #v < p.min_items then
    return fail(p, "has " .. #v .. " items, at least " .. p.min_items .. " required")
  end
  if p.max_items and #v > p.max_items then
    return fail(p, "has " .. #v .. " items, at most " .. p.max_items .. " allowed")
  end
  local out = json.array({})
  local itype = p.items_type
  local bytes = 0
  for i, x in ipairs(v) do
    if p.items_enum and not in_enum(p.items_enum, x) then
      return fail(p, "item '" .. tostring(x) .. "' is not allowed")
    end
    if p.fields then
      local item, err = check_object(p, p.fields, x, p.name .. "[" .. i .. "]")
      if item == nil then return nil, err end
      out[i] = item
    elseif itype and (LOWER[itype] == "string" or is_integer_type(itype) or LOWER[itype] == "boolean") then
      local s, err = check_scalar({ name = p.name .. "[" .. i .. "]", min_length = p.item_min_length,
        max_length = p.item_max_length, min = p.item_min, max = p.item_max,
        allow_newlines = p.allow_newlines }, x, itype)
      if s == nil then return nil, err end
      if type(s) == "string" then
        bytes = bytes + #s
        if bytes > M.MAX_PARAM_BYTES then
          return fail(p, "is larger than " .. M.MAX_PARAM_BYTES .. " bytes (all items together)")
        end
      end
      out[i] = s
    else
      local s, err = check_any({ name = p.name .. "[" .. i .. "]", allow_newlines = p.allow_newlines }, x)
      if s == nil then return nil, err end
      out[i] = s
    end
  end
  return out
end

--- Validate and normalise `args` for one operation.
-- @tparam table op the op's entry in a vendor table (`params`, `one_of`)
-- @tparam table args the caller's arguments
-- @treturn table|nil normalised arguments, or nil and a message
-- @treturn string|nil the offending parameter name
-- The lower-cased type of a parameter spec.
local function ptype_of(p)
  return LOWER[p.type or "string"]
end

-- The plan of an op whose parameters are all plain scalars (no aliases,
-- lists, arrays, modes or groups): per parameter, the conditions under which
-- a value is taken as it is without the general checks (a string within its
-- cap in bytes that keeps the text rule; an integer within its bounds).
-- Anything else goes through the general path, which words every error; the
-- plan only skips work for values that pass. False when the op is not plain.
local PLANS = setmetatable({}, { __mode = "k" })
local INT_TYPES = { integer = true, long = true, int = true }

local function plan_of(op)
  local plan = PLANS[op]
  if plan ~= nil then return plan end
  plan = not (op.aliases or op.list_total or op.exclusive or op.one_of) and { byname = util.by_name(op.params) }
  for i, p in ipairs(plan and op.params or {}) do
    local t = ptype_of(p)
    if p.list or p.required_when or not (t == "string" or INT_TYPES[t]) then
      plan = false
      break
    end
    local plain_string = t == "string" and not (p.numeric_string or p.min_length or p.format)
    plan[i] = { name = p.name, p = p, ptype = t, required = p.required, enum = p.enum,
      cap = plain_string and math.min(M.max_length(p), M.MAX_PARAM_BYTES) or -1,
      newlines = p.allow_newlines, int = INT_TYPES[t] and math.type ~= nil, min = p.min, max = p.max }
  end
  PLANS[op] = plan
  return plan
end

local math_type = math.type

-- An integer parameter's value as a Lua integer within its bounds (what
-- to_integer makes of it), else nil: the general path decides and words it.
-- Lua 5.3+ only (the plan's `int`).
local function plain_int(e, v)
  local n = to_integer(v)
  if math_type(n) ~= "integer" or (e.min and n < e.min) or (e.max and n > e.max) then return nil end
  return n
end

-- check() for a plain op; nil when an argument name is unknown (the general
-- path words that error)
local function check_plain(plan, args)
  local byname = plan.byname
  for k in next, args do
    if not byname[k] then return nil end
  end
  local out = {}
  for i = 1, #plan do
    local e = plan[i]
    local v = args[e.name]
    if v == nil or v == json.null or v == "" then
      if e.required then return false, "'" .. e.name .. "' is required", e.name end
    else
      local nv
      if type(v) == "string" and #v <= e.cap and not text_check(v, e.newlines) then
        nv = v -- within its cap in bytes, so in characters too
      else
        nv = e.int and plain_int(e, v)
        if not nv then
          local err
          nv, err = check_scalar(e.p, v, e.ptype)
          if nv == nil then return false, err, e.name end
        end
      end
      if e.enum and not in_enum(e.enum, nv) then return false, enum_error(e.p), e.name end
      out[e.name] = nv
    end
  end
  return out
end

function M.check(op, args)
  if args == nil then args = {} end
  if type(args) ~= "table" then return nil, "arguments must be a table", nil end
  local plan = plan_of(op)
  if plan then
    local out, msg, param = check_plain(plan, args)
    if out then return out end
    if out == false then return nil, msg, param end
    -- an unknown argument name: the general path says which
  end
  if op.aliases then
    -- another name for a parameter (e.g. the official SDK's): moved to the vendor's name
    local moved
    for alias, name in pairs(op.aliases) do
      if args[alias] ~= nil then
        if args[name] ~= nil then
          return nil, "give '" .. name .. "' or '" .. alias .. "' (the same parameter), not both", name
        end
        moved = moved or util.copy(args)
        moved[name], moved[alias] = args[alias], nil
      end
    end
    args = moved or args
  end
  local byname = util.by_name(op.params)
  for k in pairs(args) do
    if type(k) ~= "string" then return nil, "argument names must be strings", nil end
    if not byname[k] then
      local names = {}
      for _, p in ipairs(op.params) do names[#names + 1] = p.name end
      table.sort(names)
      return nil, "unknown argument '" .. k .. "' (accepted: " ..
        (#names > 0 and table.concat(names, ", ") or "none") .. ")", k
    end
  end
  local out = {}
  for _, p in ipairs(op.params) do
    local v = args[p.name]
    if v == json.null then v = nil end
    if v == "" then v = nil end -- never sent (an empty value changes the signature)
    local required = p.required
    if p.required_when then
      -- required in the source schema, but only in one mode (cdr_traffic_query)
      required = true
      for k, want in pairs(p.required_when) do
        if args[k] ~= want then required = false end
      end
    end
    if v == nil then
      if required then return nil, "'" .. p.name .. "' is required", p.name end
    else
      local nv, err
      local ptype = ptype_of(p)
      if p.list == "comma" then
        nv, err = check_list(p, v)
      elseif ptype == "array" then
        nv, err = check_array(p, v)
      else
        nv, err = check_scalar(p, v, ptype)
      end
      if nv == nil then return nil, err, p.name end
      if p.enum and not in_enum(p.enum, nv) then return nil, enum_error(p), p.name end
      out[p.name] = nv
    end
  end
  if op.list_total then
    -- a cap on the items of several comma lists together
    local n = 0
    for _, name in ipairs(op.list_total.params) do
      if out[name] then n = n + select(2, out[name]:gsub(",", ",")) + 1 end
    end
    if n > op.list_total.max then
      return nil, table.concat(op.list_total.params, " and ") .. " hold " .. n .. " items together, at most " ..
        op.list_total.max .. " allowed", op.list_total.params[1]
    end
  end
  if not op.exclusive and not op.one_of then return out end
  -- for these groups an empty list counts as not given ("if sim_card_ids is
  -- empty, iccids is used")
  local function given_(name)
    local v = out[name]
    return v ~= nil and not (type(v) == "table" and #v == 0)
  end
  for _, group in ipairs(op.exclusive or {}) do
    local given = {}
    for _, name in ipairs(group) do if given_(name) then given[#given + 1] = name end end
    if #given > 1 then
      return nil, "give only one of " .. table.concat(group, " or ") .. " (not both)", given[2]
    end
  end
  for _, group in ipairs(op.one_of or {}) do
    local any = false
    for _, name in ipairs(group) do if given_(name) then any = true end end
    if not any then
      return nil, "one of " .. table.concat(group, " or ") .. " is required", group[1]
    end
  end
  return out
end

return M
