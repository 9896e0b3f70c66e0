--- The audit log of the rules engine: one JSON object per line for every
-- decision, with exactly the fields `time`, `rule`, `iccid`, `vendor`,
-- `value`, `threshold`, `decision` (`fired`, `skipped`, `scheduled`,
-- `done`, `failed`), `reason`, `action`, `key`, `error` (absent fields are
-- left out). `error` is `{ kind, message, code, status, outcome }`. A
-- top-up's lines also carry what was ordered: `package`, `cost` (the
-- package's price, when the vendor's package list gave it) and `order_id`
-- (the vendor's, once known) — the report's "orders placed" reads them.
-- A `scope = "group"` rule's lines carry `group` (e.g. "pool:huawei:7"):
-- `iccid` is then the card that was evaluated when it fired.
-- @module simkit.rules.audit
local json = require "simkit.json"

local M = {}

M.FIELDS = { "time", "rule", "iccid", "vendor", "value", "threshold", "decision", "reason", "action", "key", "error",
  "package", "cost", "order_id", "group" }
M.DECISIONS = { fired = true, skipped = true, scheduled = true, done = true, failed = true }

local ERROR_FIELDS = { "kind", "message", "code", "status", "outcome", "op", "vendor" }

--- A plain, secret-free copy of an error for the audit and reports.
function M.error_of(err)
  if err == nil then return nil end
  if type(err) ~= "table" then return { message = tostring(err) } end
  local e = {}
  for _, f in ipairs(ERROR_FIELDS) do
    local v = err[f]
    if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then e[f] = v end
  end
  return e
end

local function scalar(v)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return tostring(v) end
    return v
  end
  if t == "string" or t == "boolean" then return v end
  if v == nil then return nil end
  return tostring(v)
end

--- Make the audit sink for option `audit` (nil, a path or a function).
-- Returns `write(entry)` and nil, or raises on a bad option.
function M.sink(audit)
  if audit == nil or audit == false then return function() return true end end
  if type(audit) == "function" then
    return function(entry)
      local ok, err = pcall(audit, entry)
      if not ok then return nil, "audit function raised: " .. tostring(err) end
      return true
    end
  end
  if type(audit) ~= "string" or audit == "" then
    error("simkit.rules.engine: audit must be a path, a function or nil", 3)
  end
  local path = audit
  return function(entry)
    local line = assert(json.encode(entry))
    local f, err = io.open(path, "a")
    if not f then return nil, "audit: " .. tostring(err) end
    local ok, werr = f:write(line, "\n")
    f:close()
    if not ok then return nil, "audit: " .. tostring(werr) end
    return true
  end
end

--- Build one audit entry (only the DESIGN fields).
function M.entry(fields)
  local e = {}
  for _, f in ipairs(M.FIELDS) do
    local v = fields[f]
    if f == "error" then e.error = M.error_of(v)
    else e[f] = scalar(v) end
  end
  return e
end

return M
