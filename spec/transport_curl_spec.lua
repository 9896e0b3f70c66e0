-- simkit.transport.curl: the default transport over one libcurl handle,
-- against the sandbox's test vendor (echo).
local curl = require "simkit.transport.curl"
local sandbox = require "spec.support.sandbox"

local json = sandbox.json

describe("simkit.transport.curl", function()
  local sb

  setup(function() sb = sandbox.start({ test_vendor = true }) end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  local function echo_of(res) return assert(json.json_decode(assert(res).body)) end

  it("sends the request's method, url, headers and body, and answers with status and body", function()
    local t, handle = curl.new { timeout = 5 }
    assert.matches("^simkit%.http", tostring(handle))
    local req = { method = "POST", url = sb.url .. "/test/echo?a=1", body = "{}", idempotent = true,
      headers = { ["Content-Type"] = "application/json", { "X-List", "1" } }, op = "x", vendor = "y" }
    local echo = echo_of(t(req))
    assert.equal("POST", echo.method)
    assert.equal("{}", echo.body)
    assert.equal("application/json", echo.headers["content-type"])
    assert.equal("1", echo.headers["x-list"])
    assert.equal("1", echo.query.a)
    handle:close()
  end)

  it("leaves the caller's table as it was and keeps nothing of it", function()
    local t = curl.new {}
    local headers = { ["X-A"] = "1" }
    local req = { method = "GET", url = sb.url .. "/test/echo", headers = headers, timeout = 3 }
    assert(t(req))
    assert.same({ method = "GET", url = sb.url .. "/test/echo", headers = { ["X-A"] = "1" }, timeout = 3 }, req)
    -- the transport holds no reference: the table and its headers can be collected
    local weak = setmetatable({ req, headers }, { __mode = "v" })
    req, headers = nil, nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    assert.is_nil(weak[2])
    -- and the next request sends its own headers only
    local echo = echo_of(t({ url = sb.url .. "/test/echo" }))
    assert.is_nil(echo.headers["x-a"])
  end)

  it("takes where the bytes go from the client options alone, never from a request", function()
    local dead = "http://127.0.0.1:" .. sandbox.closed_port()
    -- a request's proxy, TLS settings (even of a wrong type) are not read
    local t = curl.new { proxy = "" }
    local res = assert(t({ url = sb.url .. "/test/echo", proxy = dead, cafile = 1, capath = {}, noproxy = false,
      insecure = "yes" }))
    assert.equal(200, res.status)
    -- the client's proxy applies
    local via = curl.new { proxy = dead, timeout = 2 }
    local r2, message, category, extra = via({ url = sb.url .. "/test/echo", proxy = "" })
    assert.is_nil(r2)
    assert.equal("connect", category)
    assert.is_string(message)
    assert.is_nil(extra)
    -- three values, never libcurl's code in the pipeline's `sent` slot
    assert.equal(3, select("#", via({ url = sb.url .. "/test/echo" })))
  end)

  it("takes the request's deadline and size cap over the client's", function()
    local t = curl.new { max_body = 5, timeout = 5 }
    local res, _, category = t({ url = sb.url .. "/test/big?n=6" })
    assert.is_nil(res)
    assert.equal("too_large", category)
    assert.equal(6, #assert(t({ url = sb.url .. "/test/big?n=6", max_body = 6 })).body)
  end)

  it("reads a request with a metatable through it, the same fields only", function()
    local t = curl.new { proxy = "" }
    local dead = "http://127.0.0.1:" .. sandbox.closed_port()
    local base = { url = sb.url .. "/test/echo", method = "PUT", body = "via index", proxy = dead,
      headers = { ["X-Meta"] = "m" } }
    local req = setmetatable({}, { __index = base })
    local echo = echo_of(t(req))
    assert.equal("PUT", echo.method)
    assert.equal("via index", echo.body)
    assert.equal("m", echo.headers["x-meta"])
    assert.is_nil(rawget(req, "url"))
    -- a protected metatable too
    req = setmetatable({}, { __index = base, __metatable = false })
    assert.equal("PUT", echo_of(t(req)).method)
  end)

  it("raises on a request that is no table or misses its url, and on bad field types", function()
    local t = curl.new {}
    assert.has_error(function() t(nil) end)
    assert.has_error(function() t(42) end)
    assert.has_error(function() t("http://x/") end)
    assert.has_error(function() t({}) end)
    assert.has_error(function() t({ url = sb.url, timeout = 0 / 0 }) end)
    assert.has_error(function() t({ url = sb.url, timeout = math.huge }) end)
    assert.has_error(function() t({ url = sb.url, max_body = 2 ^ 60 }) end)
    assert.has_error(function() t({ url = sb.url, method = "get" }) end)
    assert.has_error(function() t({ url = sb.url, headers = { ["X-A"] = "a\r\nb" } }) end)
    assert.has_error(function() t({ url = sb.url, idempotent = "yes" }) end)
    -- client options are checked at the first request
    assert.has_error(function() curl.new({ proxy = 1 })({ url = sb.url }) end)
    assert.has_error(function() curl.new({ timeout = -1 })({ url = sb.url }) end)
  end)
end)
