-- simkit rules run|plan|explain as separate processes against the sandbox:
-- the profile's fleet, store and audit log; dry runs write nothing.
local sandbox = require "spec.support.sandbox"
local cli = require "spec.support.cli"
local J = sandbox.json

local RULES = [[
local R, engine = ...
engine:rule{ name = "topup-when-low", match = { vendor = "eiotclub", status = "active" },
  when = R.left_below{ mb = 10 }, actions = { R.topup{ package = "cheapest" } }, rearm = "next_day" }
engine:rule{ name = "huawei-low", match = { vendor = "huawei" }, when = R.left_below{ mb = 5 },
  actions = { R.alert{} }, rearm = "next_day" }
]]

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- requests to EIOTCLUB's order endpoints and vendor writes in the log
local function orders(sb)
  local n = 0
  for _, r in ipairs(sb:requests({ vendor = "eiotclub" })) do
    if r.path:find("order", 1, true) and not r.path:find("query", 1, true) and not r.path:find("Detail", 1, true) then
      n = n + 1
    end
  end
  return n
end

describe("simkit rules", function()
  local sb, home, rules, audit

  setup(function()
    sb = sandbox.start()
    home = cli.home()
    rules, audit = home.dir .. "/rules.lua", home.dir .. "/audit.jsonl"
    write(rules, RULES)
    home:config(("return { default = { sandbox = %q, audit = %q } }"):format(sb.url, audit))
  end)
  teardown(function()
    if sb then sb:stop() end
    if home then home:remove() end
  end)
  before_each(function()
    sb:reset()
    os.remove(audit)
  end)

  it("plan lists what run would do and writes nothing", function()
    sb:clear_requests()
    local r = home:run({ "--format", "csv", "rules", "plan", rules })
    assert.are.equal(0, r.rc, r.err)
    local rows = cli.parse_csv(r.out)
    assert.are.same(require("simkit.cli.rules").PLAN_COLUMNS, rows[1])
    local by = {}
    for i = 2, #rows do by[rows[i][1] .. " " .. rows[i][2]] = rows[i] end
    assert.truthy(by["topup-when-low 89852012345678900007"])
    assert.are.equal("topup", by["topup-when-low 89852012345678900007"][4])
    assert.truthy(by["huawei-low 89860121000000000002"])
    assert.are.equal(0, orders(sb))
    assert.is_nil(io.open(audit, "r"), "no audit line")
    local rj = home:run({ "--format", "json", "rules", "plan", rules })
    assert.are.equal(#rows - 1, #J.json_decode(rj.out))
  end)

  it("run --dry-run orders nothing and writes no audit line", function()
    local before = #sb:state("eiotclub").orders
    sb:clear_requests()
    local r = home:run({ "rules", "run", rules, "--dry-run" })
    assert.are.equal(0, r.rc, r.err)
    local rep = J.json_decode(r.out)
    assert.is_true(#rep.fired >= 2)
    assert.are.equal(0, orders(sb))
    assert.are.equal(before, #sb:state("eiotclub").orders)
    assert.is_nil(io.open(audit, "r"))
  end)

  it("run acts, audits, and a second run never buys twice", function()
    local before = #sb:state("eiotclub").orders
    local r = home:run({ "--format", "csv", "rules", "run", rules })
    assert.are.equal(0, r.rc, r.err)
    local rows = cli.parse_csv(r.out)
    assert.are.same(require("simkit.cli.rules").RUN_COLUMNS, rows[1])
    local topups = 0
    for i = 2, #rows do
      if rows[i][4] == "topup" then
        topups = topups + 1
        assert.are.equal("true", rows[i][5])
      end
    end
    assert.are.equal(1, topups)
    assert.are.equal(before + 1, #sb:state("eiotclub").orders)
    local decisions = {}
    for line in io.lines(audit) do
      local e = J.json_decode(line)
      decisions[e.rule .. ":" .. e.decision] = true
    end
    assert.is_true(decisions["topup-when-low:done"])
    r = home:run({ "rules", "run", rules })
    assert.are.equal(0, r.rc, r.err)
    assert.are.equal(before + 1, #sb:state("eiotclub").orders, "the same intent: no second order")
    -- the report shows the rule activity of the profile's audit log
    local out = home.dir .. "/r.html"
    r = home:run({ "report", "--out", out })
    assert.are.equal(0, r.rc, r.err)
    local html = cli.slurp(out)
    assert.truthy(html:find("topup-when-low", 1, true))
    assert.truthy(html:find("huawei-low", 1, true))
  end)

  it("explain says why a rule fires for one card", function()
    local r = home:run({ "rules", "explain", rules, "89852012345678900007" })
    assert.are.equal(0, r.rc, r.err)
    local why = J.json_decode(r.out)
    assert.are.equal("eiotclub", why.vendor)
    assert.are.equal("topup-when-low", why.rules[1].rule)
    assert.is_true(why.rules[1].matched)
    assert.is_true(why.rules[1].holds)
    assert.is_false(why.rules[2].matched)
  end)

  it("bad files, rules and ICCIDs: exit 2 with the reason", function()
    local bad = home.dir .. "/bad.lua"
    for text, why in pairs({ ["local R, engine = ... engine:rule{"] = "bad.lua",
      ["local R, engine = ... engine:rule{ name = 'x', when = R.nonsense{}, actions = { R.alert{} } }"] = "rules file",
      ["local R, engine = ... engine:rule{ name = 'x', when = R.left_below{}, actions = { R.alert{} } }"] = "rules file" }) do
      write(bad, text)
      local r = home:run({ "rules", "plan", bad })
      assert.are.equal(2, r.rc, text .. ": " .. r.err)
      assert.truthy(r.err:find(why, 1, true), r.err)
    end
    local r = home:run({ "rules", "plan", home.dir .. "/missing.lua" })
    assert.are.equal(2, r.rc)
    r = home:run({ "rules", "explain", rules, "not-an-iccid!" })
    assert.are.equal(2, r.rc, r.err)
    r = home:run({ "rules", "explain", rules, "89860000000000000999" })
    assert.are.equal(1, r.rc, r.err)
    r = home:run({ "rules", "frobnicate", rules })
    assert.are.equal(2, r.rc)
    r = home:run({ "rules", "run" })
    assert.are.equal(2, r.rc)
  end)

  it("with no audit in the profile, run appends to the default log beside the store and report reads it", function()
    local h2 = cli.home()
    h2:config(("return { default = { sandbox = %q } }"):format(sb.url))
    local default_audit = h2.dir .. "/state/simkit/audit.jsonl"
    -- before any run: the report has no rule activity, and that is no error
    local r0 = h2:run({ "report", "--out", h2.dir .. "/r0.html" })
    assert.are.equal(0, r0.rc, r0.err)
    local r = h2:run({ "rules", "run", rules })
    assert.are.equal(0, r.rc, r.err)
    local f = assert(io.open(default_audit, "r"))
    local text = f:read("*a")
    f:close()
    assert.matches('"decision":"done"', text)
    assert.matches('"package":', text)
    local r2 = h2:run({ "report", "--out", h2.dir .. "/r.html" })
    assert.are.equal(0, r2.rc, r2.err)
    local hf = assert(io.open(h2.dir .. "/r.html", "r"))
    local html = hf:read("*a")
    hf:close()
    assert.matches("topup%-when%-low", html)
    h2:remove()
  end)
end)
