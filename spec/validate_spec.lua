-- Input limits (issue 10 item 13): every string parameter of every vendor has
-- a cap (the catalog's, else simkit's default) and one text rule (valid
-- UTF-8, no control bytes); numbers are finite and fit; wrong types are
-- refused. Refusals are kind="input" with NOTHING sent: every client here
-- talks to the real sandbox through a transport that records each request.
local simkit = require "simkit"
local validate = require "simkit.validate"
local sandbox = require "spec.support.sandbox"
local curl = require "simkit.transport.curl"

local CAP = validate.DEFAULT_MAX_LENGTH
local TEN_MB = string.rep("8", 10 * 1024 * 1024)

local INVALID_UTF8 = {
  lone_continuation = "ab\128cd",
  bad_lead = "\255",
  overlong_slash = "\192\175",
  overlong_3byte = "\224\128\175",
  surrogate = "\237\160\128",
  truncated = "abc\226\130",
  beyond_10ffff = "\244\144\128\128",
  lead_f5 = "\245\128\128\128",
}
local CONTROL = { "\1", "\8", "\9", "\10", "\13", "\27", "\31", "\127" }

-- a real transport to the sandbox that records what it sends
local function recording()
  local real = curl.new { timeout = 10 }
  local rec = { sent = {} }
  rec.fn = function(req)
    rec.sent[#rec.sent + 1] = req
    return real(req)
  end
  return rec
end

local function refused(rec, data, err, pattern, param)
  assert.is_nil(data)
  assert.is_table(err, "expected an error")
  assert.equal("input", err.kind, tostring(err))
  if pattern then assert.matches(pattern, err.message) end
  if param then assert.equal(param, err.param) end
  assert.equal(0, #rec.sent, "nothing may be sent for refused input")
  assert.is_false(err.retryable)
end

local function sent_ok(rec, data, err)
  -- validation passed: the request went out (the vendor may still refuse it,
  -- but never as simkit input)
  assert.equal(1, #rec.sent)
  if not data then assert.not_equal("input", err.kind, tostring(err)) end
end

local function pct(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

describe("input limits against the sandbox", function()
  local sb
  setup(function()
    sb = sandbox.start()
  end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function()
    sb:reset()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false, repeat_guard_seconds = 0 } })
    require("simkit.vendor.huawei")._reset()
  end)

  -- one constructor per vendor: a client whose every request is recorded
  local VENDORS = {
    eiotclub = function(rec)
      return simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url,
        transport = rec.fn, retries = 0 })
    end,
    huawei = function(rec)
      return simkit.client("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
        project_id = "0123456789abcdef0123456789abcdef", endpoint = sb.url, rate_limit = false,
        transport = rec.fn, retries = 0 })
    end,
    tibiot = function(rec)
      return simkit.client("tibiot", { app_key = "sandbox-tib-key", secret = "sandbox-tib-secret", base_url = sb.url,
        signer = "hmac-sha256", transport = rec.fn, retries = 0 })
    end,
  }

  -- per vendor: an op with an uncapped string (default cap), one with a
  -- catalog cap, a list/array of strings, an integer and a boolean parameter
  local CASES = {
    eiotclub = {
      text = { op = "get_cards_info", param = "iccid", args = {} },
      capped = { op = "sms_send_sms", param = "message", cap = 300, args = { iccid = "89852012345678900001" } },
      list = { op = "reset", param = "iccids", args = {} },
      integer = { op = "get_all_card_info", param = "pageSize", args = { pageNum = "1" } },
    },
    huawei = {
      text = { op = "register_imei", param = "imei", args = { sim_card_id = 1, bind_type = 1 } },
      capped = { op = "list_sim_cards", param = "main_search_key", cap = 128, args = {} },
      query = { op = "list_sms_details", param = "cid", args = {} },
      list = { op = "list_sim_cards", param = "price_plan_id", args = {} },
      integer = { op = "list_sim_cards", param = "limit", args = {} },
      boolean = { op = "list_sim_cards", param = "real_named", args = {} },
    },
    tibiot = {
      text = { op = "pool_detail", param = "poolCode", args = {} },
      list = { op = "operate_card_network", param = "iccids", args = { switchOn = true } },
      boolean = { op = "operate_card_network", param = "switchOn", args = { iccids = { "89861122334455660001" } } },
    },
  }

  local function call(vendor, case, value, as_list)
    local rec = recording()
    local c = VENDORS[vendor](rec)
    local args = {}
    for k, v in pairs(case.args) do args[k] = v end
    args[case.param] = as_list and { "89852012345678900001", value } or value
    local data, err = c[case.op](c, args)
    return rec, data, err
  end

  for vendor, cases in pairs(CASES) do
    describe(vendor, function()
      local text = cases.text

      it("refuses a 10 MB value in a string without a catalog cap, sending nothing", function()
        local rec, data, err = call(vendor, text, TEN_MB)
        refused(rec, data, err, "longer than " .. CAP .. " characters", text.param)
      end)

      it("accepts the default cap exactly and refuses one character more", function()
        local rec, data, err = call(vendor, text, string.rep("7", CAP))
        sent_ok(rec, data, err)
        local req = rec.sent[1]
        assert.truthy((req.body or ""):find(string.rep("7", CAP), 1, true) or req.url:find(string.rep("7", CAP), 1, true))
        rec, data, err = call(vendor, text, string.rep("7", CAP + 1))
        refused(rec, data, err, "longer than " .. CAP, text.param)
      end)

      it("refuses a NUL byte", function()
        local rec, data, err = call(vendor, text, "8985\0" .. "0001")
        refused(rec, data, err, "NUL byte %(byte 5%)", text.param)
      end)

      it("refuses invalid UTF-8 of every kind", function()
        for name, bad in pairs(INVALID_UTF8) do
          local rec, data, err = call(vendor, text, bad)
          assert.is_nil(data, name)
          refused(rec, data, err, "not valid UTF%-8", text.param)
        end
      end)

      it("refuses every control byte (C0 and DEL)", function()
        for _, ctl in ipairs(CONTROL) do
          local rec, data, err = call(vendor, text, "ab" .. ctl .. "cd")
          refused(rec, data, err, string.format("control character %%(0x%02X at byte 3%%)", ctl:byte()), text.param)
        end
      end)

      it("applies the same rule inside lists and arrays", function()
        local l = cases.list
        for _, bad in ipairs({ "a\0b", "\255", "x\ty", string.rep("1", CAP + 1) }) do
          local rec, data, err = call(vendor, l, bad, true)
          refused(rec, data, err, nil, l.param)
        end
        local rec, data, err = call(vendor, l, TEN_MB, true)
        refused(rec, data, err, "longer than", l.param)
      end)

      it("refuses wrong types, NaN, infinities and non-integral numbers for a string", function()
        for _, v in ipairs({ {}, function() end, true, io.stdout, 0 / 0, math.huge, -math.huge, 1.5 }) do
          local rec, data, err = call(vendor, text, v)
          refused(rec, data, err, "must be a string", text.param)
        end
      end)

      if cases.capped then
        it("keeps the catalog's cap, in characters (not bytes)", function()
          local c = cases.capped
          -- multi-byte text at exactly the cap passes (3 bytes per character)
          local rec, data, err = call(vendor, c, string.rep("测", c.cap))
          sent_ok(rec, data, err)
          rec, data, err = call(vendor, c, string.rep("测", c.cap + 1))
          refused(rec, data, err, "longer than " .. c.cap .. " characters", c.param)
          rec, data, err = call(vendor, c, TEN_MB)
          refused(rec, data, err, "longer than " .. c.cap .. " characters", c.param)
        end)
      end

      if cases.integer then
        it("refuses NaN, infinities, huge and non-integral numbers for an integer", function()
          local i = cases.integer
          for _, v in ipairs({ 0 / 0, math.huge, -math.huge, 2 ^ 63, -2 ^ 64, 1e300, 1.5,
                               "12abc", "1e3", "99999999999999999999", "1\0", {}, true }) do
            local rec, data, err = call(vendor, i, v)
            refused(rec, data, err, nil, i.param)
          end
        end)
      end

      if cases.boolean then
        it("refuses anything but a boolean for a boolean", function()
          local b = cases.boolean
          for _, v in ipairs({ "true", 1, 0 / 0, {}, "\0" }) do
            local rec, data, err = call(vendor, b, v)
            refused(rec, data, err, "must be a boolean", b.param)
          end
        end)
      end

      it("sends valid multi-byte text byte for byte", function()
        local s = "测试 caf\195\169 \226\130\172 \240\157\132\158"
        local rec, data, err = call(vendor, text, s)
        sent_ok(rec, data, err)
        local req = rec.sent[1]
        assert.truthy((req.body or ""):find(s, 1, true) or req.url:find(pct(s), 1, true),
          "the text reaches the wire unchanged")
      end)
    end)
  end

  it("Huawei query strings never carry a NUL byte or invalid UTF-8", function()
    local q = CASES.huawei.query
    for _, bad in ipairs({ "89\0", "\192\128", "\237\191\191", "x\128" }) do
      local rec, data, err = call("huawei", q, bad)
      refused(rec, data, err, nil, "cid")
    end
    -- a valid value goes out percent-encoded in the query
    local rec, data, err = call("huawei", q, "8986\226\130\172")
    sent_ok(rec, data, err)
    assert.matches("cid=8986%%E2%%82%%AC", rec.sent[1].url)
  end)
