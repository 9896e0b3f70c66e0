-- The sandbox framework (sim/): sim/run, the control API, faults, the
-- request log, the clock, pushes, and the shared helpers (simsandbox.util).
local sandbox = require "spec.support.sandbox"
local socket = require "socket"

local util = sandbox.json

describe("simsandbox.util", function()
  describe("json", function()
    it("round-trips integers beyond 2^53 exactly as bignums", function()
      local text = '{"id":12345678901234567890,"neg":-9223372036854775808,"max":9007199254740992}'
      local v = assert(util.json_decode(text))
      assert.is_true(util.is_bignum(v.id))
      assert.equal("12345678901234567890", tostring(v.id))
      assert.is_true(v.id == util.bignum("12345678901234567890"))
      assert.is_false(v.id == util.bignum("12345678901234567891"))
      assert.equal("-9223372036854775808", tostring(v.neg))
      assert.equal(9007199254740992, v.max)
      assert.equal(text:gsub("[{}]", ""):len() + 2, #util.json_encode(v))
      assert.equal('{"id":12345678901234567890,"max":9007199254740992,"neg":-9223372036854775808}',
                   util.json_encode(v))
      assert.equal("[9223372036854775807]", util.json_encode({ util.bignum("9223372036854775807") }))
      assert.has_error(function() util.bignum("12a") end)
    end)

    it("decodes small integers as numbers and floats as floats", function()
      local v = assert(util.json_decode('[1,-2,0,1.5,1e2,-0.25e-1]'))
      assert.same({ 1, -2, 0, 1.5, 100, -0.025 }, { v[1], v[2], v[3], v[4], v[5], v[6] })
      if math.type then assert.equal("integer", math.type(v[1])) end
      assert.equal("[1,-2,0,1.5,100,-0.025]", util.json_encode(v))
      assert.equal("500", util.json_encode(500.0))
    end)

    it("keeps null, empty arrays and empty objects apart", function()
      local v = assert(util.json_decode('{"a":null,"b":[],"c":{},"d":[null,1]}'))
      assert.equal(util.null, v.a)
      assert.equal(util.null, v.d[1])
      assert.equal('{"a":null,"b":[],"c":{},"d":[null,1]}', util.json_encode(v))
      assert.equal("[]", util.json_encode(util.array()))
      assert.equal("{}", util.json_encode(util.object()))
      assert.equal("{}", util.json_encode({}))
    end)

    it("decodes escapes and UTF-8", function()
      local v = assert(util.json_decode('"a\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\127"'))
      assert.equal('a"b\\c/d\n\195\169\240\159\152\128\127', v)
      assert.equal('"a\\"b\\\\c/d\\n\195\169\240\159\152\128\\u007f"', util.json_encode(v))
    end)

    it("refuses what RFC 8259 refuses, without raising", function()
      for _, bad in ipairs({ "", " ", "01", "-01", "+1", "1.", ".5", "1e", "NaN", "Infinity",
                             "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "\"a\1b\"", "\"\\x\"",
                             "\"\\ud800\"", "\"\\udc00\"", "\"\255\"", "\"\237\160\128\"",
                             "[1 2]", "1 2", "[", "{", "\"abc", "tru", "nul", "[1]x" }) do
        local v, err = util.json_decode(bad)
        assert.is_nil(v, bad)
        assert.is_string(err)
      end
      assert.is_nil(util.json_decode(string.rep("[", 100000)))
      assert.is_nil(util.json_decode(nil))
    end)

    it("refuses to encode what JSON cannot carry", function()
      assert.is_nil(util.json_encode(0 / 0))
      assert.is_nil(util.json_encode({ math.huge }))
      assert.is_nil(util.json_encode({ [1] = 1, [3] = 3 }))
      assert.is_nil(util.json_encode({ f = print }))
      local cyc = {}
      cyc.self = cyc
      assert.is_nil(util.json_encode(cyc))
    end)
  end)

  describe("encoding helpers", function()
    it("percent-encodes all but RFC 3986 unreserved characters", function()
      assert.equal("aZ09-._~%20%2F%3F%26%3D%2B%C3%A9", util.urlencode("aZ09-._~ /?&=+\195\169"))
      assert.equal("a b+c", util.urldecode("a%20b+c"))
      assert.equal("a b c", util.urldecode("a%20b+c", true))
    end)

    it("parses query strings with repeated keys", function()
      local q = util.parse_query("a=1&a=2&a=3&b=x+y&c&d=%26")
      assert.same({ "1", "2", "3" }, q.a)
      assert.equal("x y", q.b)
      assert.equal("", q.c)
      assert.equal("&", q.d)
      assert.same({}, util.parse_query(""))
    end)

    it("does hex and base64", function()
      assert.equal("00ff41", util.hex("\0\255A"))
      assert.equal("\0\255A", util.unhex("00ff41"))
      for _, s in ipairs({ "", "f", "fo", "foo", "foob", "fooba", "foobar" }) do
        assert.equal(s, util.b64decode(util.b64encode(s)))
      end
      assert.equal("Zm9vYmE=", util.b64encode("fooba"))
    end)

    it("limits with a token bucket", function()
      util.reset_ratelimits()
      assert.is_true(util.ratelimit("k", 2, 100))
      assert.is_true(util.ratelimit("k", 2, 100))
      local ok, wait = util.ratelimit("k", 2, 100)
      assert.is_false(ok)
      assert.is_true(wait > 0 and wait <= 0.5)
      assert.is_true(util.ratelimit("k", 2, 100.5))
      assert.is_true(util.ratelimit("other", 1, 100))
      util.reset_ratelimits()
    end)

    it("computes digests through libcrypto (LuaJIT FFI)", function()
      if not jit then
        assert.has_error(function() util.sha1_hex("abc") end)
        return
      end
      assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", util.sha1_hex("abc"))
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                   util.sha256_hex("abc"))
      local fox = "The quick brown fox jumps over the lazy dog"
      assert.equal("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
                   util.hmac_sha256_hex("key", fox))
      assert.equal("de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9", util.hex(util.hmac_sha1("key", fox)))
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", util.sha256_hex(""))
    end)
  end)
end)

