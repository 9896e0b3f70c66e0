--- An in-spec fleet for the rules specs: the DESIGN.md fleet contract
-- (cards{}, card(iccid), pools(), capabilities(vendor), act(card, action,
-- args)) over plain tables, counting every call and every write, with
-- faults on demand. Top-ups are orders keyed by `args.key`; a second order
-- with a key already seen is counted as a duplicate.
local M = {}

local CAPS = {
  eiotclub = { suspend = true, resume = true, network = true, speed = true, topup = true, sms = true, tag = false,
    imei_lock = false, usage_cap = false },
  huawei = { suspend = true, resume = true, network = true, speed = true, topup = false, sms = true, tag = true,
    imei_lock = true, usage_cap = true },
  tibiot = { suspend = true, resume = true, network = true, speed = true, topup = false, sms = false, tag = false,
    imei_lock = false, usage_cap = false },
}

local Fleet = {}
Fleet.__index = Fleet

--- A fleet over `cards` (list of DESIGN card tables) and `pools`.
function M.new(cards, pools)
  return setmetatable({ list = cards or {}, pool_list = pools or {}, calls = { cards = 0, card = 0, pools = 0, act = 0,
    find_order = 0 }, acts = {}, orders = {}, duplicates = 0, fault = nil }, Fleet)
end

function Fleet:cards()
  self.calls.cards = self.calls.cards + 1
  local i = 0
  return function()
    i = i + 1
    return self.list[i]
  end
end

function Fleet:card(iccid)
  self.calls.card = self.calls.card + 1
  for _, c in ipairs(self.list) do if c.iccid == iccid then return c end end
  return nil, { kind = "input", message = "no such card" }
end

function Fleet:pools()
  self.calls.pools = self.calls.pools + 1
  local i = 0
  return function()
    i = i + 1
    return self.pool_list[i]
  end
end

function Fleet.capabilities(_, vendor)
  return CAPS[vendor]
end

function Fleet.vendors()
  return { "eiotclub", "huawei", "tibiot" }
end

--- fault: nil | "unknown" (placed, answer lost) | "lost" (not placed,
-- ambiguous error) | "fail" (a clear refusal) | "raise" (the process dies
-- after the vendor placed the order)
function Fleet:act(card, action, args)
  self.calls.act = self.calls.act + 1
  if not CAPS[card.vendor][action] then return nil, { kind = "unsupported", message = action } end
  local fault = self.fault
  if type(fault) == "function" then fault = fault(card, action, args) end
  if fault == "fail" then return nil, { kind = "vendor", code = "42", message = "refused" } end
  if fault == "lost" then return nil, { kind = "transport", message = "reset", outcome = "unknown" } end
  self.acts[#self.acts + 1] = { iccid = card.iccid, action = action, args = args }
  if action == "topup" then
    if self.orders[args.key] then self.duplicates = self.duplicates + 1 end
    self.orders[args.key] = { iccid = card.iccid, package = args.package, orderId = #self.acts }
  end
  if fault == "unknown" then return nil, { kind = "transport", message = "timeout", category = "timeout",
    outcome = "unknown" } end
  if fault == "raise" then error("killed between send and answer") end
  return { ok = true, orderId = #self.acts }
end

function Fleet:find_order(_, key)
  self.calls.find_order = self.calls.find_order + 1
  if self.lookup_fault then return nil, { kind = "transport", message = "lookup failed" } end
  return self.orders[key]
end

--- How many acts of `action` (for `iccid` when given)?
function Fleet:count(action, iccid)
  local n = 0
  for _, a in ipairs(self.acts) do
    if a.action == action and (iccid == nil or a.iccid == iccid) then n = n + 1 end
  end
  return n
end

--- A card table (DESIGN shape).
function M.card(vendor, iccid, used, limit, extra)
  local c = { vendor = vendor, iccid = iccid, id = iccid, status = "active", vendor_status = "x", tags = {},
    usage = { used_mb = used, limit_mb = limit, left_mb = limit and used and (limit - used) or nil, period = "month" } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

--- Set a card's usage in place.
function M.use(card, used)
  card.usage.used_mb = used
  card.usage.left_mb = card.usage.limit_mb and (card.usage.limit_mb - used) or nil
end

return M
