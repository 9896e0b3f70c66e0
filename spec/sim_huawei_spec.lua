-- The Huawei GSL part of the sandbox (sim/lua/simsandbox/vendor/huawei.lua),
-- driven over raw HTTP (LuaSocket): no simkit. 64-bit ids are checked as
-- substrings of the raw bodies and through the sandbox's own JSON decoder
-- (util.bignum beyond 2^53). AK/SK: spec/support/hwsign.lua, checked against
-- vectors computed with Python's hashlib/hmac when this spec was written.
local sandbox = require "spec.support.sandbox"
local hwsign = require "spec.support.hwsign"
local sha = require "spec.support.sha256"

local json = sandbox.json
local _ -- the throw-away of multiple assignments

local AK, SK = "SANDBOXAKEXAMPLE0001", "sandbox-sk-secret"
local PROJECT_ID = "0123456789abcdef0123456789abcdef"
local GSL_HOST = "gsl.cn-north-4.myhuaweicloud.com"

local IAM_BODY = [[{"auth":{"identity":{"methods":["password"],"password":{"user":{
"name":"sandbox-user","password":"sandbox-password","domain":{"name":"sandbox-domain"}}}},
"scope":{"project":{"name":"cn-north-4"}}}}]]

local function has(text, needle)
  return type(text) == "string" and text:find(needle, 1, true) ~= nil
end

-- `"key":<digits>` in the raw JSON, the number not continued by more digits
local function has_num(text, key, digits)
  return type(text) == "string" and text:find('"' .. key .. '":' .. digits .. "[^%d%.eE]") ~= nil
end

-- Vectors: python3 hashlib/hmac (urllib.parse.quote(safe='~') for encoding),
-- X-Sdk-Date 20250101T000000Z, Host gsl.cn-north-4.myhuaweicloud.com.
local VECTORS = {
  get_card = {
    method = "GET", path = "/v1/sim-cards/9007199254740993", query = "", body = "",
    headers = { ["content-type"] = "application/json", host = GSL_HOST,
                ["x-sdk-date"] = "20250101T000000Z", ["x-project-id"] = PROJECT_ID },
    canonical_request = "GET\n/v1/sim-cards/9007199254740993/\n\ncontent-type:application/json\n"
      .. "host:gsl.cn-north-4.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\n"
      .. "x-sdk-date:20250101T000000Z\n\ncontent-type;host;x-project-id;x-sdk-date\n"
      .. "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    string_to_sign = "SDK-HMAC-SHA256\n20250101T000000Z\n"
      .. "309ffeb7f9712db227c0312b3623886f1f602aa5e34b9da6c2bd209d4c884cec",
    signature = "f7900c52595eba0f77c7b1ad40a4573c6930f3cdb88d690171d67085d3c2e507",
    signed = "content-type;host;x-project-id;x-sdk-date",
  },
  stop_card = {
    method = "POST", path = "/v1/sim-cards/9007199254740993/stop", query = "",
    body = '{"down_up_switch":1}',
    headers = { ["content-type"] = "application/json", host = GSL_HOST,
                ["x-sdk-date"] = "20250101T000000Z", ["x-project-id"] = PROJECT_ID },
    string_to_sign = "SDK-HMAC-SHA256\n20250101T000000Z\n"
      .. "71e819d6a94ffa483d551c490f1be43fdeb25d05abd37b435ef3b46981359230",
    signature = "a530708480b63bac87be9962adb0d4344b850644d266ec78e9dde1cd0033e869",
    signed = "content-type;host;x-project-id;x-sdk-date",
  },
  list_tags = {
    method = "GET", path = "/v1/tags",
    query = "tag_name=fleet%20a%2Fb&offset=1&limit=10&tag_name=%E6%A0%87", body = "",
    headers = { ["content-type"] = "application/json", host = GSL_HOST,
                ["x-sdk-date"] = "20250101T000000Z" },
    canonical_query = "limit=10&offset=1&tag_name=fleet%20a%2Fb&tag_name=%E6%A0%87",
    signature = "43fdefa08474878556a3bbe962e1da068629f20d3010bf722561c3d5ed27ff46",
    signed = "content-type;host;x-sdk-date",
  },
}