describe("sandbox", function()
  local sb

  setup(function()
    sb = sandbox.start({ test_vendor = true })
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  before_each(function()
    sb:reset()
  end)

  local function count(method)
    local st, body = sb:request(method or "GET", "/test/count")
    return st, util.json_decode(body)
  end

  describe("control API", function()
    it("reports its status and loaded vendors", function()
      local st, res = sb:control("GET", "/_sim/status")
      assert.equal(200, st)
      assert.is_true(res.ok)
      local names = {}
      for _, n in ipairs(res.vendors) do names[n] = true end
      assert.is_true(names.testvendor)
      assert.is_number(res.now)
    end)

    it("refuses unknown routes and malformed bodies", function()
      assert.equal(404, (sb:control("GET", "/_sim/nope")))
      local st = sb:request("POST", "/_sim/fault", "{not json")
      assert.equal(400, st)
      st = sb:request("POST", "/_sim/fault", "[1]")
      assert.equal(400, st)
    end)

    it("validates faults", function()
      assert.equal(400, (sb:control("POST", "/_sim/fault", { path = "/x", kind = "boom" })))
      assert.equal(400, (sb:control("POST", "/_sim/fault", { kind = "5xx" })))
      assert.equal(400, (sb:control("POST", "/_sim/fault", { path = "/x", kind = "5xx", when = "later" })))
      assert.equal(400, (sb:control("POST", "/_sim/fault", { path = "/x", kind = "5xx", count = 0 })))
      assert.equal(400, (sb:control("POST", "/_sim/fault", { path = "/x", kind = "5xx", status = 99 })))
      assert.equal(400, (sb:control("POST", "/_sim/fault", { path = "/x", kind = "delay", delay = -1 })))
    end)

    it("resets vendor state, faults and the log", function()
      count()
      count()
      sb:fault({ path = "*", kind = "5xx", count = 5 })
      sb:reset()
      local _, state = sb:control("GET", "/_sim/state/testvendor")
      assert.equal(0, state.counter)
      assert.same({}, sb:requests())
      local _, f = sb:control("GET", "/_sim/fault")
      assert.same({}, f.faults)
      local st, res = count()
      assert.equal(200, st)
      assert.equal(1, res.counter)
    end)

    it("serves vendor state with 64-bit integers exact", function()
      local st, state = sb:control("GET", "/_sim/state/testvendor")
      assert.equal(200, st)
      assert.is_true(state.big == util.bignum("9223372036854775807"))
      assert.equal(404, (sb:control("GET", "/_sim/state/nosuchvendor")))
    end)

    it("passes vendor config and refuses unknown keys", function()
      assert.equal(200, (sb:control("POST", "/_sim/config", { testvendor = { knob = "on" } })))
      local _, state = sb:control("GET", "/_sim/state/testvendor")
      assert.equal("on", state.config.knob)
      assert.equal(400, (sb:control("POST", "/_sim/config", { nosuch = 1 })))
    end)

    it("moves the clock with advance and clock_offset", function()
      local _, c0 = sb:control("GET", "/_sim/clock")
      local st, res = sb:control("POST", "/_sim/advance", { seconds = 3600 })
      assert.equal(200, st)
      assert.equal(3600, res.clock_offset)
      assert.is_true(res.now - c0.now >= 3600)
      local _, echo = sb:request("GET", "/test/echo")
      assert.is_true(util.json_decode(echo).now - c0.now >= 3600)
      sb:control("POST", "/_sim/config", { clock_offset = -60 })
      local _, c1 = sb:control("GET", "/_sim/clock")
      assert.equal(-60, c1.clock_offset)
      assert.equal(400, (sb:control("POST", "/_sim/advance", { seconds = "x" })))
      sb:reset()
      local _, c2 = sb:control("GET", "/_sim/clock")
      assert.equal(0, c2.clock_offset)
    end)
  end)

  describe("faults", function()
    it("applies a fault to the next `count` matching requests only", function()
      sb:fault({ path = "/test/count", kind = "5xx", count = 2, status = 503 })
      assert.equal(503, (count()))
      assert.equal(503, (sb:request("GET", "/test/count")))
      local st, res = count()
      assert.equal(200, st)
      assert.equal(1, res.counter) -- "before": the faulted requests were not processed
      local _, f = sb:control("GET", "/_sim/fault")
      assert.equal(2, f.faults[1].hits)
      assert.equal(0, f.faults[1].remaining)
    end)

    it("matches '*' on vendor paths but never on control paths", function()
      sb:fault({ path = "*", kind = "5xx" })
      assert.equal(200, (sb:control("GET", "/_sim/status")))
      assert.equal(502, (sb:request("GET", "/test/echo")))
      assert.equal(200, (sb:request("GET", "/test/echo")))
    end)

    it("does not match other paths", function()
      sb:fault({ path = "/test/other", kind = "5xx" })
      assert.equal(200, (count()))
      local _, f = sb:control("GET", "/_sim/fault")
      assert.equal(1, f.faults[1].remaining)
      sb:control("DELETE", "/_sim/fault")
      _, f = sb:control("GET", "/_sim/fault")
      assert.same({}, f.faults)
    end)

    it("processes the request with when='after', then replaces the answer", function()
      sb:fault({ path = "/test/count", kind = "html", when = "after" })
      local st, body = sb:request("POST", "/test/count", "{}")
      assert.equal(502, st)
      assert.matches("<html>", body)
      local _, state = sb:control("GET", "/_sim/state/testvendor")
      assert.equal(1, state.counter)
      local log = sb:requests({ path = "/test/count" })
      assert.equal(502, log[1].status)
      assert.equal(200, log[1].handled_status)
      assert.equal("html", log[1].fault)
    end)

    it("answers a vendor envelope error", function()
      sb:fault({ path = "/test/count", kind = "vendor", vendor_code = 44001, message = "too frequent" })
      local st, res = count()
      assert.equal(200, st)
      assert.equal(44001, res.code)
      assert.equal("too frequent", res.msg)
    end)

    it("truncates an answer (Content-Length matching the cut)", function()
      sb:fault({ path = "/test/count", kind = "truncate", when = "after" })
      local st, body, headers = sb:request("GET", "/test/count")
      assert.equal(200, st)
      assert.equal(tostring(#body), headers["content-length"])
      assert.equal(('{"code":0,"counter":1}'):sub(1, 11), body)
    end)

    it("resets the connection without an answer", function()
      sb:fault({ path = "/test/count", kind = "reset" })
      local st, err = sb:request("GET", "/test/count")
      assert.is_nil(st)
      assert.is_string(err)
      assert.equal(0, sb:requests({ path = "/test/count" })[1].status)
    end)

    it("delays, then answers normally", function()
      sb:fault({ path = "/test/count", kind = "delay", delay = 0.3 })
      local t0 = socket.gettime()
      local st, res = count()
      assert.equal(200, st)
      assert.equal(1, res.counter)
      assert.is_true(socket.gettime() - t0 >= 0.25)
    end)
  end)

  describe("request log", function()
    it("records vendor, method, path, query, headers, body and status", function()
      sb:request("POST", "/test/echo?x=1&x=2&y=z", "the body", { ["X-Sig"] = "abc" })
      sb:request("GET", "/test/status/404")
      sb:request("GET", "/nowhere")
      local log = sb:requests()
      assert.equal(3, #log)
      local e = log[1]
      assert.equal("testvendor", e.vendor)
      assert.equal("POST", e.method)
      assert.equal("/test/echo", e.path)
      assert.same({ "1", "2" }, e.query.x)
      assert.equal("z", e.query.y)
      assert.equal("x=1&x=2&y=z", e.raw_query)
      assert.equal("abc", e.headers["x-sig"])
      assert.equal("the body", e.body)
      assert.equal(200, e.status)
      assert.is_number(e.time)
      assert.equal(404, log[2].status)
      assert.equal("none", log[3].vendor)
      assert.equal(404, log[3].status)
      assert.equal(1, #sb:requests({ vendor = "none" }))
      assert.equal(1, #sb:requests({ method = "POST" }))
      sb:clear_requests()
      assert.same({}, sb:requests())
    end)

    it("does not log control calls", function()
      sb:control("GET", "/_sim/status")
      assert.same({}, sb:requests())
    end)

    it("turns a vendor module error into a 500", function()
      local st, body = sb:request("GET", "/test/error")
      assert.equal(500, st)
      assert.matches("boom", body)
    end)
  end)

  describe("pushes", function()
    it("POSTs to a callback URL from a timer and records the answer", function()
      local srv = assert(socket.bind("127.0.0.1", 0))
      local _, port = srv:getsockname()
      local url = "http://127.0.0.1:" .. port .. "/cb"
      local st = sb:request("POST", "/test/push?url=" .. util.urlencode(url), '{"event":"x"}')
      assert.equal(200, st)
      srv:settimeout(3)
      local c = assert(srv:accept())
      c:settimeout(3)
      local first = c:receive("*l")
      local headers = {}
      while true do
        local line = c:receive("*l")
        if not line or line == "" then break end
        local k, v = line:match("^([^:]+):%s*(.*)$")
        headers[k:lower()] = v
      end
      local body = c:receive(tonumber(headers["content-length"]))
      c:send("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nsuccess")
      c:close()
      srv:close()
      assert.equal("POST /cb HTTP/1.1", first)
      assert.equal("1", headers["x-push"])
      assert.equal('{"event":"x"}', body)
      local rec
      for _ = 1, 50 do
        local _, res = sb:control("GET", "/_sim/pushes")
        rec = res.pushes[1]
        if rec and rec.status then break end
        socket.sleep(0.02)
      end
      assert.equal(200, rec.status)
      assert.equal("success", rec.response)
    end)
  end)

  describe("sim/run", function()
    it("starts, reports status and stops", function()
      local other = sandbox.start()
      finally(function() other:stop() end)
      assert.is_not.equal(sb.url, other.url)
      local run = sandbox.root .. "/sim/run"
      local p = io.popen("'" .. run .. "' status '" .. other.dir .. "'")
      local out = p:read("*a")
      p:close()
      assert.equal("running " .. other.url .. "\n", out)
      p = io.popen("'" .. run .. "' stop '" .. other.dir .. "'")
      assert.equal("stopped\n", p:read("*a"))
      p:close()
      p = io.popen("'" .. run .. "' status '" .. other.dir .. "'")
      out = p:read("*a")
      p:close()
      assert.equal("stopped\n", out)
      assert.is_nil((socket.connect("127.0.0.1", other.port)))
    end)
  end)
end)
