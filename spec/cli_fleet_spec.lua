-- simkit cards / card / pools / act as separate processes against the
-- sandbox, over simkit.fleet.
local sandbox = require "spec.support.sandbox"
local cli = require "spec.support.cli"
local clifleet = require "simkit.cli.fleet"
local J = sandbox.json

local SECRETS = { "sandbox-secret", "sandbox-sk-secret", "sandbox-tib-secret" }

-- Every vendor write op as { method, path pattern }, from the op descriptors.
local function write_ops()
  local list = {}
  for _, v in ipairs({ "eiotclub", "huawei", "tibiot" }) do
    for name, op in pairs(require("simkit.vendor." .. v).ops) do
      if not op.read then
        local pat = "^" .. op.path:gsub("[%-%.]", "%%%0"):gsub("{[^}]+}", "[^/]+") .. "$"
        list[#list + 1] = { method = op.method, pattern = pat, name = v .. "." .. name }
      end
    end
  end
  return list
end
local WRITES = write_ops()

-- The writes in the sandbox's request log.
local function writes(sb)
  local n, names = 0, {}
  for _, r in ipairs(sb:requests()) do
    for _, w in ipairs(WRITES) do
      if r.method == w.method and r.path:match(w.pattern) then
        n = n + 1
        names[#names + 1] = w.name
        break
      end
    end
  end
  return n, names
end

local function lines(text)
  local out = {}
  for l in text:gmatch("([^\n]+)\n") do out[#out + 1] = l end
  return out
end

describe("simkit fleet commands", function()
  local sb, home

  setup(function()
    sb = sandbox.start()
    home = cli.home()
    home:config(([[return { default = { sandbox = %q }, ["hw-only"] = { huawei = {
      ak = "SANDBOXAKEXAMPLE0001", sk = os.getenv("T_SK"), project_id = "0123456789abcdef0123456789abcdef",
      endpoint = %q } } }]]):format(sb.url, sb.url))
  end)
  teardown(function()
    if sb then sb:stop() end
    if home then home:remove() end
  end)
  before_each(function() sb:reset() end)

  local function run(args)
    local r = home:run(args, { T_SK = "sandbox-sk-secret" })
    for _, s in ipairs(SECRETS) do
      assert.is_nil(r.out:find(s, 1, true), "secret on stdout")
      assert.is_nil(r.err:find(s, 1, true), "secret on stderr")
    end
    return r
  end

  describe("cards", function()
    it("csv: the documented columns, one row per card; jsonl and json agree", function()
      local r = run({ "--format", "csv", "cards" })
      assert.are.equal(0, r.rc, r.err)
      local rows = cli.parse_csv(r.out)
      assert.are.same(clifleet.CARD_COLUMNS, rows[1])
      local rj = run({ "--format", "jsonl", "cards" })
      assert.are.equal(0, rj.rc, rj.err)
      local ls = lines(rj.out)
      assert.are.equal(#rows - 1, #ls)
      assert.is_true(#ls >= 20)
      for i, l in ipairs(ls) do
        local c = J.json_decode(l)
        assert.are.equal(rows[i + 1][2], c.iccid)
        assert.are.equal(rows[i + 1][1], c.vendor)
        assert.is_nil(c.raw)
      end
      local ra = run({ "--format", "json", "cards" })
      assert.are.equal(#ls, #J.json_decode(ra.out))
      local rt = run({ "cards" })
      assert.matches("^VENDOR%s+ICCID%s+STATUS", rt.out)
      assert.are.equal(#ls + 1, #lines(rt.out))
    end)

    it("filters by vendor, status, tag, pool and left-below", function()
      local function rows(args)
        local a = { "--format", "csv", "cards" }
        for _, x in ipairs(args) do a[#a + 1] = x end
        local r = run(a)
        assert.are.equal(0, r.rc, r.err)
        local t = cli.parse_csv(r.out)
        table.remove(t, 1)
        assert.is_true(#t > 0, table.concat(args, " "))
        return t
      end
      for _, row in ipairs(rows({ "--vendor", "huawei" })) do assert.are.equal("huawei", row[1]) end
      for _, row in ipairs(rows({ "--status", "suspended" })) do assert.are.equal("suspended", row[3]) end
      for _, row in ipairs(rows({ "--left-below", "5" })) do assert.is_true(tonumber(row[7]) < 5) end
      for _, row in ipairs(rows({ "--tag", "fleet-a" })) do assert.truthy(row[14]:find("fleet-a", 1, true)) end
      for _, row in ipairs(rows({ "--pool", "9007199254745001" })) do assert.are.equal("9007199254745001", row[8]) end
    end)

    it("bad filters: exit 2", function()
      for _, args in ipairs({ { "--vendor", "nokia" }, { "--status", "sleepy" }, { "--left-below", "abc" },
        { "--left-below", "nan" }, { "--left-below", "inf" } }) do
        local a = { "cards" }
        for _, x in ipairs(args) do a[#a + 1] = x end
        local r = run(a)
        assert.are.equal(2, r.rc, table.concat(args, " ") .. ": " .. r.err)
      end
    end)

    it("progress (cards fetched) only on a terminal", function()
      local r = home:run_tty({ "--format", "jsonl", "cards", "--vendor", "huawei" })
      assert.are.equal(0, r.rc, r.out)
      assert.matches("cards fetched %d+/", r.out)
      local p = run({ "--format", "jsonl", "cards", "--vendor", "huawei" })
      assert.are.equal("", p.err)
    end)
  end)

  describe("card and pools", function()
    it("card ICCID prints the card as JSON; an unknown one exits 1", function()
      local r = run({ "card", "89860321000000000001" })
      assert.are.equal(0, r.rc, r.err)
      local c = J.json_decode(r.out)
      assert.are.equal("huawei", c.vendor)
      assert.are.equal("active", c.status)
      r = run({ "card", "89860000000000000999" })
      assert.are.equal(1, r.rc)
      assert.matches("not found", r.err)
    end)

    it("pools: the documented columns, 64-bit ids exact", function()
      local r = run({ "--format", "csv", "pools" })
      assert.are.equal(0, r.rc, r.err)
      local rows = cli.parse_csv(r.out)
      assert.are.same(clifleet.POOL_COLUMNS, rows[1])
      local ids = {}
      for i = 2, #rows do ids[rows[i][2]] = rows[i][1] end
      assert.are.equal("huawei", ids["9007199254745001"])
    end)
  end)

  describe("report", function()
    it("of the sandbox fleet: cards and pools from the fleet, audit from the profile; Chromium renders it", function()
      local audit = home.dir .. "/audit.jsonl"
      local f = assert(io.open(audit, "w"))
      f:write('{"time":1796256000,"rule":"topup-when-low","iccid":"89852012345678900007","vendor":"eiotclub",',
        '"decision":"done","action":"topup","package":"GJ-LLB-1G-30-1US-DN","cost":4.5,"currency":"USD"}\n')
      f:close()
      local out = home.dir .. "/fleet.html"
      local r = run({ "report", "--out", out, "--audit", audit })
      assert.are.equal(0, r.rc, r.err)
      local html = cli.slurp(out)
      for _, want in ipairs({ "sandbox-forward-pool", "89852012345678900007", "89852012345678900001",
        "topup-when-low", "4.50 USD" }) do
        assert.truthy(html:find(want, 1, true), want)
      end
      local p = assert(io.popen("timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir=" ..
        cli.quote(home.dir .. "/chrome") .. " --dump-dom " .. cli.quote("file://" .. out) .. " 2>/dev/null"))
      local dom = p:read("*a")
      p:close()
      for _, s in ipairs({ "Usage per vendor", "Usage per pool", "Closest to running dry", "Top consumers",
        "Rule activity", "Orders" }) do
        assert.truthy(dom:find("<h2>" .. s .. "</h2>", 1, true), s)
      end
      assert.truthy(dom:find("sandbox-forward-pool", 1, true))
    end)
  end)

  describe("act", function()
    it("--dry-run sends no write and says what would be done", function()
      sb:clear_requests()
      local r = run({ "act", "89860321000000000001", "speed", "kbps=128", "--dry-run" })
      assert.are.equal(0, r.rc, r.err)
      local d = J.json_decode(r.out)
      assert.is_true(d.dry_run)
      assert.are.equal("speed", d.action)
      assert.are.equal(128, d.args.kbps)
      assert.are.equal(0, (writes(sb)))
      assert.is_true(#sb:requests() > 0, "the card was looked up")
    end)

    it("does the action: one write at the vendor", function()
      sb:clear_requests()
      local r = run({ "act", "89860321000000000001", "speed", "kbps=256" })
      assert.are.equal(0, r.rc, r.err)
      local n, names = writes(sb)
      assert.are.equal(1, n, table.concat(names, ","))
    end)

    it("an unsupported action exits 1 before any write, dry run or not", function()
      for _, dry in ipairs({ true, false }) do
        sb:clear_requests()
        local args = { "act", "89852012345678900001", "suspend" }
        if dry then args[#args + 1] = "--dry-run" end
        local r = run(args)
        assert.are.equal(1, r.rc, r.err)
        assert.matches("unsupported error", r.err)
        assert.are.equal(0, (writes(sb)))
      end
    end)

    it("bad arguments exit 2 before anything is sent", function()
      for _, args in ipairs({ { "act", "89860321000000000001", "explode" },
        { "act", "89860321000000000001", "speed", "kbps=fast" },
        { "act", "89860321000000000001", "speed", "rate=1" },
        { "act", "89860321000000000001", "network", "on=maybe" },
        { "act", "89852012345678900001", "topup" } }) do
        sb:clear_requests()
        local r = run(args)
        assert.are.equal(2, r.rc, table.concat(args, " ") .. ": " .. r.err)
        assert.are.equal(0, #sb:requests())
      end
    end)

    it("a profile without fleet vendors is a usage error", function()
      local other = cli.home()
      other:config("return { default = {} }")
      local r = other:run({ "cards" })
      other:remove()
      assert.are.equal(2, r.rc)
      assert.matches("configures no vendor", r.err)
    end)
  end)
end)
