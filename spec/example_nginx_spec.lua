-- The shipped nginx example (examples/nginx/eiotclub_notify.conf +
-- notify_handler.lua) started with the exact one-liner its documentation
-- gives (examples/nginx/run.sh PORT), on a free port, receiving the
-- notifications the EIOTCLUB sandbox pushes: delivered, de-duplicated across
-- deliveries (lua_shared_dict through the store contract), forged bodies
-- refused; then stopped with the documented `run.sh stop PORT`.
local sandbox = require "spec.support.sandbox"
local socket = require "socket"

local nginx = require "spec.support.nginx"
local proc = require "spec.support.proc"

local ROOT = sandbox.root
local SECRET = "sandbox-secret"
local read = nginx.read

-- run a shell command from the repository root: ok, output, exit code (read
-- from the output: LuaJIT's popen close does not give it)
local function sh(cmd)
  local p = assert(io.popen("cd '" .. ROOT .. "' && { " .. cmd .. "; } 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code == 0, out:gsub("exit=%d+%s*$", ""), code
end

local function count(haystack, needle)
  local n, i = 0, 1
  while true do
    local j = haystack:find(needle, i, true)
    if not j then return n end
    n, i = n + 1, j + #needle
  end
end

-- start the example with `run.sh PORT` (the environment `env` before it);
-- waits for the port; run.sh's output
local function start_example(env, port)
  local ok, out = sh(env .. " examples/nginx/run.sh " .. port)
  assert(ok, out)
  proc.wait_port(port)
  return out
end

-- `run.sh stop PORT` (the environment `env` before it), then wait for the
-- master to exit and remove the instance in `prefix`
local function stop_example(env, prefix, port)
  local pid = read(prefix .. "/logs/nginx.pid"):match("%d+")
  sh(env .. " examples/nginx/run.sh stop " .. port)
  for _ = 1, 150 do
    if not pid or not sh("kill -0 " .. pid) then break end
    socket.sleep(0.02)
  end
  sh("rm -rf '" .. prefix .. "'")
end

-- a raw POST to the example (HTTP/1.0: the answer is not chunked): status, body
local function post(port, body)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(5)
  c:send("POST /eiotclub/notify HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " ..
    #body .. "\r\nConnection: close\r\n\r\n" .. body)
  local status = tonumber((c:receive("*l") or ""):match(" (%d%d%d)"))
  local text = c:receive("*a") or ""
  c:close()
  return status, text:match("\r\n\r\n(.*)$") or text
end

describe("examples/nginx/run.sh", function()
  it("refuses a bad port and a missing secret, saying what to do", function()
    for _, port in ipairs({ "abc", "0", "65536", "80x", "-1" }) do
      local ok, out, code = sh("EIOTCLUB_SECRET=x examples/nginx/run.sh " .. port)
      assert.is_false(ok, port)
      assert.equal(2, code)
      assert.matches("port must be a number from 1 to 65535", out)
    end
    local ok, out = sh("EIOTCLUB_SECRET= examples/nginx/run.sh " .. sandbox.closed_port())
    assert.is_false(ok)
    assert.matches("set EIOTCLUB_SECRET", out)
    for _, w in ipairs({ "0", "65", "two", "1.5", "-1", "2x" }) do
      local wok, wout, wcode = sh("WORKERS=" .. w .. " EIOTCLUB_SECRET=x examples/nginx/run.sh " .. sandbox.closed_port())
      assert.is_false(wok, w)
      assert.equal(2, wcode, w)
      assert.matches("WORKERS must be a number from 1 to 64 or 'auto'", wout)
    end
  end)
end)

describe("examples/nginx/run.sh with WORKERS=2", function()
  local notify = require "simkit.notify"
  local port, prefix, master

  setup(function()
    port = sandbox.closed_port()
    prefix = (os.getenv("TMPDIR") or "/tmp") .. "/simkit-eiotclub-notify-workers-" .. port
    start_example("WORKERS=2 SIMKIT_NGINX_PREFIX='" .. prefix .. "' EIOTCLUB_SECRET=" .. SECRET, port)
    master = read(prefix .. "/logs/nginx.pid"):match("%d+")
  end)

  teardown(function()
    if prefix then stop_example("SIMKIT_NGINX_PREFIX='" .. prefix .. "'", prefix, port) end
  end)

  it("runs two workers; each notification, delivered twice, is handled once (the shared dict)", function()
    assert.matches("worker_processes 2;", read(prefix .. "/nginx.conf"), 1, true)
    local _, children = sh("pgrep -P " .. master .. " | wc -l")
    assert.equal(2, tonumber(children:match("%d+")))
    local now = os.time()
    local bodies = {}
    for i = 1, 60 do
      bodies[i] = notify.sign_eiotclub({ id = string.format("w%023d", i), event = "FlowAlert", timestamp = now,
        nonce = 10000 + i, iccid = string.format("8985201234567%07d", i), alert_type = 1, alert_value = "9" }, SECRET)
    end
    for round = 1, 2 do
      for i = 1, 60 do assert.equal(200, (post(port, bodies[i])), "round " .. round .. " body " .. i) end
    end
    local log = read(prefix .. "/logs/error.log")
    for i = 1, 60 do
      assert.equal(1, count(log, string.format("card 8985201234567%07d low on data", i)), "body " .. i)
    end
    -- and a tampered copy is refused by either worker
    assert.equal(401, (post(port, (bodies[1]:gsub('"alert_value":"9"', '"alert_value":"8"')))))
  end)
end)

describe("examples/nginx/eiotclub_notify.conf started by its one-liner", function()
  local sb, prefix, port, url

  setup(function()
    port = sandbox.closed_port()
    prefix = (os.getenv("TMPDIR") or "/tmp") .. "/simkit-eiotclub-notify-" .. port
    -- the documented one-liner, as is (from the repository root)
    local out = start_example("EIOTCLUB_SECRET=" .. SECRET, port)
    assert.matches("http://127.0.0.1:" .. port .. "/eiotclub/notify", out, 1, true)
    url = "http://127.0.0.1:" .. port .. "/eiotclub/notify"
    sb = sandbox.start()
  end)

  teardown(function()
    if sb then sb:stop() end
    if prefix then stop_example("", prefix, port) end -- the documented way
  end)

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
    local status, reply = post(port, rec.body)
    assert.are.equal(200, status)
    assert.are.equal('{"status":"SUCCESS"}', reply)
    assert.are.equal(1, count(read(prefix .. "/logs/error.log"), line))

    -- tampered on the way: refused, nothing handled
    status, reply = post(port, (rec.body:gsub(iccid, "89852012345678900008")))
    assert.are.equal(401, status)
    assert.matches('"FAIL"', reply)
    assert.are.equal(0, count(read(prefix .. "/logs/error.log"), "card 89852012345678900008"))

    -- a package event, its data a JSON string inside the body
    st, res = sb:control("POST", "/_sim/eiotclub/notify", { event = "SubPkgList" })
    assert.are.equal(200, st)
    assert.are.equal("delivered", settled(res.notification.id).status)
  end)

  it("made its logs/ and temp/, answers the health check, de-duplicates through the shared dict", function()
    local f = io.open(prefix .. "/logs/error.log")
    assert.truthy(f)
    f:close()
    assert.is_true(sh("test -d '" .. prefix .. "/temp'"))
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(5)
    c:send("GET /healthz HTTP/1.0\r\n\r\n")
    local all = c:receive("*a")
    c:close()
    assert.matches("^HTTP/1%.1 200", all)
  end)
end)
