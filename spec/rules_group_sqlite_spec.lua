-- A `scope = "group"` rule run by two processes at once on one SQLite store
-- (two cron runs overlapping, two nodes): two lua5.4 processes run
-- examples/rules/run.lua with the same rules file and database against the
-- sandbox's Huawei pool (three cards, 102.59 of 60 MB used). The group's
-- action is done once in all, not once per card nor once per process.
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"
local json = require "simkit.json"

local q = proc.q

local POOL = "pool:huawei:9007199254745001"

local RULES = [[
local R, engine = ...
engine:rule {
  name = "pool-over",
  scope = os.getenv("RULE_SCOPE"),
  when = R.pool_used_above { ratio = 1 },
  actions = { R.alert { message = "pool over its quota" } },
  rearm = "next_day",
}
]]

local function audit_lines(path)
  local out = {}
  for line in proc.read(path):gmatch("[^\n]+") do out[#out + 1] = assert(json.decode(line)) end
  return out
end

describe("simkit.rules: a group rule, two engines on one SQLite store", function()
  local sb, dir
  setup(function()
    sb = sandbox.start()
    dir = proc.tempdir("simkit-rules-group")
    local f = assert(io.open(dir .. "/rules.lua", "w"))
    f:write(RULES)
    f:close()
  end)
  teardown(function()
    if sb then sb:stop() end
    if dir then os.execute("rm -rf " .. q(dir)) end
  end)
  before_each(function()
    sb:reset()
    -- two processes list at once: the sandbox's per-account limits are not what this spec is about
    assert.equal(200, (sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })))
  end)

  local function cmd(name, scope, extra)
    return table.concat({ "cd " .. q(sandbox.root) .. " &&", "LUA_PATH='lua/?.lua;lua/?/init.lua;;'",
      "LUA_CPATH='build/lua5.4/?.so;;'", "HUAWEI_ENDPOINT=" .. q(sb.url), "HUAWEI_AK=SANDBOXAKEXAMPLE0001",
      "HUAWEI_SK=sandbox-sk-secret", "HUAWEI_PROJECT_ID=0123456789abcdef0123456789abcdef",
      "RULE_SCOPE=" .. scope, "RULES_STORE=" .. q(dir .. "/" .. name .. ".db"),
      "RULES_AUDIT=" .. q(dir .. "/" .. name .. ".jsonl"), "lua5.4 examples/rules/run.lua " .. extra,
      q(dir .. "/rules.lua") }, " ")
  end

  local function both(name, scope)
    local outs = { dir .. "/" .. name .. "-1.out", dir .. "/" .. name .. "-2.out" }
    proc.sh(cmd(name, scope, "--cycles 3") .. " > " .. q(outs[1]) .. " 2>&1 & " ..
      cmd(name, scope, "--cycles 3") .. " > " .. q(outs[2]) .. " 2>&1 & wait")
    local text = proc.read(outs[1]) .. proc.read(outs[2])
    assert.matches("cards, ", text)
    assert.is_nil(text:find("ERROR", 1, true), text)
    return text, audit_lines(dir .. "/" .. name .. ".jsonl")
  end

  local function decisions(lines, decision)
    local out = {}
    for _, l in ipairs(lines) do if l.decision == decision then out[#out + 1] = l end end
    return out
  end

  it("fires the group's action once across both processes and all their cycles", function()
    local text, lines = both("group", "group")
    local done = decisions(lines, "done")
    assert.equal(1, #done, text)
    assert.equal(POOL, done[1].group)
    assert.equal("alert", done[1].action)
    assert.equal("pool-over|@" .. POOL, done[1].key:match("^(pool%-over|@[^|]+)"))
    local _, alerts = text:gsub("pool over its quota", "")
    assert.equal(1, alerts, text)
    -- every other decision of both processes is about the same group and the same intent
    for _, l in ipairs(lines) do
      assert.equal(POOL, l.group)
      if l.key then assert.equal(done[1].key, l.key) end
    end
    -- a later run, a third process: the group's state is in the file
    local out = proc.out(cmd("group", "group", ""))
    assert.matches("not armed for " .. POOL:gsub("%p", "%%%0"), out)
    assert.equal(1, #decisions(audit_lines(dir .. "/group.jsonl"), "done"))
  end)

  it("with the default scope the same rule fires once per card of the pool, still once per card", function()
    local text, lines = both("card", "card")
    local done = decisions(lines, "done")
    local cards = {}
    for _, l in ipairs(done) do
      assert.is_nil(l.group)
      cards[#cards + 1] = l.iccid
    end
    table.sort(cards)
    assert.same({ "8986002100000000008", "89860321000000000009", "89860621000000000007" }, cards, text)
  end)
end)
