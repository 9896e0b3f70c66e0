-- The TIBIOT client adapter (lua/simkit/vendor/tibiot.lua): unit specs over
-- a fake transport, then end to end against the sandbox (sim/TIBIOT.md).
local simkit = require "simkit"
local json = require "simkit.json"
local core = require "simkit.core"
local signers = require "simkit.vendor.tibiot_signers"
local tibiot = require "simkit.vendor.tibiot"
local sandbox = require "spec.support.sandbox"

local APP_KEY, SECRET = "sandbox-tib-key", "sandbox-tib-secret"
local BASE = "https://tibiot.example.test"

local function iccid(n) return string.format("8986112233445566%04d", n) end

-- Beijing-time dates, independent of the adapter's own arithmetic
local function bj(offset_days)
  return os.date("!%Y-%m-%d", os.time() + 8 * 3600 + (offset_days or 0) * 86400)
end
local function bj_month(back)
  local t = os.date("!*t", os.time() + 8 * 3600)
  local n = t.year * 12 + (t.month - 1) - (back or 0)
  return string.format("%04d-%02d", math.floor(n / 12), n % 12 + 1)
end

local function envelope(data, code, message)
  return json.encode({ code = code or 200, message = message or "success", traceId = "t-123",
    data = data == nil and json.null or data })
end

