-- Huawei Cloud GSL adapter: request shape, signing, token cache, limiter,
-- errors, pagination and work orders (fake transport), then every op
-- against the sandbox.
local simkit = require "simkit"
local json = require "simkit.json"
local sign = require "simkit.sign"
local huawei = require "simkit.vendor.huawei"
local htoken = require "simkit.vendor.huawei_token"
local stores = require "simkit.store"

local AK, SK, PID = "SANDBOXAKEXAMPLE0001", "sandbox-sk-secret", "0123456789abcdef0123456789abcdef"
local IAM = { username = "sandbox-user", password = "sandbox-password", domain = "sandbox-domain",
              project = "cn-north-4" }
local BIG = "9007199254740993" -- 2^53 + 1
local is54 = math.type ~= nil

local function merge(a, b)
  local t = {}
  for k, v in pairs(a or {}) do t[k] = v end
  for k, v in pairs(b or {}) do t[k] = v end
  return t
end

-- A fake clock: sleep advances it.
local function fake_clock()
  local c = { t = 1000, slept = 0 }
  c.clock = function() return c.t end
  c.sleep = function(s) c.slept = c.slept + s; c.t = c.t + s end
  return c
end

-- A scripted transport: answers from a list (the last one repeats) or a function.
local function scripted(answers)
  local t = { reqs = {} }
  t.fn = function(req)
    t.reqs[#t.reqs + 1] = req
    local a = answers
    if type(a) == "function" then return a(req, #t.reqs) end
    a = answers[math.min(#t.reqs, #answers)]
    if type(a) == "function" then return a(req, #t.reqs) end
    return a
  end
  return t
end

local function ok(body, status, headers)
  return { status = status or 200, headers = headers or { ["x-request-id"] = "req-ok" }, body = body }
end

local function aksk_client(transport, extra)
  return simkit.client("huawei", merge({ ak = AK, sk = SK, project_id = PID, transport = transport,
    rate_limit = false, backoff = { base = 0, max = 0 } }, extra))
end

local function iam_answer(req)
  if req.url:match("/v3/auth/tokens$") then
    return { status = 201, headers = { ["x-subject-token"] = "TOKEN-" .. tostring(req.n or 1) },
             body = '{"token":{"expires_at":"2099-01-01T00:00:00.000000Z"}}' }
  end
  return nil
end

local function util_by_name(list) return require("simkit.util").by_name(list) end

describe("huawei adapter (unit)", function()
  before_each(function() huawei._reset() end)

  describe("options", function()
    it("raises on missing or mixed credentials and bad values", function()
      assert.has_error(function() simkit.client("huawei", {}) end)
      assert.has_error(function() simkit.client("huawei", { ak = AK, sk = SK }) end)
      assert.has_error(function() simkit.client("huawei", { ak = AK, project_id = PID }) end)
      assert.has_error(function()
        simkit.client("huawei", merge(IAM, { ak = AK, sk = SK, project_id = PID }))
      end)
      assert.has_error(function() simkit.client("huawei", { username = "u", password = "p", project = "x" }) end)
      assert.has_error(function() simkit.client("huawei", { ak = AK, sk = SK, project_id = PID, endpoint = "gsl" }) end)
      assert.has_error(function() simkit.client("huawei", { ak = AK, sk = SK, project_id = PID, rate_limit = "no" }) end)
      assert.has_error(function() simkit.client("huawei", merge(IAM, { token_cache = {} })) end)
    end)

    it("derives endpoints from region and keeps secrets out of tostring", function()
      local t = scripted({ ok("{}") })
      local c = simkit.client("huawei", merge(IAM, { region = "ap-southeast-1", transport = t.fn,
        project = "ap-southeast-1", rate_limit = false }))
      local s = tostring(c)
      assert.matches("https://gsl.ap-southeast-1.myhuaweicloud.com", s, 1, true)
      assert.is_nil(s:find("sandbox-password", 1, true))
      local a = aksk_client(t.fn)
      assert.is_nil(tostring(a):find(SK, 1, true))
      for k, v in pairs(a) do
        assert.is_nil(tostring(k):find(SK, 1, true))
        if type(v) == "table" then
          for _, x in pairs(v) do assert.not_equal(SK, x) end
        end
      end
    end)
  end)

  describe("requests", function()
    it("substitutes 64-bit path ids exactly (integer or digit string) and signs", function()
      local t = scripted({ ok('{"sim_card_id":' .. BIG .. '}') })
      local c = aksk_client(t.fn)
      local d = assert(c:show_sim_card { sim_card_id = BIG })
      if is54 then
        assert.equal(9007199254740993, d.sim_card_id)
        assert(c:show_sim_card { sim_card_id = 9007199254740993 })
        assert.equal(t.reqs[1].url, t.reqs[2].url)
      end
      local req = t.reqs[1]
      assert.equal("GET", req.method)
      assert.equal("https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards/" .. BIG, req.url)
      assert.equal(PID, req.headers["X-Project-Id"])
      assert.equal("application/json", req.headers["Content-Type"])
      assert.is_nil(req.body)
      local again = sign.huawei { method = req.method, url = req.url, body = req.body, ak = AK, sk = SK,
        headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = PID,
                    ["X-Sdk-Date"] = req.headers["X-Sdk-Date"] } }
      assert.equal(again.Authorization, req.headers.Authorization)
    end)

    it("fills every op's path parameters, in the place the descriptor gives, whatever their number", function()
      -- built independently of the adapter: each {name} of the descriptor's path replaced by the
      -- value's text (integers as digits, strings percent-encoded)
      local hw = require "simkit.vendor.huawei"
      local checked = 0
      for name, op in pairs(hw.ops) do
        local args, texts, nparams = {}, {}, 0
        for i, p in ipairs(op.params) do
          if p.loc == "path" then
            nparams = nparams + 1
            if p.type == "Long" or p.type == "Integer" then
              args[p.name], texts[p.name] = 1000 + i, tostring(1000 + i)
            else
              args[p.name], texts[p.name] = "a b/" .. i, "a%20b%2F" .. i
            end
          end
        end
        local ctx = { spec = op, op = name, cfg = { endpoint = "https://e", mode = "token", project_id = PID } }
        local req = assert(hw.build(ctx, args, { token = "T" }))
        local path = op.path:gsub("{([%w_]+)}", texts)
        assert.equal("https://e" .. path, req.url:match("^[^?]*"), name)
        if nparams > 0 then
          checked = checked + 1
          -- an absent path parameter is refused by name (the first the descriptor lists)
          local first
          for _, p in ipairs(op.params) do if p.loc == "path" then first = first or p.name end end
          local without = {}
          for k, v in pairs(args) do if k ~= first then without[k] = v end end
          local r, err = hw.build(ctx, without, { token = "T" })
          assert.is_nil(r, name)
          assert.equal("input", err.kind)
          assert.equal(first, err.param)
          -- an integer id that is not one is refused too
          for _, p in ipairs(op.params) do
            if p.loc == "path" and (p.type == "Long" or p.type == "Integer") then
              local bad = {}
              for k, v in pairs(args) do bad[k] = v end
              bad[p.name] = "12x"
              r, err = hw.build(ctx, bad, { token = "T" })
              assert.is_nil(r, name)
              assert.equal(p.name, err.param)
              assert.matches("must be an integer", err.message)
            end
          end
        end
      end
      assert.is_true(checked >= 15, "ops with path parameters: " .. checked)
      -- every catalog path has one parameter; two (and a literal tail) go through the general loop
      local op = { method = "GET", path = "/v1/a/{x}/b/{y}/c", params = {
        { name = "y", loc = "path", type = "String" }, { name = "x", loc = "path", type = "Long" } } }
      local ctx = { spec = op, op = "two", cfg = { endpoint = "https://e", mode = "token", project_id = PID } }
      assert.equal("https://e/v1/a/7/b/q%3Fr/c", assert(hw.build(ctx, { x = 7, y = "q?r" }, { token = "T" })).url)
      local r, err = hw.build(ctx, { x = 7 }, { token = "T" })
      assert.is_nil(r)
      assert.equal("y", err.param) -- the first the descriptor lists, not the first in the path
    end)

    it("sim_card_id 0 + iccid: query for show/enable/real-named/clear, body for stop", function()
      local t = scripted({ ok('{"work_order_id":1}') })
      local c = aksk_client(t.fn)
      assert(c:show_sim_card { sim_card_id = 0, iccid = "89860321000000000001" })
      assert.equal("https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards/0?iccid=89860321000000000001", t.reqs[1].url)
      assert(c:stop_sim_card { sim_card_id = 0, iccid = "89860321000000000001", down_up_switch = 1 })
      assert.matches("/v1/sim%-cards/0/stop$", t.reqs[2].url)
      assert.equal('{"down_up_switch":1,"iccid":"89860321000000000001"}', t.reqs[2].body)
      assert(c:delete_real_name { sim_card_id = 0, iccid = "89860321000000000001" })
      assert.matches("/clear%-real%-name%?iccid=89860321000000000001$", t.reqs[3].url)
      local _, err = c:stop_sim_card { sim_card_id = 0 }
      assert.equal("input", err.kind)
      assert.equal(3, #t.reqs)
    end)

    it("encodes query values RFC 3986, every array as repeated keys (SDK core >= 3.1.77)", function()
      local t = scripted({ ok('{"count":0,"sim_cards":[]}') })
      local c = aksk_client(t.fn)
      assert(c:list_sim_cards { main_search_key = "a b/é+*", tag_id = { 1, "2" }, limit = 10, real_named = true })
      local url = t.reqs[1].url
      assert.matches("main_search_key=a%20b%2F%C3%A9%2B%2A", url, 1, true)
      assert.matches("tag_id=1&tag_id=2", url, 1, true)
      assert.matches("real_named=true", url, 1, true)
      assert(c:list_sim_pools { status = { 0, 1 } })
      assert.matches("?status=0&status=1$", t.reqs[2].url)
      -- every other array query parameter too: repeated keys, never a comma list
      local n = 2
      for name, op in pairs(huawei.ops) do
        for _, p in ipairs(op.params) do
          if p.loc == "query" and p.type == "Array" then
            local args = { [p.name] = { "1", "2" } }
            if p.items_type == "Integer" or p.items_type == "Long" then args[p.name] = { 1, 2 } end
            local before = #t.reqs
            c:call(name, args)
            if #t.reqs > before then
              n = n + 1
              local u = t.reqs[#t.reqs].url
              assert.matches(p.name .. "=1&" .. p.name .. "=2", u, 1, true)
              assert.is_nil(u:find(p.name .. "=1%2C2", 1, true), u)
            end
          end
        end
      end
      assert.is_true(n > 2)
      local _, err = c:list_sim_pools { status = { 0, 42 } }
      assert.equal("input", err.kind)
    end)

    it("writes the body as one JSON object with exact Long arrays", function()
      local t = scripted({ ok("true") })
      local c = aksk_client(t.fn)
      assert.is_true(c:batch_set_tags { sim_card_ids = { BIG, "111111111111111111" }, tag_ids = { 1 } })
      assert.equal('{"sim_card_ids":[' .. BIG .. ',111111111111111111],"tag_ids":[1]}', t.reqs[1].body)
      assert.equal("application/json", t.reqs[1].headers["Content-Type"])
      assert(c:set_exceed_cut_net { sim_card_id = 5, action = 1, quota = 10 })
      assert.equal('{"action":1,"quota":"10"}', t.reqs[2].body)
      assert(c:enable_attribute { attribute_id = 7 })
      assert.is_nil(t.reqs[3].body)
    end)

    it("writes 64-bit ids inside array items as JSON numbers (batch_set_attributes)", function()
      local t = scripted({ ok("true") })
      local c = aksk_client(t.fn)
      assert.is_true(c:batch_set_attributes { attributes = {
        { sim_card_id = BIG, customer_attribute1 = "north" },
        { sim_card_id = 0, iccid = "89860321000000000001", customer_attribute6 = "x\"y" },
        { sim_card_id = 12 },
      } })
      assert.equal('{"attributes":[{"customer_attribute1":"north","sim_card_id":' .. BIG .. '},'
        .. '{"customer_attribute6":"x\\"y","iccid":"89860321000000000001","sim_card_id":0},{"sim_card_id":12}]}',
        t.reqs[1].body)
      if is54 then
        assert(c:batch_set_attributes { attributes = { { sim_card_id = math.tointeger(BIG) } } })
        assert.equal('{"attributes":[{"sim_card_id":' .. BIG .. '}]}', t.reqs[2].body)
      end
    end)

    it("accepts the SDK's 'iccids' for list_flow_by_sim_cards and sends the document's 'iccid'", function()
      local t = scripted({ ok("[]") })
      local c = aksk_client(t.fn)
      assert(c:list_flow_by_sim_cards { iccids = { "89860321000000000001" } })
      assert.equal('{"iccid":["89860321000000000001"]}', t.reqs[1].body)
      local d, err = c:list_flow_by_sim_cards { iccids = { "89860321000000000001" }, iccid = { "89860321000000000002" } }
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.matches("not both", err.message)
      assert.equal(1, #t.reqs)
    end)

    it("validates array items field by field, naming the item", function()
      local t = scripted({ ok("true") })
      local c = aksk_client(t.fn)
      local long = string.rep("a", 101)
      local bad = {
        { { attributes = {} }, "attributes" },
        { { attributes = { "x" } }, "attributes" },
        { { attributes = { {} } }, "attributes%[1%]%.sim_card_id' is required" },
        { { attributes = { { sim_card_id = 1 }, { sim_card_id = "12a" } } }, "attributes%[2%]%.sim_card_id" },
        { { attributes = { { sim_card_id = 1, colour = "red" } } }, "unknown field 'colour'" },
        { { attributes = { { sim_card_id = 1, iccid = "123" } } }, "attributes%[1%]%.iccid" },
        { { attributes = { { sim_card_id = 1, customer_attribute3 = long } } }, "customer_attribute3" },
        { { attributes = { { sim_card_id = 0 } } }, "by iccid" },
      }
      for _, b in ipairs(bad) do
        local d, err = c:batch_set_attributes(b[1])
        assert.is_nil(d)
        assert.equal("input", err.kind)
        assert.matches(b[2], err.message)
      end
      assert.equal(0, #t.reqs)
    end)

    it("signs afresh on every attempt (5xx on a read is retried)", function()
      local t = scripted({ { status = 502, headers = {}, body = "bad gateway" }, ok('{"tags":[]}') })
      local c = aksk_client(t.fn)
      assert(c:list_tags {})
      assert.equal(2, #t.reqs)
      assert.not_equal(t.reqs[1].headers, t.reqs[2].headers)
      for _, r in ipairs(t.reqs) do assert.matches("^SDK%-HMAC%-SHA256 Access=" .. AK, r.headers.Authorization) end
    end)

    it("applies the seed's cross-parameter rules and per-item limits before sending", function()
      local t = scripted({ ok("[]") })
      local c = aksk_client(t.fn)
      local ICC = "89860321000000000001"
      local bad = {
        { "show_month_usages", { billing_cycles = { "2024-01" } }, "one of sim_card_ids or iccids" },
        { "batch_set_tags", { tag_ids = { 1 } }, "one of sim_card_ids or iccids" },
        { "list_flow_by_sim_cards", { sim_card_ids = { 1 }, iccid = { ICC } }, "only one of" },
        { "list_flow_by_sim_cards", {}, "one of sim_card_ids or iccid" },
        { "list_sim_card_flow_per_day", { sim_card_ids = { 1 }, iccids = { ICC } }, "only one of" },
        { "list_sim_card_flow_per_day", { sim_card_ids = { 1 }, month = "202611", date = "20261101" }, "only one of" },
        { "list_sim_card_flow_per_day", { month = "202611" }, "one of sim_card_ids or iccids" },
        { "show_month_usages", { sim_card_ids = { 1 }, billing_cycles = { "2024-011" } }, "billing_cycles%[1%]" },
        { "list_flow_by_sim_cards", { iccid = { string.rep("8", 65) } }, "iccid%[1%]" },
        { "batch_set_tags", { sim_card_ids = { -1 }, tag_ids = { 1 } }, "sim_card_ids%[1%]" },
        { "batch_set_tags", { sim_card_ids = { "-9007199254740993" }, tag_ids = { 1 } }, "sim_card_ids%[1%]" },
        { "list_sim_cards", { price_plan_id = (function()
          local ids = {}
          for i = 1, 31 do ids[i] = tostring(100000 + i) end
          return ids
        end)() }, "at most 30" },
        { "show_sim_card", { sim_card_id = "9223372036854775808" }, "64%-bit" },
        { "stop_sim_card", { sim_card_id = "00" }, "iccid" },
        { "show_month_usages", { sim_card_ids = {}, billing_cycles = { "2024-01" } }, "one of sim_card_ids or iccids" },
      }
      for _, b in ipairs(bad) do
        local d, err = c:call(b[1], b[2])
        assert.is_nil(d, b[1])
        assert.equal("input", err.kind, b[1])
        assert.matches(b[3], err.message)
      end
      assert.equal(0, #t.reqs)
      -- both id lists are allowed where the seed says sim_card_ids wins; leading zeros are dropped
      assert(c:show_month_usages { sim_card_ids = { "007" }, iccids = { ICC }, billing_cycles = { "2024-01" } })
      assert.equal('{"billing_cycles":["2024-01"],"iccids":["' .. ICC .. '"],"sim_card_ids":[7]}', t.reqs[1].body)
      assert(c:list_sim_card_flow_per_day { iccids = { ICC }, date = "20261101" })
      -- an empty id list counts as not given ("if sim_card_ids is empty, iccids is used")
      assert(c:list_sim_card_flow_per_day { sim_card_ids = {}, iccids = { ICC }, month = "202611" })
      assert(c:show_sim_card { sim_card_id = "9223372036854775807" })
      assert.matches("/v1/sim%-cards/9223372036854775807$", t.reqs[4].url)
    end)

    it("does not retry the 5xx codes whose remedy is to fix the request", function()
      local t = scripted({ { status = 500, headers = {}, body = '{"error_code":"GSL.00016005","error_msg":"x"}' } })
      local _, err = aksk_client(t.fn):list_work_orders {}
      assert.equal("GSL.00016005", err.code)
      assert.is_false(err.retryable)
      assert.equal(1, #t.reqs)
      t = scripted({ { status = 500, headers = {}, body = '{"error_code":"GSL.00010003","error_msg":"busy"}' },
        ok('{"work_orders":[],"count":0}') })
      assert(aksk_client(t.fn):list_work_orders {})
      assert.equal(2, #t.reqs)
    end)

    it("rejects bad inputs before sending", function()
      local t = scripted({ ok("{}") })
      local c = aksk_client(t.fn)
      local bad = {
        { "list_sim_cards", { limit = 5 } }, { "list_sim_cards", { limit = 501 } },
        { "list_sim_cards", { offset = 0 } }, { "list_tags", { bogus = 1 } },
        { "show_sim_card", { sim_card_id = 1, iccid = "898603210000000000" } },
        { "show_sim_card", { sim_card_id = 1, iccid = "898603210000000000012" } },
        { "show_sim_card", {} }, { "show_sim_card", { sim_card_id = "12a" } },
        { "show_month_usages", { iccids = { "123" }, billing_cycles = { "2024-01" } } },
        { "list_sim_price_plans", { sim_card_id = 0 } },
        { "create_tag", { tag_name = 5.5 } },
      }
      for _, b in ipairs(bad) do
        local d, err = c:call(b[1], b[2])
        assert.is_nil(d)
        assert.equal("input", err.kind, b[1])
      end
      assert.equal(0, #t.reqs)
    end)
  end)

  describe("answers", function()
    it("accepts any 2xx, arrays, bare true and empty bodies", function()
      local t = scripted({ ok('{"count":1}', 201), ok('[{"a":1}]'), ok("true"), ok(""), ok("  ") })
      local c = aksk_client(t.fn)
      assert.equal(1, c:list_sim_cards {}.count)
      assert.equal(1, c:list_sim_price_plans { sim_card_id = 1 }[1].a)
      assert.is_true(c:delete_tag { tag_id = 1 })
      assert.is_true(c:update_attribute { attribute_id = 1, cust_attr_name = "x" })
      assert.is_true(c:send_sms { sms_content = "hi", cids = { "1" } })
    end)

    it("finds the answer's trace id in any letter case, and decodes bodies with leading blanks", function()
      local t = scripted({ ok(' \r\n {"sim_card_id":1}', 200, { ["X-REQUEST-ID"] = "T-1" }),
        ok('{"sim_card_id":2}', 200, { ["x-request-id"] = "T-2" }), ok("{nope", 200, { ["X-Request-Id"] = "T-3" }),
        ok("[1, 2]", 200, {}) })
      local c = aksk_client(t.fn, { retries = 0 })
      assert.equal(1, c:show_sim_card { sim_card_id = 1 }.sim_card_id)
      assert.equal(2, c:show_sim_card { sim_card_id = 1 }.sim_card_id)
      local d, err = c:show_sim_card { sim_card_id = 1 }
      assert.is_nil(d)
      assert.equal("decode", err.kind)
      assert.equal("T-3", err.trace_id)
      assert.equal(2, c:list_sim_price_plans { sim_card_id = 1 }[2])
    end)

    it("reads every error shape, with trace_id", function()
      local shapes = {
        '{"error_code":"GSL.00011001","error_msg":"no card"}',
        '{"code":"GSL.00011001","message":"no card"}',
        '{"errorCode":"GSL.00011001","errorMsg":"no card"}',
      }
      for _, body in ipairs(shapes) do
        local t = scripted({ { status = 400, headers = { ["X-Request-Id"] = "trace-1" }, body = body } })
        local _, err = aksk_client(t.fn):show_sim_card { sim_card_id = 1 }
        assert.equal("vendor", err.kind)
        assert.equal("GSL.00011001", err.code)
        assert.equal("no card", err.message)
        assert.equal("trace-1", err.trace_id)
        assert.equal(400, err.status)
        assert.is_false(err.retryable)
        assert.matches("trace%-1", tostring(err))
      end
      local t = scripted({ { status = 404, headers = {}, body = "<html>nope</html>" } })
      local _, err = aksk_client(t.fn):create_tag { tag_name = "x" }
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
    end)

    it("classifies auth, rate limit, query-in-progress and pending-order codes", function()
      local function one(status, body, headers, op, args)
        local t = scripted({ { status = status, headers = headers or {}, body = body } })
        local _, err = aksk_client(t.fn, { retries = 0 }):call(op or "show_sim_card", args or { sim_card_id = 1 })
        return err, t
      end
      assert.equal("auth", one(403, '{"error_code":"GSL.00010001","error_msg":"bad token"}').kind)
      assert.equal("auth", one(401, '{"error_code":"APIGW.0301","error_msg":"x"}').kind)
      assert.equal("auth", one(403, '{"error_code":"APIGW.0302","error_msg":"x"}').kind)
      local e = one(429, '{"error_code":"APIGW.0308","error_msg":"slow"}', { ["retry-after"] = "3" })
      assert.equal("rate_limited", e.kind)
      assert.equal(3, e.retry_after)
      assert.is_true(e.retryable)
      e = one(403, '{"error_code":"GSL.00011007","error_msg":"busy"}')
      assert.equal("vendor", e.kind)
      assert.is_true(e.retryable)
      local t
      e, t = one(403, '{"error_code":"GSL.00016016","error_msg":"5 min"}', nil,
        "stop_sim_card", { sim_card_id = 1 })
      assert.equal("vendor", e.kind)
      assert.is_false(e.retryable)
      assert.equal(1, #t.reqs)
      for _, code in ipairs({ "GSL.00016009", "GSL.00016010", "GSL.00016015" }) do
        e = one(403, '{"error_code":"' .. code .. '","error_msg":"pending"}', nil, "reset_sim_card",
          { sim_card_id = 1 })
        assert.equal("vendor", e.kind)
        assert.equal(code, e.code)
        assert.is_true(e.pending_work_order)
        assert.is_false(e.retryable)
      end
      -- query in progress: a read is retried after the suggested pause
      local sleeps = {}
      t = scripted({ { status = 403, headers = {}, body = '{"error_code":"GSL.00011007","error_msg":"busy"}' },
                     ok('{"tags":[]}') })
      local c = aksk_client(t.fn, { sleep = function(s) sleeps[#sleeps + 1] = s end })
      assert(c:list_tags {})
      assert.equal(2, #t.reqs)
      assert.equal(2, sleeps[1])
      -- a 5xx on a write is not retried, and not flagged retryable: it may have been processed
      t = scripted({ { status = 503, headers = {}, body = "" } })
      local _, err = aksk_client(t.fn):create_tag { tag_name = "x" }
      assert.equal(1, #t.reqs)
      assert.is_false(err.retryable)
      -- while a 429 on a write was refused before anything happened
      t = scripted({ { status = 429, headers = { ["retry-after"] = "1" }, body = '{"error_code":"APIGW.0308"}' } })
      _, err = aksk_client(t.fn, { retries = 0 }):create_tag { tag_name = "x" }
      assert.is_true(err.retryable)
    end)
  end)

  describe("token auth", function()
    local function token_client(transport, extra)
      return simkit.client("huawei", merge(merge(IAM, { iam_endpoint = "https://iam.example", transport = transport,
        rate_limit = false }), extra))
    end

    it("fetches one token for 200 calls and sends it as X-Auth-Token", function()
      local iam = 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          local b = json.decode(req.body)
          assert.equal("sandbox-user", b.auth.identity.password.user.name)
          assert.equal("sandbox-domain", b.auth.identity.password.user.domain.name)
          assert.equal("cn-north-4", b.auth.scope.project.name)
          assert.equal("password", b.auth.identity.methods[1])
          return iam_answer(req)
        end
        assert.equal("TOKEN-1", req.headers["X-Auth-Token"])
        assert.is_nil(req.headers.Authorization)
        return ok('{"tags":[]}')
      end)
      local c1 = token_client(t.fn)
      local c2 = token_client(t.fn) -- same account: shares the token
      for i = 1, 100 do
        assert(c1:list_tags {})
        assert(c2:list_tags { limit = 10 + i })
      end
      assert.equal(1, iam)
      assert.equal(201, #t.reqs)
    end)

    it("re-fetches once on GSL.00010001 and retries the call once", function()
      local iam, calls = 0, 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          return { status = 201, headers = { ["x-subject-token"] = "T" .. iam }, body = "" }
        end
        calls = calls + 1
        if req.headers["X-Auth-Token"] == "T1" then
          return { status = 401, headers = {}, body = '{"error_code":"GSL.00010001","error_msg":"invalid"}' }
        end
        return ok('{"work_order_id":5}')
      end)
      local c = token_client(t.fn)
      local d = assert(c:stop_sim_card { sim_card_id = 1 })
      assert.equal(5, d.work_order_id)
      assert.equal(2, iam)
      assert.equal(2, calls)
    end)

    it("gives up after one re-fetch when the new token is refused too", function()
      local iam, calls = 0, 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          return { status = 201, headers = { ["x-subject-token"] = "T" .. iam }, body = "" }
        end
        calls = calls + 1
        return { status = 403, headers = {}, body = '{"error_code":"GSL.00010001","error_msg":"invalid"}' }
      end)
      local _, err = token_client(t.fn):list_tags {}
      assert.equal("auth", err.kind)
      assert.equal(2, iam)
      assert.equal(2, calls)
      assert.is_nil(tostring(err):find("sandbox-password", 1, true))
      assert.is_nil(tostring(err):find("T2", 1, true))
    end)

    it("reports IAM refusals as auth errors without the password", function()
      local t = scripted({ { status = 401, headers = {},
        body = '{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}' } })
      local _, err = token_client(t.fn):list_tags {}
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.matches("password is wrong", err.message)
      assert.is_nil(tostring(err):find("sandbox-password", 1, true))
    end)

    it("keeps one token per account in the store, refreshed before expiry, never fetched per call", function()
      local now = 1700000000
      local iam = 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          return { status = 201, headers = { ["x-subject-token"] = "T" .. iam },
                   body = '{"token":{"expires_at":"2023-11-15T22:13:20.000000Z"}}' } -- now + 24 h
        end
        return ok("{}")
      end)
      local mono = 0
      local store = stores.memory { clock = function() return mono end }
      local c = token_client(t.fn, { now = function() return now end, store = store })
      assert(c:list_tags {})
      assert.equal(1, iam)
      local key = htoken.keys(c and "x" or "y") -- keys are derived, never the account's names
      assert.matches("^simkit:hw:token:%x+$", key)
      -- a second client (another process) on the same store shares the token
      local c2 = token_client(t.fn, { now = function() return now end, store = store })
      assert(c2:list_tags {})
      assert.equal(1, iam)
      -- kept 24 h minus 1 h (the store's TTL, not a time compared across nodes)
      mono = mono + 22 * 3600
      assert(c:list_tags {})
      assert.equal(1, iam)
      mono = mono + 1.5 * 3600
      now = now + 23.5 * 3600
      assert(c:list_tags {})
      assert.equal(2, iam)
      assert.equal("T2", t.reqs[#t.reqs].headers["X-Auth-Token"])
    end)

    it("waits while another process holds the fetch lock and uses the token it stores", function()
      local iam = 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          return { status = 201, headers = { ["x-subject-token"] = "T" .. iam }, body = "{}" }
        end
        return ok("{}")
      end)
      local store = stores.memory()
      local sleeps = 0
      local c
      c = token_client(t.fn, { store = store, sleep = function()
        sleeps = sleeps + 1
        if sleeps == 3 then
          -- the other process finishes: token stored, lock released
          local key, lock = htoken.keys(rawget(c, "_cfg").token_key)
          assert(store:set(key, "FROM-OTHER", 3600))
          assert(store:delete(lock))
        end
      end })
      local _, lock = htoken.keys(rawget(c, "_cfg").token_key)
      assert.is_true(store:add(lock, 1, 30)) -- another process is fetching
      assert(c:list_tags {})
      assert.equal(0, iam)
      assert.equal(3, sleeps)
      assert.equal("FROM-OTHER", t.reqs[1].headers["X-Auth-Token"])
      -- a lock left by a crashed fetcher ends with its TTL: then this process fetches
      local mono = 0
      local s2 = stores.memory { clock = function() return mono end }
      local c2 = token_client(t.fn, { store = s2, retries = 0, sleep = function(d) mono = mono + d end,
        clock = function() return mono end })
      local _, lock2 = htoken.keys(rawget(c2, "_cfg").token_key)
      assert.is_true(s2:add(lock2, 1, htoken.LOCK_TTL))
      local _, err = c2:list_tags {}
      assert.is_truthy(err) -- gave up waiting first (timeout + 5 s < LOCK_TTL)
      assert.equal("auth", err.kind)
      mono = mono + htoken.LOCK_TTL
      assert(c2:list_tags {})
      assert.equal(1, iam)
    end)

    it("refuses an IAM token with control bytes, spaces or non-ASCII, and never caches it", function()
      for _, bad in ipairs({ "TOK\rEN", "TOK\nEN", "TOK\0EN", "TOK EN", "T\195\169", string.rep("A", 70000) }) do
        huawei._reset()
        local iam = 0
        local t = scripted(function(req)
          if req.url:match("/v3/auth/tokens$") then
            iam = iam + 1
            return { status = 201, headers = { ["x-subject-token"] = iam == 1 and bad or "GOOD" }, body = "{}" }
          end
          return ok("{}")
        end)
        local c = token_client(t.fn)
        local data, err = c:list_tags {}
        assert.is_nil(data)
        assert.equal("decode", err.kind)
        assert.is_nil(tostring(err):find(bad, 1, true))
        assert.equal(1, #t.reqs) -- nothing sent with it
        assert(c:list_tags {}) -- not cached: fetched again
        assert.equal(2, iam)
        assert.equal("GOOD", t.reqs[#t.reqs].headers["X-Auth-Token"])
      end
    end)

    it("fetches a token through the client's transport with its deadlines and size cap", function()
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then return nil, "connection refused", "connect" end
        return ok("{}")
      end)
      local c = token_client(t.fn, { timeout = 4, max_body = 5000, retries = 0 })
      local _, err = c:list_tags {}
      assert.equal("transport", err.kind)
      assert.equal("connect", err.category)
      assert.is_false(err.sent)
      assert.matches("IAM token request failed", err.message)
      assert.equal(4, t.reqs[1].timeout)
      assert.equal(3, t.reqs[1].connect_timeout)
      assert.equal(5000, t.reqs[1].max_body)
    end)

    it("parses IAM times", function()
      assert.equal(0, htoken.parse_time("1970-01-01T00:00:00Z"))
      assert.equal(1700000000.5, htoken.parse_time("2023-11-14T22:13:20.500000Z"))
      assert.equal(1700000000, htoken.parse_time("2023-11-15T06:13:20.000+08:00"))
      assert.is_nil(htoken.parse_time("yesterday"))
    end)
  end)

  describe("rate limit", function()
    -- a store on the fake clock: its TTLs are the windows
    local function limited(fc, extra)
      return merge({ rate_limit = "wait", clock = fc.clock, sleep = fc.sleep,
        store = stores.memory { clock = fc.clock } }, extra)
    end

    it("waits ~1 s between list_sim_cards calls (fake clock)", function()
      local fc = fake_clock()
      local t = scripted({ ok('{"sim_cards":[]}') })
      local c = aksk_client(t.fn, limited(fc))
      for _ = 1, 6 do assert(c:list_sim_cards {}) end
      assert.is_true(fc.slept >= 5 and fc.slept < 6.5, tostring(fc.slept))
    end)

    it("allows 5 calls/s per account, shared by every client on the store, per account", function()
      local fc = fake_clock()
      local t = scripted({ ok('{"tags":[]}') })
      local opts = limited(fc)
      local a, b = aksk_client(t.fn, opts), aksk_client(t.fn, opts)
      for _ = 1, 5 do assert(a:list_tags {}) end
      assert.equal(0, fc.slept)
      assert(b:list_tags {})
      assert.is_true(fc.slept >= 1)
      local other = aksk_client(t.fn, merge(opts, { ak = "OTHERAK" }))
      local before = fc.slept
      for _ = 1, 5 do assert(other:list_tags {}) end
      assert.equal(before, fc.slept)
      -- a client on another store (another machine without a shared store) does not count
      local apart = aksk_client(t.fn, merge(opts, { store = stores.memory { clock = fc.clock } }))
      before = fc.slept
      for _ = 1, 5 do assert(apart:list_tags {}) end
      assert.equal(before, fc.slept)
    end)

    it("keeps its windows in the store: never a key naming the account, a store failure is kind 'store'",
        function()
      local fc = fake_clock()
      local t = scripted({ ok('{"tags":[]}') })
      local store = stores.memory { clock = fc.clock }
      local c = aksk_client(t.fn, limited(fc, { store = store }))
      assert(c:list_tags {})
      for k in pairs(store.data) do
        assert.matches("^rl:simkit:hw:%x+", k)
        assert.is_nil(k:find(AK, 1, true))
      end
      local broken = setmetatable({ add = function() return nil, require("simkit.errors").new {
        kind = "store", message = "down" } end }, { __index = store })
      local c2 = aksk_client(t.fn, limited(fc, { store = broken }))
      local sent = #t.reqs
      local _, err = c2:list_tags {}
      assert.equal("store", err.kind)
      assert.equal(sent, #t.reqs)
      assert.has_error(function() aksk_client(t.fn, { store = {} }) end)
      assert.has_error(function() aksk_client(t.fn, { rate_limit_store = store }) end)
      assert.has_error(function() aksk_client(t.fn, { token_cache = store }) end)
    end)

    it("returns rate_limited at once with rate_limit = 'error', nothing with false", function()
      local fc = fake_clock()
      local t = scripted({ ok('{"sim_cards":[]}') })
      local c = aksk_client(t.fn, limited(fc, { rate_limit = "error" }))
      assert(c:list_sim_cards {})
      local _, err = c:list_sim_cards {}
      assert.equal("rate_limited", err.kind)
      assert.is_true(err.client_side)
      assert.is_true(err.retry_after > 0.9)
      assert.equal(1, #t.reqs)
      assert.equal(0, fc.slept)
      fc.t = fc.t + 2
      assert(c:list_sim_cards {})
      local free = aksk_client(t.fn, limited(fc, { rate_limit = false }))
      for _ = 1, 10 do assert(free:list_sim_cards {}) end
      assert.equal(0, fc.slept)
    end)
  end)

  describe("pages", function()
    it("walks offset = page number until count records", function()
      local t = scripted(function(req)
        local offset = tonumber(req.url:match("offset=(%d+)"))
        local limit = tonumber(req.url:match("limit=(%d+)"))
        local items = {}
        for i = (offset - 1) * limit + 1, math.min(offset * limit, 25) do items[#items + 1] = '{"id":' .. i .. '}' end
        return ok('{"count":25,"limit":' .. limit .. ',"offset":' .. offset .. ',"tags":[' ..
          table.concat(items, ",") .. ']}')
      end)
      local c = aksk_client(t.fn)
      local seen = {}
      for tag, err in c:pages("list_tags", { limit = 10 }) do
        assert.is_truthy(tag, tostring(err))
        seen[#seen + 1] = tag.id
      end
      assert.equal(25, #seen)
      assert.equal(25, seen[25])
      assert.equal(3, #t.reqs)
    end)

    it("handles the bare array of list_sim_price_plans", function()
      local t = scripted({ ok('[{"a":1},{"a":2}]') })
      local n = 0
      for plan in aksk_client(t.fn):pages("list_sim_price_plans", { sim_card_id = 1 }) do
        assert.is_truthy(plan)
        n = n + 1
      end
      assert.equal(2, n)
      assert.equal(1, #t.reqs)
    end)

    it("describes every list op in its generated descriptor", function()
      local n = 0
      for name, op in pairs(huawei.ops) do
        if name:match("^list_") and op.params and util_by_name(op.params).offset then
          n = n + 1
          local pg = huawei.pagination(name, op)
          assert.is_table(pg, name)
          assert.equal("offset", pg.page, name)
          assert.equal(500, op.pagination.max_size, name)
        end
      end
      assert.equal(14, n)
      assert.is_nil(huawei.pagination("stop_sim_card", huawei.ops.stop_sim_card))
    end)

    it("refreshes a refused token on a page just as on a single call", function()
      local iam = 0
      local t = scripted(function(req)
        if req.url:match("/v3/auth/tokens$") then
          iam = iam + 1
          return { status = 201, headers = { ["x-subject-token"] = "T" .. iam }, body = "{}" }
        end
        if req.headers["X-Auth-Token"] == "T1" then
          return ok('{"error_code":"GSL.00010001","error_msg":"token expired"}', 401)
        end
        return ok('{"count":1,"sim_cards":[{"id":1}]}')
      end)
      local c = simkit.client("huawei", merge(IAM, { transport = t.fn, rate_limit = false,
        iam_endpoint = "https://iam.test", endpoint = "https://gsl.test" }))
      local n = 0
      for card, err in c:pages("list_sim_cards", {}) do
        assert.is_truthy(card, tostring(err))
        n = n + 1
      end
      assert.equal(1, n)
      assert.equal(2, iam)
    end)
  end)

  describe("wait", function()
    it("refuses NaN, +-inf and out-of-range timeout / interval before polling", function()
      local t = scripted({ ok('{"count":0,"work_orders":[]}') })
      local c = aksk_client(t.fn, { sleep = function() error("must not sleep") end })
      for _, o in ipairs({ { timeout = 0 / 0 }, { interval = 0 / 0 }, { timeout = math.huge }, { interval = -math.huge },
        { interval = 0 }, { timeout = -1 }, { timeout = 2 ^ 40 } }) do
        local d, err = c:wait(1, o)
        assert.is_nil(d)
        assert.equal("input", err.kind)
      end
      local d, err = c:wait(1, "x")
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.equal(0, #t.reqs)
    end)

    local function wo_transport(statuses)
      local n = 0
      return scripted(function()
        n = n + 1
        local st = statuses[math.min(n, #statuses)]
        return ok('{"count":1,"work_orders":[{"id":' .. BIG .. ',"status":' .. st .. '}]}')
      end)
    end

    it("polls list_work_orders until done", function()
      local fc = fake_clock()
      local t = wo_transport({ 1, 2, 4 })
      local c = aksk_client(t.fn, { clock = fc.clock, sleep = fc.sleep })
      local wo = assert(c:wait({ work_order_id = BIG }, { interval = 5, timeout = 60 }))
      assert.equal(4, wo.status)
      assert.equal(3, #t.reqs)
      assert.matches("main_search_key=" .. BIG, t.reqs[1].url, 1, true)
      assert.equal(10, fc.slept)
    end)

    it("returns failed/rejected orders and times out", function()
      local fc = fake_clock()
      local c = aksk_client(wo_transport({ 1, 6 }).fn, { clock = fc.clock, sleep = fc.sleep })
      local _, err = c:wait(BIG, { interval = 1, timeout = 60 })
      assert.equal("vendor", err.kind)
      assert.equal("work_order_failed", err.code)
      assert.equal(6, err.work_order_status)
      c = aksk_client(wo_transport({ 7 }).fn, { clock = fc.clock, sleep = fc.sleep })
      _, err = c:wait(BIG, { interval = 1 })
      assert.equal("work_order_rejected", err.code)
      -- 5 "cancelled" ends it too (not polled until the timeout)
      local t5 = wo_transport({ 3, 5 })
      c = aksk_client(t5.fn, { clock = fc.clock, sleep = fc.sleep })
      _, err = c:wait(BIG, { interval = 1, timeout = 600 })
      assert.equal("work_order_cancelled", err.code)
      assert.equal(5, err.work_order_status)
      assert.equal(2, #t5.reqs)
      c = aksk_client(wo_transport({ 2 }).fn, { clock = fc.clock, sleep = fc.sleep })
      local t0 = fc.t
      _, err = c:wait(BIG, { interval = 10, timeout = 35 })
      assert.equal("timeout", err.code)
      assert.is_true(err.retryable)
      assert.equal(35, fc.t - t0)
      _, err = c:wait(nil)
      assert.equal("input", err.kind)
    end)
  end)
end)

----------------------------------------------------------------------------
-- against the sandbox

describe("huawei adapter against the sandbox", function()
  local sandbox = require "spec.support.sandbox"
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function()
    sb:reset()
    huawei._reset()
  end)

  local function state() return sb:state("huawei") end

  local function client(extra)
    return simkit.client("huawei", merge({ ak = AK, sk = SK, project_id = PID, endpoint = sb.url }, extra))
  end

  local function token_client(extra)
    return simkit.client("huawei", merge(merge(IAM, { endpoint = sb.url, iam_endpoint = sb.url }), extra))
  end

  it("calls every one of the 39 operations", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false, repeat_guard_seconds = 0 } })
    local c = client { rate_limit = false }
    local CARD = "9007199254740993"
    local calls = {
      { "list_sim_cards", { limit = 10 } },
      { "show_sim_card", { sim_card_id = CARD } },
      { "show_sim_card", { sim_card_id = 0, iccid = "89860321000000000001" } },
      { "show_real_named", { sim_card_id = CARD } },
      { "show_month_usages", { sim_card_ids = { CARD }, billing_cycles = { os.date("!%Y-%m") } } },
      { "list_sim_card_flow_per_day", { sim_card_ids = { CARD }, month = os.date("!%Y%m") } },
      { "list_pro_price_plans", {} },
      { "list_sim_price_plans", { sim_card_id = CARD } },
      { "list_flow_by_sim_cards", { sim_card_ids = { CARD } } },
      { "list_sim_pools", { billing_cycle = os.date("!%Y-%m") } },
      { "list_sim_pool_members", { sim_pool_id = "9007199254745001", billing_cycle = os.date("!%Y-%m") } },
      { "list_back_pools", { billing_cycle = os.date("!%Y-%m") } },
      { "list_back_pool_members", { back_pool_id = "9007199254746001", billing_cycle = os.date("!%Y-%m") } },
      { "list_tags", {} },
      { "create_tag", { tag_name = "spec-tag" } },
      { "batch_set_tags", { sim_card_ids = { CARD }, tag_ids = { "9007199254770002" } } },
      { "delete_tag", { tag_id = "9007199254770003" } },
      { "list_attributes", {} },
      { "create_attribute", { cust_attr_name = "spec-attr" } },
      { "update_attribute", { attribute_id = "9007199254780001", cust_attr_name = "renamed" } },
      { "disable_attribute", { attribute_id = "9007199254780001" } },
      { "enable_attribute", { attribute_id = "9007199254780001" } },
      { "batch_set_attributes", { attributes = { { sim_card_id = 0, iccid = "89860321000000000001",
          customer_attribute1 = "south" } } } },
      { "send_sms", { sms_content = "hello", cids = { "89860321000000000001" } } },
      { "list_sms_details", {} },
      { "list_work_orders", {} },
      { "list_work_order_details", { work_order_id = "5388214536425984" } },
      { "list_sim_device_multiply", {} },
      { "list_network_switch_policies", {} },
      { "add_network_switch_policy", { policy_name = "spec", version = 2, switch_order = "1,2,3" } },
      { "switch_network", { sim_card_id = "7777777777777777777", carrier_type = 3 } },
      { "set_network_switch_policy", { sim_card_id = "7777777777777777778",
          network_switch_policy_id = "111111111111111112" } },
      { "stop_sim_card", { sim_card_id = CARD } },
      { "reset_sim_card", { sim_card_id = "6666660527032540666" } },
      { "enable_sim_card", { sim_card_id = "10000000000000001" } },
      { "start_stop_net", { sim_card_id = "9007199254741005", action = "DEL" } },
      { "set_exceed_cut_net", { sim_card_id = "9007199254741007", action = 1, quota = "50" } },
      { "register_imei", { sim_card_id = "9007199254741003", bind_type = 1, imei = "864500000000099" } },
      { "delete_real_name", { sim_card_id = "9007199254741000" } },
      { "set_speed_value", { sim_card_id = "9007199254741007", speed_value = 1024 } },
    }
    local called, failures = {}, {}
    for _, cl in ipairs(calls) do
      local d, err = c:call(cl[1], cl[2])
      called[cl[1]] = true
      if d == nil then failures[#failures + 1] = cl[1] .. ": " .. tostring(err) end
      if huawei.ops[cl[1]].async and d then
        assert.is_truthy(d.work_order_id, cl[1])
      end
    end
    assert.same({}, failures)
    for name in pairs(huawei.ops) do assert.is_true(called[name] == true, name) end
    local n = 0
    for _ in pairs(huawei.ops) do n = n + 1 end
    assert.equal(39, n)
  end)

  it("keeps a 64-bit id exact through list -> show -> stop", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local c = client { rate_limit = false }
    local list = assert(c:list_sim_cards { limit = 10 })
    local id
    for _, card in ipairs(list.sim_cards) do
      if card.iccid == "89860321000000000001" then id = card.sim_card_id end
    end
    if is54 then
      assert.equal(math.type(id), "integer")
      assert.equal(9007199254740993, id)
    else
      assert.equal(BIG, tostring(id):gsub("LL$", ""))
    end
    local card = assert(c:show_sim_card { sim_card_id = id })
    assert.equal("89860321000000000001", card.iccid)
    -- nested inside an array item too (a JSON number, not a string)
    assert.is_true(c:batch_set_attributes { attributes = { { sim_card_id = id, customer_attribute1 = "north" } } })
    local last = sb:requests({ path = "/v1/sim-cards/attributes/batch-set" })
    assert.matches('"sim_card_id":' .. BIG .. '}', last[#last].body)
    card = assert(c:show_sim_card { sim_card_id = id })
    assert.equal("north", card.customer_attribute1)
    local wo = assert(c:stop_sim_card { sim_card_id = id })
    assert.is_truthy(wo.work_order_id)
    local s = state()
    local stopped
    for _, k in ipairs(s.cards) do
      if tostring(k.iccid) == "89860321000000000001" then stopped = k end
    end
    assert.is_truthy(stopped)
  end)

  it("token mode: 200 calls, exactly one token request", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local c1 = token_client { rate_limit = false }
    local c2 = token_client { rate_limit = false }
    for _ = 1, 100 do
      assert(c1:list_tags {})
      assert(c2:list_attributes {})
    end
    assert.equal(1, state().token_requests)
  end)

  it("token mode: a client with a wrong password does not ride on another client's token", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    assert(token_client { rate_limit = false }:list_tags {})
    local d, err = token_client { rate_limit = false, password = "wrong-password" }:list_tags {}
    assert.is_nil(d)
    assert.equal("auth", err.kind)
    assert.is_nil(tostring(err):find("wrong-password", 1, true))
    assert.has_error(function() token_client { password = "bad \255 utf8" } end)
  end)

  it("token mode: a superseded token is replaced once and the call retried", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local c = token_client { rate_limit = false }
    assert(c:list_tags {})
    -- another process takes a new token: ours is now invalid
    local st = sb:request("POST", "/v3/auth/tokens", json.encode {
      auth = { identity = { methods = json.array { "password" }, password = { user = {
        name = IAM.username, password = IAM.password, domain = { name = IAM.domain } } } },
        scope = { project = { name = IAM.project } } } }, { ["Content-Type"] = "application/json" })
    assert.equal(201, st)
    assert(c:list_tags {})
    assert.equal(3, state().token_requests)
  end)

  it("30 back-to-back list_sim_cards calls draw no 429 (the limiter's waits move both clocks)", function()
    -- the client's clock and sleep are fake; every wait also advances the
    -- sandbox's clock (its own 1/s limiter), so 30 s of calls take no time
    local fc = { t = require("simkit.util").monotonic() + 1000, slept = 0 }
    local c = client { clock = function() return fc.t end, store = stores.memory { clock = function() return fc.t end },
      sleep = function(s)
      fc.t, fc.slept = fc.t + s, fc.slept + s
      assert.equal(200, (sb:control("POST", "/_sim/advance", { seconds = s })))
    end }
    for i = 1, 30 do
      local d, err = c:list_sim_cards { limit = 10 }
      assert.is_truthy(d, "call " .. i .. ": " .. tostring(err))
    end
    assert.is_true(fc.slept >= 29, tostring(fc.slept))
    assert.equal(0, state().rate_limited)
    assert.equal(30, #sb:requests({ path = "/v1/sim-cards" }))
  end)

  it("back-to-back list_sim_cards draw no 429 (the limiter waits)", function()
    local c = client()
    local t0 = require("simkit.util").monotonic()
    for _ = 1, 6 do
      local d, err = c:list_sim_cards {}
      assert.is_truthy(d, tostring(err))
    end
    assert.is_true(require("simkit.util").monotonic() - t0 >= 5)
    assert.equal(0, state().rate_limited)
  end)

  it("returns vendor errors with code, message and trace_id", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local c = client { rate_limit = false }
    local _, err = c:show_sim_card { sim_card_id = 42 }
    assert.equal("vendor", err.kind)
    assert.matches("^GSL%.", err.code)
    assert.is_string(err.trace_id)
    assert.is_string(err.message)
    local bad = client { sk = "wrong-secret", rate_limit = false }
    _, err = bad:list_tags {}
    assert.equal("auth", err.kind)
    assert.is_nil(tostring(err):find("wrong-secret", 1, true))
  end)

  it("pages through list_sim_cards and waits for a work order", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false, work_order_seconds = 0 } })
    local c = client { rate_limit = false }
    local n = 0
    for card, err in c:pages("list_sim_cards", { limit = 10 }) do
      assert.is_truthy(card, tostring(err))
      n = n + 1
    end
    assert.equal(state().cards and #state().cards or n, n)
    local wo = assert(c:stop_sim_card { sim_card_id = "111111111111111111" })
    local done, err = c:wait(wo, { interval = 0.2, timeout = 10 })
    assert.is_truthy(done, tostring(err))
    assert.equal(4, done.status)
  end)
end)
