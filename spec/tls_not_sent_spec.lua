-- A connect or TLS failure happens before any request byte goes out (no
-- connection, or the handshake / certificate check failed): an order that met
-- one was certainly not placed, through the default libcurl transport.
local sandbox = require "spec.support.sandbox"
local listeners = require "spec.support.listeners"
local simkit = require "simkit"

describe("a TLS failure on a write", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)

  it("is category tls, sent = false, retryable, and the order is not_placed", function()
    sb:clear_requests()
    -- https:// to the sandbox's plain-HTTP port: the server answers the
    -- ClientHello with HTTP text, the handshake fails
    local eiot = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
      base_url = (sb.url:gsub("^http:", "https:")), retries = 0, rate_limit = false,
      store = simkit.store.memory() })
    local res, err = eiot:order_package{ iccid = "89852012345678900001", packageCode = "PKG-100M",
      outTradeNo = "tlsspec0001" }
    assert.is_nil(res)
    assert.equal("transport", err.kind)
    assert.equal("tls", err.category)
    assert.is_false(err.sent)
    assert.is_true(err.retryable)
    assert.equal("not_placed", err.outcome)
    -- and indeed nothing reached the vendor's order endpoint
    for _, r in ipairs(sb:requests()) do
      assert.is_nil(tostring(r.path or r.uri or ""):find("orderPackage", 1, true))
    end
  end)

  it("a connect that never completes is category connect, sent = false, found out fast, not_placed", function()
    local l = listeners.blackhole()
    local eiot = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
      base_url = l.url, retries = 0, rate_limit = false, timeout = 5, connect_timeout = 0.5,
      store = simkit.store.memory() })
    local res, err = eiot:order_package{ iccid = "89852012345678900001", packageCode = "PKG-100M",
      outTradeNo = "tlsspec0002" }
    l:close()
    assert.is_nil(res)
    assert.equal("connect", err.category)
    assert.is_false(err.sent)
    assert.is_true(err.retryable)
    assert.equal("not_placed", err.outcome)
  end)
end)
