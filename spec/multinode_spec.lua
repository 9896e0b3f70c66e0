-- Several machines, one Redis store: two separate nginx instances ("nodes",
-- two workers each) on different ports plus plain lua5.4 processes, all on
-- one redis-server, behave as one client per account — one IAM token, one
-- 5 calls/s budget, each EIOTCLUB notification handled once whichever node
-- receives it. Counted at the sandbox (token requests, 429s) and in Redis.
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local redis = require "spec.support.redis"
local notify = require "simkit.notify"
local store = require "simkit.store"
local core = require "simkit.core"
local socket = require "socket"

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local SECRET = "mn-secret" -- the receiver's in spec/support/multinode_app.lua

local CONF = nginx.conf { workers = 2, connections = 512, http = [[
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location = /hw { content_by_lua_block { require("multinode_app").hw() } }
        location = /notify { content_by_lua_block { require("multinode_app").notify() } }
    }]] }

local q = require("spec.support.proc").q

describe("several machines on one Redis store", function()
  local sb, rs, nodes

  setup(function()
    rs = redis.start()
    sb = sandbox.start()
    nodes = { nginx.start { conf = CONF }, nginx.start { conf = CONF } }
  end)
  teardown(function()
    for _, ng in ipairs(nodes or {}) do ng:stop() end
    if sb then sb:stop() end
    if rs then rs:stop() end
  end)

  local function logs()
    return nodes[1]:log() .. nodes[2]:log()
  end

  -- `per_node` concurrent calls to each node plus `procs` lua processes of
  -- `per_proc` calls each, all starting together; returns the answers (ok or error)
  local function huawei_calls(tag, rl, op, per_node, procs, per_proc)
    local start = core.now() + 0.8
    local env = "LUA_PATH=" .. q(sandbox.root .. "/lua/?.lua;" .. sandbox.root .. "/lua/?/init.lua;;") ..
      " LUA_CPATH=" .. q(sandbox.root .. "/build/" .. LUA .. "/?.so;;")
    local ps = {}
    for i = 1, procs do
      ps[i] = assert(io.popen(env .. " " .. LUA .. " " .. q(sandbox.root .. "/spec/support/multinode_proc.lua") ..
        " " .. table.concat({ q(sb.url), rs.port, tag, rl, op, per_proc, string.format("%.3f", start) }, " ") ..
        " 2>&1"))
    end
    while core.now() < start do socket.sleep(0.005) end
    local reqs = {}
    for _, ng in ipairs(nodes) do
      for _ = 1, per_node do
        reqs[#reqs + 1] = { port = ng.port, text = "GET /hw?op=" .. op .. "&rl=" .. rl .. "&tag=" .. tag .. "&redis=" ..
          rs.port .. "&base=" .. sandbox.json.urlencode(sb.url) .. " HTTP/1.0\r\nHost: x\r\n\r\n" }
      end
    end
    local answers = {}
    for i, r in ipairs(nginx.concurrent(nil, reqs)) do
      assert.equal(200, r.status, "node call " .. i .. ": " .. r.body .. logs())
      local a = assert(sandbox.json.json_decode(r.body), r.body)
      answers[#answers + 1] = a.ok and "ok" or tostring(a.err)
    end
    for _, p in ipairs(ps) do
      for line in p:read("*a"):gmatch("[^\n]+") do answers[#answers + 1] = line end
      p:close()
    end
    return answers
  end

  it("40 Huawei calls across two nodes and two processes make exactly one token request", function()
    sb:reset()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local answers = huawei_calls("token", "0", "list_tags", 12, 2, 8)
    assert.equal(40, #answers)
    for i, a in ipairs(answers) do assert.equal("ok", a, "call " .. i) end
    assert.equal(1, sb:state("huawei").token_requests)
  end)

  it("a burst from all of them draws 0 x 429 (one 5 calls/s budget across nodes)", function()
    sb:reset()
    local answers = huawei_calls("burst", "1", "list_tags", 12, 2, 8)
    assert.equal(40, #answers)
    for i, a in ipairs(answers) do assert.equal("ok", a, "call " .. i) end
    local st = sb:state("huawei")
    assert.equal(0, st.rate_limited)
    assert.equal(1, st.token_requests)
  end)

  it("1,000 notifications, each delivered twice to random nodes in random order: each handler runs once", function()
    local now = os.time()
    local bodies = {}
    for i = 1, 1000 do
      bodies[i] = notify.sign_eiotclub({ id = "mn-" .. i, event = "FlowAlert", timestamp = now, nonce = i,
        iccid = string.format("898520123456789%05d", i), alert_type = 1, alert_value = "100" }, SECRET)
    end
    -- a fixed shuffle (Park-Miller), the same on every run and VM
    local seed = 4242
    local function rnd(n)
      seed = (seed * 16807) % 2147483647
      return seed % n + 1
    end
    local deliveries = {}
    for i = 1, 1000 do
      deliveries[#deliveries + 1] = i
      deliveries[#deliveries + 1] = i
    end
    for i = #deliveries, 2, -1 do
      local j = rnd(i)
      deliveries[i], deliveries[j] = deliveries[j], deliveries[i]
    end
    local function request(i)
      local ng = nodes[rnd(2)]
      local path = "/notify?tag=notify&redis=" .. rs.port
      return { port = ng.port, text = "POST " .. path .. " HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n" ..
        "Content-Length: " .. #bodies[i] .. "\r\n\r\n" .. bodies[i] }
    end
    -- deliver in waves of 50 concurrent requests; a 503 ("being handled
    -- elsewhere") is re-delivered later, as the vendor does
    local pending, statuses, rounds = deliveries, {}, 0
    while #pending > 0 do
      rounds = rounds + 1
      assert.is_true(rounds <= 50, #pending .. " deliveries still refused after 50 rounds")
      local again = {}
      for from = 1, #pending, 50 do
        local wave, reqs = {}, {}
        for k = from, math.min(from + 49, #pending) do
          wave[#wave + 1] = pending[k]
          reqs[#reqs + 1] = request(pending[k])
        end
        for k, r in ipairs(nginx.concurrent(nil, reqs)) do
          if r.status == 503 then
            again[#again + 1] = wave[k]
          else
            assert.equal(200, r.status, "event " .. wave[k] .. ": " .. r.body .. logs())
            statuses[r.status] = (statuses[r.status] or 0) + 1
          end
        end
      end
      pending = again
      if #pending > 0 then socket.sleep(0.05) end
    end
    assert.equal(2000, statuses[200])
    local s = store.redis { port = rs.port, prefix = "mn:notify:" }
    local total = 0
    for i = 1, 1000 do
      local n = s:get("handled:mn-" .. i)
      assert.equal(1, n, "handler runs for event " .. i)
      total = total + n
    end
    assert.equal(1000, total)
  end)
end)
