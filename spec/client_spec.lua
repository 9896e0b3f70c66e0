-- The request pipeline with a fake transport: validation before sending,
-- error kinds, retries (reads only, re-signed each attempt), secrets hidden,
-- pagination.
local simkit = require "simkit"
local json = simkit.json

local SECRET = "TOP-SECRET-VALUE"

local function fake(responses)
  local calls = {}
  local function transport(req)
    calls[#calls + 1] = req
    local r = responses[math.min(#calls, #responses)]
    if type(r) == "function" then return r(req, #calls) end
    if r.err then return nil, r.err, r.category end
    return { status = r.status or 200, headers = r.headers or {}, body = r.body }
  end
  return transport, calls
end

local function client(transport, extra)
  local opts = { appkey = "ak1", secret = SECRET, base_url = "https://eiot.test", transport = transport,
    backoff = { base = 0.001, max = 0.01 }, sleep = function() end, rate_limit = false }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return simkit.client("eiotclub", opts)
end

local OK_CARD = '{"code":"200","message":"ok","data":{"iccid":"89852012345678901234","flow":12.5,"id":1234567890123456789}}'

describe("simkit.client", function()
  it("raises on programming errors", function()
    assert.has_error(function() simkit.client("nope", {}) end)
    assert.has_error(function() simkit.client("eiotclub", "x") end)
    assert.has_error(function() simkit.client("eiotclub", { secret = "s" }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a" }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", timeout = "10" }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", timeout = -1 }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", retries = 1.5 }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", base_url = "ftp://x" }) end)
  end)

  it("raises on a misspelt operation, naming the closest ones", function()
    local c = client(fake({ { body = OK_CARD } }))
    local ok, err = pcall(function() return c:get_card_info { iccid = "1" } end)
    assert.is_false(ok)
    assert.matches("no operation or method 'get_card_info'", tostring(err), 1, true)
    assert.matches("did you mean 'get_cards_info'", tostring(err), 1, true)
    local hw = simkit.client("huawei", { ak = "A", sk = "S", project_id = "p", transport = fake({}), rate_limit = false })
    ok, err = pcall(function() return hw:list_sim_card {} end)
    assert.is_false(ok)
    assert.matches("'list_sim_cards'", tostring(err), 1, true)
    -- nothing close: still raises, pointing at client:operations()
    ok, err = pcall(function() return c:zzzzzzzz() end)
    assert.is_false(ok)
    assert.matches("client:operations()", tostring(err), 1, true)
    -- an unknown name through call() is an input error, not a raise
    local d, e = c:call("get_card_info", {})
    assert.is_nil(d)
    assert.equal("input", e.kind)
  end)

  it("rejects NaN, +-inf and out-of-range numbers in every numeric option", function()
    local nan, inf = 0 / 0, math.huge
    for _, k in ipairs({ "timeout", "connect_timeout", "retries", "max_retry_wait", "max_body" }) do
      for _, v in ipairs({ nan, inf, -inf, -1, 2 ^ 60 }) do
        local ok, err = pcall(simkit.client, "eiotclub", { appkey = "a", secret = "s", [k] = v })
        assert.is_false(ok, k .. "=" .. tostring(v))
        assert.matches("option '" .. k .. "'", tostring(err), 1, true)
      end
    end
    for _, v in ipairs({ nan, inf, -1 }) do
      assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", backoff = { base = v } }) end)
      assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", backoff = { max = v } }) end)
      assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", clock_offset = v * inf }) end)
      assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", rate_limit = v }) end)
      assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", order_timeout = v }) end)
    end
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", backoff = { bsae = 1 } }) end)
    assert.has_error(function() simkit.client("eiotclub", { appkey = "a", secret = "s", store = {} }) end)
  end)

  it("passes deadlines and the size cap to the transport: connect_timeout = min(timeout, 3), max_body 8 MB",
      function()
    local t, calls = fake({ { body = OK_CARD } })
    assert(client(t):get_cards_info { iccid = "1" })
    assert(client(t, { timeout = 2 }):get_cards_info { iccid = "1" })
    assert(client(t, { timeout = 20, connect_timeout = 5, max_body = 1000 }):get_cards_info { iccid = "1" })
    assert.same({ 10, 3, 8 * 1024 * 1024 }, { calls[1].timeout, calls[1].connect_timeout, calls[1].max_body })
    assert.same({ 2, 2 }, { calls[2].timeout, calls[2].connect_timeout })
    assert.same({ 20, 5, 1000 }, { calls[3].timeout, calls[3].connect_timeout, calls[3].max_body })
  end)

  it("maps a too large answer to a transport error that is never retried", function()
    local t, calls = fake({ { err = "answer larger than max_body", category = "too_large" } })
    local _, err = client(t, { retries = 3 }):get_cards_info { iccid = "1" }
    assert.equal("transport", err.kind)
    assert.equal("too_large", err.category)
    assert.is_false(err.retryable)
    assert.equal(1, #calls)
    -- a connect failure: nothing sent, retried for a read, retryable for a write
    local t2, calls2 = fake({ { err = "refused", category = "connect" } })
    local _, e2 = client(t2, { retries = 1 }):get_cards_info { iccid = "1" }
    assert.is_false(e2.sent)
    assert.equal(2, #calls2)
    -- a transport that knows the request never left says so (4th value)
    local t3 = fake({ function() return nil, "timed out before sending", "timeout", false end })
    local _, e3 = client(t3):bind_device { iccid = "1", imei = "2" }
    assert.is_false(e3.sent)
    assert.is_true(e3.retryable)
  end)

  it("treats a malformed transport answer and a junk Retry-After as data, never a raise", function()
    for _, bad in ipairs({ "x", {}, { status = "200", body = OK_CARD }, { status = 0 / 0, body = OK_CARD },
      { status = 200, body = {} } }) do
      local _, err = client(function() return bad end, { retries = 0 }):get_cards_info { iccid = "1" }
      assert.equal("transport", err.kind)
      assert.equal("protocol", err.category)
    end
    local common = require "simkit.vendor.common"
    for _, v in ipairs({ "1e999", "-1", "nan", "inf", "999999999999", "Wed, 21 Oct 9999 07:28:00 GMT" }) do
      assert.is_nil(common.retry_after({ ["retry-after"] = v }), v)
    end
    assert.equal(3, common.retry_after({ ["Retry-After"] = "3" }))
    local t, calls = fake({ { status = 429, headers = { ["retry-after"] = "1e999" }, body = "slow down" },
      { body = OK_CARD } })
    assert(client(t):get_cards_info { iccid = "1" })
    assert.equal(2, #calls)
  end)

  it("pages go through the call hook and validation like single calls; bad page arguments raise", function()
    local c = client(fake({ { body = OK_CARD } }))
    assert.has_error(function() c:pages("get_all_card_info", "x") end)
    assert.has_error(function() c:pages("get_all_card_info", { pageNum = 0 / 0 }) end)
    assert.has_error(function() c:pages("get_all_card_info", { pageNum = math.huge }) end)
    assert.has_error(function() c:pages("get_cards_info", {}) end)
    local it_ = c:pages("get_all_card_info", { bogus = 1 })
    local item, err = it_()
    assert.is_false(item)
    assert.equal("input", err.kind)
  end)

  it("never repeats an EIOTCLUB nonce within 90000 requests", function()
    local eiot = require "simkit.vendor.eiotclub"
    local seen, first = {}, eiot.next_nonce()
    seen[first] = true
    for _ = 2, 90000 do
      local n = eiot.next_nonce()
      assert(n >= 10000 and n <= 99999 and not seen[n], "nonce " .. n)
      seen[n] = true
    end
    assert.equal(first, eiot.next_nonce()) -- the walk wraps after every value was used
  end)

  it("raises on an unknown option, naming the right one, never echoing values", function()
    local function msg(vendor, opts)
      local ok, err = pcall(simkit.client, vendor, opts)
      assert.is_false(ok)
      return tostring(err)
    end
    -- Huawei calls it endpoint: base_url must not be ignored (that would reach production)
    local m = msg("huawei", { ak = "AK", sk = "SECRETSK", project_id = "p", base_url = "http://127.0.0.1:1" })
    assert.matches("unknown option 'base_url' for huawei %(did you mean 'endpoint'%?%)", m)
    assert.is_nil(m:find("SECRETSK", 1, true))
    assert.matches("did you mean 'base_url'", msg("eiotclub", { appkey = "a", secret = "s", endpoint = "http://x" }))
    assert.matches("did you mean 'appkey'", msg("eiotclub", { appKey = "a", secret = "s" }))
    assert.matches("did you mean 'app_key'", msg("tibiot", { appkey = "a", secret = "s", signer = "hmac-sha256" }))
    assert.matches("unknown option 'ratelimit' for eiotclub %(did you mean 'rate_limit'%?%)",
      msg("eiotclub", { appkey = "a", secret = "s", ratelimit = false }))
    assert.matches("option names must be strings", msg("eiotclub", { appkey = "a", secret = "s", [1] = true }))
  end)

  it("sends one signed JSON POST and returns the data with exact integers", function()
    local t, calls = fake({ { body = OK_CARD } })
    local c = client(t)
    local data, err = c:get_cards_info { iccid = "89852012345678901234" }
    assert.is_nil(err)
    assert.equal("89852012345678901234", data.iccid)
    if math.type then
      assert.equal(1234567890123456789, data.id)
      assert.equal("integer", math.type(data.id))
    end
    assert.equal(1, #calls)
    local req = calls[1]
    assert.equal("POST", req.method)
    assert.equal("https://eiot.test/api/v3/card/getCardsInfo", req.url)
    assert.equal("application/json;charset=utf-8", req.headers["Content-Type"])
    local body = json.decode(req.body)
    assert.equal("ak1", body.appkey)
    assert.equal("89852012345678901234", body.iccid)
    assert.is_true(body.nonce >= 10000 and body.nonce <= 99999)
    assert.is_true(math.abs(body.timestamp - os.time()) < 5)
    local unsigned = {}
    for k, v in pairs(body) do if k ~= "sign" then unsigned[k] = v end end
    assert.equal(simkit.sign.eiotclub(unsigned, SECRET), body.sign)
    assert.is_nil(req.body:find(SECRET, 1, true))
  end)

  it("rejects bad arguments with kind=input before sending", function()
    local t, calls = fake({ { body = OK_CARD } })
    local c = client(t)
    local cases = {
      { "get_cards_info", {} },
      { "get_cards_info", { iccid = {} } },
      { "get_cards_info", { iccid = "1", bogus = 1 } },
      { "sms_send_sms", { iccid = "1", message = string.rep("x", 301) } },
      { "order_package", { iccid = "1", packageCode = "p", outTradeNo = string.rep("1", 33) } },
      { "get_all_card_info", { pageNum = "x" } },
      { "get_all_card_info", { pageNum = "1", cardStatus = "WRONG" } },
      { "reset", { iccids = {} } },
      { "get_order_package_details", { outTradeNoArrStr = (("a,"):rep(51)):sub(1, -2) } },
      { "switch_operator", { network = "ALL" } },
      { "cdr_traffic_query", { dateType = "daily", iccids = "1", startDate = "2026-13-01", endDate = "2026-01-02" } },
    }
    for _, case in ipairs(cases) do
      local data, err = c[case[1]](c, case[2])
      assert.is_nil(data, case[1])
      assert.equal("input", err.kind, case[1])
      assert.equal(case[1], err.op)
      assert.equal("eiotclub", err.vendor)
      assert.is_false(err.retryable)
    end
    assert.equal(0, #calls)
    local _, err = c:call("no_such_op", {})
    assert.equal("input", err.kind)
    _, err = c:get_cards_info("x")
    assert.equal("input", err.kind)
  end)

  it("accepts arrays for comma-separated lists and numbers for numeric strings", function()
    local t, calls = fake({ { body = '{"code":"200","message":"ok","data":{"cardInfoList":[],"totalPage":0}}' } })
    local c = client(t)
    assert.truthy(c:get_all_card_info { pageNum = 1, iccids = { "111", "222" } })
    local body = json.decode(calls[1].body)
    assert.equal("111,222", body.iccids)
    assert.equal("1", body.pageNum)
    -- integer lists: exact digits (LuaJIT's tostring would write 1e+14), items typed either way
    assert.truthy(c:package_order_record { iccid = "1", orderIdArrStr = { 100000000000001, "007" } })
    assert.equal("100000000000001,7", json.decode(calls[2].body).orderIdArrStr)
    for _, bad in ipairs({ "abc,xyz", { 1, "x" }, "1,,2" }) do
      local d, err = c:package_order_record { iccid = "1", orderIdArrStr = bad }
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.equal("orderIdArrStr", err.param)
    end
    assert.equal(2, #calls)
  end)

  it("maps vendor codes to error kinds with code, message and retryable", function()
    local cases = {
      { '{"code":"42402","message":"bad sign"}', "auth", false },
      { '{"code":"41003","message":"iccid wrong"}', "vendor", false },
      { '{"code":"44001","message":"once per 5 min"}', "rate_limited", true },
      { '{"code":500,"message":"later"}', "vendor", true },
    }
    for _, case in ipairs(cases) do
      local t = fake({ { body = case[1] } })
      local c = client(t, { retries = 0 })
      local data, err = c:get_cards_info { iccid = "1" }
      assert.is_nil(data)
      assert.equal(case[2], err.kind, case[1])
      assert.equal(case[3], err.retryable, case[1])
      assert.equal(json.decode(case[1]).code .. "", err.code)
      assert.equal(200, err.status)
    end
    local t = fake({ { body = '{"code":"44001","message":"x"}' } })
    local _, err = client(t):refresh_usage { iccid = "1" }
    assert.equal("rate_limited", err.kind)
    assert.equal(300, err.retry_after)
    -- data sent next to an error code is kept as it came (and stays out of tostring)
    t = fake({ { body = '{"code":503016,"message":"dup","data":{"orderId":"77"}}' } })
    _, err = client(t, { retries = 0 }):get_cards_info { iccid = "1" }
    assert.equal("77", err.data.orderId)
    assert.is_nil(tostring(err):find("77", 1, true))
    t = fake({ { body = '{"code":"41003","message":"x","data":null}' } })
    _, err = client(t, { retries = 0 }):get_cards_info { iccid = "1" }
    assert.is_nil(err.data)
  end)

  it("reports http, decode and transport failures by kind", function()
    local cases = {
      { { status = 502, body = "<html><body>Bad Gateway</body></html>" }, "http" },
      { { status = 429, headers = { ["retry-after"] = "3" }, body = "" }, "rate_limited" },
      { { status = 200, body = '{"code":"200","mess' }, "decode" },
      { { status = 200, body = "<html>oops</html>" }, "decode" },
      { { status = 200, body = '[1,2]' }, "decode" },
      { { status = 200, body = 'false' }, "decode" }, -- a JSON value without the envelope
      { { status = 200, body = 'null' }, "decode" },
      { { status = 200, body = '' }, "decode" },
      { { err = "Operation timed out", category = "timeout" }, "transport" },
    }
    for _, case in ipairs(cases) do
      local t = fake({ case[1] })
      local _, err = client(t, { retries = 0 }):get_cards_info { iccid = "1" }
      assert.equal(case[2], err.kind)
      assert.matches("get_cards_info", tostring(err))
    end
    local _, err = client(fake({ { status = 429, headers = { ["retry-after"] = "3" }, body = "" } }), { retries = 0 })
      :get_cards_info { iccid = "1" }
    assert.equal(3, err.retry_after)
  end)

  it("retries reads with fresh signatures, up to the limit", function()
    local t, calls = fake({ { err = "reset", category = "reset" }, { status = 503, body = "busy" },
      { body = OK_CARD } })
    local slept = {}
    local c = client(t, { sleep = function(s) slept[#slept + 1] = s end })
    local data, err = c:get_cards_info { iccid = "1" }
    assert.is_nil(err)
    assert.truthy(data)
    assert.equal(3, #calls)
    assert.equal(2, #slept)
    local signs = {}
    for _, req in ipairs(calls) do signs[json.decode(req.body).sign] = true end
    local s = 0
    for _ in pairs(signs) do s = s + 1 end
    assert.equal(3, s) -- re-signed, with a new nonce each time

    local t2, calls2 = fake({ { err = "reset", category = "reset" } })
    local _, err2 = client(t2, { retries = 2 }):get_cards_info { iccid = "1" }
    assert.equal("transport", err2.kind)
    assert.equal(3, #calls2)
    assert.equal(3, err2.attempts)
  end)

  it("never retries a write, and says a timed-out write is not blindly retryable", function()
    local t, calls = fake({ { err = "timed out", category = "timeout" } })
    local c = client(t, { retries = 5 })
    local _, err = c:bind_device { iccid = "1", imei = "2" }
    assert.equal(1, #calls)
    assert.equal("transport", err.kind)
    assert.is_false(err.retryable)
    local t2, calls2 = fake({ { status = 503, body = "x" } })
    local _, err2 = client(t2, { retries = 5 }):sms_send_sms { iccid = "1", message = "hi" }
    assert.equal(1, #calls2)
    assert.equal("http", err2.kind)
    -- nothing was sent: the caller may retry
    local t3 = fake({ { err = "refused", category = "connect" } })
    local _, err3 = client(t3):bind_device { iccid = "1", imei = "2" }
    assert.is_true(err3.retryable)
  end)

  it("flags a failed write retryable only when it was certainly not processed", function()
    local cases = {
      { { status = 502, body = "bad gateway" }, false },
      { { body = '{"code":500,"message":"system error"}' }, false },
      { { err = "connection refused", category = "connect" }, true },
      { { err = "timed out", category = "timeout" }, false },
      { { body = '{"code":"44001","message":"once per 5 min"}' }, true },
    }
    for i, case in ipairs(cases) do
      local t, calls = fake({ case[1] })
      local _, err = client(t, { retries = 2 }):sms_send_sms { iccid = "1", message = "hi" }
      assert.equal(case[2], err.retryable, "case " .. i .. ": " .. tostring(err))
      assert.equal(1, #calls, "case " .. i)
    end
    -- the same answers on a read stay retryable
    local t = fake({ { status = 502, body = "bad gateway" } })
    local _, err = client(t, { retries = 0 }):get_cards_info { iccid = "1" }
    assert.is_true(err.retryable)
  end)

  it("resends a write only when the vendor says it rejected it unprocessed (501)", function()
    local t, calls = fake({ { body = '{"code":"501","message":"Too many requests."}' },
      { body = '{"code":"200","message":"ok"}' } })
    assert.is_true(client(t):bind_device { iccid = "1", imei = "2" })
    assert.equal(2, #calls)
    local t2, calls2 = fake({ { body = '{"code":"500","message":"try later"}' } })
    local _, err = client(t2):bind_device { iccid = "1", imei = "2" }
    assert.equal(1, #calls2)
    assert.equal("500", err.code)
  end)

  it("reads Retry-After in any header case, as seconds or an HTTP-date", function()
    local common = require "simkit.vendor.common"
    local util = require "simkit.util"
    assert.equal(3, common.retry_after({ ["Retry-After"] = "3" }))
    assert.equal(0, common.retry_after({ ["retry-after"] = 0 }))
    assert.is_nil(common.retry_after({ ["retry-after"] = "-1" }))
    assert.is_nil(common.retry_after({ ["retry-after"] = "soon" }))
    assert.is_nil(common.retry_after({}))
    assert.is_nil(common.retry_after(nil))
    local real_now = util.now
    util.now = function() return 1445412470 end -- 2015-10-21 07:27:50 UTC
    local ok, a, b = pcall(function()
      return common.retry_after({ ["RETRY-AFTER"] = "Wed, 21 Oct 2015 07:28:00 GMT" }),
        common.retry_after({ ["retry-after"] = "Wed, 21 Oct 2015 07:00:00 GMT" })
    end)
    util.now = real_now
    assert(ok, a)
    assert.equal(10, a)
    assert.equal(0, b) -- a date in the past: no wait
  end)

  it("honours Retry-After and gives up when it is longer than max_retry_wait", function()
    local t, calls = fake({ { status = 429, headers = { ["retry-after"] = "60" }, body = "" } })
    local _, err = client(t, { max_retry_wait = 5 }):get_cards_info { iccid = "1" }
    assert.equal(1, #calls)
    assert.equal("rate_limited", err.kind)
    local slept = {}
    local t2, calls2 = fake({ { status = 429, headers = { ["retry-after"] = "1" }, body = "" }, { body = OK_CARD } })
    assert.truthy(client(t2, { sleep = function(s) slept[#slept + 1] = s end }):get_cards_info { iccid = "1" })
    assert.equal(2, #calls2)
    assert.equal(1, slept[1])
  end)

  it("keeps secrets out of tostring, errors and logs", function()
    local lines = {}
    local t = fake({ { status = 500, body = "x" } })
    local c = client(t, { retries = 1, logger = function(level, msg) lines[#lines + 1] = level .. msg end })
    assert.is_nil(tostring(c):find(SECRET, 1, true))
    for k, v in pairs(c) do
      assert.is_nil(tostring(k):find(SECRET, 1, true))
      if type(v) == "table" then
        for _, x in pairs(v) do assert.is_nil(tostring(x):find(SECRET, 1, true)) end
      end
    end
    local _, err = c:get_cards_info { iccid = "1" }
    assert.is_nil(tostring(err):find(SECRET, 1, true))
    for _, v in pairs(err) do assert.is_nil(tostring(v):find(SECRET, 1, true)) end
    assert.equal(2, #lines)
    for _, l in ipairs(lines) do assert.is_nil(l:find(SECRET, 1, true)) end
  end)

  it("returns true for answers without data and null for null data", function()
    local t = fake({ { body = '{"code":"200","message":"ok"}' } })
    assert.is_true(client(t):bind_device { iccid = "1", imei = "2" })
    local t2 = fake({ { body = '{"code":"200","message":"ok","data":null}' } })
    assert.equal(json.null, client(t2):get_cards_info { iccid = "1" })
  end)

  it("iterates pages until totalPage", function()
    local pages = {
      '{"code":"200","message":"ok","data":{"totalPage":3,"cardInfoList":[{"iccid":"1"},{"iccid":"2"}]}}',
      '{"code":"200","message":"ok","data":{"totalPage":3,"cardInfoList":[{"iccid":"3"}]}}',
      '{"code":"200","message":"ok","data":{"totalPage":3,"cardInfoList":[{"iccid":"4"}]}}',
    }
    local t, calls = fake({ function(_, n) return { status = 200, headers = {}, body = pages[n] } end })
    local got = {}
    for card, err in client(t):pages("get_all_card_info", { cardStatus = "ACTIVATED_NAME" }) do
      assert.truthy(card, tostring(err))
      got[#got + 1] = card.iccid
    end
    assert.same({ "1", "2", "3", "4" }, got)
    assert.equal(3, #calls)
    assert.equal("3", json.decode(calls[3].body).pageNum)
    assert.equal("ACTIVATED_NAME", json.decode(calls[3].body).cardStatus)
  end)

  it("ends pages when a page repeats the previous one, and errors at MAX_PAGES", function()
    -- every page full and the same, no totalPage (a server answering past the
    -- end with the last page again, or ignoring the page number): ends
    local page = '{"code":"200","message":"ok","data":{"cardInfoList":[{"iccid":"1"},{"iccid":"2"}]}}'
    local t, calls = fake({ { body = page } })
    local n, last_err = 0, nil
    for card, err in client(t):pages("get_all_card_info", { pageSize = 2 }) do
      if not card then last_err = err; break end
      n = n + 1
    end
    assert.equal(2, n)
    assert.equal(2, #calls)
    assert.is_nil(last_err)
    -- pages that differ but never end: cut at MAX_PAGES
    local cm = require "simkit.client"
    local saved = cm.MAX_PAGES
    cm.MAX_PAGES = 3
    local t2, calls2 = fake({ function(_, i)
      return { status = 200, headers = {}, body = '{"code":"200","message":"ok","data":{"cardInfoList":[{"iccid":"' ..
        i .. '"}]}}' }
    end })
    n, last_err = 0, nil
    for card, err in client(t2):pages("get_all_card_info", { pageSize = 1 }) do
      if not card then last_err = err; break end
      n = n + 1
    end
    cm.MAX_PAGES = saved
    assert.equal(3, n)
    assert.equal(3, #calls2)
    assert.matches("stopped after 3 pages", last_err.message)
  end)

  it("stops pages on an error and reports it once", function()
    local t = fake({ { body = '{"code":"200","message":"ok","data":{"totalPage":2,"cardInfoList":[{"iccid":"1"}]}}' },
      { body = '{"code":"42402","message":"bad sign"}' } })
    local items, errs = 0, {}
    for card, err in client(t, { retries = 0 }):pages("get_all_card_info") do
      if card then items = items + 1 else errs[#errs + 1] = err end
    end
    assert.equal(1, items)
    assert.equal(1, #errs)
    assert.equal("auth", errs[1].kind)
    assert.has_error(function() client(t):pages("get_cards_info") end)
  end)

  it("lists its operations", function()
    local c = client(fake({ { body = OK_CARD } }))
    local ops = c:operations()
    assert.equal(58, #ops)
    assert.equal("eiotclub", c:vendor())
  end)
end)
