--- Card snapshots kept in the store (internal): what the engine remembers
-- of a card between runs, to derive `status_changed`, `first_traffic`,
-- `imei_changed`, usage per day, cumulative usage and the burn rate of
-- `exhausts_within` for vendors that push nothing.
--
-- One key per card: `{ t, status, used_mb, imei, expires, day, day_base,
-- acc, hist = { { t, used_mb } ... } }`. `acc` is the usage of earlier
-- vendor periods (added when the vendor's counter goes down); `hist` keeps
-- one point per `STEP` seconds over at most `KEEP` points.
-- @module simkit.rules.snapshot
local M = {}

M.STEP = 300
M.KEEP = 96

local huge = math.huge
local function finite(v) return type(v) == "number" and v == v and v > -huge and v < huge end

--- Derived values for `card` given its previous snapshot `prev` (or nil):
-- `day_used`, `total_used`, `history`.
function M.derive(prev, card, day_key)
  local used = card.usage and card.usage.used_mb
  if not finite(used) then return {} end
  if not prev or not finite(prev.used_mb) then
    return { day_used = 0, total_used = used, history = {} }
  end
  local acc = prev.acc or 0
  local reset = used < prev.used_mb
  if reset then acc = acc + prev.used_mb end
  local base
  if prev.day == day_key and not reset then base = prev.day_base or prev.used_mb
  elseif reset then base = 0
  else base = prev.used_mb end
  local day_used = used - base
  if day_used < 0 then day_used = used end
  return { day_used = day_used, total_used = acc + used, history = (not reset) and prev.hist or {},
    acc = acc, day_base = base }
end

--- The snapshot to store after a run.
function M.next(prev, card, derived, day_key, now)
  local used = card.usage and card.usage.used_mb
  local hist = {}
  for _, p in ipairs(derived.history or {}) do hist[#hist + 1] = p end
  if finite(used) then
    local last = hist[#hist]
    if not last or now - last[1] >= M.STEP then hist[#hist + 1] = { now, used } end
    while #hist > M.KEEP do table.remove(hist, 1) end
  end
  return {
    t = now, status = card.status, used_mb = finite(used) and used or nil, imei = card.imei,
    expires = card.expires, day = day_key,
    day_base = derived.day_base or (prev and prev.day == day_key and prev.day_base) or used,
    acc = derived.acc or (prev and prev.acc) or 0, hist = hist,
  }
end

return M
