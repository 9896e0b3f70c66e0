--- Strict RFC 8259 JSON with exact 64-bit integers (the C core's).
--
-- * `decode(text) -> value | nil, err` never raises on any input;
--   integers are Lua integers (exact over the whole int64 range on Lua 5.3+;
--   on LuaJIT/5.1 up to 2^53), an integer that does not fit is returned as its
--   decimal **string** (never rounded); `null` is `json.null`; arrays carry
--   `json.array_mt` so that `[]` round-trips.
-- * `encode(value) -> text | nil, err`; integers stay integers, `500.0`
--   encodes as `500`; object keys are sorted.
-- @module simkit.json
local core = require "simkit.core"

local M = {}

--- The JSON `null` sentinel.
M.null = core.json_null

--- Metatable marking a table as a JSON array (even when empty).
M.array_mt = core.json_array_mt

--- Decode JSON text.
-- @tparam string text
-- @return value, or nil and an error message naming the byte offset
function M.decode(text)
  if type(text) ~= "string" then
    return nil, "json: expected a string, got " .. type(text)
  end
  return core.json_decode(text)
end

--- Encode a Lua value as JSON text.
-- @param value
-- @treturn string|nil text, or nil and an error message
function M.encode(value)
  return core.json_encode(value)
end

--- Mark a table as a JSON array and return it.
-- @tparam[opt] table t
-- @treturn table t
function M.array(t)
  return setmetatable(t or {}, M.array_mt)
end

return M
