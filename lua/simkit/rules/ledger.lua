--- Exactly-once execution of rule actions (internal).
--
-- Every action has an intent key from (rule, card, period, step, action).
-- Its ledger entry in the store moves `pending -> sent -> confirmed |
-- failed | unknown`; an entry, once written, is never executed again. A
-- lease per intent (`store:add` with a TTL) keeps two engines on one store
-- from acting on one intent at once; the ledger is read again once the
-- lease is held. Top-ups carry an order key derived from the intent key
-- (EIOTCLUB `outTradeNo`: 32 characters of [0-9a-z]); an order in doubt
-- stays `unknown` (or `sent` when the process died before the answer) and
-- is looked up by its order key at the start of every run: found ->
-- confirmed, certainly absent -> failed. No order request is ever sent
-- twice for one intent.
--
-- Lists (open top-ups, scheduled actions) are numbered slots: `incr` hands
-- out a slot, `lo` marks the first slot still in use.
-- @module simkit.rules.ledger
local core = require "simkit.core"

local M = {}

--- The intent key of an action.
function M.intent_key(rule, iccid, epoch, step, idx, action)
  return table.concat({ rule, tostring(iccid), epoch, tostring(step), tostring(idx) .. ":" .. action }, "|")
end

--- The order key (EIOTCLUB outTradeNo) of an intent: "sr" and 30 hex digits.
function M.order_key(intent)
  return "sr" .. core.sha256(intent, "hex"):sub(1, 30)
end

local Ledger = {}
Ledger.__index = Ledger

--- A ledger over `store` with key prefix `prefix` and lease TTL `ttl`.
function M.new(store, prefix, ttl, owner)
  return setmetatable({ store = store, p = prefix, ttl = ttl, owner = owner }, Ledger)
end

function Ledger:get(key)
  return self.store:get(self.p .. "l:" .. key)
end

--- Write an intent's entry; `ttl` (seconds) for final states only.
function Ledger:put(key, entry, ttl)
  return self.store:set(self.p .. "l:" .. key, entry, ttl)
end

--- Take the lease of an intent: true, false (held elsewhere) or nil, err.
function Ledger:lease(key)
  return self.store:add(self.p .. "lease:" .. key, self.owner, self.ttl)
end

function Ledger:release(key)
  return self.store:delete(self.p .. "lease:" .. key)
end

--- Append `value` to the list `name`; returns the slot or nil, err.
function Ledger:push(name, value)
  local n, err = self.store:incr(self.p .. name .. ":n", 1)
  if not n then return nil, err end
  local ok, serr = self.store:set(self.p .. name .. ":" .. n, value)
  if not ok then return nil, serr end
  return n
end

--- Iterate the live slots of list `name`: calls `fn(slot, value)`; when it
-- returns true the slot is removed. Returns nil, err on a store failure.
function Ledger:each(name, fn)
  local st, p = self.store, self.p .. name .. ":"
  local n, err = st:get(p .. "n")
  if err then return nil, err end
  n = tonumber(n) or 0
  local lo = tonumber((st:get(p .. "lo"))) or 1
  local first_live
  for i = lo, n do
    local v, gerr = st:get(p .. i)
    if gerr then return nil, gerr end
    if v ~= nil then
      if fn(i, v) then st:delete(p .. i)
      elseif not first_live then first_live = i end
    end
  end
  local new_lo = first_live or (n + 1)
  if new_lo ~= lo then st:set(p .. "lo", new_lo) end
  return true
end

return M
