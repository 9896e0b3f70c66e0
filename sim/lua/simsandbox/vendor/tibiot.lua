--- TIBIOT open API v1, imitated for the simkit sandbox.
--
-- Eight endpoints under /api/v1/ (see ../../../TIBIOT.md for the contract:
-- fixtures, verifier modes, error codes and the choices made where the
-- vendor document is silent). State lives in module-level tables (the
-- sandbox runs one nginx worker); `reset` rebuilds it.
--
-- The vendor's signing scheme is published only in its SDK, so the sandbox
-- checks a pluggable verifier: "hmac-sha256" (simkit's generic scheme, the
-- default), "none" or "record-only".
local util = require "simsandbox.util"

local floor, abs = math.floor, math.abs
local format, find, byte, lower, upper, sub =
  string.format, string.find, string.byte, string.lower, string.upper, string.sub
local concat, sort = table.concat, table.sort
local type, pairs, ipairs, tonumber, tostring, getmetatable =
  type, pairs, ipairs, tonumber, tostring, getmetatable

local M = { name = "tibiot" }

-- the marks util.json_decode puts on decoded arrays and objects
local ARRAY_MT, OBJECT_MT = getmetatable(util.array()), getmetatable(util.object())

----------------------------------------------------------------------------
-- constants

local APP_KEY = "sandbox-tib-key"
local SECRET = "sandbox-tib-secret"
local TZ_OFFSET = 8 * 3600          -- dates are Beijing time (UTC+8)
local MAX_ICCIDS = 10
local MAX_LOG = 500

local CODE = {
  ok = 200,
  bad_request = 400,      -- missing/invalid parameter, > 10 ICCIDs, bad JSON
  unauthorized = 401,     -- verifier rejected the request
  not_found = 404,        -- unknown pool / card / batch, or unknown path
  method = 405,           -- wrong HTTP method for a known path
  media_type = 415,       -- POST body not application/json
  internal = 500,
}

local DEFAULT_HEADERS = {
  app_key = "X-App-Key",
  timestamp = "X-Timestamp",
  nonce = "X-Nonce",
  signature = "X-Signature",
}

local function default_config()
  return {
    verifier = "hmac-sha256",
    timestamp_unit = "s",
    headers = {
      app_key = DEFAULT_HEADERS.app_key,
      timestamp = DEFAULT_HEADERS.timestamp,
      nonce = DEFAULT_HEADERS.nonce,
      signature = DEFAULT_HEADERS.signature,
    },
    app_key = APP_KEY,
    secret = SECRET,
    skew_seconds = 300,
    nonce_seconds = 300,
    batch_seconds = 2,
    fail_iccids = {},
  }
end

----------------------------------------------------------------------------
-- state (rebuilt by reset)

local cfg = default_config()
local pools, pool_order = {}, {}
local cards, card_order = {}, {}
local batches, batch_order = {}, {}
local nonces = {}             -- app_key .. "\0" .. nonce -> time first accepted
local network_requests = {}   -- one entry per operate_card_network call
local auth_seen = {}          -- record-only mode: auth headers that arrived
local last_auth_failure = nil
local counters = { trace = 0, batch = 0, requests = 0, auth_rejected = 0 }

----------------------------------------------------------------------------
-- calendar (pure arithmetic on day numbers, no dependence on the host TZ)

local days_from_civil, civil_from_days = util.days_from_civil, util.civil_from_days

local function day_index(t) return floor((t + TZ_OFFSET) / 86400) end
local function month_index(y, m) return y * 12 + (m - 1) end

local function day_string(di)
  local y, m, d = civil_from_days(di)
  return format("%04d-%02d-%02d", y, m, d)
end

local function month_string(mi)
  return format("%04d-%02d", floor(mi / 12), mi % 12 + 1)
end

local function datetime_string(t)
  local di = day_index(t)
  local secs = floor(t + TZ_OFFSET) - di * 86400
  return format("%s %02d:%02d:%02d", day_string(di), floor(secs / 3600),
                floor(secs / 60) % 60, secs % 60)
end

