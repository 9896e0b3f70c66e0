-- The runnable examples, run as a user would (a separate lua5.4 process,
-- configured through the environment) against the sandbox.
local sandbox = require "spec.support.sandbox"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("examples/ against the sandbox", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  -- run an example; returns its output and exit status
  local function run(script, env)
    local parts = { "cd " .. q(sandbox.root) .. " &&", "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
      "LUA_CPATH='build/lua5.4/?.so;;'", "EIOTCLUB_BASE_URL=" .. q(sb.url),
      "EIOTCLUB_APPKEY=sandbox-appkey", "EIOTCLUB_SECRET=sandbox-secret" }
    for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
    parts[#parts + 1] = "lua5.4 " .. q(script) .. " 2>&1; echo \"rc=$?\""
    local p = assert(io.popen(table.concat(parts, " ")))
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("rc=(%d+)%s*$"))
  end

  it("auto_topup.lua orders once per low card and day, never twice", function()
    local out, rc = run("examples/auto_topup.lua")
    assert.are.equal(0, rc, out)
    assert.matches("1 low, 1 ordered, 0 failures", out)
    local key = out:match("outTradeNo (topup%w+)")
    assert.truthy(key, out)
    out, rc = run("examples/auto_topup.lua")
    assert.are.equal(0, rc, out)
    assert.matches("already ordered today", out)
    assert.matches("0 ordered, 0 failures", out)
    local n = 0
    for _, o in ipairs(sb:state("eiotclub").orders) do if o.outTradeNo == key then n = n + 1 end end
    assert.are.equal(1, n)
    -- dry run: nothing ordered
    sb:reset()
    out, rc = run("examples/auto_topup.lua", { TOPUP_DRY_RUN = "1" })
    assert.are.equal(0, rc, out)
    assert.matches("would order", out)
  end)

  it("pool_alert.lua exits 0 while pools are fine and 2 with an alert once one is nearly used", function()
    local out, rc = run("examples/pool_alert.lua")
    assert.are.equal(0, rc, out)
    assert.matches("1 active pool%(s%), 0 alert%(s%)", out)
    -- a card of pool 380 uses 9000 MB of its 10 GiB
    assert.are.equal(200, (sb:control("POST", "/_sim/eiotclub/usage", { iccid = "89852012345678900003", mb = 9000 })))
    out, rc = run("examples/pool_alert.lua")
    assert.are.equal(2, rc, out)
    assert.matches("ALERT pool 380", out)
    -- a wrong secret: exit 1 with the vendor's refusal, the secret never printed
    out, rc = run("examples/pool_alert.lua", { EIOTCLUB_SECRET = "not-the-secret" })
    assert.are.equal(1, rc, out)
    assert.matches("cannot list pools", out)
    assert.is_nil(out:find("not-the-secret", 1, true))
  end)
end)
