-- simkit in two real nginx workers sharing one Huawei account: the IAM token
-- (a new one kills the old) and the 5 calls/s limit are shared through a
-- lua_shared_dict, so the workers neither fight over tokens nor together
-- exceed the limit. Without the shared stores they do (the contrast case).
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"

local CONF = nginx.conf { workers = 2, http = [[
    lua_shared_dict simkit 1m;
    server {
        # reuseport: one listening socket per worker, connections spread by the kernel
        listen 127.0.0.1:@PORT@ reuseport;
        location = /call { content_by_lua_block { require("ngx_workers_app").run() } }
    }]] }

describe("two nginx workers, one Huawei account", function()
  local sb, ng

  setup(function()
    sb = sandbox.start()
    ng = nginx.start { conf = CONF }
  end)
  teardown(function()
    if ng then ng:stop() end
    if sb then sb:stop() end
  end)
  before_each(function()
    sb:reset()
  end)

  local function state() return sb:state("huawei") end

  -- n concurrent calls of `op`; returns the answers and the set of workers that served
  local function calls(n, op, shared, rl, extra)
    local reqs = {}
    for i = 1, n do
      reqs[i] = "GET /call?op=" .. op .. "&shared=" .. shared .. "&rl=" .. rl .. (extra or "") .. "&base=" ..
        sandbox.json.urlencode(sb.url) .. " HTTP/1.0\r\nHost: x\r\n\r\n"
    end
    local out = nginx.concurrent(ng.port, reqs)
    local workers, answers = {}, {}
    for i, r in ipairs(out) do
      assert.are.equal(200, r.status, "call " .. i .. ": " .. r.body .. ng:log())
      local a = assert(sandbox.json.json_decode(r.body), r.body)
      workers[a.worker] = true
      answers[i] = a
    end
    local nw = 0
    for _ in pairs(workers) do nw = nw + 1 end
    return answers, nw
  end

  it("shares one IAM token through a store over lua_shared_dict: one token request for both workers", function()
    sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
    local answers, nw = calls(24, "list_tags", "1", "0")
    assert.are.equal(2, nw, "both workers must have served")
    for i, a in ipairs(answers) do assert.is_true(a.ok, "call " .. i .. ": " .. tostring(a.err)) end
    assert.are.equal(1, state().token_requests)
  end)

  it("shares the 5 calls/s window: 16 concurrent calls from both workers draw no 429", function()
    local answers, nw = calls(16, "list_tags", "1", "1")
    assert.are.equal(2, nw, "both workers must have served")
    for i, a in ipairs(answers) do assert.is_true(a.ok, "call " .. i .. ": " .. tostring(a.err)) end
    local s = state()
    assert.are.equal(0, s.rate_limited)
    assert.are.equal(1, s.token_requests)
  end)

  it("EIOTCLUB: the 5-minute per-card guard holds across workers through the store: one request leaves", function()
    local answers, nw = calls(12, "refresh_usage", "1", "1", "&vendor=eiotclub&iccid=89852012345678900001")
    assert.are.equal(2, nw, "both workers must have served")
    local ok, refused = 0, 0
    for _, a in ipairs(answers) do
      if a.ok then ok = ok + 1 elseif a.client_side then refused = refused + 1 end
    end
    assert.are.equal(1, ok)
    assert.are.equal(11, refused)
    assert.are.equal(1, #sb:requests({ path = "/api/v3/card/refreshUsage" }))
  end)

  it("EIOTCLUB contrast: per-worker stores send the guarded call once per worker (the vendor answers 44001)",
      function()
    local answers, nw = calls(12, "refresh_usage", "0", "1", "&vendor=eiotclub&iccid=89852012345678900002")
    assert.are.equal(2, nw, "both workers must have served")
    local ok = 0
    for _, a in ipairs(answers) do if a.ok then ok = ok + 1 end end
    assert.are.equal(1, ok)
    assert.are.equal(2, #sb:requests({ path = "/api/v3/card/refreshUsage" }))
  end)

  it("contrast: per-worker state makes the workers exceed the limit together", function()
    local _, nw = calls(16, "list_tags", "0", "1")
    assert.are.equal(2, nw, "both workers must have served")
    local s = state()
    assert.is_true(s.rate_limited > 0 or s.token_requests > 1,
      "rate_limited=" .. tostring(s.rate_limited) .. " token_requests=" .. tostring(s.token_requests))
  end)
end)