end)

describe("simkit.validate", function()
  it("covers every string parameter of every vendor: the cap and the text rule", function()
    local count = 0
    for _, vendor in ipairs({ "eiotclub", "huawei", "tibiot" }) do
      for name, op in pairs(require("simkit.vendor." .. vendor .. "_ops")) do
        for _, p in ipairs(op.params) do
          if (p.type or "string"):lower() == "string" and not p.enum and not p.format
              and not p.numeric_string and not p.list then
            count = count + 1
            local cap = validate.max_length(p)
            local one = { params = { p } }
            local ok, msg = validate.check(one, { [p.name] = string.rep("a", cap) })
            assert.is_table(ok, vendor .. "." .. name .. "." .. p.name .. ": " .. tostring(msg))
            assert.is_nil((validate.check(one, { [p.name] = string.rep("a", cap + 1) })))
            assert.is_nil((validate.check(one, { [p.name] = TEN_MB })))
            assert.is_nil((validate.check(one, { [p.name] = "a\0" })))
            assert.is_nil((validate.check(one, { [p.name] = "a\255" })))
            assert.is_nil((validate.check(one, { [p.name] = "a\nb" })))
          end
        end
      end
    end
    assert.is_true(count > 100, "string parameters checked: " .. count)
  end)

  it("keeps the default cap within the documented 1 MB", function()
    assert.is_true(validate.DEFAULT_MAX_LENGTH * 4 <= 1024 * 1024)
    assert.equal(1048576, validate.MAX_PARAM_BYTES)
    assert.equal(128, (validate.max_length({ max_length = 128 })))
    assert.same({ CAP, "default" }, { validate.max_length({}) })
    assert.same({ 128, "catalog" }, { validate.max_length({ max_length = 128 }) })
  end)

  it("text_error: one rule, the same on every VM", function()
    assert.is_nil(validate.text_error("plain ASCII"))
    assert.is_nil(validate.text_error(""))
    assert.is_nil(validate.text_error("\194\128 \223\191 \224\160\128 \237\159\191 \238\128\128 \244\143\191\191"))
    for name, bad in pairs(INVALID_UTF8) do
      assert.matches("UTF%-8", validate.text_error(bad), name)
    end
    assert.equal("contains a NUL byte (byte 1)", validate.text_error("\0"))
    assert.equal("contains a control character (0x7F at byte 2)", validate.text_error("a\127"))
    assert.equal("contains a control character (0x0A at byte 2)", validate.text_error("a\nb"))
    -- a parameter whose descriptor allows newlines: LF and CR only
    assert.is_nil(validate.text_error("line 1\r\nline 2\n", true))
    assert.matches("control", validate.text_error("a\tb", true))
    assert.matches("NUL", validate.text_error("a\0b", true))
  end)

  it("UTF-8: agrees with the core's JSON encoder (an independent implementation) on random bytes", function()
    local json = simkit.json
    -- a small deterministic generator (the same cases on every VM and run)
    local state = 12345
    local function rnd(n)
      state = (state * 1103515245 + 12345) % 2147483648
      return state % n
    end
    local LEADS = { 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF,
                    0xF0, 0xF1, 0xF4, 0xF5, 0xFF }
    local TRAILS = { 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0 }
    for _ = 1, 20000 do
      local bytes = {}
      for i = 1, 1 + rnd(6) do
        bytes[i] = rnd(3) == 0 and LEADS[1 + rnd(#LEADS)] or TRAILS[1 + rnd(#TRAILS)]
      end
      local s = string.char(unpack and unpack(bytes) or table.unpack(bytes))
      local mine = validate.text_error(s) ~= nil and validate.text_error(s):find("UTF%-8") ~= nil
      local core_refuses = json.encode(s) == nil
      assert(mine == core_refuses, ("disagree on %q: validate %s, json %s"):format(s, tostring(mine),
        tostring(core_refuses)))
    end
  end)

  it("raises, saying what to pass, when called wrongly (programming errors)", function()
    local bads = { 42, {}, true, print }
    for i = 0, #bads do -- bads[0] is nil
      assert.has_error(function() validate.text_error(bads[i]) end,
        "simkit.validate.text_error: the text must be a string, got " .. type(bads[i]))
    end
    bads = { "p", 42, true }
    for i = 0, #bads do
      assert.has_error(function() validate.max_length(bads[i]) end,
        "simkit.validate.max_length: pass a parameter spec (a table), got " .. type(bads[i]))
    end
  end)

  it("refuses an oversized list before splitting it, and caps the joined list", function()
    local op = { params = { { name = "ids", type = "string", list = "comma", items_type = "string" } } }
    local huge = string.rep("1,", 5 * 1024 * 1024) .. "1"
    local t0 = os.clock()
    assert.is_nil((validate.check(op, { ids = huge })))
    assert.is_true(os.clock() - t0 < 5, "refused without splitting") -- generous: a guard against a hang, not a benchmark
    local items = {}
    for i = 1, math.floor(CAP / 10) + 1 do items[i] = string.format("%09d", i) end
    local _, msg = validate.check(op, { ids = items })
    assert.matches("longer than " .. CAP .. " characters %(all items joined by commas%)", msg)
  end)

  it("bounds an array of strings without a per-array cap to 1 MiB in total", function()
    local op = { params = { { name = "cids", type = "Array", items_type = "String" } } }
    local items = {}
    for i = 1, 20 do items[i] = string.rep("c", CAP) end
    local _, msg = validate.check(op, { cids = items })
    assert.matches("larger than 1048576 bytes", msg)
    items[20] = nil
    for i = 17, 19 do items[i] = nil end
    assert.is_table((validate.check(op, { cids = items })))
  end)

  it("checks values of a type it does not know, deep", function()
    local op = { params = { { name = "x", type = "Object" }, { name = "y", type = "Array", items_type = "Thing" } } }
    assert.is_table((validate.check(op, { x = { a = "ok", b = { 1, 2, true } } })))
    assert.matches("NUL", select(2, validate.check(op, { x = { a = { b = "z\0" } } })))
    assert.matches("UTF%-8", select(2, validate.check(op, { x = { ["\255"] = 1 } })))
    assert.matches("finite", select(2, validate.check(op, { x = { n = 0 / 0 } })))
    assert.matches("function", select(2, validate.check(op, { y = { { f = print } } })))
    local cyc = {}
    cyc.self = cyc
    assert.matches("nested too deeply", select(2, validate.check(op, { x = cyc })))
    assert.matches("larger than", select(2, validate.check(op, { y = { { s = TEN_MB } } })))
  end)
end)

-- Integer parameters: the normalisation (core.int_text, one C pass) against
-- the rule written with Lua patterns, as it was, over edge cases and random
-- texts and numbers.
describe("simkit.validate: integer parameters (core.int_text)", function()
  local core = require "simkit.core"
  local util = require "simkit.util"
  local op = { params = { { name = "n", type = "Long", required = true } } }

  local function reference(v) -- the former to_integer, patterns and all
    if type(v) == "number" and math.type and math.type(v) == "integer" then return v end
    local text
    if type(v) == "string" then
      text = v:match("^%-?%d+$") and v or nil
    else
      text = util.integer_text(v)
    end
    if not text then return nil end
    local sign, digits = text:match("^(%-?)0*(%d-)$")
    if digits == "" then digits = "0" end
    if digits == "0" then sign = "" end
    local limit = sign == "-" and "9223372036854775808" or "9223372036854775807"
    if #digits > #limit or (#digits == #limit and digits > limit) then return nil end
    text = sign .. digits
    if math.type then
      local n = math.tointeger(tonumber(text))
      if n and string.format("%d", n) == text then return n end
      return text
    end
    local n = tonumber(text)
    if n and math.abs(n) < 2 ^ 53 then return n end
    return text
  end

  local function check(v)
    local out = validate.check(op, { n = v })
    local want = reference(v)
    if want == nil then
      assert.is_nil(out, "accepted " .. tostring(v))
    else
      assert(out, "refused " .. tostring(v))
      assert.are.equal(want, out.n, tostring(v))
      assert.are.equal(math.type and math.type(want) or type(want), math.type and math.type(out.n) or type(out.n),
        tostring(v))
    end
  end

  it("core.int_text: canonical integer text or nil", function()
    local cases = { ["0"] = "0", ["-0"] = "0", ["000"] = "0", ["-000"] = "0", ["007"] = "7", ["-007"] = "-7",
      ["12"] = "12", ["-12"] = "-12", ["100"] = "100", ["-100"] = "-100",
      [string.rep("9", 40)] = string.rep("9", 40), ["00" .. string.rep("1", 30)] = string.rep("1", 30) }
    for s, want in pairs(cases) do assert.are.equal(want, core.int_text(s), s) end
    for _, s in ipairs({ "", "-", "--1", "+1", " 1", "1 ", "1\0", "1a", "0x10", "1e3", "1.0", "١" }) do
      assert.is_nil(core.int_text(s), s)
    end
    assert.are.equal("12", core.int_text(12)) -- a number is its text
    assert.has_error(function() core.int_text(nil) end)
    assert.has_error(function() core.int_text({}) end)
  end)

  it("agrees with the pattern rule on edge cases", function()
    for _, v in ipairs({ "0", "-0", "00", "007", "-007", "1", "-1", "999999999999999", "1000000000000000",
      "-999999999999999", "999999999999999999", "-999999999999999999", "9007199254740992", "9007199254740993",
      "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
      "09223372036854775807", "111111111111111111", "", "-", "+1", "1.5", " 1", "1e3", "x",
      0, 1, -1, 1.0, -0.0, 2 ^ 53, 2 ^ 53 + 2, -2 ^ 53, 2 ^ 63, -2 ^ 63, 1.5, 0 / 0, math.huge, -math.huge,
      true, {} }) do
      check(v)
    end
  end)

  it("agrees with the pattern rule on 3000 random texts and numbers", function()
    math.randomseed(42)
    local alphabet = { "0", "0", "1", "5", "9", "-", "x", " ", "." }
    for _ = 1, 3000 do
      local parts = {}
      for i = 1, math.random(0, 24) do
        parts[i] = math.random() < 0.8 and tostring(math.random(0, 9)) or alphabet[math.random(#alphabet)]
      end
      local s = table.concat(parts)
      check(s)
      check("-" .. s)
      check((math.random() - 0.5) * 2 ^ math.random(0, 70))
      check(math.floor((math.random() - 0.5) * 2 ^ math.random(0, 62)))
    end
  end)
end)
