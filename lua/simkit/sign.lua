--- Vendor signatures (low-level, public and stable).
-- @module simkit.sign
local core = require "simkit.core"

local M = {}

--- EIOTCLUB signature: upper-case hex SHA1.
-- Entries `key=value&` for every non-empty parameter except `sign` (values
-- as Java's String.valueOf renders them: integers as digits, `500.0` as
-- `500`, booleans `true`/`false`), sorted as strings, then `secret=<secret>`.
-- The C function itself (no Lua wrapper: it checks its arguments and raises
-- "sign.eiotclub: ..." on misuse).
-- @function eiotclub
-- @tparam table params parameter name -> string|number|boolean
-- @tparam string secret
-- @treturn string 40 upper-case hex digits
M.eiotclub = core.sign_eiotclub

--- Huawei Cloud SDK-HMAC-SHA256 signature, byte for byte the official SDK's.
-- Adds `Host` and `X-Sdk-Date` (unless given) and `Authorization`.
-- The C function itself (raises "sign.huawei: ..." on misuse).
-- @function huawei
-- @tparam table req `{ method=, url=, headers=, body=, ak=, sk= }`
-- @treturn table the headers to send (a new table)
M.huawei = core.sign_huawei

return M
