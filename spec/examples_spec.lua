-- The automation examples, rules files run as a user would (a separate lua5.4
-- process through examples/rules/run.lua, configured through the
-- environment) against the sandbox. Orders are counted in the sandbox.
local sandbox = require "spec.support.sandbox"
local listener = require "spec.support.listener"
local core = require "simkit.core"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("examples/ rules files against the sandbox", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  -- run the rules runner with `args`; returns its output and exit status
  local function run(args, env)
    local vars = { EIOTCLUB_BASE_URL = sb.url, EIOTCLUB_APPKEY = "sandbox-appkey", EIOTCLUB_SECRET = "sandbox-secret" }
    for k, v in pairs(env or {}) do vars[k] = v end
    local parts = { "cd " .. q(sandbox.root) .. " &&", "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
      "LUA_CPATH='build/lua5.4/?.so;;'" }
    for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. q(v) end
    parts[#parts + 1] = "lua5.4 examples/rules/run.lua " .. args .. " 2>&1; echo \"rc=$?\""
    local p = assert(io.popen(table.concat(parts, " ")))
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("rc=(%d+)%s*$"))
  end


  it("auto_topup.lua: the plan orders nothing; a run orders once for the low card and re-arms on clear only", function()
    local out, rc = run("--plan examples/auto_topup.lua")
    assert.are.equal(0, rc, out)
    assert.matches("would topup eiotclub 89852012345678900007 %(5 vs 200%)", out)
    assert.matches("2 planned", out)
    assert.are.equal(0, #sb:engine_orders())
    out, rc = run("--cycles 3 examples/auto_topup.lua")
    assert.are.equal(0, rc, out)
    assert.matches("done%s+auto%-topup eiotclub 89852012345678900007 topup key auto%-topup|89852012345678900007|e0|1|1:topup",
      out)
    assert.matches("skip%s+auto%-topup eiotclub 89852012345678900007: not armed %(rearm clear%)", out)
    assert.are.equal(1, #sb:engine_orders())
    -- the package bought lifts the card above the threshold (the old script bought 100 MB)
    local bought = sb:engine_orders()[1]
    assert.truthy(bought)
  end)

  it("pool_alert.lua: nothing while pools are fine; a signed webhook once a pool is nearly used", function()
    local l = listener.start(sandbox.root, "http")
    local env = { ALERT_WEBHOOK = "http://127.0.0.1:" .. l.port .. "/alert", ALERT_WEBHOOK_SECRET = "wh-secret" }
    local out, rc = run("examples/pool_alert.lua", env)
    assert.are.equal(0, rc, out)
    assert.matches("0 fired", out)
    -- a card of pool 380 uses 9000 MB of its 10 GiB
    assert.are.equal(200, (sb:control("POST", "/_sim/eiotclub/usage", { iccid = "89852012345678900003", mb = 9000 })))
    out, rc = run("examples/pool_alert.lua", env)
    local got = listener.records(l)
    listener.stop(l)
    assert.are.equal(0, rc, out)
    assert.matches("warn%s+pool%-alert 89852012345678900003: pool nearly used or expiring", out)
    assert.is_true(#got >= 1)
    local r = got[1]
    assert.are.equal("sha256=" .. core.hmac_sha256("wh-secret", r.headers["x-simkit-timestamp"] .. "." .. r.body, "hex"),
      r.headers["x-simkit-signature"])
    assert.is_nil(out:find("wh-secret", 1, true))
    -- a wrong vendor secret: exit 1 with the vendor's refusal, the secret never printed
    out, rc = run("examples/pool_alert.lua", { EIOTCLUB_SECRET = "not-the-secret" })
    assert.are.equal(1, rc, out)
    assert.matches("ERROR cards", out)
    assert.is_nil(out:find("not-the-secret", 1, true))
  end)

  it("rules/ladder.lua: each step once, in order; restores scheduled for the next month", function()
    local out, rc = run("--cycles 2 examples/rules/ladder.lua", { HUAWEI_ENDPOINT = sb.url,
      HUAWEI_AK = "SANDBOXAKEXAMPLE0001", HUAWEI_SK = "sandbox-sk-secret",
      HUAWEI_PROJECT_ID = "0123456789abcdef0123456789abcdef" })
    assert.are.equal(0, rc, out)
    local c1 = out:match("== cycle 1(.-)== cycle 2")
    assert.matches("done%s+month%-ladder huawei 89860321000000000010 alert", c1)
    assert.matches("done%s+month%-ladder huawei 89860321000000000010 speed", c1)
    assert.matches("done%s+month%-ladder huawei 89860321000000000010 suspend", c1)
    assert.matches("later%s+month%-ladder huawei 89860321000000000010 resume", c1)
    assert.matches("4 fired, 2 scheduled", c1)
    local c2 = out:match("== cycle 2(.*)$")
    assert.matches("0 fired, 0 scheduled", c2)
    local st = sb:state("huawei")
    assert.truthy(st)
  end)

  it("a bad rules file is refused with exit 2, naming the rule", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("local R, engine = ...\nengine:rule{ name = 'broken', when = R.used_above{}, actions = { R.alert{} } }\n")
    f:close()
    local out, rc = run(q(path))
    os.remove(path)
    assert.are_not.equal(0, rc)
    assert.matches("rule 'broken'", out)
    out, rc = run("")
    assert.are.equal(2, rc, out)
    out, rc = run("/nonexistent/rules.lua")
    assert.are.equal(2, rc, out)
  end)
end)
