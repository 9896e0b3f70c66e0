-- bin/simkit run as a user would: separate processes, a private config and
-- state directory, against the sandbox.
local sandbox = require "spec.support.sandbox"
local cli = require "spec.support.cli"
local J = sandbox.json

local EIOT_SECRET, HW_SK, TIB_SECRET = "sandbox-secret", "sandbox-sk-secret", "sandbox-tib-secret"

local function decode(text)
  local v = J.json_decode(text)
  assert(v ~= nil, "not JSON: " .. tostring(text))
  return v
end

local function one_line(s)
  local lines = 0
  for _ in s:gmatch("[^\n]*\n") do lines = lines + 1 end
  return lines == 1
end

describe("simkit command", function()
  local sb, home

  -- a profile pointing at the sandbox, secrets read from the environment
  local function config_text(url)
    return ([[
local url = %q
return {
  default = { sandbox = url },
  env = {
    eiotclub = { appkey = "sandbox-appkey", secret = os.getenv("T_EIOT_SECRET"), base_url = url, retries = 0 },
    huawei = { ak = "SANDBOXAKEXAMPLE0001", sk = os.getenv("T_HW_SK"),
               project_id = "0123456789abcdef0123456789abcdef", endpoint = url },
    tibiot = { app_key = "sandbox-tib-key", secret = os.getenv("T_TIB_SECRET"), signer = "hmac-sha256",
               base_url = url, retries = 0 },
  },
  wrong = { eiotclub = { appkey = "sandbox-appkey", secret = "not-the-" .. os.getenv("T_EIOT_SECRET"), base_url = url } },
  typo = { eiotclub = { appkey = "a", secret = "b", baseUrl = url } },
}
]]):format(url)
  end
  local ENV = { T_EIOT_SECRET = EIOT_SECRET, T_HW_SK = HW_SK, T_TIB_SECRET = TIB_SECRET }

  local function run(args, env, wrap)
    local e = {}
    for k, v in pairs(ENV) do e[k] = v end
    for k, v in pairs(env or {}) do e[k] = v end
    return home:run(args, e, wrap)
  end

  setup(function()
    sb = sandbox.start()
    home = cli.home()
    home:config(config_text(sb.url))
  end)
  teardown(function()
    if sb then sb:stop() end
    if home then home:remove() end
  end)
  before_each(function() sb:reset() end)

  describe("--help", function()
    it("on every command, exit 0, usage on stdout", function()
      for _, args in ipairs({ { "--help" }, { "call", "--help" }, { "sim", "--help" }, { "sim", "start", "--help" },
        { "sim", "stop", "--help" }, { "sim", "status", "--help" }, { "report", "--help" }, { "cards", "--help" },
        { "card", "--help" }, { "pools", "--help" }, { "act", "--help" } }) do
        local r = run(args)
        assert.are.equal(0, r.rc, table.concat(args, " ") .. ": " .. r.err)
        assert.matches("Usage: simkit", r.out, 1, true)
        assert.are.equal("", r.err)
      end
    end)

    it("simkit call VENDOR --help lists every operation of the vendor", function()
      for _, vendor in ipairs({ "eiotclub", "huawei", "tibiot" }) do
        local r = run({ "call", vendor, "--help" })
        assert.are.equal(0, r.rc, r.err)
        local ops = require("simkit.vendor." .. vendor).ops
        local n = 0
        for name, op in pairs(ops) do
          n = n + 1
          assert.truthy(r.out:find("\n  " .. name .. " ", 1, true), vendor .. " " .. name .. " missing")
          if op.summary then assert.truthy(r.out:find(op.summary, 1, true)) end
        end
        assert.is_true(n > 5)
      end
    end)

    it("simkit call huawei list_sim_cards --help lists the parameters with types and limits", function()
      local r = run({ "call", "huawei", "list_sim_cards", "--help" })
      assert.are.equal(0, r.rc, r.err)
      for _, p in ipairs(require("simkit.vendor.huawei").ops.list_sim_cards.params) do
        assert.truthy(r.out:find("\n  " .. p.name .. " ", 1, true), p.name)
      end
      assert.matches("limit%s+optional%s+Long; 10%.%.500, default 10", r.out)
      assert.matches("tag_id%s+optional%s+list of Long %(a,b or repeated%); at most 10 items", r.out)
      assert.matches("sim_status%s+optional%s+Integer; one of 10|11|13|14|20|30", r.out)
      assert.matches("order_id%s+optional%s+Long; 0%.%.9223372036854775807", r.out)
      assert.matches("GET /v1/sim%-cards", r.out)
    end)

    it("an unknown operation in --help is a usage error", function()
      local r = run({ "call", "huawei", "no_such_op", "--help" })
      assert.are.equal(2, r.rc)
      assert.matches("unknown operation 'no_such_op'", r.err)
    end)
  end)

  describe("call", function()
    it("prints the data as JSON, values typed by the op's parameters", function()
      local r = run({ "call", "eiotclub", "get_cards_info", "iccid=89852012345678900001" })
      assert.are.equal(0, r.rc, r.err)
      local d = decode(r.out)
      assert.are.equal("89852012345678900001", d.iccid)
      assert.are.equal("", r.err)
    end)

    it("keeps 64-bit integers exact", function()
      local r = run({ "--profile", "env", "call", "huawei", "list_sim_cards", "limit=50" })
      assert.are.equal(0, r.rc, r.err)
      assert.truthy(r.out:find("9223372036854775807", 1, true), "int64 max sim_card_id printed exactly")
      assert.truthy(r.out:find("6666660527032540666", 1, true))
      assert.is_nil(r.out:find("e+18", 1, true))
    end)

    it("sends lists (a,b and repeated), integers and booleans typed", function()
      sb:clear_requests()
      local r = run({ "call", "huawei", "list_sim_cards", "limit=10", "tag_id=1,2", "tag_id=3",
        "real_named=true", "sim_status=20" })
      assert.are.equal(0, r.rc, r.err)
      local reqs = sb:requests({ vendor = "huawei" })
      local q = reqs[#reqs].query
      assert.are.same({ "1", "2", "3" }, q.tag_id)
      assert.are.equal("true", q.real_named)
      assert.are.equal("10", q.limit)
      assert.are.equal("20", q.sim_status)
    end)

    it("--args JSON adds arguments; a name given twice is a usage error", function()
      local r = run({ "call", "eiotclub", "get_cards_info", "--args", '{"iccid":"89852012345678900002"}' })
      assert.are.equal(0, r.rc, r.err)
      assert.are.equal("89852012345678900002", decode(r.out).iccid)
      r = run({ "call", "eiotclub", "get_cards_info", "--args", '{"iccid":"1"}', "iccid=2" })
      assert.are.equal(2, r.rc)
      assert.matches("both in %-%-args and as name=value", r.err)
    end)

    it("--raw prints the vendor's whole answer (envelope included)", function()
      local r = run({ "call", "eiotclub", "agent_balance", "--raw" })
      assert.are.equal(0, r.rc, r.err)
      local d = decode(r.out)
      assert.are.equal("200", d.code)
      assert.is_table(d.data)
    end)

    it("--all walks the pages; --format csv is RFC 4180 with a header row, jsonl one object a line", function()
      local r = run({ "--format", "csv", "call", "eiotclub", "get_all_card_info", "--all" })
      assert.are.equal(0, r.rc, r.err)
      assert.truthy(r.out:find("\r\n", 1, true))
      local rows = cli.parse_csv(r.out)
      local head = rows[1]
      local col = {}
      for i, h in ipairs(head) do col[h] = i end
      assert.truthy(col.iccid and col.cardStatus)
      local want = #sb:state("eiotclub").cards
      assert.are.equal(want + 1, #rows)
      for i = 2, #rows do
        assert.are.equal(#head, #rows[i])
        assert.matches("^%d+$", rows[i][col.iccid])
      end
      local rj = run({ "--format", "jsonl", "call", "eiotclub", "get_all_card_info", "--all" })
      assert.are.equal(0, rj.rc, rj.err)
      local n = 0
      for line in rj.out:gmatch("([^\n]+)\n") do
        n = n + 1
        local o = decode(line)
        assert.are.equal(rows[n + 1][col.iccid], o.iccid)
      end
      assert.are.equal(want, n)
      local rt = run({ "--format", "table", "call", "eiotclub", "get_all_card_info", "--all" })
      assert.are.equal(0, rt.rc, rt.err)
      assert.matches("^ACTIVATEDATE%s+CARDSTATUS", rt.out)
    end)

    it("--all on an op without pages is a usage error", function()
      local r = run({ "call", "eiotclub", "agent_balance", "--all" })
      assert.are.equal(2, r.rc)
      assert.matches("not a paged operation", r.err)
    end)

    it("a vendor error: exit 1, one line on stderr with kind, code and trace id", function()
      local r = run({ "call", "tibiot", "card_detail", "iccid=89860000000000000099" })
      assert.are.equal(1, r.rc)
      assert.are.equal("", r.out)
      assert.is_true(one_line(r.err), r.err)
      assert.matches("vendor error", r.err)
      assert.matches("code 404", r.err)
      assert.matches("%[trace %x+%]", r.err)
    end)

    it("an HTTP failure after the retries: exit 1, one line", function()
      sb:fault { path = "*", kind = "5xx", count = 10 }
      local r = run({ "--profile", "env", "call", "eiotclub", "agent_balance" })
      assert.are.equal(1, r.rc)
      assert.is_true(one_line(r.err), r.err)
      assert.matches("http error %(HTTP 502%)", r.err)
    end)
  end)

  describe("bad arguments (exit 2, one line on stderr, nothing sent)", function()
    local cases = {
      { { "call", "nokia", "x" }, "unknown vendor 'nokia'" },
      { { "call", "eiotclub", "no_such_op" }, "unknown operation 'no_such_op'" },
      { { "call", "huawei", "list_sim_card" }, "did you mean list_sim_card_flow_per_day, list_sim_cards" },
      { { "call", "huawei", "list_sim_cards", "limt=10" }, "unknown parameter 'limt'" },
      { { "call", "huawei", "list_sim_cards", "limit=abc" }, "'limit' takes an integer, got 'abc'" },
      { { "call", "huawei", "list_sim_cards", "limit=5" }, "'limit' must be >= 10" },
      { { "call", "huawei", "list_sim_cards", "limit=99999999999999999999999" }, "'limit' must be" },
      { { "call", "huawei", "list_sim_cards", "real_named=maybe" }, "takes true or false" },
      { { "call", "huawei", "list_sim_cards", "tag_id=1,x" }, "'tag_id' takes an integer, got 'x'" },
      { { "call", "huawei", "list_sim_cards", "limit=10", "limit=20" }, "given twice" },
      { { "call", "huawei", "list_sim_cards", "limit" }, "expected name=value" },
      { { "call", "eiotclub", "get_cards_info" }, "'iccid' is required" },
      { { "call", "eiotclub", "get_cards_info", "--args", "{bad" }, "not valid JSON" },
      { { "call", "eiotclub", "get_cards_info", "--args", "[1]" }, "must be a JSON object" },
      { { "call", "eiotclub" }, "usage: simkit call VENDOR OP" },
      { { "--format", "xml", "call", "eiotclub", "agent_balance" }, "usage error" },
      { { "--profile", "nope", "call", "eiotclub", "agent_balance" }, "no profile 'nope'" },
      { { "--profile", "typo", "call", "eiotclub", "agent_balance" }, "did you mean 'base_url'" },
      { { "frobnicate" }, "usage error" },
    }
    for _, c in ipairs(cases) do
      it(table.concat(c[1], " "), function()
        sb:clear_requests()
        local r = run(c[1])
        assert.are.equal(2, r.rc, r.err)
        assert.are.equal("", r.out)
        assert.truthy(r.err:find(c[2], 1, true), r.err)
        assert.are.equal(0, #sb:requests())
      end)
    end

    it("a string over the parameter's cap is refused before sending", function()
      sb:clear_requests()
      local r = run({ "call", "huawei", "list_sim_cards", "main_search_key=" .. string.rep("9", 129) })
      assert.are.equal(2, r.rc)
      assert.matches("longer than 128 characters", r.err)
      assert.are.equal(0, #sb:requests())
    end)
  end)

  describe("config file", function()
    local other
    before_each(function() other = cli.home() end)
    after_each(function() other:remove() end)

    it("readable by group or others: refused, saying why and the chmod that fixes it", function()
      other:config("return { default = { sandbox = 'http://127.0.0.1:1' } }", "644")
      local r = other:run({ "call", "eiotclub", "agent_balance" })
      assert.are.equal(2, r.rc)
      assert.truthy(r.err:find("readable or writable by group or others", 1, true), r.err)
      assert.truthy(r.err:find("chmod 600 " .. other.config_path, 1, true), r.err)
      other:config("return { default = { sandbox = 'http://127.0.0.1:1' } }", "640")
      assert.are.equal(2, other:run({ "call", "eiotclub", "agent_balance" }).rc)
    end)

    it("missing, not a table, a syntax error, a bad profile shape: exit 2 with the reason", function()
      local r = other:run({ "call", "eiotclub", "agent_balance" })
      assert.are.equal(2, r.rc)
      assert.matches("not found", r.err)
      for text, why in pairs({ ["return 42"] = "must return a table of profiles",
        ["return {"] = "config file", ["error('boom')"] = "boom",
        ["return { default = { eiotclub = 'x' } }"] = "'eiotclub' must be a table",
        ["return { default = { color = 'red' } }"] = "unknown key 'color'",
        ["return { default = { sandbox = 'ftp://x' } }"] = "'sandbox' must be true or a URL",
        ["return { default = { huawei = {} } }"] = "has no eiotclub settings" }) do
        other:config(text)
        r = other:run({ "call", "eiotclub", "agent_balance" })
        assert.are.equal(2, r.rc, text)
        assert.truthy(r.err:find(why, 1, true), text .. " -> " .. r.err)
        assert.is_true(one_line(r.err), r.err)
      end
    end)

    it("$SIMKIT_PROFILE chooses the profile; --profile wins over it", function()
      local r = run({ "call", "eiotclub", "agent_balance" }, { SIMKIT_PROFILE = "wrong" })
      assert.are.equal(1, r.rc)
      assert.matches("auth error", r.err)
      r = run({ "--profile", "env", "call", "eiotclub", "agent_balance" }, { SIMKIT_PROFILE = "wrong" })
      assert.are.equal(0, r.rc, r.err)
    end)
  end)

  describe("secrets", function()
    it("never appear in any output, --verbose logs and errors included", function()
      local runs = {
        run({ "-v", "--profile", "env", "call", "eiotclub", "agent_balance" }),
        run({ "-v", "--profile", "env", "call", "huawei", "list_sim_cards" }),
        run({ "-v", "--profile", "env", "call", "tibiot", "card_detail", "iccid=89860000000000000099" }),
        run({ "-v", "--profile", "wrong", "call", "eiotclub", "agent_balance" }),
        run({ "-v", "--profile", "env", "call", "eiotclub", "agent_balance", "--raw" }),
      }
      assert.matches("simkit: debug simkit eiotclub agent_balance attempt 1: HTTP 200", runs[1].err)
      for i, r in ipairs(runs) do
        for _, s in ipairs({ EIOT_SECRET, HW_SK, TIB_SECRET }) do
          assert.is_nil(r.out:find(s, 1, true), "run " .. i .. " stdout")
          assert.is_nil(r.err:find(s, 1, true), "run " .. i .. " stderr")
        end
      end
    end)

  end)

  describe("Ctrl-C", function()
    -- SIGINT once the request is at the sandbox (which holds its answer back a while): the call
    -- in flight ends, then the command stops, saying whether a write is in doubt
    local function interrupt(path, args)
      sb:fault { path = path, kind = "delay", delay = 4 }
      sb:clear_requests()
      local h = home:spawn(args, ENV)
      local pid = h.pid()
      local seen = false
      for _ = 1, 400 do
        if #sb:requests({ path = path }) > 0 then seen = true; break end
        require("socket").sleep(0.05)
      end
      assert.is_true(seen, "the request never reached the sandbox")
      os.execute("kill -INT " .. pid)
      local r = h.wait(60)
      assert.truthy(r, "the command did not stop")
      return r
    end

    it("during a write says the write is in doubt; exit 130", function()
      local r = interrupt("/api/v3/card/bindDevice",
        { "call", "eiotclub", "bind_device", "iccid=89852012345678900001", "imei=860000000000011" })
      assert.are.equal(130, r.rc, r.err)
      assert.is_true(one_line(r.err), r.err)
      assert.matches("interrupted during bind_device, a write: its outcome is unknown %(in doubt%)", r.err)
      assert.are.equal("", r.out)
    end)

    it("during a read says no write was under way; exit 130", function()
      local r = interrupt("/api/v3/agent/balance", { "call", "eiotclub", "agent_balance" })
      assert.are.equal(130, r.rc, r.err)
      assert.matches("interrupted %(no write was under way%)", r.err)
    end)
  end)

  describe("progress", function()
    it("shows on stderr when it is a terminal (rate-limit and retry waits with their reason)", function()
      sb:fault { path = "/api/v3/agent/balance", kind = "5xx", count = 1 }
      local r = home:run_tty({ "call", "eiotclub", "agent_balance" }, ENV)
      assert.are.equal(0, r.rc, r.out)
      assert.matches("waiting %d+%.%d s: .*HTTP 502", r.out)
      assert.matches('"balance"', r.out)
    end)

    it("is silent when stderr is not a terminal, and with --quiet on one", function()
      sb:fault { path = "/api/v3/agent/balance", kind = "5xx", count = 1 }
      local r = run({ "call", "eiotclub", "agent_balance" })
      assert.are.equal(0, r.rc, r.err)
      assert.are.equal("", r.err)
      sb:fault { path = "/api/v3/agent/balance", kind = "5xx", count = 1 }
      r = home:run_tty({ "--quiet", "call", "eiotclub", "agent_balance" }, ENV)
      assert.are.equal(0, r.rc, r.out)
      assert.is_nil(r.out:find("waiting", 1, true), r.out)
    end)

    it("shows pages fetched for --all on a terminal", function()
      local r = home:run_tty({ "--format", "jsonl", "call", "eiotclub", "get_all_card_info", "--all" }, ENV)
      assert.are.equal(0, r.rc, r.out)
      assert.matches("fetched %d+ items %(page 1%)", r.out)
    end)
  end)
end)

describe("simkit sim", function()
  local home
  setup(function() home = cli.home() end)
  teardown(function()
    home:run({ "sim", "stop" })
    home:remove()
  end)

  it("start, status, a profile with sandbox = true, stop", function()
    local r = home:run({ "sim", "status" })
    assert.are.equal(1, r.rc)
    assert.matches("^stopped", r.out)
    r = home:run({ "sim", "start" })
    assert.are.equal(0, r.rc, r.err)
    local url, dir = r.out:match("^(http://127%.0%.0%.1:%d+) (%S+)\n$")
    assert.truthy(url, r.out)
    local again = home:run({ "sim", "start" })
    assert.are.equal(2, again.rc)
    assert.matches("already runs", again.err)
    r = home:run({ "sim", "status" })
    assert.are.equal(0, r.rc)
    assert.are.equal("running " .. url .. " " .. dir .. "\n", r.out)
    home:config("return { default = { sandbox = true } }")
    r = home:run({ "call", "huawei", "list_sim_cards" })
    assert.are.equal(0, r.rc, r.err)
    assert.truthy(r.out:find("9223372036854775807", 1, true))
    r = home:run({ "sim", "stop" })
    assert.are.equal(0, r.rc, r.err)
    assert.are.equal("stopped " .. url .. "\n", r.out)
    assert.are.equal(1, home:run({ "sim", "status" }).rc)
    r = home:run({ "call", "huawei", "list_sim_cards" })
    assert.are.equal(2, r.rc)
    assert.matches("no sandbox started", r.err)
    r = home:run({ "sim", "stop" })
    assert.are.equal(2, r.rc)
  end)

  it("a bad --port is a usage error", function()
    for _, p in ipairs({ "abc", "70000", "-1", "1.5", "nan", "inf" }) do
      local r = home:run({ "sim", "start", "--port", p })
      assert.are.equal(2, r.rc, p .. ": " .. r.err)
    end
  end)
end)
