-- The CLI's parts in-process: output formats and redaction, name=value
-- typing, config checks, sandbox port checks; bad inputs included.
local output = require "simkit.cli.output"
local cliargs = require "simkit.cli.args"
local config = require "simkit.cli.config"
local sim = require "simkit.cli.sim"
local clifleet = require "simkit.cli.fleet"
local json = require "simkit.json"
local cli = require "spec.support.cli"

-- a file handle that keeps what is written
local function sink()
  local buf = {}
  return { write = function(self, ...)
    for _, s in ipairs({ ... }) do buf[#buf + 1] = s end
    return self
  end, flush = function() end, text = function() return table.concat(buf) end }
end

describe("simkit.cli.output", function()
  local rows = { { iccid = "8986", used = 12.5, n = 7, note = 'say "hi", then\nbye' }, { iccid = "8987", n = 8 } }

  it("csv: RFC 4180 (header row, CRLF, quoted fields, doubled quotes), columns in the given order", function()
    local text = output.render(rows, "csv", { "iccid", "n", "used", "note" })
    assert.are.equal('iccid,n,used,note\r\n8986,7,12.5,"say ""hi"", then\nbye"\r\n8987,8,,\r\n', text)
    local parsed = cli.parse_csv(text)
    assert.are.same({ "8986", "7", "12.5", 'say "hi", then\nbye' }, parsed[2])
  end)

  it("jsonl: one object a line; json: one array; integers exact", function()
    local big = math.type and math.tointeger(2 ^ 62) + 1 or "4611686018427387905"
    local lines = output.render({ { id = big }, { id = 1 } }, "jsonl")
    assert.are.equal('{"id":4611686018427387905}\n{"id":1}\n', math.type and lines or lines:gsub('"(%d+)"', "%1"))
    assert.are.equal("[]\n", output.render({}, "json"))
    local t = assert(json.decode(output.render(rows, "json")))
    assert.are.equal(2, #t)
  end)

  it("table: upper-case header, aligned columns", function()
    local text = output.render({ { a = "x", b = "long value" }, { a = "yyyy", b = "z" } }, "table")
    assert.are.equal("A     B\nx     long value\nyyyy  z\n", text)
  end)

  it("a value JSON cannot encode is an error, an unknown format a raise", function()
    local text, err = output.render({ { x = 0 / 0 } }, "json")
    assert.is_nil(text)
    assert.truthy(err)
    assert.is_nil((output.render({ { x = math.huge } }, "jsonl")))
    assert.has_error(function() output.render(rows, "xml") end)
    assert.has_error(function() output.render(rows, nil) end)
  end)

  it("redacts every secret from stdout, errors, logs and progress", function()
    local so, se = sink(), sink()
    local o = output.new { stdout = so, stderr = se, tty = true, secrets = { "topsecret", "top" } }
    o:add_secret("s3cr3t-sk")
    o:add_secret(42)
    o:add_secret("ab") -- too short to redact safely
    o:out("a topsecret b s3cr3t-sk\n")
    o:err("line one topsecret\nline two")
    o:log("x s3cr3t-sk")
    o:progress("p topsecret")
    o:done_progress()
    assert.are.equal("a *** b ***\n", so.text())
    assert.is_nil(se.text():find("topsecret", 1, true))
    assert.is_nil(se.text():find("s3cr3t", 1, true))
    assert.truthy(se.text():find("simkit: line one *** line two\n", 1, true))
  end)

  it("progress only on a terminal and not --quiet", function()
    for _, c in ipairs({ { tty = false }, { tty = true, quiet = true }, {} }) do
      local se = sink()
      local o = output.new { stdout = sink(), stderr = se, tty = c.tty, quiet = c.quiet }
      o:progress("fetched 1")
      o:done_progress()
      assert.are.equal("", se.text())
    end
    local se = sink()
    local o = output.new { stdout = sink(), stderr = se, tty = true }
    o:progress("fetched 1")
    assert.truthy(se.text():find("fetched 1", 1, true))
  end)

  it("isatty is false for a file", function()
    local f = assert(io.tmpfile())
    assert.is_false(output.isatty(f))
    f:close()
  end)
end)

describe("simkit.cli.args", function()
  local ops = assert(cliargs.ops("huawei"))
  local list = ops.list_sim_cards

  it("types values by the descriptors", function()
    local a = assert(cliargs.parse(list, { "limit=10", "real_named=false", "tag_id=1,2", "tag_id=9223372036854775807",
      "main_search_key=a=b" }))
    assert.are.equal("10", a.limit)
    assert.is_false(a.real_named)
    assert.are.same({ "1", "2", "9223372036854775807" }, { a.tag_id[1], a.tag_id[2], a.tag_id[3] })
    assert.are.equal("a=b", a.main_search_key)
  end)

  it("JSON-typed parameters (arrays of objects) take JSON", function()
    for name, op in pairs(ops) do
      for _, p in ipairs(op.params) do
        if p.type == "Array" and p.items_type and not ({ String = 1, Long = 1, Integer = 1 })[p.items_type] then
          local a = assert(cliargs.parse(op, { p.name .. '=[{"k":1}]' }))
          assert.are.equal(1, a[p.name][1].k, name)
          local none, err = cliargs.parse(op, { p.name .. "=[{" })
          assert.is_nil(none)
          assert.are.equal("input", err.kind)
        end
      end
    end
  end)

  it("refuses what does not fit, as input errors", function()
    for _, w in ipairs({ { "limit=1.5" }, { "limit=" }, { "limit=0x10" }, { "real_named=2" }, { "nosuch=1" },
      { "=1" }, { "limit" }, { "limit=10", "limit=10" }, { "tag_id=1,,2" }, { "tag_id=a" } }) do
      local a, err = cliargs.parse(list, w)
      assert.is_nil(a, table.concat(w, " "))
      assert.are.equal("input", err.kind)
    end
    for _, j in ipairs({ "1", "[]", '"x"', "{", "nan", '{"limit":1}' }) do
      local a, err = cliargs.parse(list, { "limit=10" }, j)
      assert.is_nil(a, j)
      assert.are.equal("input", err.kind)
    end
    local a, err = cliargs.ops("nokia")
    assert.is_nil(a)
    assert.are.equal("input", err.kind)
  end)

  it("a number parameter refuses NaN and inf", function()
    local op = { params = { { name = "x", type = "Double" } } }
    for _, v in ipairs({ "nan", "inf", "-inf", "1e999", "x" }) do
      local a, err = cliargs.parse(op, { "x=" .. v })
      assert.is_nil(a, v)
      assert.are.equal("input", err.kind)
    end
    assert.are.equal(2.5, assert(cliargs.parse(op, { "x=2.5" })).x)
  end)

  it("help text lists every parameter and every op", function()
    local h = cliargs.op_help("huawei", "list_sim_cards", list)
    for _, p in ipairs(list.params) do assert.truthy(h:find("  " .. p.name .. " ", 1, true)) end
    local vh = cliargs.vendor_help("huawei", ops)
    for name in pairs(ops) do assert.truthy(vh:find("  " .. name .. " ", 1, true)) end
  end)
end)

describe("simkit.cli.config", function()
  local home
  before_each(function() home = cli.home() end)
  after_each(function() home:remove() end)

  it("check_private: a private file passes; group/other bits, a directory or no file are refused", function()
    home:config("return {}", "600")
    assert.is_true(config.check_private(home.config_path))
    for _, mode in ipairs({ "644", "640", "604", "620", "602" }) do
      home:config("return {}", mode)
      local ok, err = config.check_private(home.config_path)
      assert.is_nil(ok, mode)
      assert.truthy(err.message:find("chmod 600 " .. home.config_path, 1, true))
    end
    assert.is_nil((config.check_private(home.dir)))
    assert.is_nil((config.check_private(home.dir .. "/none.lua")))
  end)

  it("the default store lives under the state directory", function()
    assert.truthy(config.default_store():match("/simkit/simkit%.db$"))
  end)

  it("load refuses an empty or non-string profile name", function()
    for _, n in ipairs({ "", 42, true }) do
      local p, err = config.load(n)
      assert.is_nil(p)
      assert.are.equal("input", err.kind)
    end
  end)
end)

describe("simkit.cli.sim", function()
  it("refuses a bad port before starting anything", function()
    for _, p in ipairs({ 0 / 0, math.huge, -math.huge, -1, 65536, 1.5, 2 ^ 70, "80" }) do
      local res, err = sim.start(cli.root, p)
      assert.is_nil(res, tostring(p))
      assert.are.equal("input", err.kind)
    end
  end)

  it("without the source tree, says how to find the sandbox", function()
    local s, err = sim.script(nil)
    if os.getenv("SIMKIT_SIM") then return assert.truthy(s) end
    assert.is_nil(s)
    assert.matches("SIMKIT_SIM", err.message)
  end)
end)

describe("simkit.cli.fleet", function()
  it("types the arguments of each action", function()
    assert.are.same({ on = false }, assert(clifleet.action_args("network", { "on=false" })))
    assert.are.same({ kbps = 128 }, assert(clifleet.action_args("speed", { "kbps=128" })))
    assert.are.same({ kbps = "default" }, assert(clifleet.action_args("speed", { "kbps=default" })))
    assert.are.same({ tags = { "a", "b" } }, assert(clifleet.action_args("tag", { "tags=a,b" })))
    assert.are.same({ package = "P1", key = "k" }, assert(clifleet.action_args("topup", { "package=P1", "key=k" })))
    assert.are.same({ mb = 1.5 }, assert(clifleet.action_args("usage_cap", { "mb=1.5" })))
    assert.are.same({}, assert(clifleet.action_args("suspend", {})))
  end)

  it("refuses unknown actions and arguments, wrong types, NaN, inf, negatives and empty values", function()
    for _, c in ipairs({ { "explode", {} }, { nil, {} }, { "suspend", { "now=1" } }, { "network", { "on=maybe" } },
      { "speed", { "kbps=fast" } }, { "speed", { "kbps=nan" } }, { "speed", { "kbps=inf" } }, { "speed", { "kbps=-1" } },
      { "usage_cap", { "mb=1e999" } }, { "tag", { "tags=a,,b" } }, { "sms", { "text=" } }, { "sms", { "text" } },
      { "sms", { "text=a", "text=b" } } }) do
      local args, err = clifleet.action_args(c[1], c[2])
      assert.is_nil(args, tostring(c[1]) .. " " .. table.concat(c[2], " "))
      assert.are.equal("input", err.kind)
    end
  end)

  it("a card as a row has exactly the documented columns", function()
    local row = clifleet.card_row({ vendor = "huawei", iccid = "1", status = "active", tags = { "a", "b" },
      expires = 0, usage = { used_mb = 1, limit_mb = 2, left_mb = 1 }, raw = { x = 1 } })
    for k in pairs(row) do
      local known = false
      for _, c in ipairs(clifleet.CARD_COLUMNS) do known = known or c == k end
      assert.is_true(known, k)
    end
    assert.are.equal("a;b", row.tags)
    assert.are.equal("1970-01-01T00:00:00Z", row.expires)
    assert.are.equal(2, row.limit_mb)
  end)
end)