-- a fake transport: records requests, answers with `answer(req, n)`
local function fake(answer)
  local t = { reqs = {} }
  t.fn = function(req)
    t.reqs[#t.reqs + 1] = req
    local status, body = answer(req, #t.reqs)
    return { status = status, headers = {}, body = body }
  end
  return t
end

local function ok200(data) return function() return 200, envelope(data) end end

local function client(opts)
  local o = { base_url = BASE, app_key = APP_KEY, secret = SECRET, signer = "hmac-sha256",
    sleep = function() end }
  for k, v in pairs(opts or {}) do o[k] = v end
  return simkit.client("tibiot", o)
end

local function header(req, name)
  for k, v in pairs(req.headers) do if k:lower() == name:lower() then return v end end
end

describe("tibiot client", function()
  describe("options", function()
    it("requires base_url", function()
      local e = select(2, pcall(simkit.client, "tibiot", { app_key = "a", secret = "s", signer = "none" }))
      assert.matches("base_url", tostring(e))
    end)

    it("requires a signer and explains the choices", function()
      local ok, e = pcall(simkit.client, "tibiot", { base_url = BASE, app_key = "a", secret = "s" })
      assert.is_false(ok)
      assert.matches("SDK", tostring(e))
      assert.matches("hmac%-sha256", tostring(e))
      ok, e = pcall(simkit.client, "tibiot", { base_url = BASE, signer = "md5" })
      assert.is_false(ok)
      assert.matches("unknown signer", tostring(e))
      ok = pcall(simkit.client, "tibiot", { base_url = BASE, signer = "hmac-sha256" })
      assert.is_false(ok) -- needs app_key and secret
      ok, e = pcall(simkit.client, "tibiot", { base_url = BASE, app_key = "a", secret = "s",
        signer = "hmac-sha256", signer_options = { timestamp_unit = "us" } })
      assert.is_false(ok)
      assert.matches("timestamp_unit", tostring(e))
    end)

    it("never shows the secret", function()
      local c = client()
      assert.falsy(tostring(c):find(SECRET, 1, true))
      assert.truthy(tostring(c):find(APP_KEY, 1, true))
      for _, v in pairs(c) do assert.not_equal(SECRET, v) end
    end)

    it("wait_batch refuses NaN, +-inf and out-of-range timeout / interval before polling", function()
      local c = client()
      for _, o in ipairs({ { timeout = 0 / 0 }, { interval = 0 / 0 }, { timeout = math.huge }, { interval = -math.huge },
        { interval = 0 }, { timeout = -1 }, { timeout = 2 ^ 40 } }) do
        local d, err = c:wait_batch("B1", o)
        assert.is_nil(d)
        assert.equal("input", err.kind)
      end
    end)

    it("offers the 8 operations and wait_batch", function()
      local c = client()
      assert.same({ "card_detail", "get_card_day_usage", "get_card_month_usage", "get_pool_day_usage",
        "get_pool_month_usage", "operate_card_network", "pool_detail", "query_batch_status" }, c:operations())
      assert.is_function(c.wait_batch)
      assert.equal(10, tibiot.max_iccids)
      -- the batch size is in the generated descriptor (no load-time patch)
      local op = require("simkit.vendor.tibiot_ops").operate_card_network
      assert.same({ param = "iccids", size = 10 }, op.batch)
      assert.is_nil(op.params[1].max_items)
      assert.equal(op, tibiot.ops.operate_card_network)
    end)
  end)

  describe("requests (fake transport)", function()
    local cases = {
      { "pool_detail", { poolCode = "UP1" }, "GET", "/api/v1/pool/detail?poolCode=UP1" },
      { "get_pool_month_usage", { poolCode = "UP1", queryMonth = bj_month(0) }, "GET",
        "/api/v1/pool/getPoolMonthUsage?poolCode=UP1&queryMonth=" .. bj_month(0) },
      { "get_pool_day_usage", { poolCode = "UP 1" }, "GET", "/api/v1/pool/getPoolDayUsage?poolCode=UP%201" },
      { "query_batch_status", { batchCode = "B1" }, "GET", "/api/v1/operation/batch/query/status?batchCode=B1" },
      { "card_detail", { iccid = iccid(1) }, "GET", "/api/v1/card/detail?iccid=" .. iccid(1) },
      { "get_card_month_usage", { iccid = iccid(1), queryMonth = bj_month(11) }, "GET",
        "/api/v1/card/getCardMonthUsage?iccid=" .. iccid(1) .. "&queryMonth=" .. bj_month(11) },
      { "get_card_day_usage", { iccid = iccid(1), queryDay = bj(-29) }, "GET",
        "/api/v1/card/getCardDayUsage?iccid=" .. iccid(1) .. "&queryDay=" .. bj(-29) },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local t = fake(ok200({ x = 1 }))
        local c = client({ transport = t.fn })
        local d, err = c[case[1]](c, case[2])
        assert.is_nil(err)
        assert.same({ x = 1 }, d)
        assert.equal(1, #t.reqs)
        assert.equal(case[3], t.reqs[1].method)
        assert.equal(BASE .. case[4], t.reqs[1].url)
        assert.is_nil(t.reqs[1].body)
      end)
    end

    it("operate_card_network posts JSON", function()
      local t = fake(ok200({ successCount = 2, batchCode = "B1", errorInfo = {} }))
      local c = client({ transport = t.fn })
      local r = assert(c:operate_card_network { iccids = { iccid(1), iccid(2) }, switchOn = true })
      assert.equal("POST", t.reqs[1].method)
      assert.equal(BASE .. "/api/v1/card/operation/network", t.reqs[1].url)
      assert.equal("application/json", header(t.reqs[1], "content-type"))
      assert.same({ iccids = { iccid(1), iccid(2) }, switchOn = true }, json.decode(t.reqs[1].body))
      assert.is_true(r.ok)
      assert.same({ "B1" }, r.batch_codes)
      assert.equal(2, r.success_count)
    end)

    it("keeps a path prefix of base_url in the URL and the signed path", function()
      local seen
      local t = fake(ok200({}))
      local c = client({ base_url = BASE .. "/openapi/", transport = t.fn,
        signer = function(req) seen = req.path end })
      assert(c:pool_detail { poolCode = "P" })
      assert.equal(BASE .. "/openapi/api/v1/pool/detail?poolCode=P", t.reqs[1].url)
      assert.equal("/openapi/api/v1/pool/detail", seen)
    end)
  end)

  describe("signer", function()
    it("a function is called once per attempt with the plain request", function()
      local calls = {}
      local t = fake(function(_, n)
        if n == 1 then return 502, "bad gateway" end
        return 200, envelope({ iccid = iccid(1) })
      end)
      local c = client({ transport = t.fn, signer = function(req)
        calls[#calls + 1] = req
        req.headers["X-Mine"] = "m" .. #calls
        req.query.sig = "s" .. #calls
        return { ["X-Sig"] = "sig" .. #calls }
      end })
      local d, err = c:card_detail { iccid = iccid(1) }
      assert.is_nil(err)
      assert.equal(iccid(1), d.iccid)
      assert.equal(2, #calls)
      assert.equal(2, #t.reqs)
      local r = calls[1]
      assert.equal("GET", r.method)
      assert.equal("/api/v1/card/detail", r.path)
      assert.same({ iccid = iccid(1) }, { iccid = r.query.iccid })
      assert.equal("card_detail", r.op)
      assert.equal(APP_KEY, r.app_key)
      assert.equal(SECRET, r.secret)
      assert.equal(BASE .. "/api/v1/card/detail?iccid=" .. iccid(1), r.url)
      assert.is_nil(r.body)
      for i = 1, 2 do
        assert.equal("m" .. i, header(t.reqs[i], "X-Mine"))
        assert.equal("sig" .. i, header(t.reqs[i], "X-Sig"))
        assert.equal(BASE .. "/api/v1/card/detail?iccid=" .. iccid(1) .. "&sig=s" .. i, t.reqs[i].url)
      end
    end)

    it("sees the exact body of a POST", function()
      local body
      local t = fake(ok200({ successCount = 1, batchCode = "B" }))
      local c = client({ transport = t.fn, signer = function(req) body = req.body end })
      assert(c:operate_card_network { iccids = { iccid(1) }, switchOn = false })
      assert.equal(t.reqs[1].body, body)
    end)

    it("a raising signer gives an error, not a crash", function()
      local t = fake(ok200({}))
      local c = client({ transport = t.fn, signer = function() error("boom") end })
      local d, err = c:pool_detail { poolCode = "P" }
      assert.is_nil(d)
      assert.equal("auth", err.kind)
      assert.matches("boom", err.message)
      assert.equal(0, #t.reqs)
    end)

    it("\"none\" adds no header", function()
      local t = fake(ok200({}))
      local c = client({ transport = t.fn, signer = "none" })
      assert(c:pool_detail { poolCode = "P" })
      assert.is_nil(header(t.reqs[1], "X-Signature"))
    end)

    it("hmac-sha256 follows the documented string to sign", function()
      local sts = signers.string_to_sign("GET", "/api/v1/card/detail", { iccid = "89861122334455660001" },
        APP_KEY, "1700000000", "abc123", nil)
      assert.equal("GET\n/api/v1/card/detail\niccid=89861122334455660001\nsandbox-tib-key\n"
        .. "1700000000\nabc123\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sts)
      -- the value asserted by the sandbox's own spec (independent SHA-256)
      assert.equal("c7a6e836ba130292269c244654324961de67c227167dd1274fec9511f251c116",
        core.hmac_sha256(SECRET, sts, "hex"))
      assert.equal("a=%2Fz&a=x%20y&b=2&c=&d=~~%C3%BC",
        signers.canonical_query({ b = "2", a = { "x y", "/z" }, c = "", d = "~~\195\188" }))
    end)

    it("hmac-sha256 headers: names, timestamp units, nonce", function()
      local t = fake(ok200({}))
      local c = client({ transport = t.fn })
      assert(c:pool_detail { poolCode = "P" })
      local h = t.reqs[1]
      assert.equal(APP_KEY, header(h, "X-App-Key"))
      assert.matches("^%d+$", header(h, "X-Timestamp"))
      assert.is_true(math.abs(tonumber(header(h, "X-Timestamp")) - os.time()) < 5)
      assert.matches("^" .. string.rep("[0-9a-f]", 32) .. "$", header(h, "X-Nonce"))
      assert.matches("^" .. string.rep("[0-9a-f]", 64) .. "$", header(h, "X-Signature"))
      local sts = signers.string_to_sign("GET", "/api/v1/pool/detail", { poolCode = "P" }, APP_KEY,
        header(h, "X-Timestamp"), header(h, "X-Nonce"), nil)
      assert.equal(core.hmac_sha256(SECRET, sts, "hex"), header(h, "X-Signature"))

      t = fake(ok200({}))
      c = client({ transport = t.fn, signer_options = { timestamp_unit = "ms",
        headers = { signature = "X-Sign", app_key = "X-Key" } } })
      assert(c:pool_detail { poolCode = "P" })
      assert.is_true(math.abs(tonumber(header(t.reqs[1], "X-Timestamp")) / 1000 - os.time()) < 5)
      assert.is_not_nil(header(t.reqs[1], "X-Sign"))
      assert.equal(APP_KEY, header(t.reqs[1], "X-Key"))
      assert.is_nil(header(t.reqs[1], "X-Signature"))
    end)
  end)

  describe("envelope", function()
    it("code 200 (integer or string) is success", function()
      local c = client({ transport = fake(function() return 200, '{"code":"200","data":{"a":1}}' end).fn })
      assert.same({ a = 1 }, (c:pool_detail { poolCode = "P" }))
    end)

    it("other codes are vendor / auth errors with the trace id", function()
      local c = client({ transport = fake(function() return 200, envelope(nil, 404, "pool not found") end).fn })
      local d, err = c:pool_detail { poolCode = "P" }
      assert.is_nil(d)
      assert.equal("vendor", err.kind)
      assert.equal("404", err.code)
      assert.equal("pool not found", err.message)
      assert.equal("t-123", err.trace_id)
      assert.matches("t%-123", tostring(err))
      c = client({ transport = fake(function() return 200, envelope(nil, 401, "unauthorized") end).fn })
      err = select(2, c:pool_detail { poolCode = "P" })
      assert.equal("auth", err.kind)
    end)

    it("HTTP errors and bad JSON", function()
      local t = fake(function() return 503, "<html>down</html>" end)
      local c = client({ transport = t.fn, retries = 1 })
      local err = select(2, c:pool_detail { poolCode = "P" })
      assert.equal("http", err.kind)
      assert.equal(503, err.status)
      assert.equal(2, #t.reqs) -- a read: retried
      c = client({ transport = fake(function() return 200, '{"code":200,' end).fn, retries = 0 })
      err = select(2, c:pool_detail { poolCode = "P" })
      assert.equal("decode", err.kind)
      c = client({ transport = fake(function() return 404, envelope(nil, 404, "no route") end).fn })
      err = select(2, c:pool_detail { poolCode = "P" })
      assert.equal("http", err.kind)
      assert.equal("t-123", err.trace_id)
    end)

    it("a network operation (a write) is never retried", function()
      local t = fake(function() return 502, "bad gateway" end)
      local c = client({ transport = t.fn, retries = 3 })
      local d, err = c:operate_card_network { iccids = { iccid(1) }, switchOn = true }
      assert.is_nil(d)
      assert.equal("http", err.kind)
      assert.equal(1, #t.reqs)
      assert.is_table(err.result)
      assert.is_false(err.result.ok)
    end)
  end)

  describe("input validation (nothing sent)", function()
    local bad = {
      { "card_detail", {} },
      { "card_detail", { iccid = "8986" } },
      { "card_detail", { iccid = "8986112233445566000A" } },
      { "card_detail", { iccid = "898611223344556600011" } },
      { "card_detail", { iccid = iccid(1), extra = 1 } },
      { "get_card_month_usage", { iccid = iccid(1), queryMonth = "2025-13" } },
      { "get_card_month_usage", { iccid = iccid(1), queryMonth = "2025-4" } },
      { "get_card_month_usage", { iccid = iccid(1), queryMonth = bj_month(12) } },
      { "get_card_month_usage", { iccid = iccid(1), queryMonth = bj_month(-1) } },
      { "get_pool_month_usage", { poolCode = "P" } },
      { "get_card_day_usage", { iccid = iccid(1), queryDay = "2025-02-30" } },
      { "get_card_day_usage", { iccid = iccid(1), queryDay = bj(-30) } },
      { "get_card_day_usage", { iccid = iccid(1), queryDay = bj(1) } },
      { "get_pool_day_usage", { poolCode = "P", queryDay = "2025/04/01" } },
      { "operate_card_network", { iccids = {}, switchOn = true } },
      { "operate_card_network", { iccids = { iccid(1) } } },
      { "operate_card_network", { iccids = { iccid(1) }, switchOn = "yes" } },
      { "operate_card_network", { iccids = { iccid(1), "123" }, switchOn = true } },
      { "operate_card_network", { iccids = iccid(1), switchOn = true } },
      { "query_batch_status", {} },
    }
    for i, case in ipairs(bad) do
      it("#" .. i .. " " .. case[1], function()
        local t = fake(ok200({}))
        local c = client({ transport = t.fn })
        local d, err = c[case[1]](c, case[2])
        assert.is_nil(d)
        assert.equal("input", err.kind)
        assert.equal(0, #t.reqs)
      end)
    end

    it("accepts the window edges and a leap day shape", function()
      local t = fake(ok200({}))
      local c = client({ transport = t.fn })
      assert(c:get_card_day_usage { iccid = iccid(1), queryDay = bj(0) })
      assert(c:get_card_day_usage { iccid = iccid(1), queryDay = bj(-29) })
      assert(c:get_pool_month_usage { poolCode = "P", queryMonth = bj_month(0) })
      assert(c:get_pool_month_usage { poolCode = "P", queryMonth = bj_month(11) })
      c = client({ transport = t.fn, check_dates = false })
      assert(c:get_card_day_usage { iccid = iccid(1), queryDay = "2024-02-29" })
      local err = select(2, c:get_card_day_usage { iccid = iccid(1), queryDay = "2023-02-29" })
      assert.equal("input", err.kind)
    end)
  end)

  describe("network operation chunks (fake transport)", function()
    it("25 ICCIDs -> 3 requests of at most 10, one aggregated result", function()
      local seq = 0
      local t = fake(function(req)
        seq = seq + 1
        local b = json.decode(req.body)
        return 200, envelope({ successCount = #b.iccids, batchCode = "B" .. seq, errorInfo = {} })
      end)
      local c = client({ transport = t.fn })
      local list = {}
      for i = 1, 25 do list[i] = iccid(i) end
      local r = assert(c:operate_card_network { iccids = list, switchOn = true })
      assert.equal(3, #t.reqs)
      local sizes, all = {}, {}
      for i, req in ipairs(t.reqs) do
        local b = json.decode(req.body)
        sizes[i] = #b.iccids
        for _, x in ipairs(b.iccids) do all[#all + 1] = x end
      end
      assert.same({ 10, 10, 5 }, sizes)
      assert.same(list, all)
      assert.same({ "B1", "B2", "B3" }, r.batch_codes)
      assert.equal(25, r.success_count)
      assert.equal(3, #r.chunks)
      assert.is_true(r.ok)
      assert.same({}, r.errors)
    end)

    it("duplicates are removed, order kept", function()
      local t = fake(ok200({ successCount = 2, batchCode = "B" }))
      local c = client({ transport = t.fn })
      local r = assert(c:operate_card_network { iccids = { iccid(2), iccid(1), iccid(2) }, switchOn = true })
      assert.same({ iccid(2), iccid(1) }, json.decode(t.reqs[1].body).iccids)
      assert.equal(1, r.duplicates_removed)
    end)

    it("a failing chunk does not stop or hide the others", function()
      local t = fake(function(_, n)
        if n == 2 then return 200, envelope(nil, 500, "internal") end
        return 200, envelope({ successCount = 9, batchCode = "B" .. n,
          errorInfo = { { iccid = n == 1 and iccid(3) or iccid(23), infoMessage = "nope" } } })
      end)
      local c = client({ transport = t.fn })
      local list = {}
      for i = 1, 25 do list[i] = iccid(i) end
      local r = assert(c:operate_card_network { iccids = list, switchOn = false })
      assert.equal(3, #t.reqs)
      assert.is_false(r.ok)
      assert.same({ "B1", "B3" }, r.batch_codes)
      assert.equal(18, r.success_count)
      assert.equal("vendor", r.chunks[2].err.kind)
      assert.is_nil(r.chunks[1].err)
      assert.equal(12, #r.errors)
      assert.same({ iccid = iccid(3), message = "nope" }, r.errors[1])
      assert.equal(iccid(11), r.errors[2].iccid)
      assert.equal("internal", r.errors[2].message)
      assert.equal(iccid(23), r.errors[12].iccid)
    end)
  end)

  describe("against the sandbox", function()
    local sb, c
    setup(function() sb = sandbox.start() end)
    teardown(function() if sb then sb:stop() end end)
    before_each(function()
      sb:reset()
      c = simkit.client("tibiot", { base_url = sb.url, app_key = APP_KEY, secret = SECRET,
        signer = "hmac-sha256", retries = 0,
        sleep = function(s) sb:control("POST", "/_sim/advance", { seconds = s }) end })
    end)
    local function state() return sb:state("tibiot") end
    local function config(t) assert.equal(200, (sb:control("POST", "/_sim/config", { tibiot = t }))) end

    it("every endpoint", function()
      local st = state()
      local d = assert(c:pool_detail { poolCode = "UP10000001" })
      assert.equal("UP10000001", d.upoolCode)
      d = assert(c:get_pool_month_usage { poolCode = "UP10000001", queryMonth = st.month })
      assert.equal(st.month, d.month)
      d = assert(c:get_pool_day_usage { poolCode = "UP10000001" })
      assert.equal(st.today, d.day)
      d = assert(c:card_detail { iccid = iccid(1) })
      assert.equal(iccid(1), d.iccid)
      d = assert(c:get_card_month_usage { iccid = iccid(1), queryMonth = st.month })
      assert.is_true(d.useFlowKb > 0)
      local day = assert(c:get_card_day_usage { iccid = iccid(1), queryDay = st.today })
      assert.equal(st.today, day.day)
      local r = assert(c:operate_card_network { iccids = { iccid(1) }, switchOn = false })
      assert.equal(1, r.success_count)
      local list = assert(c:query_batch_status { batchCode = r.batch_codes[1] })
      assert.equal(iccid(1), list[1].iccid)
      local err = select(2, c:pool_detail { poolCode = "NOPE" })
      assert.equal("vendor", err.kind)
      assert.equal("404", err.code)
      assert.is_string(err.trace_id)
    end)

    it("a wrong secret is rejected as auth with a trace id", function()
      local bad = simkit.client("tibiot", { base_url = sb.url, app_key = APP_KEY, secret = "wrong",
        signer = "hmac-sha256" })
      local d, err = bad:card_detail { iccid = iccid(1) }
      assert.is_nil(d)
      assert.equal("auth", err.kind)
      assert.equal("401", err.code)
      assert.matches("^%x+$", err.trace_id)
      assert.not_matches("wrong", tostring(err))
    end)

    it("custom header names and ms timestamps, as configured in the sandbox", function()
      config({ timestamp_unit = "ms", headers = { signature = "X-Sign" } })
      local c2 = simkit.client("tibiot", { base_url = sb.url, app_key = APP_KEY, secret = SECRET,
        signer = "hmac-sha256", signer_options = { timestamp_unit = "ms", headers = { signature = "X-Sign" } } })
      assert(c2:card_detail { iccid = iccid(1) })
      assert.equal("auth", select(2, c:card_detail { iccid = iccid(1) }).kind)
    end)

    it("a signer function's headers are what is sent", function()
      config({ verifier = "record-only" })
      local n = 0
      local c2 = simkit.client("tibiot", { base_url = sb.url, signer = function(req)
        n = n + 1
        req.headers["X-App-Key"] = "k"
        return { ["X-Timestamp"] = "1", ["X-Nonce"] = "n" .. n, ["X-Signature"] = req.method .. req.path }
      end })
      assert(c2:card_detail { iccid = iccid(1) })
      local seen = state().auth_seen
      local last = seen[#seen]
      assert.same({ app_key = "k", timestamp = "1", nonce = "n1", signature = "GET/api/v1/card/detail" },
        last.headers)
    end)

    it("25 ICCIDs -> 3 requests of at most 10; unknown ICCIDs reported", function()
      local list = {}
      for i = 1, 24 do list[i] = iccid(i) end
      list[25] = "89861122334455669999"
      local r = assert(c:operate_card_network { iccids = list, switchOn = true })
      local st = state()
      assert.equal(3, #st.network_requests)
      assert.is_true(st.max_iccids_per_request <= 10)
      assert.equal(3, #r.batch_codes)
      assert.equal(22, r.success_count) -- ...0011 (18) and ...0013 (99) refused, one unknown
      assert.is_false(r.ok)
      local bad = {}
      for _, e in ipairs(r.errors) do bad[#bad + 1] = e.iccid end
      table.sort(bad)
      assert.same({ iccid(11), iccid(13), "89861122334455669999" }, bad)
    end)

    it("partial failure: one chunk fails (fault), the others go through", function()
      sb:fault { path = "/api/v1/card/operation/network", kind = "vendor", vendor_code = 500, count = 1 }
      local list = {}
      for i = 1, 12 do list[i] = iccid(i + 12) end -- 13..24
      local r = assert(c:operate_card_network { iccids = list, switchOn = true })
      assert.is_false(r.ok)
      assert.equal("vendor", r.chunks[1].err.kind)
      assert.is_string(r.chunks[1].err.trace_id)
      assert.equal(1, #r.batch_codes)
      assert.equal(2, r.success_count)
      assert.equal(10, #r.errors)
      assert.equal(iccid(13), r.errors[1].iccid)
    end)

    it("wait_batch: done and failed", function()
      config({ fail_iccids = { iccid(2) } })
      local r = assert(c:operate_card_network { iccids = { iccid(1), iccid(2), iccid(3) }, switchOn = false })
      local res, err = c:wait_batch(r.batch_codes, { timeout = 30, interval = 1 })
      assert.is_nil(err)
      assert.equal(3, res.total)
      assert.equal(2, res.done)
      assert.equal(1, res.failed)
      assert.equal(3, #res)
      for _, e in ipairs(res) do
        assert.equal(e.iccid == iccid(2) and 4 or 3, e.operationCardStatus)
        assert.equal(r.batch_codes[1], e.batchCode)
      end
      assert.equal(4, assert(c:card_detail { iccid = iccid(1) }).cardStatus)
      -- a single code as a string works too
      assert.equal(3, assert(c:wait_batch(r.batch_codes[1])).total)
    end)

    it("wait_batch: several batches", function()
      local list = {}
      for i = 1, 12 do list[i] = iccid(i) end
      local r = assert(c:operate_card_network { iccids = list, switchOn = true })
      local res = assert(c:wait_batch(r.batch_codes, { timeout = 30, interval = 1 }))
      assert.equal(r.success_count, res.done)
    end)

    it("wait_batch: timeout", function()
      config({ batch_seconds = 100 })
      local r = assert(c:operate_card_network { iccids = { iccid(1) }, switchOn = true })
      local res, err = c:wait_batch(r.batch_codes[1], { timeout = 3, interval = 1 })
      assert.is_nil(res)
      assert.equal("vendor", err.kind)
      assert.equal("timeout", err.code)
      assert.same(r.batch_codes, err.pending)
    end)

    it("wait_batch: bad input and unknown batch", function()
      assert.equal("input", select(2, c:wait_batch(nil)).kind)
      assert.equal("input", select(2, c:wait_batch({})).kind)
      local err = select(2, c:wait_batch("B-unknown", { timeout = 1 }))
      assert.equal("vendor", err.kind)
      assert.equal("404", err.code)
    end)
  end)
end)
