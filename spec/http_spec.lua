-- simkit.core http (libcurl) against the sandbox and its test vendor.
local core = require "simkit.core"
local sandbox = require "spec.support.sandbox"
local listeners = require "spec.support.listeners"

local json = sandbox.json

describe("simkit.core http", function()
  local sb, h

  setup(function()
    -- sim_ngxclient's /ngxtest/raw/<name>: hostile servers (trickles, floods)
    sb = sandbox.start({ test_vendor = true, vendors = { "sim_ngxclient" } })
  end)

  teardown(function()
    if h then h:close() end
    if sb then sb:stop() end
  end)

  before_each(function()
    sb:reset()
    if h then h:close() end
    h = core.http_new()
  end)

  local function get(path, extra)
    local t = { url = sb.url .. path }
    for k, v in pairs(extra or {}) do t[k] = v end
    return h:request(t)
  end

  local function counter() return sb:state("testvendor").counter end

  describe("module", function()
    it("reports the libcurl version", function()
      assert.is_string(core.http_version())
      assert.matches("^libcurl/%d", core.http_version())
    end)

    it("prints a handle, open and closed", function()
      local x = core.http_new()
      assert.matches("^simkit%.http %(0?x?%x+%)$", tostring(x))
      x:close()
      assert.equal("simkit.http (closed)", tostring(x))
    end)

    it("closes idempotently and survives collection", function()
      local x = core.http_new()
      x:close()
      x:close()
      for _ = 1, 50 do core.http_new() end
      collectgarbage()
      collectgarbage()
    end)
  end)

  describe("requests", function()
    it("does a GET round trip with status, headers and body", function()
      local res = assert(get("/test/echo?a=1&a=2&b=x+y"))
      assert.equal(200, res.status)
      assert.equal("yes", res.headers["x-test"])
      assert.equal("a=1, b=2", res.headers["set-cookie"])
      assert.matches("^application/json", res.headers["content-type"])
      assert.is_number(res.elapsed)
      assert.is_true(res.elapsed >= 0)
      local echo = assert(json.json_decode(res.body))
      assert.equal("GET", echo.method)
      assert.equal("/test/echo", echo.path)
      assert.same({ "1", "2" }, echo.query.a)
      assert.equal("x y", echo.query.b)
      assert.equal("", echo.body)
    end)

    it("does a POST round trip with both header forms", function()
      local res = assert(h:request({
        method = "POST", url = sb.url .. "/test/echo", body = '{"k":1}',
        headers = { { "X-First", "1" }, { "X-Num", 42 }, ["Content-Type"] = "application/json",
                    ["X-Map"] = "two" },
      }))
      assert.equal(200, res.status)
      local echo = assert(json.json_decode(res.body))
      assert.equal("POST", echo.method)
      assert.equal('{"k":1}', echo.body)
      assert.equal("1", echo.headers["x-first"])
      assert.equal("42", echo.headers["x-num"])
      assert.equal("two", echo.headers["x-map"])
      assert.equal("application/json", echo.headers["content-type"])
      assert.equal("7", echo.headers["content-length"])
      assert.is_nil(echo.headers["expect"])
    end)

    it("adds no content type of its own", function()
      local res = assert(h:request({ method = "POST", url = sb.url .. "/test/echo", body = "a=1" }))
      local echo = assert(json.json_decode(res.body))
      assert.is_nil(echo.headers["content-type"])
      assert.equal("a=1", echo.body)
    end)

    it("sends PUT, PATCH, DELETE and HEAD", function()
      for _, m in ipairs({ "PUT", "PATCH", "DELETE" }) do
        local res = assert(h:request({ method = m, url = sb.url .. "/test/echo", body = "b-" .. m }))
        local echo = assert(json.json_decode(res.body))
        assert.equal(m, echo.method)
        assert.equal("b-" .. m, echo.body)
      end
      local res = assert(h:request({ method = "DELETE", url = sb.url .. "/test/echo" }))
      assert.equal("DELETE", json.json_decode(res.body).method)
      res = assert(h:request({ method = "HEAD", url = sb.url .. "/test/echo" }))
      assert.equal(200, res.status)
      assert.equal("", res.body)
      res = assert(h:request({ method = "POST", url = sb.url .. "/test/echo" }))
      assert.equal("0", json.json_decode(res.body).headers["content-length"])
    end)

    it("returns HTTP error statuses as answers", function()
      for _, st in ipairs({ 400, 404, 429, 500, 503 }) do
        local res = assert(get("/test/status/" .. st))
        assert.equal(st, res.status)
        assert.equal(st, json.json_decode(res.body).status)
      end
    end)

    it("keeps a binary body intact both ways", function()
      local t = {}
      for i = 0, 255 do t[#t + 1] = string.char(i) end
      local bin = string.rep(table.concat(t), 64) .. "\0tail"
      local res = assert(h:request({ method = "POST", url = sb.url .. "/test/binary", body = bin,
                                     headers = { ["Content-Type"] = "application/octet-stream" } }))
      assert.equal(200, res.status)
      assert.equal(#bin, #res.body)
      assert.is_true(bin == res.body)
    end)

    it("receives a large body", function()
      local res = assert(get("/test/big?n=3000000"))
      assert.equal(3000000, #res.body)
      res = assert(get("/test/big?n=10"))
      assert.equal("xxxxxxxxxx", res.body)
    end)

    it("reuses the connection (keep-alive)", function()
      local r1 = assert(get("/test/echo"))
      assert.is_false(r1.reused)
      local r2 = assert(get("/test/echo"))
      assert.is_true(r2.reused)
      -- a write goes on a fresh connection (an idle one closed by the server
      -- must not make it look possibly processed); reads reuse again after it
      local r3 = assert(h:request({ method = "POST", url = sb.url .. "/test/echo", body = "x" }))
      assert.is_false(r3.reused)
      local r4 = assert(get("/test/echo"))
      assert.is_true(r4.reused)
    end)

    it("sends every request as asked when shapes alternate on one handle", function()
      -- a request shaped like the previous one only changes what differs:
      -- each of these must still go out with its own method, body and headers
      local seq = {
        { method = "GET" }, { method = "GET", q = "?n=2" },
        { method = "POST", body = "p1", idempotent = true }, { method = "POST", body = "p22", idempotent = true },
        { method = "POST", body = "w1" }, { method = "POST", body = "w22" },
        { method = "GET", q = "?after=write" }, { method = "HEAD" }, { method = "GET" },
        { method = "PUT", body = "u1" }, { method = "DELETE" }, { method = "PUT", body = "u22", idempotent = false },
        { method = "PATCH", body = "x" }, { method = "POST" }, { method = "GET" },
      }
      for i, r in ipairs(seq) do
        local res = assert(h:request({ method = r.method, url = sb.url .. "/test/echo" .. (r.q or ""), body = r.body,
          idempotent = r.idempotent, headers = { ["X-Step"] = tostring(i) } }))
        assert.equal(200, res.status, "step " .. i)
        if r.method == "HEAD" then
          assert.equal("", res.body)
        else
          local echo = assert(json.json_decode(res.body))
          assert.equal(r.method, echo.method, "step " .. i)
          assert.equal(r.body or "", echo.body, "step " .. i)
          assert.equal(tostring(i), echo.headers["x-step"], "step " .. i)
          assert.is_nil(echo.headers["x-step-" .. (i - 1)])
          if r.q then assert.is_table(echo.query) end
          -- a write always goes on a fresh connection, however many came before
          local write = (r.method == "POST" or r.method == "PATCH") and not r.idempotent
          if write or r.idempotent == false then assert.is_false(res.reused, "step " .. i) end
        end
      end
    end)

    it("takes missing settings from a defaults table, the request's own first", function()
      local defaults = { timeout = 0.3, max_body = 10, proxy = "", insecure = false }
      -- the default cap applies, and the request's own wins over it
      local res, _, cat = h:request({ url = sb.url .. "/test/big?n=11" }, defaults)
      assert.is_nil(res)
      assert.equal("too_large", cat)
      res = assert(h:request({ url = sb.url .. "/test/big?n=11", max_body = 11 }, defaults))
      assert.equal(11, #res.body)
      -- the default deadline applies to a slow answer
      sb:fault({ path = "/test/echo", kind = "delay", delay = 1.5 })
      local t0 = os.time()
      res, _, cat = h:request({ url = sb.url .. "/test/echo" }, defaults)
      assert.is_nil(res)
      assert.equal("timeout", cat)
      assert.is_true(os.time() - t0 <= 1)
      -- method, url, headers and body never come from the defaults
      sb:reset()
      res = assert(h:request({ url = sb.url .. "/test/echo" }, { method = "POST", body = "no", url = "http://x/",
        headers = { ["X-No"] = "1" } }))
      local echo = json.json_decode(res.body)
      assert.equal("GET", echo.method)
      assert.is_nil(echo.headers["x-no"])
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, "defaults") end)
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, { timeout = "1" }) end)
    end)

    it("accepts fractional timeouts, connect_timeout and proxy options", function()
      local res = assert(get("/test/echo", { timeout = 2.5, connect_timeout = 0.5, proxy = "",
                                             noproxy = "*", insecure = false }))
      assert.equal(200, res.status)
    end)

    it("reads chunked answers", function()
      sb:control("POST", "/_sim/config", { chunked = true })
      local res = assert(get("/test/big?n=5000"))
      assert.equal("chunked", res.headers["transfer-encoding"])
      assert.equal(5000, #res.body)
    end)
  end)

  describe("the header list, reused by every request of a handle", function()
    local function echo_of(res) return assert(json.json_decode(assert(res).body)) end

    it("sends each request's own headers only, through growth past the first buffer and back", function()
      -- 40 lines of ~220 bytes: past the list's first 4 KB and its first 16 nodes
      local many = {}
      for i = 1, 40 do many["X-Many-" .. i] = string.rep(string.char(96 + i % 26 + 1), 200) .. i end
      local echo = echo_of(h:request({ url = sb.url .. "/test/echo", headers = many }))
      for i = 1, 40 do
        assert.equal(string.rep(string.char(96 + i % 26 + 1), 200) .. i, echo.headers["x-many-" .. i])
      end
      -- then a short list: nothing of the long one goes out again
      echo = echo_of(h:request({ url = sb.url .. "/test/echo", headers = { { "X-One", "1" }, ["X-Empty"] = "" } }))
      assert.equal("1", echo.headers["x-one"])
      assert.equal("", echo.headers["x-empty"])
      for i = 1, 40 do assert.is_nil(echo.headers["x-many-" .. i]) end
      -- and none at all
      echo = echo_of(h:request({ url = sb.url .. "/test/echo" }))
      assert.is_nil(echo.headers["x-one"])
      assert.is_nil(echo.headers["x-empty"])
      assert.is_nil(echo.headers["expect"])
    end)

    it("leaves nothing of a request whose headers raised half-way", function()
      assert(h:request({ url = sb.url .. "/test/echo", headers = { { "X-Before", "1" } } }))
      -- the first header is taken, the second raises
      local ok = pcall(h.request, h, { url = sb.url .. "/test/echo",
        headers = { { "X-Half", "1" }, { "X-Bad", "a\nb" } } })
      assert.is_false(ok)
      local echo = echo_of(h:request({ url = sb.url .. "/test/echo", headers = { { "X-After", "2" } } }))
      assert.equal("2", echo.headers["x-after"])
      assert.is_nil(echo.headers["x-half"])
      assert.is_nil(echo.headers["x-before"])
    end)

    it("frees a list grown past 256 KB and builds the next one afresh", function()
      local huge = {}
      for i = 1, 300 do huge[#huge + 1] = { "X-Huge-" .. i, string.rep("v", 1000) } end
      -- nginx refuses a header block this large; whatever the answer, the handle goes on
      h:request({ url = sb.url .. "/test/echo", headers = huge })
      local echo = echo_of(h:request({ url = sb.url .. "/test/echo", headers = { ["X-Small"] = "s" } }))
      assert.equal("s", echo.headers["x-small"])
      assert.is_nil(echo.headers["x-huge-1"])
      echo = echo_of(h:request({ method = "POST", url = sb.url .. "/test/echo", body = "b" }))
      assert.is_nil(echo.headers["x-small"])
      assert.is_nil(echo.headers["content-type"])
    end)
  end)

  describe("pinned settings", function()
    it("reads where the bytes go from the defaults alone when pinned", function()
      -- the request's proxy would send it nowhere (a closed port); pinned, it is not read
      local dead = "http://127.0.0.1:" .. sandbox.closed_port()
      local res = assert(h:request({ url = sb.url .. "/test/echo", proxy = dead, insecure = "not read",
        cafile = 1, capath = {}, noproxy = false }, { proxy = "" }, true))
      assert.equal(200, res.status)
      -- not pinned, the request's own proxy wins
      local r2, _, cat = h:request({ url = sb.url .. "/test/echo", proxy = dead }, { proxy = "" }, false)
      assert.is_nil(r2)
      assert.equal("connect", cat)
      -- pinned, the defaults' own proxy applies (and without defaults, none)
      r2, _, cat = h:request({ url = sb.url .. "/test/echo", proxy = "" }, { proxy = dead }, true)
      assert.is_nil(r2)
      assert.equal("connect", cat)
      assert.equal(200, assert(h:request({ url = sb.url .. "/test/echo", proxy = dead }, nil, true)).status)
      -- the per-request fields still count when pinned
      local echo = json.json_decode(assert(h:request({ method = "PUT", url = sb.url .. "/test/echo", body = "pb",
        headers = { ["X-P"] = "1" } }, { proxy = "" }, true)).body)
      assert.equal("PUT", echo.method)
      assert.equal("pb", echo.body)
      assert.equal("1", echo.headers["x-p"])
      -- the defaults' settings are still checked
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, { proxy = 1 }, true) end)
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, { insecure = "x" }, true) end)
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, {}, "yes") end)
      assert.has_error(function() h:request({ url = sb.url .. "/test/echo" }, {}, 1) end)
    end)
  end)

  describe("transport failures", function()
    it("reports a reset connection as 'reset'", function()
      sb:fault({ path = "/test/echo", kind = "reset" })
      local res, msg, cat, code = get("/test/echo")
      assert.is_nil(res)
      assert.equal("reset", cat)
      assert.matches("^http: .*%(reset%)$", msg)
      assert.is_number(code)
    end)

    it("never resends a POST whose connection died after it was processed", function()
      assert(get("/test/count")) -- counter 1, a reusable connection in the cache
      sb:fault({ path = "/test/count", kind = "reset", when = "after" })
      local res, msg, cat = h:request({ method = "POST", url = sb.url .. "/test/count", body = "{}" })
      assert.is_nil(res)
      assert.equal("reset", cat, msg)
      assert.equal(2, counter()) -- processed exactly once
      -- an idempotent=true POST (a read such as EIOTCLUB's) may reuse the cached connection
      local r = assert(h:request({ method = "POST", url = sb.url .. "/test/echo", body = "{}", idempotent = true }))
      assert.equal(200, r.status)
    end)

    it("lets libcurl resend an idempotent request on a reused connection", function()
      assert(get("/test/count"))
      sb:fault({ path = "/test/count", kind = "reset", when = "after" })
      local res = assert(get("/test/count"))
      assert.equal(200, res.status)
      assert.is_false(res.reused)
      assert.equal(3, counter()) -- the lost answer's request went through, then the resend
    end)

    it("reports a body shorter than Content-Length as 'partial'", function()
      sb:fault({ path = "/test/count", kind = "truncate", length = "full" })
      local res, msg, cat, code = get("/test/count")
      assert.is_nil(res, msg)
      assert.equal("partial", cat)
      assert.equal(18, code) -- CURLE_PARTIAL_FILE
    end)

    it("delivers a truncated answer with a matching Content-Length as an answer", function()
      sb:fault({ path = "/test/count", kind = "truncate" })
      local res = assert(get("/test/count"))
      assert.equal(200, res.status)
      assert.equal(tostring(#res.body), res.headers["content-length"])
      assert.is_nil(json.json_decode(res.body))
    end)

    it("times out on a delayed answer", function()
      sb:fault({ path = "/test/count", kind = "delay", delay = 0.6 })
      local res, msg, cat, code = get("/test/count", { timeout = 0.2 })
      assert.is_nil(res)
      assert.equal("timeout", cat)
      assert.equal(28, code)
      assert.matches("%(timeout%)$", msg)
    end)

    it("answers 5xx and HTML faults as HTTP answers", function()
      sb:fault({ path = "/test/count", kind = "5xx", status = 503 })
      local res = assert(get("/test/count"))
      assert.equal(503, res.status)
      sb:fault({ path = "/test/count", kind = "html" })
      res = assert(get("/test/count"))
      assert.equal(502, res.status)
      assert.matches("^text/html", res.headers["content-type"])
      assert.matches("<html>", res.body)
    end)

    it("reports a refused connection as 'connect'", function()
      local port = sandbox.closed_port()
      local res, msg, cat, code = h:request({ url = "http://127.0.0.1:" .. port .. "/x", timeout = 2 })
      assert.is_nil(res)
      assert.equal("connect", cat)
      assert.equal(7, code)
      assert.matches("%(connect%)$", msg)
    end)

    it("fails TLS to a plain HTTP port without crashing", function()
      local res, _, cat = h:request({ url = (sb.url:gsub("^http:", "https:")) .. "/test/echo", timeout = 2 })
      assert.is_nil(res)
      assert.is_truthy(cat == "tls" or cat == "other" or cat == "reset")
    end)

    it("refuses other protocols", function()
      local res, _, cat = h:request({ url = "file:///etc/passwd" })
      assert.is_nil(res)
      assert.equal("other", cat)
    end)

    it("keeps request headers and body out of the message", function()
      local port = sandbox.closed_port()
      local _, msg = h:request({ method = "POST", url = "http://127.0.0.1:" .. port .. "/x",
                                 headers = { Authorization = "Bearer SECRET-TOKEN" },
                                 body = "password=SECRET-BODY" })
      assert.is_string(msg)
      assert.is_nil(msg:find("SECRET", 1, true))
    end)

    it("works again after a failure", function()
      sb:fault({ path = "/test/count", kind = "reset" })
      assert.is_nil(get("/test/count"))
      local res = assert(get("/test/count"))
      assert.equal(200, res.status)
    end)
  end)

  describe("was the request sent?", function()
    local l
    after_each(function()
      if l then l:close(); l = nil end
    end)

    it("reports a connect that never completes as 'connect' (nothing sent), for a write too", function()
      l = listeners.blackhole()
      local res, msg, cat, code = h:request({ method = "POST", url = l.url .. "/order", body = "{}",
                                              timeout = 2, connect_timeout = 0.3 })
      assert.is_nil(res)
      assert.equal("connect", cat, msg)
      assert.equal(28, code) -- CURLE_OPERATION_TIMEDOUT, during the connect
      assert.matches("%(connect%)$", msg)
    end)

    it("reports 'connect' when the whole deadline runs out during the connect", function()
      l = listeners.blackhole()
      local res, msg, cat = h:request({ method = "POST", url = l.url .. "/order", body = "{}", timeout = 0.3 })
      assert.is_nil(res)
      assert.equal("connect", cat, msg)
      assert.matches("before the request was sent", msg)
    end)

    it("decides per request: a failed connect after a good exchange is still 'connect'", function()
      assert(get("/test/echo"))
      assert(h:request({ method = "POST", url = sb.url .. "/test/echo", body = "x" }))
      l = listeners.blackhole()
      local res, msg, cat = h:request({ method = "POST", url = l.url .. "/x", body = "{}", timeout = 0.3 })
      assert.is_nil(res)
      assert.equal("connect", cat, msg)
    end)

    it("keeps 'timeout' once the request went out to a server that never answers", function()
      l = listeners.silent()
      local res, msg, cat, code = h:request({ method = "POST", url = l.url .. "/order", body = "{}", timeout = 0.3 })
      assert.is_nil(res)
      assert.equal("timeout", cat, msg)
      assert.equal(28, code)
      res, msg, cat = h:request({ url = l.url .. "/read", timeout = 0.3 })
      assert.is_nil(res)
      assert.equal("timeout", cat, msg)
    end)
  end)

  describe("deadline per attempt", function()
    -- each scenario sends a complete, valid answer one byte every 30 ms:
    -- no single read waits long, only a deadline for the attempt cuts it
    for _, name in ipairs({ "trickle_head", "trickle_body", "trickle_chunked" }) do
      it("cuts a server trickling its answer (" .. name .. ") at the timeout", function()
        local res, msg, cat = get("/ngxtest/raw/" .. name, { timeout = 0.4 })
        assert.is_nil(res, "the trickled answer was taken whole")
        assert.equal("timeout", cat, msg)
      end)
    end

    it("takes the same trickled answer whole when the deadline allows it", function()
      local res = assert(get("/ngxtest/raw/trickle_body", { timeout = 20 }))
      assert.equal(200, res.status)
      assert.equal(string.rep("z", 40), res.body)
    end)
  end)

  describe("max_body", function()
    it("takes an answer of exactly max_body bytes and refuses one byte more", function()
      local res = assert(get("/test/big?n=1000", { max_body = 1000 }))
      assert.equal(1000, #res.body)
      local _, msg, cat = get("/test/big?n=1001", { max_body = 1000 })
      assert.equal("too_large", cat, msg)
      assert.equal("http: the answer is larger than max_body (too_large)", msg)
    end)

    it("refuses a chunked answer that grows past max_body", function()
      sb:control("POST", "/_sim/config", { chunked = true })
      local res = assert(get("/test/big?n=5000", { max_body = 5000 }))
      assert.equal(5000, #res.body)
      local _, msg, cat = get("/test/big?n=5001", { max_body = 5000 })
      assert.equal("too_large", cat, msg)
    end)

    it("refuses 100 MB announced by Content-Length by default (8 MB)", function()
      local res, msg, cat = get("/ngxtest/raw/huge", { timeout = 20 })
      assert.is_nil(res)
      assert.equal("too_large", cat, msg)
    end)

    it("stops reading endless bodies, chunked or delimited by the connection, at the cap", function()
      for _, name in ipairs({ "endless_chunked", "endless_close" }) do
        local res, msg, cat = get("/ngxtest/raw/" .. name, { timeout = 30 })
        assert.is_nil(res, name)
        assert.equal("too_large", cat, name .. ": " .. tostring(msg))
        _, msg, cat = get("/ngxtest/raw/" .. name, { timeout = 30, max_body = 100000 })
        assert.equal("too_large", cat, name .. ": " .. tostring(msg))
      end
      -- the handle works again afterwards
      assert.equal(200, assert(get("/test/echo")).status)
    end)
  end)

  describe("misuse", function()
    local function raises(t, pattern)
      local ok, err = pcall(h.request, h, t)
      assert.is_false(ok)
      if pattern then assert.matches(pattern, err) end
    end

    it("raises on bad arguments", function()
      assert.has_error(function() h:request() end)
      assert.has_error(function() h:request("http://x/") end)
      raises({}, "url")
      raises({ url = 1 }, "url")
      raises({ url = "http://a/\0b" }, "NUL")
      raises({ url = "http://x/", method = "get" }, "method")
      raises({ url = "http://x/", method = "GE T" }, "method")
      raises({ url = "http://x/", method = 1 }, "method")
      raises({ url = "http://x/", timeout = 0 }, "timeout")
      raises({ url = "http://x/", timeout = -1 }, "timeout")
      raises({ url = "http://x/", timeout = "1" }, "timeout")
      raises({ url = "http://x/", timeout = 0 / 0 }, "timeout")
      raises({ url = "http://x/", timeout = math.huge }, "timeout")
      raises({ url = "http://x/", connect_timeout = 0 }, "connect_timeout")
      raises({ url = "http://x/", connect_timeout = 0 / 0 }, "connect_timeout")
      raises({ url = "http://x/", connect_timeout = -math.huge }, "connect_timeout")
      raises({ url = "http://x/", max_body = 0 }, "max_body")
      raises({ url = "http://x/", max_body = -1 }, "max_body")
      raises({ url = "http://x/", max_body = 0.5 }, "max_body")
      raises({ url = "http://x/", max_body = 0 / 0 }, "max_body")
      raises({ url = "http://x/", max_body = math.huge }, "max_body")
      raises({ url = "http://x/", max_body = 2 ^ 60 }, "max_body")
      raises({ url = "http://x/", max_body = "1000" }, "max_body")
      raises({ url = "http://x/", max_body = {} }, "max_body")
      raises({ url = "http://x/", body = 1 }, "body")
      raises({ url = "http://x/", body = {} }, "body")
      raises({ url = "http://x/", headers = "x" }, "headers")
      raises({ url = "http://x/", headers = { { "Bad Name", "v" } } }, "header name")
      raises({ url = "http://x/", headers = { { "X-A" } } }, "headers")
      raises({ url = "http://x/", headers = { "X-A: 1" } }, "headers")
      raises({ url = "http://x/", headers = { ["X-A"] = "1\r\nX-B: 2" } }, "invalid value")
      raises({ url = "http://x/", headers = { ["X-A"] = true } }, "headers")
      raises({ url = "http://x/", insecure = "yes" }, "insecure")
      raises({ url = "http://x/", idempotent = 1 }, "idempotent")
      raises({ url = "http://x/", cafile = 1 }, "cafile")
      raises({ url = "http://x/", proxy = true }, "proxy")
    end)

    it("raises on a closed handle", function()
      h:close()
      local ok, err = pcall(h.request, h, { url = sb.url .. "/test/echo" })
      assert.is_false(ok)
      assert.matches("closed", err)
    end)

    it("raises on a wrong self", function()
      assert.has_error(function() h.request({}, { url = "http://x/" }) end)
    end)
  end)
end)
