-- Two engines on one SQLite store at once (two cron runs overlapping): two
-- lua5.4 processes run examples/rules/run.lua on the same database file
-- against the sandbox at the same moment. The sandbox counts one order and
-- one order request; a later run finds the rule not armed.
local sandbox = require "spec.support.sandbox"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("simkit.rules: two engines on one SQLite store", function()
  local sb, db
  setup(function() sb = sandbox.start() end)
  teardown(function()
    if sb then sb:stop() end
    if db then os.remove(db) os.remove(db .. "-wal") os.remove(db .. "-shm") end
  end)

  local function cmd(extra)
    return table.concat({ "cd " .. q(sandbox.root) .. " &&", "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
      "LUA_CPATH='build/lua5.4/?.so;;'", "EIOTCLUB_BASE_URL=" .. q(sb.url), "EIOTCLUB_APPKEY=sandbox-appkey",
      "EIOTCLUB_SECRET=sandbox-secret", "RULES_STORE=" .. q(db), "lua5.4 examples/rules/run.lua " .. extra }, " ")
  end

  it("never both order for one intent", function()
    db = os.tmpname()
    os.remove(db)
    local outs = {}
    for i = 1, 2 do outs[i] = os.tmpname() end
    -- both at once, each three cycles
    local p = assert(io.popen("( " .. cmd("--cycles 3 examples/auto_topup.lua") .. " > " .. q(outs[1]) .. " 2>&1 & " ..
      cmd("--cycles 3 examples/auto_topup.lua") .. " > " .. q(outs[2]) .. " 2>&1 & wait ); echo done"))
    p:read("*a")
    p:close()
    local text = {}
    for i = 1, 2 do
      local f = assert(io.open(outs[i]))
      text[i] = f:read("*a")
      f:close()
      os.remove(outs[i])
      assert.matches("cards, ", text[i])
      assert.is_nil(text[i]:find("ERROR", 1, true), text[i])
    end
    assert.are.equal(1, #sb:engine_orders(), text[1] .. text[2])
    assert.are.equal(1, #sb:requests { path = "/api/v3/package/orderPackage" })
    -- a later cron run, a third process: the state is in the file
    local p3 = assert(io.popen(cmd("examples/auto_topup.lua") .. " 2>&1"))
    local out = p3:read("*a")
    p3:close()
    assert.matches("not armed", out)
    assert.are.equal(1, #sb:requests { path = "/api/v3/package/orderPackage" })
  end)
end)