local function vector_headers(v, signature)
  local h = {}
  for k, x in pairs(v.headers) do h[k] = x end
  h.authorization = "SDK-HMAC-SHA256 Access=" .. AK .. ", SignedHeaders=" .. v.signed
    .. ", Signature=" .. (signature or v.signature)
  return h
end

describe("hwsign (spec-side signer) against the Python vectors", function()
  it("hashes like hashlib and hmac", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha.sha256_hex(""))
    assert.equal("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
      sha.hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog"))
  end)

  it("builds the canonical request, string to sign and signature", function()
    for name, v in pairs(VECTORS) do
      local h, info = hwsign.sign{ method = v.method, path = v.path, query = v.query,
                                   headers = v.headers, body = v.body, ak = AK, sk = SK }
      if v.canonical_request then assert.equal(v.canonical_request, info.canonical_request, name) end
      if v.string_to_sign then assert.equal(v.string_to_sign, info.string_to_sign, name) end
      if v.canonical_query then assert.equal(v.canonical_query, hwsign.canonical_query(v.query)) end
      assert.equal(v.signature, info.signature, name)
      assert.equal(vector_headers(v).authorization, h.authorization, name)
    end
  end)

  it("encodes path segments and query pairs like the SDK", function()
    assert.equal("/v1/a%20b/c~d/", hwsign.canonical_uri("/v1/a%20b/c~d"))
    assert.equal("/", hwsign.canonical_uri("/"))
    assert.equal("a=&b=1%2B2&b=x%20y", hwsign.canonical_query("b=x+y&a&b=1%2B2"))
  end)
end)

