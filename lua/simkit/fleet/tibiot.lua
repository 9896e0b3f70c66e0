--- TIBIOT in the fleet model: the mapping (data) and the calls that fill
-- it. Sources and reasoning: docs/fleet.md (seed lines of
-- shared/seeds/tibiot-api-doc.txt).
--
-- TIBIOT has no card listing and no batch read: each card is one
-- `card_detail` call (paced by the fleet), for the ICCIDs the fleet was
-- given or has seen. Its only write is the network switch, at most 10
-- ICCIDs a call, applied asynchronously in batches (`wait_batch`).
-- Data amounts are KB (MB = KB / 1024).
-- @module simkit.fleet.tibiot
local C = require "simkit.fleet.common"
local json = require "simkit.json"
local errors = require "simkit.errors"

local V = { name = "tibiot" }

V.NETWORK_BATCH = 10 -- operate_card_network: at most 10 ICCIDs (L255)
V.CHUNK = 50         -- cards fetched per step of the card pager (progress granularity)

--- cardStatus -> normalised status (DESIGN.md; seed L224, L228).
V.STATUS = { ["1"] = "inactive", ["4"] = "suspended", ["16"] = "suspended", ["8"] = "active",
  ["12"] = "testing", ["18"] = "deactivated", ["99"] = "unknown" }

--- action -> op (false: TIBIOT has none).
V.OPS = {
  suspend = false, resume = false, speed = false, topup = false, sms = false, tag = false,
  imei_lock = false, usage_cap = false, network = "operate_card_network",
}

local function mb(kb)
  kb = C.num(kb)
  return kb and kb / 1024
end

--- One card of card_detail.
function V.card(item, now)
  local usage_billed = C.num(item.billingMethod) == 2
  local limit = (not usage_billed) and mb(item.totalFlow) or nil
  if limit == 0 then limit = nil end -- "not set": no quota to count down from
  return {
    vendor = "tibiot",
    iccid = item.iccid,
    id = item.iccid, -- TIBIOT names cards by ICCID only
    status = C.status(V.STATUS, item.cardStatus),
    vendor_status = item.cardStatus,
    imsi = C.str(item.imsi), msisdn = C.str(item.msisdn), imei = C.str(item.imei),
    pool = nil, -- card_detail does not say which pool (pool_detail lists none)
    plan = nil,
    usage = C.usage { used_mb = mb(item.useFlow), limit_mb = limit, period = "cycle", as_of = now },
    expires = nil, activated = nil,
    tags = {},
    raw = item,
  }
end

--- A pool of pool_detail (KB; totalFlow unused for poolType 2).
function V.pool(item)
  local usage_billed = C.num(item.poolType) == 2
  local used = mb(item.useFlow)
  local limit = (not usage_billed) and mb(item.totalFlow) or nil
  local ends = C.local_time(item.endTime, C.BEIJING)
  return {
    vendor = "tibiot", id = item.upoolCode, name = C.str(item.enUpoolName) or C.str(item.upoolName),
    used_mb = C.round2(used), limit_mb = C.round2(limit),
    left_mb = limit and used and C.round2(math.max(0, limit - used)) or nil,
    cards = C.num(item.totalCard), expires = ends and ends + 86400 or nil, -- the end of that day
    raw = item,
  }
end

-- 404: no such card; 400: not an ICCID it accepts
local function is_missing(err)
  return err and err.kind == "vendor" and (tostring(err.code) == "404" or tostring(err.code) == "400")
end

--- One card, or nil when TIBIOT does not know the ICCID.
function V.one(vc, iccid)
  local item, err = vc.call("card_detail", { iccid = iccid })
  if not item then
    if is_missing(err) then return nil end
    return nil, err
  end
  return V.card(item, vc.now())
end

--- A pager over the known ICCIDs (hint.iccids), one card_detail each; an
-- ICCID TIBIOT does not know is skipped.
function V.lister(vc, hint)
  local list, i = hint.iccids or {}, 0
  local info = { vendor = "tibiot", total = #list }
  return function()
    if i >= #list then return nil end
    local out = {}
    while i < #list and #out < V.CHUNK do
      i = i + 1
      local card, err = V.one(vc, list[i])
      if err then return false, err end
      out[#out + 1] = card
    end
    return out, info
  end
end

--- The pools named in the fleet's options (TIBIOT cannot list them).
function V.pools(vc, codes)
  local out = {}
  for _, code in ipairs(codes or {}) do
    local item, err = vc.call("pool_detail", { poolCode = code })
    if not item then return nil, err end
    out[#out + 1] = V.pool(item)
  end
  return out
end

--- The network switch for several cards: 10 ICCIDs a call; a refused call
-- fails only its 10 cards, an ICCID in the answer's errorInfo only itself.
function V.act_batch(vc, cards, _, args, progress)
  local out, done = {}, 0
  for _, chunk in ipairs(C.chunks(cards, V.NETWORK_BATCH)) do
    local iccids = {}
    for i, c in ipairs(chunk) do iccids[i] = c.iccid end
    local data, err = vc.call("operate_card_network", { iccids = json.array(iccids), switchOn = args.on })
    local bad = {}
    if data then
      for _, e in ipairs(type(data.errors) == "table" and data.errors or {}) do bad[e.iccid] = e end
    end
    local code = data and data.batch_codes and data.batch_codes[1]
    for _, c in ipairs(chunk) do
      if err then
        out[#out + 1] = { ok = false, err = err }
      elseif bad[c.iccid] then
        out[#out + 1] = { ok = false, err = errors.new { kind = "vendor", vendor = "tibiot",
          op = "operate_card_network", message = tostring(bad[c.iccid].message), code = "refused" } }
      else
        out[#out + 1] = { ok = true, result = { op = "operate_card_network", batch_code = code } }
      end
    end
    done = done + #chunk
    progress(done)
  end
  return out
end

--- Wait for the batches of `outcomes` (client:wait_batch); a card whose
-- batch entry ends failed (operationCardStatus 4) fails.
function V.wait(vc, outcomes, opts)
  local codes, seen = {}, {}
  for _, o in ipairs(outcomes) do
    local code = o.ok and o.result.batch_code
    if code and not seen[code] then seen[code] = true; codes[#codes + 1] = code end
  end
  if #codes == 0 then return end
  local res, err = vc.client:wait_batch(codes, opts)
  local status = {}
  for _, e in ipairs(res or {}) do status[e.batchCode .. "|" .. tostring(e.iccid)] = tonumber(e.operationCardStatus) end
  for _, o in ipairs(outcomes) do
    local code = o.ok and o.result.batch_code
    if code then
      if not res then
        o.ok, o.err = false, err
      else
        local st = status[code .. "|" .. tostring(o.card.iccid)]
        o.result.batch_status = st
        if st ~= 3 then
          o.ok, o.err = false, errors.new { kind = "vendor", vendor = "tibiot", op = "wait_batch",
            code = "batch_failed", message = "the batch " .. code .. " ended with status " .. tostring(st) .. " for this card" }
        end
      end
    end
  end
end

return V
