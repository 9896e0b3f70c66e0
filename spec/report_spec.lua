-- The fleet report: the model checks, the projection, the HTML (escaped,
-- self-contained), `simkit report` as a process, and the page rendered by
-- headless Chromium as a person would see it.
local report = require "simkit.report"
local cli = require "spec.support.cli"
local fixture = require "spec.support.report_model"
local sandbox = require "spec.support.sandbox"
local J = sandbox.json

local DAY = 86400
local SECTIONS = { "Usage per vendor", "Usage per pool", "Closest to running dry", "Top consumers", "Rule activity",
  "Orders" }

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("simkit.report", function()
  describe("bad models", function()
    it("are refused with kind = input, never raised", function()
      for _, m in ipairs({ "x", 42, true, { cards = "x" }, { pools = 1 }, { audit = "a" }, { orders = false },
        { history = "h" }, { now = 0 / 0 }, { now = math.huge }, { now = -math.huge }, { now = "today" } }) do
        local html, err = report.render(m)
        assert.is_nil(html)
        assert.are.equal("input", err.kind)
        local v, err2 = report.build(m)
        assert.is_nil(v)
        assert.are.equal("input", err2.kind)
      end
      local html, err = report.render(nil)
      assert.is_nil(html)
      assert.are.equal("input", err.kind)
    end)

    it("cards not in service (inactive, deactivated) are never listed as running dry", function()
      local v = assert(report.build({ now = 0, cards = {
        { vendor = "huawei", iccid = "1", status = "inactive", usage = { used_mb = 0, limit_mb = 0, left_mb = 0 } },
        { vendor = "huawei", iccid = "2", status = "deactivated", usage = { left_mb = 0 } },
        { vendor = "huawei", iccid = "3", status = "suspended", usage = { left_mb = 0 } } } }))
      assert.are.equal(1, #v.dry)
      assert.are.equal("3", v.dry[1].card.iccid)
    end)

    it("ignore items of the wrong type and values that are not finite numbers", function()
      local html = assert(report.render({ now = 0, cards = { 1, "x", { vendor = "huawei", iccid = "1",
        usage = { used_mb = 0 / 0, limit_mb = math.huge, left_mb = -math.huge } } }, pools = { "p" },
        audit = { 7, { rule = "r", decision = "nonsense", time = 0 / 0 } }, orders = { "o", { cost = 0 / 0 } } }))
      assert.matches("Usage per vendor", html)
      assert.is_nil(html:find("nan", 1, true))
      assert.is_nil(html:find("inf", 1, true))
    end)
  end)

  describe("projection", function()
    local card = { usage = { used_mb = 100, limit_mb = 200, left_mb = 100 } }
    it("extrapolates the snapshots linearly", function()
      local p = report.projection(card, { { time = 1000 - DAY, used_mb = 50 }, { time = 1000, used_mb = 100 } }, 1000)
      assert.are.equal(50, p.rate_mb_day)
      assert.are.equal(1000 + 2 * DAY, p.dry_at)
    end)
    it("says dry now when nothing is left, nothing without two good snapshots or a left amount", function()
      assert.are.equal(5, report.projection({ usage = { left_mb = 0 } }, nil, 5).dry_at)
      assert.is_nil(report.projection(card, nil, 0))
      assert.is_nil(report.projection(card, { { time = 1, used_mb = 1 } }, 0))
      assert.is_nil(report.projection(card, { { time = 0 / 0, used_mb = 1 }, { time = 2, used_mb = math.huge } }, 0))
      assert.is_nil(report.projection(card, { { time = 5, used_mb = 1 }, { time = 5, used_mb = 2 } }, 0))
      assert.is_nil(report.projection({ usage = { left_mb = 0 / 0 } }, {}, 0))
      assert.is_nil(report.projection("card", {}, 0))
      assert.are.equal(0, report.projection(card, { { time = 1, used_mb = 9 }, { time = 2, used_mb = 9 } }, 0).rate_mb_day)
    end)
  end)

  describe("the page", function()
    it("escapes every value and loads nothing from anywhere", function()
      local m = fixture.model()
      m.cards[1].iccid = "<script>alert(1)</script>"
      m.pools[1].name = "\"><img src=x onerror=alert(1)>"
      m.audit[1].rule = "<b>rule</b>"
      local html = assert(report.render(m))
      assert.is_nil(html:find("<script", 1, true))
      assert.is_nil(html:find("<img", 1, true))
      assert.truthy(html:find("&lt;script&gt;alert(1)&lt;/script&gt;", 1, true))
      assert.truthy(html:find("&lt;b&gt;rule&lt;/b&gt;", 1, true))
      for _, bad in ipairs({ "http://", "https://", "@import", "url(", "<link", "<iframe", "<object", "<embed" }) do
        assert.is_nil(html:find(bad, 1, true), bad)
      end
      assert.truthy(html:find("<svg", 1, true))
      assert.truthy(html:find("<style>", 1, true))
    end)

    it("shows what the model says: sections, totals, the closest to dry first, top consumers, orders", function()
      local v = assert(report.build(fixture.model()))
      assert.are.equal(10, v.kpi.cards)
      assert.are.equal(7, v.kpi.active)
      assert.are.equal(2, v.kpi.orders)
      assert.are.equal(9, v.kpi.cost.USD)
      assert.are.same({ "eiotclub", "huawei", "tibiot" }, { v.vendors[1].name, v.vendors[2].name, v.vendors[3].name })
      assert.are.equal("89852012345678900004", v.dry[1].card.iccid) -- nothing left: dry now
      for i = 2, #v.dry do assert.is_true(v.dry[i - 1].dry_at <= v.dry[i].dry_at) end
      assert.are.equal(2048, v.top[1].used)
      for i = 2, #v.top do assert.is_true(v.top[i - 1].used >= v.top[i].used) end
      assert.are.same({ "month-ladder", "pool-alert", "topup-when-low" }, { v.rules[1].name, v.rules[2].name, v.rules[3].name })
      assert.are.equal(1, v.rules[1].failed)
      assert.are.equal(14, #v.days)
      local html = assert(report.render(fixture.model()))
      for _, s in ipairs(SECTIONS) do assert.truthy(html:find("<h2>" .. s .. "</h2>", 1, true), s) end
    end)

    it("lists at most 10 cards per table over a large fleet and at most 31 days of activity", function()
      local m = { now = 100 * DAY, cards = {}, history = {}, audit = {} }
      for i = 1, 5000 do
        local iccid = string.format("8900%016d", i)
        m.cards[i] = { vendor = "huawei", iccid = iccid, status = "active",
          usage = { used_mb = i, limit_mb = 10000, left_mb = 10000 - i } }
        m.history[iccid] = { { time = 0, used_mb = 0 }, { time = 100 * DAY, used_mb = i } }
      end
      for d = 1, 90 do m.audit[d] = { time = d * DAY, rule = "r", decision = "fired" } end
      local v = assert(report.build(m))
      assert.are.equal(10, #v.dry)
      assert.are.equal(10, #v.top)
      assert.are.equal(5000, v.top[1].used)
      assert.are.equal(31, #v.days)
    end)

    it("orders come from the audit's done top-ups when the model has none, one per intent key", function()
      local v = assert(report.build({ now = 0, audit = {
        { time = 10, rule = "t", iccid = "1", vendor = "eiotclub", decision = "done", action = "topup", cost = 2.5,
          currency = "USD", package = "P1", key = "k1" },
        { time = 12, rule = "t", iccid = "1", vendor = "eiotclub", decision = "done", action = "topup", key = "k1" },
        { time = 11, rule = "t", iccid = "2", vendor = "eiotclub", decision = "fired", action = "topup", key = "k2" } } }))
      assert.are.equal(1, #v.orders)
      assert.are.equal(1, v.rules[1].fired) -- a "done" completes a firing: not counted twice
      assert.are.equal("P1", v.orders[1].package)
      assert.are.equal(2.5, v.kpi.cost.USD)
    end)
  end)

  describe("history from the store", function()
    local clireport = require "simkit.cli.report"
    it("reads the rules engine's snapshots as time/used points, ignoring what is not one", function()
      local store = require("simkit.store").memory()
      assert(store:set(clireport.SNAPSHOT_KEY .. "8986", { t = 5, hist = { { 1, 10.5 }, { 2, 12 }, { "x", 1 }, 7 } }))
      assert.are.same({ { time = 1, used_mb = 10.5 }, { time = 2, used_mb = 12 } }, clireport.history(store, "8986"))
      assert.is_nil(clireport.history(store, "none"))
      assert(store:set(clireport.SNAPSHOT_KEY .. "bad", "text"))
      assert.is_nil(clireport.history(store, "bad"))
    end)
  end)

  describe("read_audit", function()
    it("reads JSON lines, skipping and counting lines that are not objects", function()
      local home = cli.home()
      local path = home.dir .. "/audit.jsonl"
      write(path, '{"time":1,"rule":"a","decision":"fired"}\n\nnot json\n[1]\n{"time":2,"rule":"a","decision":"failed"}\n')
      local entries, skipped = report.read_audit(path)
      assert.are.equal(2, #entries)
      assert.are.equal(2, skipped)
      assert.are.equal("failed", entries[2].decision)
      home:remove()
    end)
    it("bad paths are input errors", function()
      for _, p in ipairs({ "/nonexistent/audit.jsonl", "", 42, false }) do
        local e, err = report.read_audit(p)
        assert.is_nil(e)
        assert.are.equal("input", err.kind)
      end
    end)
  end)
end)

describe("simkit report (command) rendered in headless Chromium", function()
  local home, model_path, audit_path, out_path

  setup(function()
    home = cli.home()
    home:config("return { default = {} }")
    model_path, audit_path, out_path = home.dir .. "/model.json", home.dir .. "/audit.jsonl", home.dir .. "/report.html"
    local m = fixture.model()
    local audit = m.audit
    m.audit = nil
    write(model_path, assert(J.json_encode(m)))
    local lines = {}
    for i, e in ipairs(audit) do lines[i] = assert(J.json_encode(e)) end
    write(audit_path, table.concat(lines, "\n") .. "\n")
  end)
  teardown(function() if home then home:remove() end end)

  it("writes one self-contained HTML file that Chromium renders with every section", function()
    local r = home:run({ "report", "--data", model_path, "--audit", audit_path, "--out", out_path })
    assert.are.equal(0, r.rc, r.err)
    assert.are.equal(out_path .. "\n", r.out)
    local html = cli.slurp(out_path)
    assert.truthy(html:find("month-ladder", 1, true), "audit lines were read")
    local png = home.dir .. "/report.png"
    local chrome = "timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" ..
      cli.quote(home.dir .. "/chrome") .. " "
    local p = assert(io.popen(chrome .. "--window-size=1360,1400 --screenshot=" .. cli.quote(png) .. " " ..
      cli.quote("file://" .. out_path) .. " 2>/dev/null; echo rc=$?"))
    local log = p:read("*a")
    p:close()
    assert.matches("rc=0", log)
    local img = cli.slurp(png)
    assert.are.equal("\137PNG\r\n\26\n", img:sub(1, 8))
    local w = ((img:byte(17) * 256 + img:byte(18)) * 256 + img:byte(19)) * 256 + img:byte(20)
    local h = ((img:byte(21) * 256 + img:byte(22)) * 256 + img:byte(23)) * 256 + img:byte(24)
    assert.are.same({ 1360, 1400 }, { w, h })
    -- a blank page of that size compresses to a few KB; charts, tables and text do not
    assert.is_true(#img > 60000, "PNG of " .. #img .. " bytes looks blank")
    p = assert(io.popen(chrome .. "--dump-dom " .. cli.quote("file://" .. out_path) .. " 2>/dev/null"))
    local dom = p:read("*a")
    p:close()
    for _, s in ipairs(SECTIONS) do assert.truthy(dom:find("<h2>" .. s .. "</h2>", 1, true), s) end
    assert.truthy(dom:find("simkit fleet report — example model", 1, true))
    assert.truthy(dom:find("89852012345678900004", 1, true))
  end)

  it("bad arguments: exit 2 with the reason", function()
    local bad = home.dir .. "/bad.json"
    write(bad, "[1,2]")
    local broken = home.dir .. "/broken.json"
    write(broken, "{")
    for _, c in ipairs({
      { { "report", "--data", home.dir .. "/missing.json", "--out", out_path }, "cannot read" },
      { { "report", "--data", bad, "--out", out_path }, "must hold a JSON object" },
      { { "report", "--data", broken, "--out", out_path }, "must hold a JSON object" },
      { { "report", "--data", model_path, "--audit", home.dir .. "/none.jsonl", "--out", out_path }, "audit log" },
      { { "report", "--data", model_path, "--out", "/nonexistent/dir/r.html" }, "cannot write" },
    }) do
      local r = home:run(c[1])
      assert.are.equal(2, r.rc, table.concat(c[1], " "))
      assert.truthy(r.err:find(c[2], 1, true), r.err)
    end
  end)
end)
