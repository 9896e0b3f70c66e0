--- Error objects: plain tables with a `__tostring`.
-- Every public call returns `nil, err` on failure; `err.kind` is one of
-- "input", "transport", "http", "vendor", "auth", "rate_limited", "decode",
-- "store" (a state store failed), "unsupported" (the vendor has no such operation).
-- Errors are plain tables so they print, cross `ngx.run_worker_thread` and
-- encode to JSON. They never carry a secret.
-- @module simkit.errors
local M = {}

local KINDS = { input = true, transport = true, http = true, vendor = true, auth = true,
  rate_limited = true, decode = true, store = true, unsupported = true }
M.KINDS = KINDS

local mt = {}
mt.__index = mt

local function tostr(e)
  local parts = { "simkit" }
  if e.vendor then parts[#parts + 1] = e.vendor end
  if e.op then parts[#parts + 1] = e.op end
  local head = table.concat(parts, " ") .. ": " .. tostring(e.kind) .. " error"
  local detail = {}
  if e.status then detail[#detail + 1] = "HTTP " .. tostring(e.status) end
  if e.code ~= nil then detail[#detail + 1] = "code " .. tostring(e.code) end
  if #detail > 0 then head = head .. " (" .. table.concat(detail, ", ") .. ")" end
  if e.message and e.message ~= "" then head = head .. ": " .. tostring(e.message) end
  if e.trace_id then head = head .. " [trace " .. tostring(e.trace_id) .. "]" end
  if e.retry_after then head = head .. " [retry after " .. tostring(e.retry_after) .. " s]" end
  return head
end
mt.__tostring = tostr

--- Create an error.
-- @tparam table fields `kind` (required) and any of `vendor`, `op`, `status`,
--   `code`, `message`, `trace_id`, `retryable`, `retry_after`, `param`, ...
-- @treturn table the error (with `__tostring`)
function M.new(fields)
  assert(type(fields) == "table" and KINDS[fields.kind], "simkit.errors.new: bad kind")
  local e = {}
  for k, v in pairs(fields) do e[k] = v end
  if e.retryable == nil then e.retryable = false end
  return setmetatable(e, mt)
end

--- Is `v` a simkit error?
-- @param v any value
-- @treturn boolean
function M.is(v)
  return getmetatable(v) == mt
end

--- Shorthand for an input error (bad arguments; nothing was sent).
-- @tparam string message what is wrong
-- @tparam[opt] table extra more fields (vendor, op, param)
-- @treturn table the error
function M.input(message, extra)
  local f = { kind = "input", message = message, retryable = false }
  for k, v in pairs(extra or {}) do f[k] = v end
  return M.new(f)
end

return M
