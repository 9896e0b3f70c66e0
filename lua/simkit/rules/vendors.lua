--- What the rules engine asks a vendor directly (internal), through the
-- clients given as `R.engine{ clients = { eiot, ... } }`: the packages a
-- card can order (for `topup{ package = "cheapest" | function }`) and the
-- lookup of an order by its key (reconciliation of orders in doubt).
-- Both are reads. Only EIOTCLUB sells top-ups through its API.
-- @module simkit.rules.vendors
local errors = require "simkit.errors"
local orders = require "simkit.eiotclub.orders"

local M = {}

--- Index clients by vendor: a list of simkit clients, or `{ vendor = client }`.
-- Raises on a value that is not a client (a programming error).
function M.index(clients)
  local out = {}
  if clients == nil then return out end
  if type(clients) ~= "table" then error("simkit.rules.engine: clients must be a list of simkit clients", 4) end
  for k, c in pairs(clients) do
    local ok, name = pcall(function() return c:vendor() end)
    if not ok or type(name) ~= "string" then
      error("simkit.rules.engine: clients[" .. tostring(k) .. "] is not a simkit client", 4)
    end
    out[name] = c
  end
  return out
end

local function unsupported(vendor, what)
  return nil, errors.new { kind = "unsupported", vendor = vendor,
    message = what .. " needs the engine's clients = { <" .. tostring(vendor) .. " client> } (or fleet support)" }
end

--- The packages `card` can order: `{ { code, name, price, mb, type, raw } ... }` or nil, err.
function M.packages(clients, card)
  local c = clients[card.vendor]
  if card.vendor ~= "eiotclub" or not c then return unsupported(card.vendor, "listing packages") end
  local data, err = c:call("list_order_package_by_iccid", { iccid = card.iccid })
  if not data then return nil, err end
  local out = {}
  for _, p in ipairs(type(data) == "table" and data or {}) do
    if type(p) == "table" and type(p.packageCode) == "string" then
      out[#out + 1] = { code = p.packageCode, name = p.packageName, price = tonumber(p.price),
        mb = tonumber(p.flowSize), type = p.packageType, raw = p }
    end
  end
  return out
end

--- Look an order up by its key: "found", order | "absent" | "unknown", err.
-- EIOTCLUB: `simkit.eiotclub.orders.lookup` (`get_order_package_details` by
-- `outTradeNoArrStr`): reads only, never a second order request.
function M.lookup(clients, card, key)
  local c = clients[card.vendor]
  if card.vendor ~= "eiotclub" or not c then
    return "unknown", nil, select(2, unsupported(card.vendor, "looking an order up"))
  end
  local state, order = orders.lookup(c, "order_package", key)
  if state == "unknown" then return "unknown", nil, order end
  return state, order
end

return M
