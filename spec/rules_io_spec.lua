-- simkit.rules: the webhook action (signed POST through simkit's transport)
-- and the mail action (libcurl SMTP), against listeners on loopback that
-- this spec starts and stops (spec/support/listener.lua).
local R = require "simkit.rules"
local core = require "simkit.core"
local json = require "simkit.json"
local webhook = require "simkit.rules.webhook"
local mail = require "simkit.rules.mail"
local fake = require "spec.support.fakefleet"
local listener = require "spec.support.listener"
local sandbox = require "spec.support.sandbox"

local T0 = 1796292000

local function engine_for(card, rule)
  local fleet = fake.new({ card })
  local e = R.engine { fleet = fleet, clock = function() return T0 end, logger = function() end }
  e:rule(rule)
  return e, fleet
end

describe("simkit.rules webhook", function()
  local l
  setup(function() l = listener.start(sandbox.root, "http") end)
  teardown(function() if l then listener.stop(l) end end)

  it("POSTs JSON with X-Simkit-Timestamp and an HMAC-SHA256 signature over timestamp.body", function()
    local card = fake.card("eiotclub", "8901", 900, 1000)
    local e = engine_for(card, { name = "hook", when = R.left_below { mb = 200 },
      actions = { R.webhook { url = "http://127.0.0.1:" .. l.port .. "/hook", secret = "s3cret", timeout = 5 } } })
    local rep = e:run()
    assert.are.equal(1, #rep.fired)
    assert.is_true(rep.fired[1].ok, tostring(rep.fired[1].err))
    local got = listener.records(l)
    assert.are.equal(1, #got)
    local r = got[1]
    assert.are.equal("POST /hook HTTP/1.1", r.line)
    assert.are.equal("application/json", r.headers["content-type"])
    assert.are.equal(tostring(T0), r.headers["x-simkit-timestamp"])
    local expect = "sha256=" .. core.hmac_sha256("s3cret", r.headers["x-simkit-timestamp"] .. "." .. r.body, "hex")
    assert.are.equal(expect, r.headers["x-simkit-signature"])
    assert.are.equal(expect, webhook.signature("s3cret", tostring(T0), r.body))
    local body = assert(json.decode(r.body))
    assert.are.equal("hook", body.rule)
    assert.are.equal("8901", body.iccid)
    assert.are.equal(100, body.value)
    assert.are.equal(200, body.threshold)
    assert.are.equal(rep.fired[1].key, body.key)
    assert.is_nil(r.body:find("s3cret", 1, true))
  end)

  it("no secret: no signature header; a refused connection is a transport error", function()
    local card = fake.card("eiotclub", "8902", 900, 1000)
    local e = engine_for(card, { name = "hook2", when = R.left_below { mb = 200 },
      actions = { R.webhook { url = "http://127.0.0.1:" .. l.port .. "/n" },
        R.webhook { url = "http://127.0.0.1:1/closed", timeout = 2 } } })
    local rep = e:run()
    assert.is_true(rep.fired[1].ok)
    assert.is_false(rep.fired[2].ok)
    assert.are.equal("transport", rep.fired[2].err.kind)
    local got = listener.records(l)
    assert.is_nil(got[#got].headers["x-simkit-signature"])
  end)

  it("signature() refuses non-strings (a programming error)", function()
    assert.has_error(function() webhook.signature(nil, "1", "b") end)
    assert.has_error(function() webhook.signature("s", 1, "b") end)
  end)
end)

describe("simkit.rules webhook answered 500", function()
  it("is a failed action with kind http", function()
    local l = listener.start(sandbox.root, "http", "500")
    local card = fake.card("eiotclub", "8901", 900, 1000)
    local e = engine_for(card, { name = "hook", when = R.left_below { mb = 200 },
      actions = { R.webhook { url = "http://127.0.0.1:" .. l.port .. "/x", timeout = 5 } } })
    local rep = e:run()
    listener.stop(l)
    assert.is_false(rep.fired[1].ok)
    assert.are.equal("http", rep.fired[1].err.kind)
    assert.are.equal(500, rep.fired[1].err.status)
  end)
end)

describe("simkit.rules mail over SMTP (libcurl)", function()
  local l
  setup(function() l = listener.start(sandbox.root, "smtp") end)
  teardown(function() if l then listener.stop(l) end end)

  it("sends one message to every recipient, with authentication, the password never in an error", function()
    local card = fake.card("huawei", "8901", 900, 1000)
    local e = engine_for(card, { name = "mailer", when = R.used_above { ratio = 0.8 }, actions = {
      R.mail { to = { "ops@example.com", "oncall@example.com" }, subject = "card low",
        smtp = { url = "smtp://127.0.0.1:" .. l.port, from = "simkit@example.com", username = "u",
          password = "pw-secret", timeout = 5 } } } })
    local rep = e:run()
    assert.is_true(rep.fired[1].ok, tostring(rep.fired[1].err))
    assert.are.equal(2, rep.fired[1].result.sent)
    local got = listener.records(l)
    assert.are.equal(1, #got)
    assert.are.equal("simkit@example.com", got[1].from)
    assert.are.same({ "ops@example.com", "oncall@example.com" }, got[1].rcpt)
    assert.matches("Subject: card low", got[1].data)
    assert.matches("Rule mailer fired", got[1].data)
    assert.matches('"iccid":"8901"', got[1].data)
    assert.are.equal("\0u\0pw-secret", core.base64_decode(got[1].auth))
  end)

  it("a closed port is a transport error", function()
    local ok, err = mail.send({ to = { "a@b.c" }, smtp = { url = "smtp://127.0.0.1:1", from = "x@y.z",
      password = "pw-secret", timeout = 2 } }, { rule = "r", iccid = "1", time = T0 })
    assert.is_nil(ok)
    assert.are.equal("transport", err.kind)
    assert.is_nil(tostring(err):find("pw-secret", 1, true))
  end)

  it("message() strips header injection and uses CRLF", function()
    local text = mail.message("a@b.c", { "d@e.f" }, "hi\r\nBcc: evil@x.y", "one\ntwo", T0)
    assert.is_nil(text:find("\r\nBcc:", 1, true))
    assert.matches("one\r\ntwo\r\n$", text)
  end)

  it("core.smtp_send refuses misuse before sending (raises)", function()
    local good = { url = "smtp://127.0.0.1:1", from = "a@b.c", to = { "d@e.f" }, message = "x" }
    local function with(k, v)
      local t = {}
      for kk, vv in pairs(good) do t[kk] = vv end
      t[k] = v
      return t
    end
    assert.has_error(function() core.smtp_send("x") end)
    assert.has_error(function() core.smtp_send(with("url", "http://x")) end)
    assert.has_error(function() core.smtp_send(with("url", 5)) end)
    assert.has_error(function() core.smtp_send(with("from", "a\r\nb")) end)
    assert.has_error(function() core.smtp_send(with("to", {})) end)
    assert.has_error(function() core.smtp_send(with("to", { 5 })) end)
    assert.has_error(function() core.smtp_send(with("to", { "a\nb" })) end)
    assert.has_error(function() core.smtp_send(with("message", nil)) end)
    assert.has_error(function() core.smtp_send(with("timeout", 0 / 0)) end)
    assert.has_error(function() core.smtp_send(with("timeout", math.huge)) end)
    assert.has_error(function() core.smtp_send(with("timeout", -1)) end)
    local many = {}
    for i = 1, 101 do many[i] = "a" .. i .. "@b.c" end
    assert.has_error(function() core.smtp_send(with("to", many)) end)
  end)
end)

describe("simkit.rules alert, log and call", function()
  it("alert/log go to the logger; call runs user Lua, its errors are failures", function()
    local card = fake.card("huawei", "8901", 900, 1000)
    local fleet = fake.new({ card })
    local logged = {}
    local e = R.engine { fleet = fleet, clock = function() return T0 end,
      logger = function(level, msg) logged[#logged + 1] = level .. ":" .. msg end }
    local calls = {}
    e:rule { name = "r", when = R.used_above { mb = 1 }, actions = {
      R.alert { message = "look" }, R.log {},
      R.call { fn = function(c, info) calls[#calls + 1] = c.iccid .. ":" .. info.rule return "fine" end },
      R.call { fn = function() error("user bug") end },
      R.call { fn = function() return nil, "no way" end } } }
    local rep = e:run()
    assert.are.same({ "warn:look", "info:rule r fired for 8901 (900 vs 1)" }, logged)
    assert.are.same({ "8901:r" }, calls)
    assert.is_true(rep.fired[3].ok)
    assert.are.equal("fine", rep.fired[3].result)
    assert.is_false(rep.fired[4].ok)
    assert.matches("user bug", rep.fired[4].err.message)
    assert.is_false(rep.fired[5].ok)
    assert.matches("no way", rep.fired[5].err.message)
  end)
end)
