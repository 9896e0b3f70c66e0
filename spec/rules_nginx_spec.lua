-- examples/nginx/rules.conf + rules_handler.lua in a real nginx against the
-- sandbox: the timer on one worker runs the poll rules (one top-up, never a
-- second over many cycles), a signed EIOTCLUB notification through the
-- receiver fires an event rule at once, the audit log is written.
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local redis = require "spec.support.redis"
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

-- the rules file of these specs: the auto top-up and an event rule
local function rules_file()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(([[local R, engine = ...
assert(R.load(engine, "%s/examples/auto_topup.lua"))
engine:rule{ name = "stopped", when = R.event{ "CardStopped" }, actions = { R.sms{ text = "card stopped" } } }
]]):format(sandbox.root))
  f:close()
  return path
end

-- examples/nginx/rules.conf as shipped, on a free port, reading the repository
local function start_node(sb, file, extra)
  local conf = nginx.read(sandbox.root .. "/examples/nginx/rules.conf")
  conf = "@USER@\n" .. conf:gsub("listen 127%.0%.0%.1:8090;", "listen 127.0.0.1:@PORT@;")
    :gsub("%$prefix/lua/", "@REPO@/lua/"):gsub("%$prefix/examples/", "@REPO@/examples/")
    :gsub("%$prefix/build/", "@REPO@/build/")
  local env = { EIOTCLUB_BASE_URL = sb.url, EIOTCLUB_APPKEY = "sandbox-appkey", EIOTCLUB_SECRET = "sandbox-secret",
    RULES_INTERVAL = "1", RULES_FILE = file }
  for k, v in pairs(extra or {}) do env[k] = v end
  return nginx.start { conf = conf, env = env }
end

local function wait_for_order(sb)
  local deadline = socket.gettime() + 20
  while #sb:engine_orders() == 0 and socket.gettime() < deadline do socket.sleep(0.2) end
end

describe("examples/nginx/rules.conf", function()
  local sb, ng, file

  setup(function()
    sb = sandbox.start()
    file = rules_file()
    ng = start_node(sb, file)
  end)
  teardown(function()
    if ng then ng:stop() end
    if sb then sb:stop() end
    if file then os.remove(file) end
  end)

  it("the timer tops the low card up once, and never again over later cycles", function()
    wait_for_order(sb)
    assert.are.equal(1, #sb:engine_orders(), ng:log())
    socket.sleep(3) -- three more timer cycles
    assert.are.equal(1, #sb:engine_orders())
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

describe("two nginx nodes on one Redis (examples/nginx/rules.conf with RULES_REDIS)", function()
  local sb, rd, a, b, file

  setup(function()
    sb = sandbox.start()
    rd = redis.start()
    file = rules_file()
    local extra = { RULES_REDIS = "127.0.0.1:" .. rd.port }
    a = start_node(sb, file, extra)
    b = start_node(sb, file, extra)
  end)
  teardown(function()
    if a then a:stop() end
    if b then b:stop() end
    if rd then rd:stop() end
    if sb then sb:stop() end
    if file then os.remove(file) end
  end)

  it("both timers run the rules every second: one order request, ever", function()
    wait_for_order(sb)
    assert.are.equal(1, #sb:engine_orders(), a:log() .. b:log())
    socket.sleep(3)
    assert.are.equal(1, #sb:engine_orders())
    assert.are.equal(1, #sb:requests { path = "/api/v3/package/orderPackage" })
    assert.matches("rules: run: %d+ cards", a:log())
    assert.matches("rules: run: %d+ cards", b:log())
  end)

  it("one notification delivered to both nodes fires the event rule once", function()
    local body = notify.sign_eiotclub({ id = "ev-mn", event = "CardStopped", timestamp = os.time(), nonce = 515151,
      iccid = LOW }, "sandbox-secret")
    assert.are.equal(200, (post("http://127.0.0.1:" .. a.port .. "/eiotclub/notify", body)), a:log())
    assert.are.equal(200, (post("http://127.0.0.1:" .. b.port .. "/eiotclub/notify", body)), b:log())
    assert.are.equal(1, #sb:requests { path = "/api/v3/sms/sendSms" })
  end)
end)