-- "yyyy-MM-dd" -> day index, or nil
local function parse_day(s)
  local y, m, d = string.match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > 31 then return nil end
  local di = days_from_civil(y, m, d)
  local y2, m2, d2 = civil_from_days(di)
  if y2 ~= y or m2 ~= m or d2 ~= d then return nil end -- e.g. 2025-02-30
  return di
end

-- "yyyy-MM" -> month index, or nil
local function parse_month(s)
  local y, m = string.match(s, "^(%d%d%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m = tonumber(y), tonumber(m)
  if m < 1 or m > 12 then return nil end
  return month_index(y, m)
end

----------------------------------------------------------------------------
-- deterministic usage (KB), a pure function of (iccid, date)

local function hash(s)
  local h = 5381
  for i = 1, #s do
    h = (h * 33 + byte(s, i)) % 2147483647
  end
  for _ = 1, 2 do h = (h * 48271) % 2147483647 end
  return h
end

-- usage of one card on one day: 0.5 MB .. ~40 MB, scaled per card
local function card_day_usage(card, di)
  return 512 + hash(card.iccid .. "@" .. di) % (card.usage_scale * 1024)
end

local function card_range_usage(card, first_di, last_di)
  local sum = 0
  for di = first_di, last_di do sum = sum + card_day_usage(card, di) end
  return sum
end

-- usage of a card in month `mi`, counting days up to `today` (inclusive)
local function card_month_usage(card, mi, today)
  local y, m = floor(mi / 12), mi % 12 + 1
  local first = days_from_civil(y, m, 1)
  local ny, nm = m == 12 and y + 1 or y, m == 12 and 1 or m + 1
  local last = days_from_civil(ny, nm, 1) - 1
  if last > today then last = today end
  if last < first then return 0 end
  return card_range_usage(card, first, last)
end

-- usage in the current billing cycle of the card's pool (1, 3, 6 or 12 months)
local function card_cycle_usage(card, today)
  local pool = pools[card.pool]
  local cycle = pool and pool.billingCycle or 1
  local y, m = civil_from_days(today)
  local start_m = m - ((m - 1) % cycle)
  local first = days_from_civil(y, start_m, 1)
  return card_range_usage(card, first, today)
end

----------------------------------------------------------------------------
-- seeded state

local ICCID_PREFIX = "8986112233445566"

-- cards whose seeded status is not NORMAL (8); index -> status
local SEED_STATUS = {
  [3] = 1, [5] = 4, [7] = 12, [9] = 16, [11] = 18,
  [13] = 99, [20] = 4, [25] = 1, [28] = 12,
}

local NETWORK_ON = { [1] = true, [8] = true, [12] = true }

local function seed_pools(now)
  local y = civil_from_days(day_index(now))
  local list = {
    {
      upoolCode = "UP10000001", upoolName = "共享流量池A", enUpoolName = "Shared pool A",
      poolType = 1, billingCycle = 1, card_total_flow = 1048576, -- 1 GB per card
      rawAddTime = "2024-03-15 10:20:30", upoolStatus = 1, apn = "CMIOT",
      billingMethod = 1, ncards = 12,
      packageInfo = {
        flowPackageType = 1, clientFlowPackageName = "1GB/月 共享套餐",
        channelName = "China Mobile",
        epiConfigs = util.array{
          { epiConfigCode = "EPC2024031501", epiCode = "EPI1001", standardCharge = 10.5,
            realFenStandardCharge = 1050, epiConfigType = 1, unit = "GB" },
          { epiConfigCode = "EPC2024031502", epiCode = "EPI1001", standardCharge = 9.9,
            realFenStandardCharge = 990, epiConfigType = 2, unit = "GB" },
          { epiConfigCode = "EPC2024031503", epiCode = "EPI1001", standardCharge = 5,
            realFenStandardCharge = 500, epiConfigType = 3, unit = "GB" },
        },
      },
    },
    {
      upoolCode = "UP10000002", upoolName = "按量计费池B", enUpoolName = "Usage-billed pool B",
      poolType = 2, billingCycle = 1, card_total_flow = 0, -- totalFlow unused for poolType 2
      rawAddTime = "2024-06-01 09:00:00", upoolStatus = 1, apn = "UNIM2M",
      billingMethod = 2, ncards = 10,
      packageInfo = {
        flowPackageType = 2, clientFlowPackageName = "按量计费 0.05元/MB",
        channelName = "China Unicom",
        epiConfigs = util.array{
          { epiConfigCode = "EPC2024060101", epiCode = "EPI2001", standardCharge = 0.05,
            realFenStandardCharge = 5, epiConfigType = 1, unit = "MB" },
        },
      },
    },
    {
      upoolCode = "UP10000003", upoolName = "统付池C", enUpoolName = "Unified-payment pool C",
      poolType = 3, billingCycle = 12, card_total_flow = 5242880, -- 5 GB per card
      rawAddTime = "2024-12-20 16:45:00", upoolStatus = 1, apn = "CTNET",
      billingMethod = 3, ncards = 8,
      startTime = format("%04d-01-01", y), endTime = format("%04d-12-31", y),
      packageInfo = {
        flowPackageType = 3, clientFlowPackageName = "统付池 5GB/卡/年",
        channelName = "China Telecom",
        epiConfigs = util.array{
          { epiConfigCode = "EPC2024122001", epiCode = "EPI3001", standardCharge = 120,
            realFenStandardCharge = 12000, epiConfigType = 1, unit = "GB" },
          { epiConfigCode = "EPC2024122002", epiCode = "EPI3001", standardCharge = 100,
            realFenStandardCharge = 10000, epiConfigType = 2, unit = "GB" },
        },
      },
    },
  }
  return list
end

local built = false
local FLEET_ICCID_PREFIX = "898611223344557" -- + 5 digits: generated cards
local fleet_cards = 0                         -- /_sim/config {cards=N}

-- the pool of the generated cards (fleet scale)
local function fleet_pool(n)
  return {
    upoolCode = "UP10000009", upoolName = "车队池", enUpoolName = "Fleet pool",
    poolType = 1, billingCycle = 1, card_total_flow = 2097152, -- 2 GB per card
    rawAddTime = "2025-01-01 00:00:00", upoolStatus = 1, apn = "CMIOT",
    billingMethod = 1, ncards = n, iccid_prefix = FLEET_ICCID_PREFIX,
    packageInfo = { flowPackageType = 1, clientFlowPackageName = "2GB/月 共享套餐",
      channelName = "China Mobile", epiConfigs = util.array{} },
  }
end

local function build_state(now)
  built = true
  pools, pool_order, cards, card_order = {}, {}, {}, {}
  batches, batch_order, nonces = {}, {}, {}
  network_requests, auth_seen, last_auth_failure = {}, {}, nil
  counters = { trace = counters.trace, batch = 0, requests = 0, auth_rejected = 0 }
  local i = 0
  local list = seed_pools(now)
  if fleet_cards > 0 then list[#list + 1] = fleet_pool(fleet_cards) end
  for _, p in ipairs(list) do
    if p.iccid_prefix then i = 0 end -- generated cards count from 1 under their own prefix
    p.iccids = {}
    pools[p.upoolCode] = p
    pool_order[#pool_order + 1] = p.upoolCode
    for _ = 1, p.ncards do
      i = i + 1
      local iccid = p.iccid_prefix and (p.iccid_prefix .. format("%05d", i)) or (ICCID_PREFIX .. format("%04d", i))
      local status = p.iccid_prefix and ((i % 30 == 0) and 4 or 8) or (SEED_STATUS[i] or 8)
      local n = p.iccid_prefix and 100000 + i or i -- numbers apart from the seeded cards'
      local card = {
        iccid = iccid,
        imsi = format("46001%010d", 3700000000 + n),
        msisdn = format("1064%09d", 812340000 + n),
        imei = format("86%013d", 4512300000000 + n * 7919),
        pool = p.upoolCode,
        billingMethod = p.billingMethod,
        totalFlow = p.card_total_flow,
        apn = p.apn,
        cardStatus = status,
        network = NETWORK_ON[status] or false,
        usage_scale = 8 + (i % 5) * 8, -- 8..40 MB/day ceiling
      }
      cards[iccid] = card
      card_order[#card_order + 1] = iccid
      p.iccids[#p.iccids + 1] = iccid
    end
  end
end

----------------------------------------------------------------------------
-- batches: status 1 (not started) -> 2 (running) at batch_seconds/2 ->
-- 3 (done) or 4 (failed, fail_iccids) at batch_seconds; the switch is applied
-- to the card when its entry completes with 3.

local function batch_card_status(b, entry, now)
  local elapsed = now - b.created
  if elapsed >= b.seconds then return entry.fail and 4 or 3 end
  if elapsed >= b.seconds / 2 then return 2 end
  return 1
end

local function tick(now)
  local due = {}
  for _, code in ipairs(batch_order) do
    local b = batches[code]
    if not b.applied and now - b.created >= b.seconds then due[#due + 1] = b end
  end
  if #due == 0 then return end
  sort(due, function(a, b)
    local da, db = a.created + a.seconds, b.created + b.seconds
    if da ~= db then return da < db end
    return a.seq < b.seq
  end)
  for _, b in ipairs(due) do
    for _, entry in ipairs(b.cards) do
      local card = cards[entry.iccid]
      if card and not entry.fail then
        card.network = b.switchOn
        card.cardStatus = b.switchOn and 8 or 4
      end
    end
    b.applied = true
    b.completed_at = b.created + b.seconds
  end
end

----------------------------------------------------------------------------
-- envelopes

-- 32 hex: milliseconds of the real clock, random, sequence (unique also
-- across sandbox restarts, where LuaJIT's unseeded random repeats)
local function trace_id()
  counters.trace = counters.trace + 1
  local ms = floor((util.now() - util.clock_offset) * 1000) % 281474976710656
  return format("%012x", ms) .. util.random_hex(12) .. format("%08x", counters.trace % 4294967296)
end

local JSON_HEADERS = { ["Content-Type"] = "application/json;charset=UTF-8" }

local function envelope(http_status, code, message, data)
  local body = util.json_encode({
    code = code,
    message = message,
    traceId = trace_id(),
    data = data == nil and util.null or data,
  })
  return http_status, body, JSON_HEADERS
end

local function ok(data) return envelope(200, CODE.ok, "success", data) end
local function fail(code, message) return envelope(200, code, message, nil) end

----------------------------------------------------------------------------
-- verifier

local function header(req, name)
  local v = req.headers and req.headers[lower(name)]
  if type(v) == "table" then v = v[1] end
  return v
end

--- The canonical query: pairs url-decoded ('+' as a space), sorted by key
-- then value (byte order), each re-encoded RFC 3986 as k=v, joined by "&".
local function canonical_query(raw)
  if not raw or raw == "" then return "" end
  local list = {}
  for pair in string.gmatch(raw, "[^&]+") do
    local k, v = string.match(pair, "^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    list[#list + 1] = { util.urldecode(k, true), util.urldecode(v, true) }
  end
  sort(list, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, kv in ipairs(list) do
    out[i] = util.urlencode(kv[1]) .. "=" .. util.urlencode(kv[2])
  end
  return concat(out, "&")
end
M.canonical_query = canonical_query

local function string_to_sign(method, path, raw_query, app_key, ts, nonce, body)
  return concat({
    upper(method), path, canonical_query(raw_query), app_key, ts, nonce,
    util.sha256_hex(body or ""),
  }, "\n")
end
M.string_to_sign = string_to_sign

local function reject(reason, extra)
  counters.auth_rejected = counters.auth_rejected + 1
  last_auth_failure = extra or {}
  last_auth_failure.reason = reason
  return false, reason
end

local function verify(req)
  local mode = cfg.verifier
  if mode == "none" then return true end
  local h = cfg.headers
  if mode == "record-only" then
    local seen = { method = req.method, path = req.path, time = req.now, headers = {} }
    for role, name in pairs(h) do seen.headers[role] = header(req, name) end
    seen.headers = util.object(seen.headers)
    auth_seen[#auth_seen + 1] = seen
    if #auth_seen > MAX_LOG then table.remove(auth_seen, 1) end
    return true
  end
  -- hmac-sha256
  local key, ts, nonce, sig =
    header(req, h.app_key), header(req, h.timestamp), header(req, h.nonce), header(req, h.signature)
  local got = { app_key = key, timestamp = ts, nonce = nonce, signature = sig }
  for _, role in ipairs({ "app_key", "timestamp", "nonce", "signature" }) do
    if got[role] == nil or got[role] == "" then
      return reject("missing header " .. h[role])
    end
  end
  if key ~= cfg.app_key then return reject("unknown app key") end
  if not find(ts, "^%d+$") or #ts > 16 then
    return reject("invalid timestamp")
  end
  local t = tonumber(ts)
  if cfg.timestamp_unit == "ms" then t = t / 1000 end
  if abs(t - req.now) > cfg.skew_seconds then
    return reject(format("timestamp out of range (more than %g s from server time)",
                         cfg.skew_seconds), { server_time = floor(req.now) })
  end
  if #nonce > 64 or not find(nonce, "^[A-Za-z0-9]+$") then
    return reject("invalid nonce")
  end
  local sts = string_to_sign(req.method, req.path, req.raw_query, key, ts, nonce, req.body)
  local expected = util.hmac_sha256_hex(cfg.secret, sts)
  if sig ~= expected then
    return reject("signature mismatch", { string_to_sign = sts, expected = expected })
  end
  -- replay: only a correctly signed request consumes its nonce
  local nkey = key .. "\0" .. nonce
  for k, at in pairs(nonces) do
    if req.now - at > cfg.nonce_seconds then nonces[k] = nil end
  end
  if nonces[nkey] then return reject("nonce already used") end
  nonces[nkey] = req.now
  return true
end

----------------------------------------------------------------------------
-- parameters

local function qparam(req, name)
  local v = req.query and req.query[name]
  if type(v) == "table" then v = v[1] end
  if v == nil or v == "" then return nil end
  return v
end

local function need(req, name)
  local v = qparam(req, name)
  if not v then return nil, { CODE.bad_request, name .. " must not be blank" } end
  return v
end

-- queryMonth: yyyy-MM, one of the 12 months ending with the current one
local function check_month(s, now)
  local mi = parse_month(s)
  if not mi then return nil, "queryMonth must be yyyy-MM" end
  local y, m = civil_from_days(day_index(now))
  local cur = month_index(y, m)
  if mi > cur or mi < cur - 11 then
    return nil, "queryMonth must be within the last 12 months"
  end
  return mi
end

-- queryDay: yyyy-MM-dd, one of the 30 days ending with today
local function check_day(s, now)
  local di = parse_day(s)
  if not di then return nil, "queryDay must be yyyy-MM-dd" end
  local today = day_index(now)
  if di > today or di < today - 29 then
    return nil, "queryDay must be within the last 30 days"
  end
  return di
end

----------------------------------------------------------------------------
-- handlers

local function pool_view(p, now)
  local today = day_index(now)
  local counts = {}
  local use = 0
  for _, iccid in ipairs(p.iccids) do
    local c = cards[iccid]
    counts[c.cardStatus] = (counts[c.cardStatus] or 0) + 1
    use = use + card_cycle_usage(c, today)
  end
  local status_list = {}
  for st, n in pairs(counts) do status_list[#status_list + 1] = { cardStatus = st, total = n } end
  sort(status_list, function(a, b) return a.cardStatus < b.cardStatus end)
  local total_flow = 0
  if p.poolType ~= 2 then total_flow = p.card_total_flow * #p.iccids end
  return {
    upoolCode = p.upoolCode, upoolName = p.upoolName, enUpoolName = p.enUpoolName,
    poolType = p.poolType, useFlow = use, totalFlow = total_flow,
    billingCycle = p.billingCycle, totalCard = #p.iccids, rawAddTime = p.rawAddTime,
    bindCardStatusCount = util.array(status_list),
    packageInfo = util.deepcopy(p.packageInfo),
    startTime = p.startTime, endTime = p.endTime, -- unified-payment pools only
    upoolStatus = p.upoolStatus,
  }
end

local function find_pool(req)
  local code, err = need(req, "poolCode")
  if not code then return nil, err end
  local p = pools[code]
  if not p then return nil, { CODE.not_found, "pool not found: " .. code } end
  return p
end

local function find_card(req)
  local iccid, err = need(req, "iccid")
  if not iccid then return nil, err end
  local c = cards[iccid]
  if not c then return nil, { CODE.not_found, "card not found: " .. iccid } end
  return c
end

local handlers = {}

handlers.pool_detail = function(req)
  local p, err = find_pool(req)
  if not p then return fail(err[1], err[2]) end
  return ok(pool_view(p, req.now))
end

handlers.get_pool_month_usage = function(req)
  local p, err = find_pool(req)
  if not p then return fail(err[1], err[2]) end
  local s
  s, err = need(req, "queryMonth")
  if not s then return fail(err[1], err[2]) end
  local mi, msg = check_month(s, req.now)
  if not mi then return fail(CODE.bad_request, msg) end
  local today, sum = day_index(req.now), 0
  for _, iccid in ipairs(p.iccids) do sum = sum + card_month_usage(cards[iccid], mi, today) end
  return ok({ month = month_string(mi), poolCode = p.upoolCode, useFlowKb = sum })
end

handlers.get_pool_day_usage = function(req)
  local p, err = find_pool(req)
  if not p then return fail(err[1], err[2]) end
  local di
  local s = qparam(req, "queryDay")
  if s then
    local msg
    di, msg = check_day(s, req.now)
    if not di then return fail(CODE.bad_request, msg) end
  else
    di = day_index(req.now) -- default: today (sandbox clock, UTC+8)
  end
  local sum = 0
  for _, iccid in ipairs(p.iccids) do sum = sum + card_day_usage(cards[iccid], di) end
  return ok({ day = day_string(di), poolCode = p.upoolCode, useFlowKb = sum })
end

handlers.query_batch_status = function(req)
  local code, err = need(req, "batchCode")
  if not code then return fail(err[1], err[2]) end
  local b = batches[code]
  if not b then return fail(CODE.not_found, "batch not found: " .. code) end
  local list = {}
  for i, entry in ipairs(b.cards) do
    list[i] = { iccid = entry.iccid, msisdn = entry.msisdn,
                operationCardStatus = batch_card_status(b, entry, req.now) }
  end
  return ok(util.array(list))
end

handlers.card_detail = function(req)
  local c, err = find_card(req)
  if not c then return fail(err[1], err[2]) end
  local today = day_index(req.now)
  local y, m = civil_from_days(today)
  return ok({
    iccid = c.iccid, imei = c.imei, imsi = c.imsi, msisdn = c.msisdn,
    totalFlow = c.totalFlow,
    useMonthFlow = card_month_usage(c, month_index(y, m), today),
    useFlow = card_cycle_usage(c, today),
    billingMethod = c.billingMethod, apn = c.apn, cardStatus = c.cardStatus,
  })
end

handlers.get_card_month_usage = function(req)
  local c, err = find_card(req)
  if not c then return fail(err[1], err[2]) end
  local s
  s, err = need(req, "queryMonth")
  if not s then return fail(err[1], err[2]) end
  local mi, msg = check_month(s, req.now)
  if not mi then return fail(CODE.bad_request, msg) end
  return ok({ month = month_string(mi), iccid = c.iccid,
              useFlowKb = card_month_usage(c, mi, day_index(req.now)) })
end

handlers.get_card_day_usage = function(req)
  local c, err = find_card(req)
  if not c then return fail(err[1], err[2]) end
  local s
  s, err = need(req, "queryDay")
  if not s then return fail(err[1], err[2]) end
  local di, msg = check_day(s, req.now)
  if not di then return fail(CODE.bad_request, msg) end
  return ok({ day = day_string(di), iccid = c.iccid, useFlowKb = card_day_usage(c, di) })
end

local function log_network(entry)
  network_requests[#network_requests + 1] = entry
  if #network_requests > MAX_LOG then table.remove(network_requests, 1) end
end

handlers.operate_card_network = function(req)
  local ctype = lower(header(req, "Content-Type") or "")
  if not find(ctype, "^application/json") then
    return envelope(415, CODE.media_type,
                    "Content type '" .. ctype .. "' not supported, use application/json", nil)
  end
  local body = util.json_decode(req.body or "")
  local entry = { time = req.now, count = 0, accepted = false }
  if type(body) ~= "table" or getmetatable(body) ~= OBJECT_MT then
    log_network(entry)
    entry.code, entry.reason = CODE.bad_request, "body is not a JSON object"
    return fail(CODE.bad_request, "request body must be a JSON object")
  end
  local iccids, switch = body.iccids, body.switchOn
  local reason
  if type(iccids) ~= "table" or getmetatable(iccids) ~= ARRAY_MT then
    reason = "iccids must be an array of ICCIDs"
  else
    entry.count = #iccids
    if #iccids == 0 then
      reason = "iccids must not be empty"
    elseif #iccids > MAX_ICCIDS then
      reason = format("iccids must contain at most %d ICCIDs (got %d)", MAX_ICCIDS, #iccids)
    else
      for _, v in ipairs(iccids) do
        if type(v) ~= "string" or v == "" then
          reason = "every iccid must be a non-empty string"
          break
        end
      end
    end
  end
  if not reason and type(switch) ~= "boolean" then
    reason = "switchOn must be true or false"
  end
  log_network(entry)
  if reason then
    entry.code, entry.reason = CODE.bad_request, reason
    return fail(CODE.bad_request, reason)
  end

  -- switch check: known, operable cards go into the batch; others into errorInfo
  local errors, seen, list = {}, {}, {}
  for _, iccid in ipairs(iccids) do
    if not seen[iccid] then
      seen[iccid] = true
      local c = cards[iccid]
      if not c then
        errors[#errors + 1] = { iccid = iccid, infoMessage = "ICCID does not exist" }
      elseif c.cardStatus == 18 or c.cardStatus == 99 then
        errors[#errors + 1] = { iccid = iccid,
          infoMessage = "card status " .. c.cardStatus .. " does not allow network operations" }
      else
        list[#list + 1] = { iccid = iccid, msisdn = c.msisdn }
      end
    end
  end
  local fails = {}
  for _, f in ipairs(cfg.fail_iccids) do fails[f] = true end
  for _, e in ipairs(list) do e.fail = fails[e.iccid] or false end

  counters.batch = counters.batch + 1
  local code = format("B%s%04d", (string.gsub(datetime_string(req.now), "[^%d]", "")),
                      counters.batch % 10000)
  local b = {
    batchCode = code, seq = counters.batch, created = req.now,
    seconds = cfg.batch_seconds, switchOn = switch, cards = list, applied = false,
  }
  batches[code] = b
  batch_order[#batch_order + 1] = code
  entry.accepted, entry.code, entry.batchCode = true, CODE.ok, code
  entry.iccids = util.array(util.deepcopy(iccids))
  if b.seconds <= 0 then tick(req.now) end
  return ok({ successCount = #list, batchCode = code, errorInfo = util.array(errors) })
end

local ROUTES = {
  ["/api/v1/pool/detail"] = { "GET", "pool_detail" },
  ["/api/v1/pool/getPoolMonthUsage"] = { "GET", "get_pool_month_usage" },
  ["/api/v1/pool/getPoolDayUsage"] = { "GET", "get_pool_day_usage" },
  ["/api/v1/operation/batch/query/status"] = { "GET", "query_batch_status" },
  ["/api/v1/card/detail"] = { "GET", "card_detail" },
  ["/api/v1/card/operation/network"] = { "POST", "operate_card_network" },
  ["/api/v1/card/getCardMonthUsage"] = { "GET", "get_card_month_usage" },
  ["/api/v1/card/getCardDayUsage"] = { "GET", "get_card_day_usage" },
}
M.routes = ROUTES

----------------------------------------------------------------------------
-- module contract

function M.match(_, path)
  return sub(path, 1, 8) == "/api/v1/"
end

function M.reset(sandbox)
  fleet_cards = sandbox and sandbox.fleet_cards or 0
  cfg = default_config()
  build_state(util.now())
end

function M.handle(req)
  req.now = req.now or util.now()
  if not built then build_state(req.now) end
  counters.requests = counters.requests + 1
  tick(req.now)
  local route = ROUTES[req.path]
  if not route then
    return envelope(404, CODE.not_found, "Not Found: " .. tostring(req.path), nil)
  end
  if upper(req.method or "") ~= route[1] then
    return envelope(405, CODE.method,
                    "Request method '" .. tostring(req.method) .. "' not supported", nil)
  end
  local passed, why = verify(req)
  if not passed then return fail(CODE.unauthorized, "unauthorized: " .. why) end
  return handlers[route[2]](req)
end

local VERIFIERS = { ["none"] = true, ["hmac-sha256"] = true, ["record-only"] = true }

--- /_sim/config {"tibiot": {...}}: merged into the current knobs (reset by
-- /_sim/reset). Raises on an invalid value, changing nothing.
function M.config(t)
  if type(t) ~= "table" then error("tibiot config must be an object") end
  local new = util.deepcopy(cfg) -- all or nothing: committed after every key passed
  for k, v in pairs(t) do
    if k == "verifier" then
      if not VERIFIERS[v] then error("tibiot.verifier: unknown mode " .. tostring(v)) end
      new.verifier = v
    elseif k == "timestamp_unit" then
      if v ~= "s" and v ~= "ms" then error("tibiot.timestamp_unit must be \"s\" or \"ms\"") end
      new.timestamp_unit = v
    elseif k == "headers" then
      if type(v) ~= "table" then error("tibiot.headers must be an object") end
      for role, name in pairs(v) do
        if not DEFAULT_HEADERS[role] or type(name) ~= "string" or name == "" then
          error("tibiot.headers: bad entry " .. tostring(role))
        end
        new.headers[role] = name
      end
    elseif k == "app_key" or k == "secret" then
      if type(v) ~= "string" or v == "" then error("tibiot." .. k .. " must be a string") end
      new[k] = v
    elseif k == "skew_seconds" or k == "nonce_seconds" or k == "batch_seconds" then
      if type(v) ~= "number" or v < 0 then error("tibiot." .. k .. " must be a number >= 0") end
      new[k] = v
    elseif k == "fail_iccids" then
      if type(v) ~= "table" then error("tibiot.fail_iccids must be an array") end
      local list = {}
      for i, x in ipairs(v) do list[i] = tostring(x) end
      new.fail_iccids = list
    else
      error("tibiot: unknown config key " .. tostring(k))
    end
  end
  cfg = new
end

function M.state()
  local now = util.now()
  if not built then build_state(now) end
  tick(now)
  local today = day_index(now)
  local out_cards = {}
  for _, iccid in ipairs(card_order) do
    local c = cards[iccid]
    out_cards[iccid] = { iccid = iccid, msisdn = c.msisdn, pool = c.pool,
                         cardStatus = c.cardStatus, network = c.network }
  end
  local out_pools = {}
  for _, code in ipairs(pool_order) do
    local p = pools[code]
    out_pools[code] = { upoolCode = code, poolType = p.poolType,
                        iccids = util.array(util.deepcopy(p.iccids)) }
  end
  local out_batches = {}
  for _, code in ipairs(batch_order) do
    local b = batches[code]
    local list = {}
    for i, e in ipairs(b.cards) do
      list[i] = { iccid = e.iccid, msisdn = e.msisdn, fail = e.fail,
                  operationCardStatus = batch_card_status(b, e, now) }
    end
    out_batches[#out_batches + 1] = {
      batchCode = code, created = b.created, seconds = b.seconds, switchOn = b.switchOn,
      applied = b.applied, completed_at = b.completed_at, cards = util.array(list),
    }
  end
  local max_count = 0
  for _, r in ipairs(network_requests) do
    if r.count > max_count then max_count = r.count end
  end
  local nonce_count = 0
  for _ in pairs(nonces) do nonce_count = nonce_count + 1 end
  local c = util.deepcopy(cfg)
  c.secret = nil
  c.fail_iccids = util.array(c.fail_iccids)
  return {
    now = now,
    today = day_string(today),
    month = month_string(month_index(civil_from_days(today))),
    config = c,
    pools = out_pools,
    cards = out_cards,
    card_order = util.array(util.deepcopy(card_order)),
    batches = util.array(out_batches),
    network_requests = util.array(util.deepcopy(network_requests)),
    max_iccids_per_request = max_count,
    requests = counters.requests,
    auth_rejected = counters.auth_rejected,
    last_auth_failure = last_auth_failure or util.null,
    nonces = nonce_count,
    auth_seen = util.array(util.deepcopy(auth_seen)),
  }
end

function M.envelope_error(code, message)
  return envelope(200, tonumber(code) or CODE.internal, message or "error", nil)
end

return M
