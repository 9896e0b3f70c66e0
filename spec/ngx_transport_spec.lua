-- simkit.transport.ngx (HTTP/1.1 over nginx cosockets) run INSIDE nginx: the
-- sandbox loads spec/support/sim_ngxclient.lua, whose /ngxtest/ routes run
-- the transport (and whole simkit clients) in the sandbox's own worker,
-- calling back into the same sandbox, and answer with what happened as JSON.
-- The busted side only speaks HTTP to the sandbox, so this runs under Lua 5.4
-- and LuaJIT alike; inside nginx it needs build/luajit/simkit/core.so.
local sandbox = require "spec.support.sandbox"
local listeners = require "spec.support.listeners"

local json = sandbox.json
local ROOT = sandbox.root
local CORE = ROOT .. "/build/luajit/simkit/core.so"

local AK, SK = "SANDBOXAKEXAMPLE0001", "sandbox-sk-secret"
local PROJECT_ID = "0123456789abcdef0123456789abcdef"
local ICCID = "89852012345678900001"

local function errmsg(out)
  if type(out) == "table" then return tostring(out.error) end
  return tostring(out)
end

describe("simkit.transport.ngx inside nginx", function()
  local sb

  setup(function()
    local f = io.open(CORE, "rb")
    if not f then
      error("ngx transport spec: " .. CORE .. " is missing; build the C core for nginx's LuaJIT " ..
            "first (make LUA=luajit)", 0)
    end
    f:close()
    sb = sandbox.start {
      test_vendor = true,
      vendors = { "sim_ngxclient" },
      lua_path = ROOT .. "/spec/support/?.lua;" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;",
      lua_cpath = ROOT .. "/build/luajit/?.so",
    }
    local st, env = sb:control("GET", "/ngxtest/env")
    if st ~= 200 or type(env) ~= "table" then
      local _, status = sb:control("GET", "/_sim/status")
      local load_err = type(status) == "table" and status.load_errors and status.load_errors.sim_ngxclient
      error("ngx transport spec: spec/support/sim_ngxclient.lua does not run in the sandbox: " ..
            tostring(load_err or errmsg(env)), 0)
    end
    if env.jit == json.null then
      error("ngx transport spec: nginx's Lua is " .. tostring(env.lua_version) ..
            ", not LuaJIT: build/luajit/simkit/core.so cannot load there", 0)
    end
    if env.core ~= "ok" or env.simkit ~= "ok" then
      error("ngx transport spec: simkit does not load inside nginx (cpath " .. tostring(env.cpath) ..
            "): core: " .. tostring(env.core) .. "; simkit: " .. tostring(env.simkit), 0)
    end
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  before_each(function()
    sb:reset()
  end)

  -- Run requests through one ngx transport inside nginx; returns the results.
  local function run(requests, extra)
    local body = { requests = requests }
    for k, v in pairs(extra or {}) do body[k] = v end
    local st, out = sb:control("POST", "/ngxtest/transport", body)
    assert(st == 200, "ngxtest/transport: " .. errmsg(out))
    return out.results, out
  end

  local function one(r)
    return run({ r })[1]
  end

  local function answer(r)
    local res = one(r)
    assert(res.ok, "no answer: " .. tostring(res.message or res.raised))
    return res
  end

  local function echo_of(res)
    return assert(json.json_decode(res.body))
  end

  local function counter() return sb:state("testvendor").counter end

  describe("requests", function()
    it("does a GET round trip with status, headers and body", function()
      local res = answer { path = "/test/echo?a=1&a=2&b=x+y", headers = { ["X-Trace"] = "t1" } }
      assert.equal(200, res.status)
      assert.equal("yes", res.headers["x-test"])
      assert.equal("a=1, b=2", res.headers["set-cookie"])
      assert.matches("^application/json", res.headers["content-type"])
      assert.is_number(res.elapsed)
      assert.is_true(res.elapsed >= 0 and res.elapsed < 5)
      assert.is_boolean(res.reused)
      local echo = echo_of(res)
      assert.equal("GET", echo.method)
      assert.equal("/test/echo", echo.path)
      assert.same({ "1", "2" }, echo.query.a)
      assert.equal("x y", echo.query.b)
      assert.equal("", echo.body)
      assert.equal("t1", echo.headers["x-trace"])
      assert.equal("127.0.0.1:" .. sb.port, echo.headers.host)
      assert.equal("simkit", echo.headers["user-agent"])
      assert.equal("keep-alive", echo.headers.connection)
      assert.is_nil(echo.headers["content-length"])
    end)

    it("does a POST round trip with both header forms", function()
      local res = answer {
        method = "POST", path = "/test/echo", body = '{"k":1}',
        header_pairs = { { "X-First", "1" }, { "X-Num", 42 } },
        headers = { ["Content-Type"] = "application/json", ["X-Map"] = "two", ["Content-Length"] = "99" },
      }
      assert.equal(200, res.status)
      local echo = echo_of(res)
      assert.equal("POST", echo.method)
      assert.equal('{"k":1}', echo.body)
      assert.equal("1", echo.headers["x-first"])
      assert.equal("42", echo.headers["x-num"])
      assert.equal("two", echo.headers["x-map"])
      assert.equal("application/json", echo.headers["content-type"])
      assert.equal("7", echo.headers["content-length"]) -- computed, never the caller's
      assert.is_nil(echo.headers["expect"])
    end)

    it("adds no content type of its own", function()
      local echo = echo_of(answer { method = "POST", path = "/test/echo", body = "a=1" })
      assert.is_nil(echo.headers["content-type"])
      assert.equal("a=1", echo.body)
    end)

    it("sends PUT, PATCH, DELETE and HEAD, and Content-Length: 0 for a bodyless POST", function()
      local reqs = {}
      for _, m in ipairs({ "PUT", "PATCH", "DELETE" }) do
        reqs[#reqs + 1] = { method = m, path = "/test/echo", body = "b-" .. m }
      end
      reqs[#reqs + 1] = { method = "DELETE", path = "/test/echo" }
      reqs[#reqs + 1] = { method = "HEAD", path = "/test/echo" }
      reqs[#reqs + 1] = { method = "POST", path = "/test/echo" }
      local res = run(reqs)
      for i, m in ipairs({ "PUT", "PATCH", "DELETE" }) do
        local echo = echo_of(res[i])
        assert.equal(m, echo.method)
        assert.equal("b-" .. m, echo.body)
      end
      assert.equal("DELETE", echo_of(res[4]).method)
      assert.equal(200, res[5].status)
      assert.equal("", res[5].body)
      assert.equal("0", echo_of(res[6]).headers["content-length"])
    end)

    it("returns HTTP error statuses as answers", function()
      local reqs = {}
      for i, st in ipairs({ 400, 404, 429, 500, 503 }) do reqs[i] = { path = "/test/status/" .. st } end
      for i, res in ipairs(run(reqs)) do
        assert.equal(reqs[i].path:match("%d+$"), tostring(res.status))
        assert.equal(res.status, json.json_decode(res.body).status)
      end
    end)

    it("keeps a binary body intact both ways", function()
      local res = answer { method = "POST", path = "/test/binary", body_gen = "binary",
                           headers = { ["Content-Type"] = "application/octet-stream" } }
      assert.equal(200, res.status)
      assert.equal(256 * 64 + 5, res.body_len)
      assert.is_true(res.body_same)
    end)

    it("receives a large body, and an empty one", function()
      local res = run { { path = "/test/big?n=3000000" }, { path = "/test/big?n=10" }, { path = "/test/big?n=0" } }
      assert.equal(3000000, res[1].body_len)
      assert.equal("xxxxxxxxxx", res[2].body)
      assert.equal("", res[3].body)
      assert.equal("0", res[3].headers["content-length"])
    end)

    it("reads chunked answers", function()
      sb:control("POST", "/_sim/config", { chunked = true })
      local res = run { { path = "/test/big?n=5000" }, { path = "/test/big?n=300000" }, { path = "/test/echo" },
                        { path = "/test/echo" } }
      assert.equal("chunked", res[1].headers["transfer-encoding"])
      assert.equal(5000, res[1].body_len)
      assert.equal(300000, res[2].body_len)
      assert.equal("GET", echo_of(res[3]).method)
      assert.is_true(res[4].reused) -- the chunked answers left the connection usable
    end)

    it("sends a query without a path and drops a fragment", function()
      local res = run { { url = sb.url .. "?x=1" }, { url = sb.url .. "/test/echo?a=1#frag" } }
      assert.equal(404, res[1].status) -- the sandbox's "no vendor serves GET /", not nginx's 400
      assert.matches("GET /", json.json_decode(res[1].body).error, 1, true)
      assert.equal("a=1", echo_of(res[2]).raw_query)
    end)

    it("skips an interim 1xx answer", function()
      local res = answer { path = "/ngxtest/raw/continue" }
      assert.equal(200, res.status)
      assert.equal("2", res.headers["x-b"])
      assert.equal("ok", res.body)
    end)

    it("reads a body that ends with the connection", function()
      local res = answer { path = "/ngxtest/raw/closedelim" }
      assert.equal("until the end", res.body)
    end)
  end)

  describe("keep-alive", function()
    it("reuses the connection", function()
      local res, out = run({ { path = "/test/echo" }, { path = "/test/echo" },
                             { method = "POST", path = "/test/echo", body = "x" } }, { drain = true })
      assert.is_number(out.drained)
      assert.is_false(res[1].reused)
      assert.is_true(res[2].reused)
      assert.is_false(res[3].reused) -- a write: always a fresh connection
    end)

    it("closes on Connection: close, either side, and after an HTTP/1.0 answer", function()
      local res = run({ { path = "/test/echo" }, { path = "/test/echo", headers = { Connection = "close" } },
                        { path = "/test/echo" },
                        { path = "/ngxtest/raw/closetoken", timeout = 2 }, { path = "/test/echo", timeout = 2 },
                        { path = "/ngxtest/raw/http10", timeout = 2 }, { path = "/test/echo", timeout = 2 } },
                      { drain = true })
      assert.is_true(res[2].reused)
      assert.equal("close", echo_of(res[2]).headers.connection)
      assert.is_false(res[3].reused)
      assert.equal("ok", res[4].body) -- "Connection: Close, x-foo", connection left open
      assert.is_true(res[5].ok, res[5].message)
      assert.is_false(res[5].reused)
      assert.equal("ok", res[6].body) -- HTTP/1.0 without keep-alive, connection left open
      assert.is_true(res[7].ok, res[7].message)
      assert.is_false(res[7].reused)
    end)

    it("resends an idempotent request once when a reused connection dies before the answer", function()
      local res = run({ { path = "/test/count" } }, { drain = true })
      assert.is_true(res[1].ok)
      sb:fault({ path = "/test/count", kind = "reset", when = "after" })
      res = one { path = "/test/count" }
      assert.is_true(res.ok, res.message)
      assert.equal(200, res.status)
      assert.is_false(res.reused)
      assert.equal(3, counter()) -- the lost answer's request went through, then the resend
    end)

    it("sends a POST on a fresh connection and never resends it", function()
      local res = run({ { path = "/test/count" } }, { drain = true })
      assert.is_true(res[1].ok)
      sb:fault({ path = "/test/count", kind = "reset", when = "after" })
      res = one { method = "POST", path = "/test/count", body = "{}" }
      assert.is_false(res.ok)
      assert.equal("reset", res.category)
      assert.equal(2, counter()) -- processed exactly once
      -- an idempotent POST (a read) may still reuse a kept-alive connection
      res = run({ { path = "/test/echo" }, { method = "POST", path = "/test/echo", body = "{}", idempotent = true } },
        { drain = true })
      assert.is_true(res[2].reused)
    end)
  end)

  describe("transport failures", function()
    it("reports a reset connection as 'reset'", function()
      sb:fault({ path = "/test/echo", kind = "reset" })
      local res = run({ { path = "/test/echo" } }, { drain = true })[1]
      assert.is_false(res.ok)
      assert.equal("reset", res.category)
      assert.matches("^http: .*%(reset%)$", res.message)
    end)

    it("reports a body shorter than Content-Length as 'partial'", function()
      sb:fault({ path = "/test/count", kind = "truncate", length = "full" })
      local res = one { path = "/test/count" }
      assert.is_false(res.ok)
      assert.equal("partial", res.category)
      assert.matches("%(partial%)$", res.message)
    end)

    it("reports a chunked body cut by the peer as 'partial', cut headers as 'reset'", function()
      local res = run { { path = "/ngxtest/raw/chunkcut" }, { path = "/ngxtest/raw/headcut" } }
      assert.equal("partial", res[1].category)
      assert.equal("reset", res[2].category)
    end)

    it("delivers a truncated answer with a matching Content-Length as an answer", function()
      sb:fault({ path = "/test/count", kind = "truncate" })
      local res = answer { path = "/test/count" }
      assert.equal(200, res.status)
      assert.equal(tostring(res.body_len), res.headers["content-length"])
      assert.is_nil(json.json_decode(res.body))
    end)

    it("times out on a delayed answer and on a stalled body", function()
      sb:fault({ path = "/test/count", kind = "delay", delay = 0.6 })
      local res = run { { path = "/test/count", timeout = 0.2 }, { path = "/ngxtest/raw/slowbody", timeout = 0.2 } }
      for _, r in ipairs(res) do
        assert.is_false(r.ok)
        assert.equal("timeout", r.category)
        assert.matches("%(timeout%)$", r.message)
        assert.is_true(r.took >= 0.15 and r.took < 1, "took " .. r.took)
      end
    end)

    it("answers 5xx and HTML faults as HTTP answers", function()
      sb:fault({ path = "/test/count", kind = "5xx", status = 503 })
      sb:fault({ path = "/test/count", kind = "html" })
      local res = run { { path = "/test/count" }, { path = "/test/count" } }
      assert.equal(503, res[1].status)
      assert.equal(502, res[2].status)
      assert.matches("^text/html", res[2].headers["content-type"])
      assert.matches("<html>", res[2].body)
    end)

    it("reports a refused connection as 'connect'", function()
      local res = one { url = "http://127.0.0.1:" .. sandbox.closed_port() .. "/x", timeout = 2 }
      assert.is_false(res.ok)
      assert.equal("connect", res.category)
      assert.matches("%(connect%)$", res.message)
    end)

    it("reports a host name without a resolver as 'resolve'", function()
      local res = one { url = "http://localhost:" .. sb.port .. "/test/echo", timeout = 2 }
      assert.equal("resolve", res.category)
    end)

    it("fails TLS to a plain HTTP port without crashing", function()
      local res = one { url = (sb.url:gsub("^http:", "https:")) .. "/test/echo", timeout = 2 }
      assert.is_false(res.ok)
      assert.equal("tls", res.category)
    end)

    it("refuses other protocols and malformed URLs", function()
      local res = run { { url = "file:///etc/passwd" }, { url = "ftp://x/" }, { url = "http://x:abc/" },
                        { url = "http://x:99999/" }, { url = "http:/x" }, { url = "http://a\r\nX-B: 1/" },
                        { url = sb.url .. "/test/echo x" } }
      for _, r in ipairs(res) do
        assert.is_false(r.ok)
        assert.equal("other", r.category)
        assert.is_nil(r.raised)
      end
    end)

    it("returns malformed answers as 'other' without raising", function()
      local res = run { { path = "/ngxtest/raw/badlen" }, { path = "/ngxtest/raw/badstatus" },
                        { path = "/ngxtest/raw/badchunk" } }
      for _, r in ipairs(res) do
        assert.is_nil(r.raised)
        assert.is_false(r.ok)
        assert.equal("other", r.category)
      end
    end)

    it("keeps request headers and body out of the message", function()
      local res = one { method = "POST", url = "http://127.0.0.1:" .. sandbox.closed_port() .. "/x",
                        headers = { Authorization = "Bearer SECRET-TOKEN" }, body = "password=SECRET-BODY" }
      assert.is_string(res.message)
      assert.is_nil(res.message:find("SECRET", 1, true))
    end)

    it("works again after a failure", function()
      sb:fault({ path = "/test/count", kind = "reset" })
      local res = run { { path = "/test/count" }, { path = "/test/count" } }
      assert.is_false(res[1].ok)
      assert.equal(200, res[2].status)
    end)
  end)

  describe("was the request sent?", function()
    local l
    after_each(function()
      if l then l:close(); l = nil end
    end)

    it("reports a connect that never completes as 'connect' (nothing sent), for a write too", function()
      l = listeners.blackhole()
      local res = run { { method = "POST", url = l.url .. "/order", body = "{}", timeout = 2, connect_timeout = 0.3 },
                        { method = "POST", url = l.url .. "/order", body = "{}", timeout = 0.3 },
                        { url = l.url .. "/read", timeout = 0.3 } }
      for _, r in ipairs(res) do
        assert.is_false(r.ok)
        assert.is_nil(r.raised)
        assert.equal("connect", r.category, r.message)
        assert.matches("%(connect%)$", r.message)
      end
    end)

    it("keeps 'timeout' once the request went out to a server that never answers", function()
      l = listeners.silent()
      local res = run { { method = "POST", url = l.url .. "/order", body = "{}", timeout = 0.3 },
                        { url = l.url .. "/read", timeout = 0.3 } }
      for _, r in ipairs(res) do
        assert.is_false(r.ok)
        assert.equal("timeout", r.category, r.message)
      end
    end)

    it("a simkit client reports an order to an unreachable host as not sent, safe to retry", function()
      l = listeners.blackhole()
      local st, out = sb:control("POST", "/ngxtest/client", {
        vendor = "eiotclub", opts = { appkey = "a", secret = "s", base_url = l.url, timeout = 0.3 },
        calls = { { op = "order_package", args = { iccid = ICCID, packageCode = "P1", outTradeNo = "k-1" } } } })
      assert(st == 200, "ngxtest/client: " .. errmsg(out))
      local err = out.results[1].err
      assert.equal("transport", err.kind)
      assert.equal("connect", err.category)
      assert.is_false(err.sent)
      assert.is_true(err.retryable)
    end)
  end)

  describe("deadline per attempt", function()
    it("cuts servers trickling their answer at the timeout", function()
      -- each sends a complete, valid answer one byte every 30 ms: no single
      -- read waits long, only a deadline for the whole attempt cuts them
      local res = run { { path = "/ngxtest/raw/trickle_head", timeout = 0.4 },
                        { path = "/ngxtest/raw/trickle_body", timeout = 0.4 },
                        { path = "/ngxtest/raw/trickle_chunked", timeout = 0.4 } }
      for i, r in ipairs(res) do
        assert.is_false(r.ok, "trickled answer " .. i .. " was taken whole")
        assert.is_nil(r.raised)
        assert.equal("timeout", r.category, r.message)
      end
    end)

    it("takes the same trickled answers whole when the deadline allows it", function()
      local res = run { { path = "/ngxtest/raw/trickle_head", timeout = 20 },
                        { path = "/ngxtest/raw/trickle_chunked", timeout = 20 } }
      assert.equal(200, res[1].status)
      assert.equal("ok", res[1].body)
      assert.equal("1", res[1].headers["x-slow"])
      assert.equal(string.rep("z", 8), res[2].body)
    end)
  end)

  describe("max_body", function()
    it("takes an answer of exactly max_body bytes and refuses one byte more, chunked or not", function()
      local res = run { { path = "/test/big?n=1000", max_body = 1000 }, { path = "/test/big?n=1001", max_body = 1000 } }
      assert.equal(1000, res[1].body_len)
      assert.is_false(res[2].ok)
      assert.equal("too_large", res[2].category)
      assert.equal("http: reading body: the answer is larger than max_body (too_large)", res[2].message)
      sb:control("POST", "/_sim/config", { chunked = true })
      res = run { { path = "/test/big?n=5000", max_body = 5000 }, { path = "/test/big?n=5001", max_body = 5000 } }
      assert.equal("chunked", res[1].headers["transfer-encoding"])
      assert.equal(5000, res[1].body_len)
      assert.equal("too_large", res[2].category)
    end)

    it("refuses 100 MB announced by Content-Length by default (8 MB), and endless bodies", function()
      local res = run { { path = "/ngxtest/raw/huge", timeout = 20 },
                        { path = "/ngxtest/raw/endless_chunked", timeout = 30 },
                        { path = "/ngxtest/raw/endless_close", timeout = 30 },
                        { path = "/ngxtest/raw/endless_chunked", timeout = 30, max_body = 100000 },
                        { path = "/ngxtest/raw/endless_close", timeout = 30, max_body = 100000 },
                        { path = "/test/echo" } }
      for i = 1, 5 do
        assert.is_false(res[i].ok, "answer " .. i .. " was taken")
        assert.is_nil(res[i].raised)
        assert.equal("too_large", res[i].category, res[i].message)
      end
      assert.equal(200, res[6].status) -- works again afterwards
    end)
  end)

  describe("misuse", function()
    it("raises on a bad timeout, connect_timeout or max_body", function()
      local bad = {}
      for _, f in ipairs({ "timeout", "connect_timeout", "max_body" }) do
        for _, v in ipairs({ 0, -1, "1", 1e300, "nan", "inf", "-inf" }) do
          bad[#bad + 1] = { path = "/test/echo", [f] = v }
        end
      end
      bad[#bad + 1] = { path = "/test/echo", max_body = 0.5 }
      local res = run(bad)
      for i, r in ipairs(res) do
        assert.is_string(r.raised, "request " .. i .. " was not refused")
        assert.matches("must be a number", r.raised)
      end
      assert.equal(0, #sb:requests({ path = "/test/echo" }))
    end)

    it("raises on a method or header that could split the request", function()
      local res = run { { path = "/test/echo", headers = { ["X-A"] = "1\r\nX-B: 2" } },
                        { path = "/test/echo", header_pairs = { { "Bad Name", "v" } } },
                        { path = "/test/echo", headers = { ["X-A"] = true } },
                        { method = "GET /x HTTP/1.0\r\n", path = "/test/echo" } }
      assert.matches("invalid value", res[1].raised)
      assert.matches("header name", res[2].raised)
      assert.matches("X%-A", res[3].raised)
      assert.matches("bad method", res[4].raised)
      assert.equal(0, #sb:requests({ path = "/test/echo" }))
    end)
  end)

  describe("simkit clients", function()
    local function client(vendor, opts, calls)
      local st, out = sb:control("POST", "/ngxtest/client", { vendor = vendor, opts = opts, calls = calls })
      assert(st == 200, "ngxtest/client: " .. errmsg(out))
      for _, r in ipairs(out.results) do
        if r.ok then r.data = assert(json.json_decode(r.data_json)) end
      end
      return out
    end

    local function eiot(extra)
      local o = { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url }
      for k, v in pairs(extra or {}) do o[k] = v end
      return o
    end

    local function huawei(extra)
      local o = { ak = AK, sk = SK, project_id = PROJECT_ID, endpoint = sb.url, rate_limit = false }
      for k, v in pairs(extra or {}) do o[k] = v end
      return o
    end

    before_each(function()
      sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = false }, huawei = { rate_limit = false } })
    end)

    it("EIOTCLUB: reads through the ngx transport", function()
      local out = client("eiotclub", eiot(), { { op = "get_cards_info", args = { iccid = ICCID } },
                                               { op = "agent_balance" } })
      assert.is_true(out.results[1].ok, out.results[1].err and out.results[1].err.message)
      assert.equal(ICCID, out.results[1].data.iccid)
      assert.is_true(out.results[2].ok, out.results[2].err and out.results[2].err.message)
      assert.is_string(out.results[2].data.balance)
      assert.same({}, out.blocking_sleeps)
      local log = sb:requests({ path = "/api/v3/card/getCardsInfo" })
      assert.equal(1, #log)
      assert.equal(200, log[1].status)
      assert.equal("simkit", log[1].headers["user-agent"])
    end)

    it("Huawei AK/SK: reads through the ngx transport, the signed Host sent as signed", function()
      local out = client("huawei", huawei(), { { op = "list_sim_cards", args = { limit = 10 } },
                                               { op = "show_sim_card", args = { sim_card_id = "9007199254740993" } } })
      for _, r in ipairs(out.results) do assert.is_true(r.ok, r.err and r.err.message) end
      assert.is_true(#out.results[1].data.sim_cards >= 1)
      assert.equal("89860321000000000001", out.results[2].data.iccid)
      local log = sb:requests({ vendor = "huawei" })
      assert.equal(2, #log)
      for _, e in ipairs(log) do
        assert.equal(200, e.status)
        assert.matches("^SDK%-HMAC%-SHA256 Access=" .. AK, e.headers.authorization)
        assert.equal("127.0.0.1:" .. sb.port, e.headers.host)
      end
    end)

    it("picks the cosocket transport by itself inside nginx (no transport option)", function()
      -- libcurl here would block the only worker, which also serves this answer
      sb:fault({ path = "/api/v3/agent/balance", kind = "delay", delay = 0.3 })
      local st, out = sb:control("POST", "/ngxtest/client", { vendor = "eiotclub", opts = eiot(),
        default_transport = true, calls = { { op = "agent_balance" } } })
      assert(st == 200, "ngxtest/client: " .. errmsg(out))
      assert.is_true(out.results[1].ok, out.results[1].err and out.results[1].err.message)
      assert.is_true(out.max_gap < 0.15, "the worker was busy for " .. out.max_gap .. " s")
      local log = sb:requests({ path = "/api/v3/agent/balance" })
      assert.equal("simkit", log[#log].headers["user-agent"]) -- the cosocket transport's
      -- a proxy cannot be honoured there: a clear error, nothing sent
      st, out = sb:control("POST", "/ngxtest/client", { vendor = "eiotclub", default_transport = true,
        opts = eiot { proxy = "http://127.0.0.1:1", retries = 0 }, calls = { { op = "agent_balance" } } })
      assert.equal(200, st)
      assert.is_false(out.results[1].ok)
      assert.matches("proxy", out.results[1].err.message)
      assert.equal(#log, #sb:requests({ path = "/api/v3/agent/balance" }))
    end)

    it("reports transport failures with their category", function()
      sb:fault({ path = "/api/v3/agent/balance", kind = "truncate", length = "full" })
      sb:fault({ path = "/api/v3/agent/balance", kind = "delay", delay = 0.6 })
      local out = client("eiotclub", eiot { retries = 0, timeout = 0.2 },
                         { { op = "agent_balance" }, { op = "agent_balance" } })
      local e1, e2 = out.results[1].err, out.results[2].err
      assert.equal("transport", e1.kind)
      assert.equal("partial", e1.category)
      assert.equal("transport", e2.kind)
      assert.equal("timeout", e2.category)
    end)

    it("waits between retries with ngx.sleep, never blocking the worker", function()
      sb:fault({ path = "/api/v3/agent/balance", kind = "5xx", status = 503 })
      -- the back-off: base * (0.5 .. 1), so 0.2 .. 0.4 s
      local out = client("eiotclub", eiot { retries = 1, backoff = { base = 0.4 } }, { { op = "agent_balance" } })
      assert.is_true(out.results[1].ok, out.results[1].err and out.results[1].err.message)
      assert.equal(1, #out.ngx_sleeps)
      assert.is_true(out.ngx_sleeps[1] >= 0.19 and out.ngx_sleeps[1] <= 0.4, tostring(out.ngx_sleeps[1]))
      assert.same({}, out.blocking_sleeps)
      assert.is_true(out.took >= out.ngx_sleeps[1] * 0.9)
      assert.is_true(out.max_gap < 0.15, "the worker was busy for " .. out.max_gap .. " s")
      assert.equal(2, #sb:requests({ path = "/api/v3/agent/balance" }))
    end)

    it("Huawei rate limit 'wait' sleeps with ngx.sleep, never blocking the worker", function()
      -- list_sim_cards: 1 call/s per account on the client side
      local out = client("huawei", huawei { rate_limit = "wait" },
                         { { op = "list_sim_cards", args = { limit = 10 } },
                           { op = "list_sim_cards", args = { limit = 10 } } })
      for _, r in ipairs(out.results) do assert.is_true(r.ok, r.err and r.err.message) end
      local slept = 0
      for _, s in ipairs(out.ngx_sleeps) do slept = slept + s end
      assert.is_true(slept >= 0.5, "slept " .. slept)
      assert.is_true(out.took >= 0.5)
      assert.same({}, out.blocking_sleeps)
      assert.is_true(out.max_gap < 0.15, "the worker was busy for " .. out.max_gap .. " s")
    end)
  end)
end)
