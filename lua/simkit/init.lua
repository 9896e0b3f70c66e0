--- simkit: manage IoT SIM cards through the TIBIOT, Huawei Cloud Global SIM
-- Link and EIOTCLUB open APIs.
--
--     local simkit = require "simkit"
--     local eiot = simkit.client("eiotclub", { appkey = "...", secret = "..." })
--     local data, err = eiot:get_cards_info{ iccid = "89852012345678901234" }
--
-- Errors are returned (`nil, err`), never raised, except for programming
-- errors (an unknown vendor, options of the wrong type).
-- @module simkit
local M = {
  _VERSION = "simkit 0.1.0",
  json = require "simkit.json",
  sign = require "simkit.sign",
  errors = require "simkit.errors",
}

local VENDORS = {
  eiotclub = "simkit.vendor.eiotclub",
  huawei = "simkit.vendor.huawei",
  tibiot = "simkit.vendor.tibiot",
}

--- Create a client for a vendor.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @tparam table opts credentials and options (see README)
-- @treturn simkit.client a client whose methods are the vendor's ops
function M.client(vendor, opts)
  local modname = VENDORS[vendor]
  if not modname then
    error("simkit.client: unknown vendor '" .. tostring(vendor) .. "' (eiotclub, huawei, tibiot)", 2)
  end
  local client = require "simkit.client"
  return client.new(require(modname), opts)
end

-- Lazily loaded submodules: simkit.notify, simkit.cdr, simkit.receiver,
-- simkit.ratelimit, simkit.fleet (callable: simkit.fleet{ clients... }),
-- simkit.rules, simkit.store, and the EIOTCLUB-only simkit.eiotclub.
local LAZY = { notify = true, cdr = true, receiver = true, ratelimit = true, fleet = true, rules = true,
  store = true, eiotclub = true }
setmetatable(M, {
  __index = function(t, k)
    if LAZY[k] then
      local mod = require("simkit." .. k)
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})

return M
