-- examples/nginx/rules.conf + rules_handler.lua in a real nginx against the
-- sandbox: the timer on one worker runs the poll rules (one top-up, never a
-- second over many cycles), a signed EIOTCLUB notification through the
-- receiver fires an event rule at once, the audit log is written.
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local notify = require "simkit.notify"
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local LOW = "89852012345678900007"

local function post(url, body)
  local out = {}
  local _, status = http.request { url = url, method = "POST", source = ltn12.source.string(body),
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
    sink = ltn12.sink.table(out) }
  return status, table.concat(out)
end

describe("examples/nginx/rules.conf", function()
  local sb, ng, rules_file

  setup(function()
    sb = sandbox.start()
    rules_file = os.tmpname()
    local f = assert(io.open(rules_file, "w"))
    f:write(([[local R, engine = ...
assert(R.load(engine, "%s/examples/auto_topup.lua"))
engine:rule{ name = "stopped", when = R.event{ "CardStopped" }, actions = { R.sms{ text = "card stopped" } } }
]]):format(sandbox.root))
    f:close()
    local conf = nginx.read(sandbox.root .. "/examples/nginx/rules.conf")
    conf = "@USER@\n" .. conf:gsub("listen 127%.0%.0%.1:8090;", "listen 127.0.0.1:@PORT@;")
      :gsub("%$prefix/lua/", "@REPO@/lua/"):gsub("%$prefix/examples/", "@REPO@/examples/")
      :gsub("%$prefix/build/", "@REPO@/build/")
    ng = nginx.start { conf = conf, env = { EIOTCLUB_BASE_URL = sb.url, EIOTCLUB_APPKEY = "sandbox-appkey",
      EIOTCLUB_SECRET = "sandbox-secret", RULES_INTERVAL = "1", RULES_FILE = rules_file } }
  end)
  teardown(function()
    if ng then ng:stop() end
    if sb then sb:stop() end
    if rules_file then os.remove(rules_file) end
  end)

  local function engine_orders()
    local n = 0
    for _, o in ipairs(sb:state("eiotclub").orders) do
      if type(o.outTradeNo) == "string" and o.outTradeNo:match("^sr") then n = n + 1 end
    end
    return n
  end

  it("the timer tops the low card up once, and never again over later cycles", function()
    local deadline = socket.gettime() + 20
    while engine_orders() == 0 and socket.gettime() < deadline do socket.sleep(0.2) end
    assert.are.equal(1, engine_orders(), ng:log())
    socket.sleep(3) -- three more timer cycles
    assert.are.equal(1, engine_orders())
    assert.are.equal(1, #sb:requests { path = "/api/v3/package/orderPackage" })
    assert.matches("rules: run: %d+ cards", ng:log())
  end)

  it("a signed notification fires the event rule at once; a forged one is refused", function()
    local body = notify.sign_eiotclub({ id = "ev-1", event = "CardStopped", timestamp = os.time(), nonce = 424242,
      iccid = LOW }, "sandbox-secret")
    local status = post("http://127.0.0.1:" .. ng.port .. "/eiotclub/notify", body)
    assert.are.equal(200, status, ng:log())
    local sms = sb:requests { path = "/api/v3/sms/sendSms" }
    assert.are.equal(1, #sms)
    -- a redelivery of the same event: de-duplicated by the receiver, no second sms
    assert.are.equal(200, (post("http://127.0.0.1:" .. ng.port .. "/eiotclub/notify", body)))
    assert.are.equal(1, #sb:requests { path = "/api/v3/sms/sendSms" })
    local forged = body:gsub('"iccid":"%d+"', '"iccid":"89852012345678900001"')
    assert.are_not.equal(200, (post("http://127.0.0.1:" .. ng.port .. "/eiotclub/notify", forged)))
    assert.are.equal(1, #sb:requests { path = "/api/v3/sms/sendSms" })
  end)

  it("writes the audit log as JSON lines", function()
    local text = nginx.read(ng.prefix .. "/logs/rules-audit.jsonl")
    assert.matches('"decision":"done"', text)
    assert.matches('"rule":"stopped"', text)
    assert.matches('"rule":"auto%-topup"', text)
  end)
end)
