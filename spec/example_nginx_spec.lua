-- The shipped nginx example (examples/nginx/eiotclub_notify.conf +
-- notify_handler.lua) run as is in a real nginx, on a free port, receiving
-- the notifications the EIOTCLUB sandbox pushes: delivered, de-duplicated
-- across deliveries (lua_shared_dict), forged bodies refused.
local sandbox = require "spec.support.sandbox"
local socket = require "socket"

local nginx = require "spec.support.nginx"

local ROOT = sandbox.root
local SECRET = "sandbox-secret"
local read = nginx.read

local function count(haystack, needle)
  local n, i = 0, 1
  while true do
    local j = haystack:find(needle, i, true)
    if not j then return n end
    n, i = n + 1, j + #needle
  end
end

describe("examples/nginx/eiotclub_notify.conf in a real nginx", function()
  local sb, ng, prefix, port, url

  setup(function()
    -- the example as shipped, but for its port (and, as root, the workers'
    -- user); its $prefix paths point at the repository, as when it is run
    -- from the repository root (`nginx -p "$PWD"`), while logs go to a temp prefix
    local conf = read(ROOT .. "/examples/nginx/eiotclub_notify.conf")
    local n
    conf, n = conf:gsub("listen 127%.0%.0%.1:8089;", "listen 127.0.0.1:@PORT@;")
    assert.are.equal(1, n, "the example's listen line changed")
    conf = "@USER@\n" .. conf:gsub("%$prefix/", "@REPO@/")
    ng = nginx.start { conf = conf, env = { EIOTCLUB_SECRET = SECRET } }
    prefix, port = ng.prefix, ng.port
    url = "http://127.0.0.1:" .. port .. "/eiotclub/notify"
    sb = sandbox.start()
  end)

  teardown(function()
    if sb then sb:stop() end
    if ng then ng:stop() end
  end)

  -- a raw POST to the example (HTTP/1.0: the answer is not chunked)
  local function post(body)
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(5)
    c:send("POST /eiotclub/notify HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " ..
      #body .. "\r\nConnection: close\r\n\r\n" .. body)
    local status = tonumber((c:receive("*l") or ""):match(" (%d%d%d)"))
    local text = c:receive("*a") or ""
    c:close()
    return status, text:match("\r\n\r\n(.*)$") or text
  end

  -- the sandbox's record of notification `id` once delivery settled
  local function settled(id)
    local rec
    for _ = 1, 100 do
      local _, res = sb:control("GET", "/_sim/eiotclub/notifications")
      for _, r in ipairs(res.notifications) do if r.id == id then rec = r end end
      if rec and rec.status ~= "pending" then return rec end
      socket.sleep(0.03)
    end
    return rec
  end

  it("accepts what the sandbox pushes, runs its handler once, refuses forgeries", function()
    assert.are.equal(200, (sb:control("POST", "/_sim/config", { eiotclub = { notify_url = url,
      notify_retry_delay = 0.2, notify_timeout = 3 } })))
    local iccid = "89852012345678900007"
    local st, res = sb:control("POST", "/_sim/eiotclub/notify", { event = "FlowAlert", iccid = iccid, alert_type = 2 })
    assert.are.equal(200, st)
    local rec = settled(res.notification.id)
    assert.are.equal("delivered", rec.status, read(prefix .. "/logs/error.log"))
    assert.are.equal(1, #rec.attempts)
    local line = "card " .. iccid .. " low on data: alert_type=2"
    assert.are.equal(1, count(read(prefix .. "/logs/error.log"), line))

    -- the vendor re-sends the same notification: answered SUCCESS, handled once
    local status, reply = post(rec.body)
    assert.are.equal(200, status)
    assert.are.equal('{"status":"SUCCESS"}', reply)
    assert.are.equal(1, count(read(prefix .. "/logs/error.log"), line))

    -- tampered on the way: refused, nothing handled
    status, reply = post((rec.body:gsub(iccid, "89852012345678900008")))
    assert.are.equal(401, status)
    assert.matches('"FAIL"', reply)
    assert.are.equal(0, count(read(prefix .. "/logs/error.log"), "card 89852012345678900008"))

    -- a package event, its data a JSON string inside the body
    st, res = sb:control("POST", "/_sim/eiotclub/notify", { event = "SubPkgList" })
    assert.are.equal(200, st)
    assert.are.equal("delivered", settled(res.notification.id).status)
  end)
end)