describe("huawei GSL sandbox", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)

  local function config(t)
    local st, res = sb:control("POST", "/_sim/config", { huawei = t })
    assert.equal(200, st, type(res) == "table" and res.error or res)
  end

  local function advance(s)
    assert.equal(200, (sb:control("POST", "/_sim/advance", { seconds = s })))
  end

  local function state() return sb:state("huawei") end

  local function token_request(body)
    local st, text, h = sb:request("POST", "/v3/auth/tokens", body or IAM_BODY,
                                   { ["content-type"] = "application/json" })
    return st, text, h
  end

  local function new_token()
    local st, text, h = token_request()
    assert.equal(201, st, text)
    assert.is_string(h["x-subject-token"])
    return h["x-subject-token"], text, h
  end

  -- A GSL call with token auth. body: a string or a table (JSON-encoded).
  local token
  local function call(method, path, body, tok, headers)
    if type(body) == "table" then body = assert(json.json_encode(body)) end
    local h = { ["content-type"] = "application/json", ["x-auth-token"] = tok or token }
    for k, v in pairs(headers or {}) do h[k] = v end
    local st, text, rh = sb:request(method, path, body, h)
    assert(st, text)
    return st, text, json.json_decode(text), rh
  end

  -- Back to the seeded state, rate limits off unless `keep_limits`, fresh token.
  local function fresh(knobs, keep_limits)
    sb:reset()
    local k = { rate_limit = keep_limits == true }
    for key, v in pairs(knobs or {}) do k[key] = v end
    config(k)
    token = new_token()
  end

  -- Sandbox clock set to `target` (epoch seconds).
  local function set_clock(target)
    local _, clk = sb:control("GET", "/_sim/clock")
    local real = clk.now - clk.clock_offset
    assert.equal(200, (sb:control("POST", "/_sim/config", { clock_offset = target - real })))
  end

  local function sandbox_now()
    local _, clk = sb:control("GET", "/_sim/clock")
    return clk.now
  end

  local EPOCH_20250101 = 1735689600

  --------------------------------------------------------------------------
  describe("IAM tokens", function()
    before_each(function()
      sb:reset()
      config({ rate_limit = false })
    end)

    it("issues a token in X-Subject-Token (201) valid for 24 h", function()
      local tok, text, h = new_token()
      assert.truthy(#tok > 20)
      assert.matches("^%x+$", h["x-request-id"])
      local body = json.json_decode(text)
      assert.is_string(body.token.expires_at)
      assert.is_string(body.token.issued_at)
      local st = state()
      assert.equal(1, st.token_requests)
      assert.equal(86400, st.token.expires_at - st.token.issued_at)
      local code, ctext = call("GET", "/v1/sim-cards/9007199254740993", nil, tok)
      assert.equal(200, code, ctext)
    end)

    it("refuses a wrong password with IAM's error body", function()
      local st, text = token_request(IAM_BODY:gsub("sandbox%-password", "nope"))
      assert.equal(401, st)
      assert.truthy(has_num(text, "code", "401"))
      assert.equal(1, state().token_requests)
      assert.equal(0, state().tokens_issued)
    end)

    it("invalidates the previous token when a new one is requested", function()
      local t1 = new_token()
      assert.equal(200, (call("GET", "/v1/tags", nil, t1)))
      local t2 = new_token()
      assert.are_not.equal(t1, t2)
      local st, text, body = call("GET", "/v1/tags", nil, t1)
      assert.equal(401, st)
      assert.equal("GSL.00010001", body.error_code)
      assert.truthy(has(text, "superseded"))
      assert.equal(200, (call("GET", "/v1/tags", nil, t2)))
      assert.equal(2, state().token_requests)
    end)

    it("expires tokens after 24 h of sandbox time", function()
      local t = new_token()
      advance(86399)
      assert.equal(200, (call("GET", "/v1/tags", nil, t)))
      advance(2)
      local st, _, body = call("GET", "/v1/tags", nil, t)
      assert.equal(401, st)
      assert.equal("GSL.00010001", body.error_code)
    end)

    it("counts token requests: 30 calls, one token", function()
      local t = new_token()
      for _ = 1, 30 do assert.equal(200, (call("GET", "/v1/sim-cards/111111111111111111", nil, t))) end
      local st = state()
      assert.equal(1, st.token_requests)
      assert.equal(30, st.auth.token)
    end)

    it("answers 401 APIGW.0301 without any credential", function()
      local st, text, h = sb:request("GET", "/v1/sim-cards", nil, {})
      assert.equal(401, st)
      local body = json.json_decode(text)
      assert.equal("APIGW.0301", body.error_code)
      assert.matches("^Incorrect IAM authentication information", body.error_msg)
      assert.is_string(h["x-request-id"])
    end)
  end)

  --------------------------------------------------------------------------
  describe("AK/SK SDK-HMAC-SHA256", function()
    before_each(function()
      sb:reset()
      config({ rate_limit = false })
    end)

    local function send_vector(v, headers)
      return sb:request(v.method, v.path .. (v.query ~= "" and ("?" .. v.query) or ""),
                        v.body ~= "" and v.body or nil, headers or vector_headers(v))
    end

    it("accepts the hard-coded vectors (clock at 2025-01-01T00:00:30Z)", function()
      set_clock(EPOCH_20250101 + 30)
      local st, text = send_vector(VECTORS.get_card)
      assert.equal(200, st, text)
      assert.truthy(has_num(text, "sim_card_id", "9007199254740993"))
      st, text = send_vector(VECTORS.list_tags)
      assert.equal(200, st, text)
      st, text = send_vector(VECTORS.stop_card)
      assert.equal(200, st, text)
      assert.truthy(has(text, '"work_order_id":'))
      local s = state()
      assert.equal(3, s.auth.aksk)
      assert.equal(0, s.token_requests)
    end)

    it("rejects a wrong signature with 401 APIGW.0301", function()
      set_clock(EPOCH_20250101 + 30)
      local bad = VECTORS.get_card.signature:gsub("^f", "0")
      local st, text, h = send_vector(VECTORS.get_card, vector_headers(VECTORS.get_card, bad))
      assert.equal(401, st)
      local body = json.json_decode(text)
      assert.equal("APIGW.0301", body.error_code)
      assert.matches("^Incorrect IAM authentication information: ", body.error_msg)
      assert.is_string(h["x-request-id"])
      -- the sandbox's canonical request is in the state, for debugging clients
      assert.equal(VECTORS.get_card.canonical_request, state().last_aksk.canonical_request)
    end)

    it("rejects a body that differs from the signed one", function()
      set_clock(EPOCH_20250101 + 30)
      local v = VECTORS.stop_card
      local st = sb:request(v.method, v.path, '{"down_up_switch":2}', vector_headers(v))
      assert.equal(401, st)
    end)

    it("rejects an X-Sdk-Date more than 15 minutes off", function()
      set_clock(EPOCH_20250101 + 16 * 60)
      local st, text = send_vector(VECTORS.get_card)
      assert.equal(401, st)
      assert.truthy(has(text, "x-sdk-date"))
      set_clock(EPOCH_20250101 + 14 * 60)
      assert.equal(200, (send_vector(VECTORS.get_card)))
    end)

    it("signs live requests with hwsign (query, body, host and x-sdk-date signed)", function()
      local now = sandbox_now()
      local path, query = "/v1/sim-cards", "limit=10&offset=2&sim_status=20"
      local h = hwsign.sign{ method = "GET", path = path, query = query, body = "", ak = AK, sk = SK,
        date = hwsign.date(now),
        headers = { host = GSL_HOST, ["content-type"] = "application/json", ["x-project-id"] = PROJECT_ID } }
      local st, text = sb:request("GET", path .. "?" .. query, nil, h)
      assert.equal(200, st, text)
      assert.equal(2, json.json_decode(text).offset)
      local body = '{"sim_card_ids":[9223372036854775807],"billing_cycles":["'
        .. os.date("!%Y-%m", math.floor(now)) .. '"]}'
      h = hwsign.sign{ method = "POST", path = "/v1/sim-cards/month-usages", body = body,
        ak = AK, sk = SK, date = hwsign.date(now),
        headers = { host = GSL_HOST, ["content-type"] = "application/json" } }
      st, text = sb:request("POST", "/v1/sim-cards/month-usages", body, h)
      assert.equal(200, st, text)
      assert.truthy(has_num(text, "sim_card_id", "9223372036854775807"))
    end)

    it("requires host and x-sdk-date among the signed headers, and the right project", function()
      local now = sandbox_now()
      local h = hwsign.sign{ method = "GET", path = "/v1/tags", body = "", ak = AK, sk = SK,
        date = hwsign.date(now), headers = { ["content-type"] = "application/json" } }
      local st, text = sb:request("GET", "/v1/tags", nil, h)
      assert.equal(401, st)
      assert.truthy(has(text, "host"))
      h = hwsign.sign{ method = "GET", path = "/v1/tags", body = "", ak = AK, sk = SK,
        date = hwsign.date(now), headers = { host = GSL_HOST, ["x-project-id"] = "ffff" } }
      st = sb:request("GET", "/v1/tags", nil, h)
      assert.equal(401, st)
      h = hwsign.sign{ method = "GET", path = "/v1/tags", body = "", ak = "OTHERAK", sk = SK,
        date = hwsign.date(now), headers = { host = GSL_HOST } }
      st = sb:request("GET", "/v1/tags", nil, h)
      assert.equal(401, st)
    end)
  end)

  --------------------------------------------------------------------------
  describe("64-bit ids", function()
    setup(function() fresh() end)

    it("are exact in paths and bodies", function()
      for _, id in ipairs({ "9007199254740993", "111111111111111111", "6666660527032540666",
                            "9223372036854775807", "4900000000000" }) do
        local st, text, body = call("GET", "/v1/sim-cards/" .. id)
        assert.equal(200, st, text)
        assert.truthy(has_num(text, "sim_card_id", id), text)
        assert.equal(id, tostring(body.sim_card_id))
      end
    end)

    it("do not match their double-rounded neighbours", function()
      for _, id in ipairs({ "9007199254740992", "111111111111111104", "6666660527032540160" }) do
        local st, _, body = call("GET", "/v1/sim-cards/" .. id)
        assert.equal(400, st)
        assert.equal("GSL.00011001", body.error_code)
      end
      local st, _, body = call("GET", "/v1/sim-cards/9223372036854775808")
      assert.equal(400, st)
      assert.equal("GSL.00010004", body.error_code)
    end)

    it("resolve sim_card_id 0 through the iccid query parameter", function()
      local st, text = call("GET", "/v1/sim-cards/0?iccid=8986002100000000003")
      assert.equal(200, st)
      assert.truthy(has_num(text, "sim_card_id", "6666660527032540666"))
      st, text = call("GET", "/v1/sim-cards/0/real-named?iccid=89860321000000000001")
      assert.equal(200, st)
      assert.truthy(has(text, '"real_named":true'))
      local _, _, body = call("GET", "/v1/sim-cards/0")
      assert.equal("GSL.00010004", body.error_code)
    end)

    it("are exact inside request bodies (numbers and strings)", function()
      local cycle = os.date("!%Y-%m", math.floor(sandbox_now()))
      local st, text = call("POST", "/v1/sim-cards/month-usages",
        '{"sim_card_ids":[9007199254740993,"111111111111111111"],"billing_cycles":["' .. cycle .. '"]}')
      assert.equal(200, st, text)
      assert.truthy(has_num(text, "sim_card_id", "9007199254740993"))
      assert.truthy(has_num(text, "sim_card_id", "111111111111111111"))
      assert.truthy(has(text, '"billing_cycle":"' .. cycle:gsub("%-", "") .. '"'))
    end)
  end)

  --------------------------------------------------------------------------
  describe("rate limits", function()
    before_each(function() fresh(nil, true) end)

    it("allows 1 call/s on list_sim_cards: 429 with Retry-After, then OK", function()
      local st = call("GET", "/v1/sim-cards")
      assert.equal(200, st)
      local st2, text, body, h = call("GET", "/v1/sim-cards")
      assert.equal(429, st2, text)
      assert.equal("1", h["retry-after"])
      assert.equal("APIGW.0308", body.error_code)
      advance(1)
      assert.equal(200, (call("GET", "/v1/sim-cards")))
      assert.equal(200, (call("GET", "/v1/sim-price-plans?sim_card_id=9007199254740993")))
      assert.equal(429, (call("GET", "/v1/sim-price-plans?sim_card_id=9007199254740993")))
    end)

    it("allows 5 calls/s per account", function()
      for _ = 1, 5 do assert.equal(200, (call("GET", "/v1/tags"))) end
      -- the bucket refills at 5/s: on a slow machine one more call may pass
      local st, h
      for _ = 1, 5 do
        st, _, _, h = call("GET", "/v1/tags")
        if st == 429 then break end
      end
      assert.equal(429, st)
      assert.is_string(h["retry-after"])
      assert.equal(1, state().rate_limited)
    end)

    it("can be switched off", function()
      config({ rate_limit = false })
      for _ = 1, 8 do assert.equal(200, (call("GET", "/v1/sim-cards"))) end
    end)
  end)

  --------------------------------------------------------------------------
  describe("work orders", function()
    before_each(function() fresh({ work_order_seconds = 2 }) end)

    local function work_order(id)
      local st, text, body = call("GET", "/v1/work-orders?main_search_key=" .. id)
      assert.equal(200, st, text)
      assert.equal(1, body.count)
      return body.work_orders[1], text
    end

    it("progress with the sandbox clock and then change the card", function()
      local st, text, body = call("POST", "/v1/sim-cards/9007199254740993/stop", { down_up_switch = 1 })
      assert.equal(200, st, text)
      local woid = tostring(body.work_order_id)
      assert.matches("^%d+$", woid)
      assert.truthy(has_num(text, "work_order_id", woid))
      local wo, wtext = work_order(woid)
      assert.equal(3, wo.status)
      assert.equal(5, wo.work_order_type)
      assert.truthy(has_num(wtext, "id", woid))
      -- pending stop order: other operations on the card are refused
      local st2, _, b2 = call("POST", "/v1/sim-cards/9007199254740993/reset", { down_up_switch = 2 })
      assert.equal(403, st2)
      assert.equal("GSL.00016010", b2.error_code)
      local _, _, card = call("GET", "/v1/sim-cards/9007199254740993")
      assert.equal(20, card.sim_status)
      advance(3)
      wo = work_order(woid)
      assert.equal(4, wo.status)
      assert.equal(1, wo.success_count)
      _, _, card = call("GET", "/v1/sim-cards/9007199254740993")
      assert.equal(14, card.sim_status)
      local dst, dtext, details = call("GET", "/v1/work-orders/" .. woid .. "/details")
      assert.equal(200, dst)
      assert.equal(1, details.work_order_details[1].status)
      -- sim_card_id is a JSON string there, as in the document's example
      assert.truthy(has(dtext, '"sim_card_id":"9007199254740993"'))
      -- now the resume goes through
      st, text = call("POST", "/v1/sim-cards/0/reset", { down_up_switch = 2, iccid = "89860321000000000001" })
      assert.equal(200, st, text)
      advance(3)
      _, _, card = call("GET", "/v1/sim-cards/9007199254740993")
      assert.equal(20, card.sim_status)
    end)

    it("can fail (status 6) and leave the card alone", function()
      config({ fail_next_work_order = true })
      local _, _, body = call("POST", "/v1/sim-cards/9007199254741007/stop", { down_up_switch = 1 })
      local woid = tostring(body.work_order_id)
      advance(3)
      local wo = work_order(woid)
      assert.equal(6, wo.status)
      assert.equal(1, wo.fail_count)
      assert.is_string(wo.fail_reason)
      local _, _, card = call("GET", "/v1/sim-cards/9007199254741007")
      assert.equal(20, card.sim_status)
    end)

    it("refuse the same operation on a card within 5 minutes (GSL.00016016)", function()
      local card = "/v1/sim-cards/9007199254741009"
      assert.equal(200, (call("POST", card .. "/speed-limit", { speed_value = 512 })))
      advance(3)
      local st, _, body = call("POST", card .. "/speed-limit", { speed_value = 64 })
      assert.equal(403, st)
      assert.equal("GSL.00016016", body.error_code)
      advance(300)
      assert.equal(200, (call("POST", card .. "/speed-limit", { speed_value = 64 })))
      advance(3)
      local _, _, c = call("GET", card)
      assert.equal(64, c.speed_value)
    end)

    it("check the card's state and carrier first", function()
      local st, _, body = call("POST", "/v1/sim-cards/9007199254740993/enable")
      assert.equal(403, st)
      assert.equal("GSL.00016014", body.error_code)
      st, _, body = call("POST", "/v1/sim-cards/9007199254741001/reset", { down_up_switch = 2 })
      assert.equal(403, st)
      assert.equal("GSL.00016012", body.error_code)
      st, _, body = call("POST", "/v1/sim-cards/111111111111111111/cut-net", { action = "ADD" })
      assert.equal(403, st)
      assert.equal("GSL.00011015", body.error_code)
      st, _, body = call("POST", "/v1/sim-cards/9007199254740993/speed-limit", { speed_value = 100 })
      assert.equal(400, st)
      assert.equal("GSL.00011016", body.error_code)
      -- activation of an activatable card (iccid in the query string)
      st = call("POST", "/v1/sim-cards/0/enable?iccid=89860321000000000004")
      assert.equal(200, st)
      st, _, body = call("POST", "/v1/sim-cards/10000000000000001/enable")
      assert.equal(403, st)
      assert.equal("GSL.00016015", body.error_code)
    end)
  end)

  --------------------------------------------------------------------------
  describe("errors and headers", function()
    setup(function() fresh() end)

    it("answer {error_code, error_msg} on most endpoints", function()
      local st, text, body = call("GET", "/v1/sim-cards?limit=9")
      assert.equal(400, st)
      assert.equal("GSL.00010004", body.error_code)
      assert.is_string(body.error_msg)
      assert.falsy(has(text, '"code"'))
    end)

    it("answer {code, message} on list_network_switch_policies (4.11.1)", function()
      local st, text, body = call("GET", "/v1/network-switch-policies?limit=501")
      assert.equal(400, st)
      assert.equal("GSL.00010004", body.code)
      assert.is_string(body.message)
      assert.falsy(has(text, "error_code"))
    end)

    it("put a fresh X-Request-Id on every answer", function()
      local _, _, _, h1 = call("GET", "/v1/tags")
      local _, _, _, h2 = call("GET", "/v1/tags")
      local _, _, _, h3 = call("GET", "/v1/nothing-here")
      assert.matches("^%x+$", h1["x-request-id"])
      assert.are_not.equal(h1["x-request-id"], h2["x-request-id"])
      assert.is_string(h3["x-request-id"])
    end)

    it("can inject GSL.00011007 (a query is already running)", function()
      config({ query_in_progress = 1 })
      local st, _, body = call("GET", "/v1/sim-cards/9007199254740993")
      assert.equal(403, st)
      assert.equal("GSL.00011007", body.error_code)
      assert.equal(200, (call("GET", "/v1/sim-cards/9007199254740993")))
    end)

    it("answers 404 APIGW.0101 for an unknown API", function()
      local st, _, body = call("GET", "/v1/nothing-here")
      assert.equal(404, st)
      assert.equal("APIGW.0101", body.error_code)
    end)
  end)

  --------------------------------------------------------------------------
  describe("operations", function()
    before_each(function() fresh() end)

    it("list_sim_cards pages by page number and echoes limit/offset/count", function()
      local st, _, body = call("GET", "/v1/sim-cards?limit=10&offset=2")
      assert.equal(200, st)
      assert.same({ 10, 2, 20 }, { body.limit, body.offset, body.count })
      assert.equal(10, #body.sim_cards)
      _, _, body = call("GET", "/v1/sim-cards?limit=10&offset=3")
      assert.equal(0, #body.sim_cards)
      _, _, body = call("GET", "/v1/sim-cards?sim_status=14")
      assert.equal(3, body.count)
      st = call("GET", "/v1/sim-cards?limit=501")
      assert.equal(400, st)
      config({ list_sim_cards_status = 201 })
      assert.equal(201, (call("GET", "/v1/sim-cards")))
    end)

    it("answers top-level arrays for plans and flows, with negative flow_left", function()
      local st, text = call("GET", "/v1/sim-price-plans?sim_card_id=9007199254740993&limit=10&offset=1")
      assert.equal(200, st)
      assert.equal("[", text:sub(1, 1))
      assert.truthy(has_num(text, "sim_card_id", "9007199254740993"))
      st, text = call("POST", "/v1/sim-price-plans/usage/batch-query",
                      { iccid = { "89860321000000000010" } })
      assert.equal(200, st, text)
      assert.equal("[", text:sub(1, 1))
      assert.truthy(has(text, '"flow_left":-15.59'))
      local now = sandbox_now()
      local y, m = tonumber(os.date("!%Y", math.floor(now))), tonumber(os.date("!%m", math.floor(now)))
      m = m - 1
      if m == 0 then y, m = y - 1, 12 end
      st, text = call("POST", "/v1/sim-cards/batch-daily-flow",
        '{"sim_card_ids":[9007199254740993],"month":"' .. string.format("%04d%02d", y, m) .. '"}')
      assert.equal(200, st, text)
      local days = json.json_decode(text)
      assert.truthy(#days >= 28)
      assert.equal(string.format("%04d%02d01", y, m), days[1].date)
      assert.equal("9007199254740993", tostring(days[1].sim_flow[1].sim_card_id))
      _, text = call("GET", "/v1/price-plans?carrier_type=2")
      assert.truthy(has(text, '"price_plan_id":"100000"'))
    end)

    it("pools: negative flow_left, members, unknown pool", function()
      local st, text, body = call("GET", "/v1/sim-pools?status=1")
      assert.equal(200, st)
      assert.equal(1, body.count)
      assert.truthy(has(text, '"flow_left":-42.59'))
      assert.truthy(has_num(text, "id", "9007199254745001"))
      local cycle = os.date("!%Y-%m", math.floor(sandbox_now()))
      _, _, body = call("GET", "/v1/sim-pools/9007199254745001/members?billing_cycle=" .. cycle)
      assert.equal(3, body.count)
      _, _, body = call("GET", "/v1/back-pools/9007199254746001/members?billing_cycle=" .. cycle)
      assert.equal(3, body.count)
      st, _, body = call("GET", "/v1/sim-pools/1/members?billing_cycle=" .. cycle)
      assert.equal(403, st)
      assert.equal("GSL.00014003", body.error_code)
    end)

    it("tags: create, batch set, list on the card, delete (bare true)", function()
      local st, text, body = call("POST", "/v1/tags", { tag_name = "spec-tag" })
      assert.equal(200, st, text)
      local tid = tostring(body.id)
      st, text = call("POST", "/v1/sim-tags/batch-set",
        '{"sim_card_ids":[6666660527032540666],"tag_ids":[' .. tid .. ']}')
      assert.equal(200, st, text)
      assert.equal("true", text)
      local _, _, card = call("GET", "/v1/sim-cards/6666660527032540666")
      assert.equal("spec-tag", card.tag_names)
      st, _, body = call("POST", "/v1/sim-tags/batch-set", '{"sim_card_ids":[1],"tag_ids":[' .. tid .. ']}')
      assert.equal(400, st)
      assert.equal("GSL.000160053", body.error_code)
      st, text = call("DELETE", "/v1/tags/" .. tid)
      assert.equal(200, st)
      assert.equal("true", text)
      _, _, card = call("GET", "/v1/sim-cards/6666660527032540666")
      assert.equal(json.null, card.tag_names)
      st, _, body = call("POST", "/v1/tags", { tag_name = "fleet-a" })
      assert.equal(400, st)
      assert.equal("GSL.00022002", body.error_code)
    end)

    it("custom attributes: disabled slot -> GSL.00012031 with a JSON array in error_msg", function()
      local req = '{"attributes":[{"sim_card_id":9007199254740993,"customer_attribute2":"p1"}]}'
      local st, _, body = call("POST", "/v1/sim-cards/attributes/batch-set", req)
      assert.equal(400, st)
      assert.equal("GSL.00012031", body.error_code)
      local failures = json.json_decode(body.error_msg)
      assert.equal("9007199254740993", failures[1].sim_card_id)
      assert.equal("自定义属性二未启用", failures[1].fail_reason)
      assert.equal("true", select(2, call("POST", "/v1/attributes/9007199254780002/enable")))
      st = call("POST", "/v1/sim-cards/attributes/batch-set", req)
      assert.equal(200, st)
      local _, _, card = call("GET", "/v1/sim-cards/9007199254740993")
      assert.equal("p1", card.customer_attribute2)
      local text
      st, text = call("POST", "/v1/attributes", { cust_attr_name = "owner" })
      assert.equal(200, st, text)
      assert.truthy(has_num(text, "id", "9007199254780003"))
      st, _, body = call("POST", "/v1/attributes", { cust_attr_name = "iccid" })
      assert.equal(400, st)
      assert.equal("GSL.00027003", body.error_code)
    end)

    it("sms: send, then delivered after a few seconds", function()
      local st, text = call("POST", "/v1/sms-send-infos",
                            { sms_content = "hi", cids = { "89860321000000000001" } })
      assert.equal(200, st, text)
      assert.equal("true", text)
      local _, _, body = call("GET", "/v1/sms-send-infos/details?cid=89860321000000000001")
      assert.equal(2, body.count)
      assert.equal(1, body.sms_details[1].sms_status)
      advance(6)
      _, _, body = call("GET", "/v1/sms-send-infos/details?cid=89860321000000000001")
      assert.equal(2, body.sms_details[1].sms_status)
      st, _, body = call("POST", "/v1/sms-send-infos", { sms_content = "hi", cids = { "89860121000000000002" } })
      assert.equal(403, st)
      assert.equal("GSL.00011015", body.error_code)
    end)

    it("tri-network cards and switch policies", function()
      local st, text, body = call("GET", "/v1/sim-cards-multiply?version=2")
      assert.equal(200, st)
      assert.equal(2, body.count)
      assert.truthy(has(text, '"sim_card_id":"7777777777777777777"'))
      st, text, body = call("POST", "/v1/sim-cards-multiply/0/switch-network",
                            { carrier_type = 2, cid = "88888888888881" })
      assert.equal(200, st, text)
      assert.truthy(body.work_order_id)
      st, _, body = call("POST", "/v1/sim-cards-multiply/7777777777777777779/switch-network",
                         { carrier_type = 2 })
      assert.equal(400, st)
      assert.equal("GSL.00011063", body.error_code)
      st, text = call("POST", "/v1/network-switch-policies",
                      { policy_name = "spec-policy", version = 2, blacklist = 1, switch_order = "3,1,2" })
      assert.equal(200, st, text)
      assert.equal("true", text)
      _, text, body = call("GET", "/v1/network-switch-policies")
      assert.equal(3, body.count)
      assert.truthy(has_num(text, "id", "111111111111111112"))
      st, _, body = call("POST", "/v1/network-switch-policies", { policy_name = "spec-policy", version = 2 })
      assert.equal(400, st)
      assert.equal("GSL.00015034", body.error_code)
      -- the id as a JSON literal (a LuaJIT number could not hold it)
      st, text, body = call("POST", "/v1/sim-cards/0/network-switch-policy/set",
        '{"network_switch_policy_id":111111111111111112,"cid":"88888888888883"}')
      assert.equal(200, st, text)
      local woid = tostring(body.work_order_id)
      st, _, body = call("POST", "/v1/sim-cards/7777777777777777778/network-switch-policy/set",
        '{"network_switch_policy_id":111111111111111104}')
      assert.equal(400, st)
      assert.equal("GSL.00015028", body.error_code)
      advance(61)
      _, text = call("GET", "/v1/sim-cards-multiply?cid=88888888888883")
      assert.truthy(has_num(text, "network_switch_policy_id", "111111111111111112"))
      _, _, body = call("GET", "/v1/work-orders?main_search_key=" .. woid)
      assert.equal(4, body.work_orders[1].status)
    end)
  end)
end)
