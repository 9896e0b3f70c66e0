-- examples/fleet_report.lua and examples/low_cards.lua, run as a user
-- would (a separate lua5.4 process configured through the environment)
-- against the sandbox's three vendors.
local sandbox = require "spec.support.sandbox"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("fleet examples against the sandbox", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function() sb:reset() end)

  local function run(script, env)
    local tib = {}
    for i = 1, 12 do tib[i] = string.format("8986112233445566%04d", i) end
    local vars = {
      EIOTCLUB_BASE_URL = sb.url, EIOTCLUB_APPKEY = "sandbox-appkey", EIOTCLUB_SECRET = "sandbox-secret",
      HUAWEI_ENDPOINT = sb.url, HUAWEI_AK = "SANDBOXAKEXAMPLE0001", HUAWEI_SK = "sandbox-sk-secret",
      HUAWEI_PROJECT_ID = "0123456789abcdef0123456789abcdef", TIBIOT_BASE_URL = sb.url,
      TIBIOT_APP_KEY = "sandbox-tib-key", TIBIOT_SECRET = "sandbox-tib-secret", TIBIOT_ICCIDS = table.concat(tib, ","),
    }
    for k, v in pairs(env or {}) do vars[k] = v end
    local parts = { "cd " .. q(sandbox.root) .. " &&", "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
      "LUA_CPATH='build/lua5.4/?.so;;'" }
    for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. q(v) end
    parts[#parts + 1] = "lua5.4 " .. q(script) .. " 2>&1; echo \"rc=$?\""
    local p = assert(io.popen(table.concat(parts, " ")))
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("rc=(%d+)%s*$"))
  end

  it("fleet_report.lua prints every card of every vendor as CSV", function()
    local out, rc = run("examples/fleet_report.lua")
    assert.equal(0, rc, out)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal("vendor,iccid,status,vendor_status,plan,used_mb,limit_mb,left_mb,expires", lines[1])
    local n = {}
    for i = 2, #lines - 1 do
      local vendor = lines[i]:match("^(%w+),")
      n[vendor] = (n[vendor] or 0) + 1
    end
    assert.same({ eiotclub = 12, huawei = 20, tibiot = 12 }, n)
    assert.matches("\neiotclub,89852012345678900002,active,ACTIVATED_NAME,GJ%-LLB%-1G%-30%-1US%-DN,300,1024,724,%d+%-%d+%-%d+T", out)
    assert.matches("\nhuawei,89860321000000000010,active,20,[^\n]*,45%.59,30,0,2027%-02%-28T15:59:59Z", out)
  end)

  it("low_cards.lua flags the low cards of every vendor", function()
    local out, rc = run("examples/low_cards.lua", { LOW_MB = "10" })
    assert.equal(2, rc, out)
    assert.matches("LOW eiotclub 89852012345678900007: 5%.00 MB left\n", out)
    assert.matches("LOW huawei 89860321000000000010: 0%.00 MB left %(no top%-up at this vendor%)", out)
    assert.not_matches("LOW tibiot", out)
    out, rc = run("examples/low_cards.lua", { LOW_MB = "0" })
    assert.equal(0, rc, out)
    assert.matches("0 low card%(s%)", out)
    -- a vendor that cannot be read: exit 1 with the error on stderr
    out, rc = run("examples/low_cards.lua", { HUAWEI_SK = "wrong" })
    assert.equal(1, rc, out)
    assert.matches("auth", out)
    assert.not_matches("wrong", out)
  end)
end)
