--- The EIOTCLUB-only modules, under a name that says so:
-- `simkit.eiotclub.orders` (money-safe orders), `.notify` (signed push
-- notifications), `.receiver` (the webhook receiver), `.cdr` (CDR files).
-- Each is loaded on first use; the old top-level names (`simkit.notify`,
-- `simkit.cdr`, `simkit.receiver`, `simkit.orders`) stay as aliases.
-- @module simkit.eiotclub
local NAMES = { orders = true, notify = true, receiver = true, cdr = true }

return setmetatable({}, {
  __index = function(t, k)
    if NAMES[k] then
      local mod = require("simkit.eiotclub." .. k)
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})
