-- The TIBIOT part of the sandbox (sim/lua/simsandbox/vendor/tibiot.lua,
-- contract in sim/TIBIOT.md), driven over HTTP against a real nginx.
-- Requests are signed here with spec/support/sha256.lua (pure Lua), never
-- with simkit's or the sandbox's code.
local sandbox = require "spec.support.sandbox"
local sha = require "spec.support.sha256"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"
local cjson = require "cjson"

local APP_KEY, SECRET = "sandbox-tib-key", "sandbox-tib-secret"
local ICCID1 = "89861122334455660001"

local function iccid(n) return string.format("8986112233445566%04d", n) end

-- RFC 3986 encoding (unreserved kept, the rest %XX upper-case)
local function enc(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function dec(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- the canonical query, implemented independently of the sandbox
local function canonical(raw)
  if not raw or raw == "" then return "" end
  local list = {}
  for piece in raw:gmatch("[^&]+") do
    local k, v = piece:match("^([^=]*)=(.*)$")
    if not k then k, v = piece, "" end
    list[#list + 1] = { dec(k), dec(v) }
  end
  table.sort(list, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, kv in ipairs(list) do out[i] = enc(kv[1]) .. "=" .. enc(kv[2]) end
  return table.concat(out, "&")
end

local function string_to_sign(method, path, raw_query, key, ts, nonce, body)
  return table.concat({ method, path, canonical(raw_query), key, ts, nonce,
                        sha.sha256_hex(body or "") }, "\n")
end

-- build "k=v&..." from a list of {k, v} (order kept, as a client might send it)
local function build_query(pairs_list)
  if not pairs_list then return "" end
  local out = {}
  for i, kv in ipairs(pairs_list) do out[i] = enc(kv[1]) .. "=" .. enc(kv[2]) end
  return table.concat(out, "&")
end

local nonce_seq = 0
local function fresh_nonce()
  nonce_seq = nonce_seq + 1
  return string.format("n%dx%d", os.time(), nonce_seq) .. tostring(math.random(100000, 999999))
end

describe("sandbox TIBIOT", function()
  local sb
  local clock_delta = 0 -- sandbox clock minus local clock
  local last = {}       -- raw text and headers of the last answer

  local function raw_request(method, path, raw_query, body, headers)
    local url = sb.url .. path .. ((raw_query and raw_query ~= "") and ("?" .. raw_query) or "")
    local chunks = {}
    headers = headers or {}
    if body then headers["Content-Length"] = tostring(#body) end
    local _, status, resp_headers = http.request{
      url = url, method = method, headers = headers,
      source = body and ltn12.source.string(body) or nil,
      sink = ltn12.sink.table(chunks),
    }
    local text = table.concat(chunks)
    local ok, decoded = pcall(cjson.decode, text)
    last = { text = text, headers = resp_headers }
    return status, ok and decoded or nil
  end

  local function state() return sb:state("tibiot") end

  local function sync_clock()
    clock_delta = state().now - socket.gettime()
  end

  local function sandbox_now() return socket.gettime() + clock_delta end

  local function advance(seconds)
    local st = sb:control("POST", "/_sim/advance", { seconds = seconds })
    assert.equal(200, st)
    sync_clock()
  end

  local function config(t)
    local st = sb:control("POST", "/_sim/config", { tibiot = t })
    assert.equal(200, st)
  end

  -- opts: ts (string), nonce, key, secret, sig, body_override, headers (extra),
  --       names (header names), omit (a header name to leave out)
  local function signed(method, path, query, body, opts)
    opts = opts or {}
    local raw_query = type(query) == "string" and query or build_query(query)
    local key = opts.key or APP_KEY
    local ts = opts.ts or string.format("%d", math.floor(sandbox_now()))
    local nonce = opts.nonce or fresh_nonce()
    local sig = opts.sig or sha.hmac_sha256_hex(opts.secret or SECRET,
      string_to_sign(method, path, raw_query, key, ts, nonce, body))
    local names = opts.names or {}
    local headers = {
      [names.app_key or "X-App-Key"] = key,
      [names.timestamp or "X-Timestamp"] = ts,
      [names.nonce or "X-Nonce"] = nonce,
      [names.signature or "X-Signature"] = sig,
    }
    if opts.omit then headers[opts.omit] = nil end
    if body then headers["Content-Type"] = "application/json" end
    for k, v in pairs(opts.headers or {}) do headers[k] = v end
    return raw_request(method, path, raw_query, opts.body_override or body, headers)
  end

  local function get(path, query, opts) return signed("GET", path, query, nil, opts) end

  local function post_network(iccids, switch_on, opts)
    local body = cjson.encode({ iccids = iccids, switchOn = switch_on })
    if #iccids == 0 then body = '{"iccids":[],"switchOn":' .. tostring(switch_on) .. "}" end
    return signed("POST", "/api/v1/card/operation/network", nil, body, opts)
  end

  local function assert_ok(status, env)
    assert.equal(200, status)
    assert.is_table(env, last.text)
    assert.equal(200, env.code, last.text)
    assert.equal("success", env.message)
    assert.is_string(env.traceId)
    assert.truthy(env.traceId:match("^%x+$"))
    return env.data
  end

  local function assert_error(code, status, env, http_status)
    assert.equal(http_status or 200, status, last.text)
    assert.is_table(env, last.text)
    assert.equal(code, env.code, last.text)
    assert.is_string(env.message)
    assert.is_string(env.traceId)
    assert.truthy(#env.traceId > 0)
    assert.equal(cjson.null, env.data)
  end

  local function day_string(offset_days)
    return os.date("!%Y-%m-%d", math.floor(sandbox_now()) + 8 * 3600 - offset_days * 86400)
  end

  local function month_string(back)
    local y, m = state().month:match("^(%d+)-(%d+)$")
    local mi = tonumber(y) * 12 + tonumber(m) - 1 - back
    return string.format("%04d-%02d", math.floor(mi / 12), mi % 12 + 1)
  end

  setup(function()
    sb = sandbox.start()
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  before_each(function()
    assert.equal(200, (sb:control("POST", "/_sim/reset")))
    sync_clock()
  end)

  describe("spec.support.sha256", function()
    it("matches FIPS 180 and RFC 4231 vectors", function()
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sha.sha256_hex("abc"))
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha.sha256_hex(""))
      assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        sha.hmac_sha256_hex("Jefe", "what do ya want for nothing?"))
      assert.equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        sha.hmac_sha256_hex(string.rep("\170", 131),
          "Test Using Larger Than Block-Size Key - Hash Key First"))
    end)

    it("gives the documented string_to_sign and signature (sim/TIBIOT.md vector)", function()
      local sts = string_to_sign("GET", "/api/v1/card/detail", "iccid=" .. ICCID1, APP_KEY,
                                 "1700000000", "abc123", "")
      assert.equal("GET\n/api/v1/card/detail\niccid=89861122334455660001\nsandbox-tib-key\n"
        .. "1700000000\nabc123\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sts)
      assert.equal("c7a6e836ba130292269c244654324961de67c227167dd1274fec9511f251c116",
                   sha.hmac_sha256_hex(SECRET, sts))
      assert.equal("a=%2Fz&a=x%20y&b=2&c=&d=~~%C3%BC", canonical("b=2&a=x+y&a=%2fz&c&d=%7e~\195\188"))
    end)
  end)

  describe("signed requests", function()
    it("pool_detail", function()
      local d = assert_ok(get("/api/v1/pool/detail", { { "poolCode", "UP10000001" } }))
      assert.equal("UP10000001", d.upoolCode)
      assert.equal(1, d.poolType)
      assert.equal(1, d.billingCycle)
      assert.equal(12, d.totalCard)
      assert.equal(12 * 1048576, d.totalFlow)
      assert.equal(1, d.upoolStatus)
      assert.is_string(d.upoolName)
      assert.is_string(d.enUpoolName)
      assert.truthy(d.rawAddTime:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$"))
      assert.equal(math.floor(d.useFlow), d.useFlow)
      assert.truthy(d.useFlow > 0)
      local total = 0
      for _, c in ipairs(d.bindCardStatusCount) do
        assert.is_number(c.cardStatus)
        total = total + c.total
      end
      assert.equal(12, total)
      assert.equal(1, d.packageInfo.flowPackageType)
      assert.truthy(#d.packageInfo.epiConfigs >= 1)
      local e = d.packageInfo.epiConfigs[1]
      assert.is_string(e.epiConfigCode)
      assert.is_string(e.epiCode)
      assert.equal(e.standardCharge * 100, e.realFenStandardCharge)
      assert.equal(1, e.epiConfigType)
      assert.equal("GB", e.unit)

      local p3 = assert_ok(get("/api/v1/pool/detail", { { "poolCode", "UP10000003" } }))
      assert.equal(3, p3.poolType)
      assert.equal(12, p3.billingCycle)
      assert.truthy(p3.startTime:match("^%d%d%d%d%-01%-01$"))
      assert.truthy(p3.endTime:match("^%d%d%d%d%-12%-31$"))
    end)

    it("get_pool_month_usage equals the sum of the pool's card month usages", function()
      local month = state().month
      local d = assert_ok(get("/api/v1/pool/getPoolMonthUsage",
                              { { "poolCode", "UP10000003" }, { "queryMonth", month } }))
      assert.equal(month, d.month)
      assert.equal("UP10000003", d.poolCode)
      local sum = 0
      for n = 23, 30 do
        local c = assert_ok(get("/api/v1/card/getCardMonthUsage",
                                { { "iccid", iccid(n) }, { "queryMonth", month } }))
        sum = sum + c.useFlowKb
      end
      assert.equal(sum, d.useFlowKb)
      -- an earlier month within the window, parameters sent out of order
      local d2 = assert_ok(get("/api/v1/pool/getPoolMonthUsage",
                               { { "queryMonth", month_string(11) }, { "poolCode", "UP10000003" } }))
      assert.equal(month_string(11), d2.month)
      assert.truthy(d2.useFlowKb > 0)
    end)

    it("get_pool_day_usage with and without queryDay", function()
      local today = day_string(0)
      local d = assert_ok(get("/api/v1/pool/getPoolDayUsage", { { "poolCode", "UP10000002" } }))
      assert.equal(today, d.day)
      assert.equal("UP10000002", d.poolCode)
      local d2 = assert_ok(get("/api/v1/pool/getPoolDayUsage",
                               { { "poolCode", "UP10000002" }, { "queryDay", today } }))
      assert.equal(d.useFlowKb, d2.useFlowKb)
      local old = day_string(29)
      local d3 = assert_ok(get("/api/v1/pool/getPoolDayUsage",
                               { { "poolCode", "UP10000002" }, { "queryDay", old } }))
      assert.equal(old, d3.day)
      local sum = 0
      for n = 13, 22 do
        sum = sum + assert_ok(get("/api/v1/card/getCardDayUsage",
                                  { { "iccid", iccid(n) }, { "queryDay", old } })).useFlowKb
      end
      assert.equal(sum, d3.useFlowKb)
    end)

    it("card_detail", function()
      local d = assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
      assert.equal(ICCID1, d.iccid)
      assert.equal(20, #d.iccid)
      assert.truthy(d.imsi:match("^%d+$"))
      assert.truthy(d.imei:match("^%d+$"))
      assert.truthy(d.msisdn:match("^%d+$"))
      assert.equal(1048576, d.totalFlow)
      assert.equal(1, d.billingMethod)
      assert.equal(8, d.cardStatus)
      assert.is_string(d.apn)
      assert.truthy(d.useMonthFlow > 0)
      assert.equal(d.useMonthFlow, d.useFlow) -- monthly cycle
      local m = assert_ok(get("/api/v1/card/getCardMonthUsage",
                              { { "iccid", ICCID1 }, { "queryMonth", state().month } }))
      assert.equal(d.useMonthFlow, m.useFlowKb)
      local statuses = {}
      for _, n in ipairs({ 3, 5, 7, 9, 11, 13 }) do
        statuses[#statuses + 1] = assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(n) } })).cardStatus
      end
      assert.same({ 1, 4, 12, 16, 18, 99 }, statuses)
    end)

    it("get_card_month_usage and get_card_day_usage are deterministic", function()
      local month, day = month_string(3), day_string(5)
      local a = assert_ok(get("/api/v1/card/getCardMonthUsage", { { "iccid", ICCID1 }, { "queryMonth", month } }))
      local b = assert_ok(get("/api/v1/card/getCardMonthUsage", { { "iccid", ICCID1 }, { "queryMonth", month } }))
      assert.same(a, b)
      assert.equal(month, a.month)
      assert.equal(ICCID1, a.iccid)
      assert.truthy(a.useFlowKb >= 28 * 512)
      local c = assert_ok(get("/api/v1/card/getCardDayUsage", { { "iccid", ICCID1 }, { "queryDay", day } }))
      assert.equal(day, c.day)
      assert.equal(ICCID1, c.iccid)
      assert.truthy(c.useFlowKb >= 512)
      local other = assert_ok(get("/api/v1/card/getCardDayUsage", { { "iccid", iccid(2) }, { "queryDay", day } }))
      assert.are_not.equal(c.useFlowKb, other.useFlowKb)
    end)

    it("operate_card_network and query_batch_status", function()
      local d = assert_ok(post_network({ iccid(1), iccid(2), "89860000000000000000" }, false))
      assert.equal(2, d.successCount)
      assert.is_string(d.batchCode)
      assert.equal(1, #d.errorInfo)
      assert.equal("89860000000000000000", d.errorInfo[1].iccid)
      assert.is_string(d.errorInfo[1].infoMessage)
      local list = assert_ok(get("/api/v1/operation/batch/query/status", { { "batchCode", d.batchCode } }))
      assert.equal(2, #list)
      assert.equal(iccid(1), list[1].iccid)
      assert.is_string(list[1].msisdn)
      assert.equal(1, list[1].operationCardStatus)
    end)

    it("canonicalises the query: unreserved, reserved and non-ASCII characters", function()
      -- extra parameters are ignored by the endpoint but covered by the signature
      local d = assert_ok(get("/api/v1/pool/detail", "zeta=a%20b%2Bc&poolCode=UP10000001&alpha=%E4%B8%AD~x&alpha=0"))
      assert.equal("UP10000001", d.upoolCode)
      -- '+' in the raw query means a space, as %20 does
      assert_ok(get("/api/v1/pool/detail", "poolCode=UP10000001&note=hello+world"))
    end)
  end)

  describe("verifier hmac-sha256 rejects", function()
    local function rejected(reason, status, env)
      assert_error(401, status, env)
      if reason then assert.truthy(env.message:find(reason, 1, true), env.message) end
    end

    it("a missing header", function()
      for _, h in ipairs({ "X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature" }) do
        rejected("missing header " .. h, get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { omit = h }))
      end
      rejected(nil, raw_request("GET", "/api/v1/card/detail", "iccid=" .. ICCID1, nil, {}))
    end)

    it("an unknown app key", function()
      rejected("unknown app key", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { key = "other-key" }))
    end)

    it("a bad signature", function()
      rejected("signature", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { secret = "wrong" }))
      local good = sha.hmac_sha256_hex(SECRET, "x")
      rejected("signature", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { sig = good:upper() }))
      local s = state()
      assert.equal("signature mismatch", s.last_auth_failure.reason)
      assert.is_string(s.last_auth_failure.string_to_sign)
    end)

    it("a body changed after signing", function()
      local body = '{"iccids":["' .. ICCID1 .. '"],"switchOn":false}'
      local st, env = signed("POST", "/api/v1/card/operation/network", nil, body,
        { body_override = '{"iccids":["' .. iccid(2) .. '"],"switchOn":false}' })
      rejected("signature", st, env)
      assert.equal(0, #state().batches)
    end)

    it("a query changed after signing", function()
      local ts, nonce = string.format("%d", math.floor(sandbox_now())), fresh_nonce()
      local sig = sha.hmac_sha256_hex(SECRET, string_to_sign("GET", "/api/v1/card/detail",
        "iccid=" .. ICCID1, APP_KEY, ts, nonce, ""))
      rejected("signature", raw_request("GET", "/api/v1/card/detail", "iccid=" .. iccid(2), nil,
        { ["X-App-Key"] = APP_KEY, ["X-Timestamp"] = ts, ["X-Nonce"] = nonce, ["X-Signature"] = sig }))
    end)

    it("a stale or future timestamp, and accepts one within 300 s", function()
      local now = math.floor(sandbox_now())
      rejected("timestamp", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = tostring(now - 400) }))
      rejected("timestamp", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = tostring(now + 400) }))
      rejected("timestamp", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = "12x" }))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = tostring(now - 200) }))
      -- the sandbox clock, not the wall clock, is the reference
      advance(1000)
      rejected("timestamp", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = tostring(now) }))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
    end)

    it("a replayed nonce, until the 300 s window has passed", function()
      local nonce = fresh_nonce()
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = nonce }))
      rejected("nonce", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = nonce }))
      rejected("nonce", get("/api/v1/pool/detail", { { "poolCode", "UP10000001" } }, { nonce = nonce }))
      advance(301)
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = nonce }))
    end)

    it("a bad signature does not consume the nonce", function()
      local nonce = fresh_nonce()
      rejected(nil, get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = nonce, secret = "wrong" }))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = nonce }))
    end)

    it("a malformed nonce", function()
      rejected("nonce", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = "abc-def" }))
      rejected("nonce", get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = string.rep("a", 65) }))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { nonce = string.rep("Z9", 32) }))
    end)
  end)

  describe("verifier configuration", function()
    it("none accepts unsigned requests", function()
      config({ verifier = "none" })
      local d = assert_ok(raw_request("GET", "/api/v1/card/detail", "iccid=" .. ICCID1, nil, {}))
      assert.equal(ICCID1, d.iccid)
      assert_ok(raw_request("POST", "/api/v1/card/operation/network", nil,
        '{"iccids":["' .. ICCID1 .. '"],"switchOn":true}', { ["Content-Type"] = "application/json" }))
    end)

    it("record-only accepts and records the auth headers", function()
      config({ verifier = "record-only" })
      assert_ok(raw_request("GET", "/api/v1/card/detail", "iccid=" .. ICCID1, nil, { ["X-App-Key"] = "k1" }))
      assert_ok(get("/api/v1/pool/detail", { { "poolCode", "UP10000002" } }, { nonce = "N1" }))
      local seen = state().auth_seen
      assert.equal(2, #seen)
      assert.equal("k1", seen[1].headers.app_key)
      assert.is_nil(seen[1].headers.signature)
      assert.equal("/api/v1/pool/detail", seen[2].path)
      assert.equal("N1", seen[2].headers.nonce)
    end)

    it("timestamps in milliseconds", function()
      config({ timestamp_unit = "ms" })
      local ms = string.format("%d", math.floor(sandbox_now() * 1000))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { ts = ms }))
      assert_error(401, get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
    end)

    it("custom header names", function()
      local names = { app_key = "X-Tib-AppKey", timestamp = "X-Tib-Ts", nonce = "X-Tib-Nonce",
                      signature = "X-Tib-Sign" }
      config({ headers = names })
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }, { names = names }))
      assert_error(401, get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
    end)

    it("reset restores the default verifier", function()
      config({ verifier = "none" })
      assert.equal(200, (sb:control("POST", "/_sim/reset")))
      assert_error(401, raw_request("GET", "/api/v1/card/detail", "iccid=" .. ICCID1, nil, {}))
    end)

    it("refuses an unknown verifier mode, changing nothing", function()
      local st = sb:control("POST", "/_sim/config", { tibiot = { verifier = "magic", batch_seconds = 50 } })
      assert.are_not.equal(200, st)
      local c = state().config
      assert.equal("hmac-sha256", c.verifier)
      assert.equal(2, c.batch_seconds) -- all or nothing
    end)
  end)

  describe("parameters", function()
    it("missing or blank required parameters give code 400", function()
      assert_error(400, get("/api/v1/pool/detail", nil))
      assert_error(400, get("/api/v1/pool/detail", { { "poolCode", "" } }))
      assert_error(400, get("/api/v1/pool/getPoolMonthUsage", { { "poolCode", "UP10000001" } }))
      assert_error(400, get("/api/v1/operation/batch/query/status", nil))
      assert_error(400, get("/api/v1/card/detail", nil))
      assert_error(400, get("/api/v1/card/getCardMonthUsage", { { "iccid", ICCID1 } }))
      assert_error(400, get("/api/v1/card/getCardDayUsage", { { "iccid", ICCID1 } }))
    end)

    it("unknown pool, card or batch give code 404", function()
      assert_error(404, get("/api/v1/pool/detail", { { "poolCode", "NOPE" } }))
      assert_error(404, get("/api/v1/card/detail", { { "iccid", "89860000000000000000" } }))
      assert_error(404, get("/api/v1/operation/batch/query/status", { { "batchCode", "B0" } }))
    end)

    it("dates: format and window", function()
      local function month(m)
        return get("/api/v1/card/getCardMonthUsage", { { "iccid", ICCID1 }, { "queryMonth", m } })
      end
      local function day(d)
        return get("/api/v1/card/getCardDayUsage", { { "iccid", ICCID1 }, { "queryDay", d } })
      end
      assert_ok(month(month_string(0)))
      assert_ok(month(month_string(11)))
      assert_error(400, month(month_string(12)))
      assert_error(400, month(month_string(-1)))
      assert_error(400, month("2025-4"))
      assert_error(400, month("2025-13"))
      assert_ok(day(day_string(0)))
      assert_ok(day(day_string(29)))
      assert_error(400, day(day_string(30)))
      assert_error(400, day(day_string(-1)))
      assert_error(400, day("2025-02-30"))
      assert_error(400, day("20250201"))
      assert_error(400, get("/api/v1/pool/getPoolDayUsage",
                            { { "poolCode", "UP10000001" }, { "queryDay", day_string(31) } }))
      assert_error(400, get("/api/v1/pool/getPoolMonthUsage",
                            { { "poolCode", "UP10000001" }, { "queryMonth", month_string(13) } }))
    end)

    it("unknown path and wrong method", function()
      local st, env = get("/api/v1/nothing", nil)
      assert_error(404, st, env, 404)
      st, env = signed("POST", "/api/v1/card/detail", nil, "{}")
      assert_error(405, st, env, 405)
    end)
  end)

  describe("operate_card_network", function()
    local function ten(first)
      local t = {}
      for n = first, first + 9 do t[#t + 1] = iccid(n) end
      return t
    end

    it("rejects 11 ICCIDs as a whole, accepts 10", function()
      local eleven = ten(2)
      eleven[11] = iccid(12)
      local st, env = post_network(eleven, false)
      assert_error(400, st, env)
      assert.truthy(env.message:find("10", 1, true))
      local s = state()
      assert.equal(0, #s.batches)
      assert.equal(8, s.cards[iccid(2)].cardStatus)
      assert.is_true(s.cards[iccid(2)].network)
      assert.equal(1, #s.network_requests)
      assert.equal(11, s.network_requests[1].count)
      assert.is_false(s.network_requests[1].accepted)

      local d = assert_ok(post_network(ten(2), false))
      -- ...0011 is in LIQUIDATION (18): refused by the switch check
      assert.equal(9, d.successCount)
      assert.equal(1, #d.errorInfo)
      assert.equal(iccid(11), d.errorInfo[1].iccid)
      s = state()
      assert.equal(1, #s.batches)
      assert.equal(11, s.max_iccids_per_request)
      assert.is_true(s.network_requests[2].accepted)
    end)

    it("validates the body", function()
      assert_error(400, post_network({}, true))
      assert_error(400, signed("POST", "/api/v1/card/operation/network", nil, '{"iccids":["' .. ICCID1 .. '"]}'))
      assert_error(400, signed("POST", "/api/v1/card/operation/network", nil,
                               '{"iccids":"' .. ICCID1 .. '","switchOn":true}'))
      assert_error(400, signed("POST", "/api/v1/card/operation/network", nil, '{"iccids":[1],"switchOn":true}'))
      assert_error(400, signed("POST", "/api/v1/card/operation/network", nil, "not json"))
      local st, env = signed("POST", "/api/v1/card/operation/network", nil, '{"iccids":["' .. ICCID1
        .. '"],"switchOn":true}', { headers = { ["Content-Type"] = "text/plain" } })
      assert_error(415, st, env, 415)
      assert.equal(0, #state().batches)
    end)

    it("progresses a batch 1 -> 2 -> 3 on the sandbox clock and applies the switch", function()
      config({ batch_seconds = 100 })
      local d = assert_ok(post_network({ iccid(1), iccid(2) }, false))
      local function statuses()
        local list = assert_ok(get("/api/v1/operation/batch/query/status", { { "batchCode", d.batchCode } }))
        local out = {}
        for i, e in ipairs(list) do out[i] = e.operationCardStatus end
        return out
      end
      assert.same({ 1, 1 }, statuses())
      advance(60)
      assert.same({ 2, 2 }, statuses())
      assert.equal(8, assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(1) } })).cardStatus)
      advance(50)
      assert.same({ 3, 3 }, statuses())
      assert.equal(4, assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(1) } })).cardStatus)
      assert.is_false(state().cards[iccid(2)].network)

      -- and back on
      local d2 = assert_ok(post_network({ iccid(1) }, true))
      assert.are_not.equal(d.batchCode, d2.batchCode)
      advance(101)
      assert.equal(8, assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(1) } })).cardStatus)
      assert.is_true(state().cards[iccid(1)].network)
    end)

    it("fail_iccids end with status 4 and leave the card unchanged", function()
      config({ batch_seconds = 10, fail_iccids = { iccid(2) } })
      local d = assert_ok(post_network({ iccid(1), iccid(2) }, false))
      advance(11)
      local list = assert_ok(get("/api/v1/operation/batch/query/status", { { "batchCode", d.batchCode } }))
      assert.equal(3, list[1].operationCardStatus)
      assert.equal(4, list[2].operationCardStatus)
      assert.equal(4, assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(1) } })).cardStatus)
      assert.equal(8, assert_ok(get("/api/v1/card/detail", { { "iccid", iccid(2) } })).cardStatus)
    end)

    it("pool bindCardStatusCount follows the cards", function()
      config({ batch_seconds = 0 })
      local function count(status)
        local d = assert_ok(get("/api/v1/pool/detail", { { "poolCode", "UP10000001" } }))
        for _, c in ipairs(d.bindCardStatusCount) do
          if c.cardStatus == status then return c.total end
        end
        return 0
      end
      local before = count(4)
      assert_ok(post_network({ iccid(1), iccid(2), iccid(4) }, false))
      assert.equal(before + 3, count(4))
    end)
  end)

  describe("faults", function()
    it("kind=vendor answers the TIBIOT envelope with the given code", function()
      local st = sb:control("POST", "/_sim/fault",
                            { path = "/api/v1/card/detail", kind = "vendor", vendor_code = 500 })
      assert.equal(200, st)
      assert_error(500, get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
      assert_ok(get("/api/v1/card/detail", { { "iccid", ICCID1 } }))
    end)
  end)
end)
