--- Vendor signatures (low-level, public and stable).
-- @module simkit.sign
local core = require "simkit.core"

local M = {}

--- EIOTCLUB signature: upper-case hex SHA1.
-- Entries `key=value&` for every non-empty parameter except `sign` (values
-- as Java's String.valueOf renders them: integers as digits, `500.0` as
-- `500`, booleans `true`/`false`), sorted as strings, then `secret=<secret>`.
-- @tparam table params parameter name -> string|number|boolean
-- @tparam string secret
-- @treturn string 40 upper-case hex digits
function M.eiotclub(params, secret)
  if type(params) ~= "table" then error("sign.eiotclub: params must be a table", 2) end
  if type(secret) ~= "string" then error("sign.eiotclub: secret must be a string", 2) end
  return core.sign_eiotclub(params, secret)
end

--- Huawei Cloud SDK-HMAC-SHA256 signature, byte for byte the official SDK's.
-- Adds `Host` and `X-Sdk-Date` (unless given) and `Authorization`.
-- @tparam table req `{ method=, url=, headers=, body=, ak=, sk= }`
-- @treturn table the headers to send (a new table)
function M.huawei(req)
  if type(req) ~= "table" then error("sign.huawei: expected a table", 2) end
  return core.sign_huawei(req)
end

return M
