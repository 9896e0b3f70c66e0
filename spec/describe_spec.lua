-- client:describe(op) and the generated reference (issue 10 item 15): the
-- facts of every operation as a table, the same facts in docs/reference/*.md,
-- "did you mean" for an unknown operation, and `make test`'s --check mode.
local simkit = require "simkit"
local sdescribe = require "simkit.describe"
local validate = require "simkit.validate"
local json = simkit.json

local VENDORS = { "eiotclub", "huawei", "tibiot" }
local CATALOG = { eiotclub = "eiotclub.json", huawei = "huawei-gsl.json", tibiot = "tibiot.json" }

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function catalog(vendor)
  return assert(json.decode(read("spec/catalog/" .. CATALOG[vendor])))
end

-- catalog params of one endpoint, by name
local function catalog_params(vendor, e)
  local out = {}
  local lists = vendor == "huawei" and { e.path_params, e.query_params, e.body_params } or { e.params }
  for _, list in ipairs(lists) do
    for _, p in ipairs(list) do out[p.name] = p end
  end
  return out
end

-- clients that must never reach a network: describe is pure
local function offline(vendor)
  local function transport() error("describe must not send anything") end
  if vendor == "eiotclub" then
    return simkit.client("eiotclub", { appkey = "a", secret = "s", transport = transport })
  elseif vendor == "huawei" then
    return simkit.client("huawei", { ak = "AK", sk = "SK", project_id = "p", transport = transport,
      endpoint = "https://gsl.example.test" })
  end
  return simkit.client("tibiot", { app_key = "a", secret = "s", signer = "none", transport = transport,
    base_url = "https://tibiot.example.test" })
end

local function param(d, name)
  for _, p in ipairs(d.params) do if p.name == name then return p end end
end

-- run a shell command: exit status, output (the status read from the
-- output: LuaJIT's popen close does not return it)
local function run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code, (out:gsub("exit=%d+%s*$", ""))
end

describe("client:describe", function()
  for _, vendor in ipairs(VENDORS) do
    it(vendor .. ": describes every operation of the catalog, parameter by parameter", function()
      local c = offline(vendor)
      local cat = catalog(vendor)
      assert.equal(#cat.endpoints, #c:operations())
      for _, e in ipairs(cat.endpoints) do
        local d = assert(c:describe(e.op))
        assert.equal(vendor, d.vendor)
        assert.equal(e.op, d.name)
        assert.equal(e.method, d.method)
        assert.equal(e.path or e.uri, d.path)
        assert.is_boolean(d.read)
        assert.is_boolean(d.money)
        assert.is_boolean(d.async)
        assert.is_table(d.facts)
        local cps = catalog_params(vendor, e)
        local n = 0
        for _ in pairs(cps) do n = n + 1 end
        assert.equal(n, #d.params, e.op)
        for _, p in ipairs(d.params) do
          local cp = assert(cps[p.name], e.op .. "." .. p.name .. " is in the catalog")
          assert.is_boolean(p.required)
          if cp.required and not p.generated and not cp.required_when then
            assert.is_true(p.required, e.op .. "." .. p.name)
          end
          if (p.type or "string"):lower() == "string" then
            -- every string has a cap: the catalog's where it gives one
            assert.is_number(p.max_length, e.op .. "." .. p.name)
            assert.is_string(p.text)
            if cp.max_length ~= nil and cp.max_length ~= json.null then
              assert.equal(cp.max_length, p.max_length)
              assert.equal("catalog", p.max_length_source)
            else
              assert.equal(validate.DEFAULT_MAX_LENGTH, p.max_length)
              assert.equal("default", p.max_length_source)
            end
          end
          if cp.enum and cp.enum ~= json.null and (p.type or ""):lower() ~= "array" then
            assert.is_table(p.enum, e.op .. "." .. p.name)
          end
        end
      end
    end)
  end

  it("EIOTCLUB: money, the idempotency key, paging, guards, list totals", function()
    local c = offline("eiotclub")
    local d = assert(c:describe("order_package"))
    assert.is_true(d.money)
    assert.is_false(d.read)
    assert.equal("outTradeNo", d.idempotency_key)
    local key = param(d, "outTradeNo")
    assert.is_true(key.generated)
    assert.is_false(key.required)
    assert.same({ 32, "catalog" }, { key.max_length, key.max_length_source })
    assert.same({ validate.DEFAULT_MAX_LENGTH, "default" }, { param(d, "iccid").max_length,
      param(d, "iccid").max_length_source })

    local pg = assert(c:describe("get_all_card_info")).paging
    assert.equal("pageNum", pg.page)
    assert.equal("pageSize", pg.size)
    assert.equal("data.cardInfoList", pg.items)
    assert.equal(500, pg.default_size)
    assert.is_nil(assert(c:describe("get_cards_info")).paging)
    assert.is_true(assert(c:describe("get_cards_info")).read)

    assert.equal(300, assert(c:describe("refresh_usage")).rate_limit.min_interval_s)
    assert.equal(require("simkit.vendor.eiotclub").RATE_LIMIT, d.rate_limit.account_per_s)
    assert.is_nil(assert(offline("tibiot"):describe("card_detail")).rate_limit)
    assert.same({ param = "iccid", interval = 300 }, assert(c:describe("refresh_usage")).guard)
    assert.is_nil(assert(c:describe("get_cards_info")).guard)
    assert.equal("outTradeNo", d.order.key)
    assert.equal("get_order_package_details", d.order.lookup)
    assert.equal("orderId", d.order.id)
    assert.is_nil(d.facts.order) -- a named field, not repeated among the other facts
    assert.is_true(assert(c:describe("esim_purchase")).order.probe)
    assert.equal("pool_record_list", assert(c:describe("pool_sub")).order.lookup)
    assert.is_nil(assert(c:describe("refund_package")).order)
    assert.same({ max = 50, params = { "orderNumberArrStr", "outTradeNoArrStr" } },
      assert(c:describe("get_order_package_details")).list_total)
    assert.same({ { "eshopOrderId", "orderId" } }, assert(c:describe("cloudesim_order_status")).one_of)
    local sms = param(assert(c:describe("sms_send_sms")), "message")
    assert.same({ 300, "catalog" }, { sms.max_length, sms.max_length_source })
    assert.is_true(assert(c:describe("refund_package")).money)
  end)

  it("Huawei: rate limits, paging, one-of rules, aliases, array items and object fields", function()
    local c = offline("huawei")
    local d = assert(c:describe("list_sim_cards"))
    assert.equal(1, d.rate_limit.per_s)
    assert.equal(5, d.rate_limit.account_per_s)
    assert.equal(5, assert(c:describe("show_sim_card")).rate_limit.account_per_s)
    assert.equal("offset", d.paging.page)
    assert.equal("limit", d.paging.size)
    assert.equal(500, d.paging.max_size)
    assert.equal("query", param(d, "main_search_key").location)
    assert.same({ 128, "catalog" }, { param(d, "main_search_key").max_length,
      param(d, "main_search_key").max_length_source })
    local ppi = param(d, "price_plan_id")
    assert.equal(30, ppi.max_items)
    assert.same({ validate.DEFAULT_MAX_LENGTH, "default" }, { ppi.item_max_length, ppi.item_max_length_source })
    assert.is_nil(assert(c:describe("show_sim_card")).rate_limit.per_s)

    local f = assert(c:describe("list_flow_by_sim_cards"))
    assert.same({ iccids = "iccid" }, f.aliases)
    assert.same({ { "sim_card_ids", "iccid" } }, f.one_of)
    assert.same({ { "sim_card_ids", "iccid" } }, f.exclusive)

    local attrs = param(assert(c:describe("batch_set_attributes")), "attributes")
    assert.equal(500, attrs.max_items)
    local names = {}
    for _, fld in ipairs(attrs.fields) do names[fld.name] = fld end
    assert.equal(20, names.iccid.max_length)
    assert.equal(100, names.customer_attribute1.max_length)
    assert.equal("catalog", names.customer_attribute1.max_length_source)
    assert.is_false(assert(c:describe("send_sms")).read)
  end)

  it("TIBIOT: writes, arrays of ICCIDs, queries", function()
    local c = offline("tibiot")
    local d = assert(c:describe("operate_card_network"))
    assert.is_false(d.read)
    assert.is_false(d.money)
    local iccids = param(d, "iccids")
    assert.equal("array", iccids.type:lower())
    -- the client takes any number; the vendor 10 per request (simkit splits)
    assert.is_nil(iccids.max_items)
    assert.equal(10, iccids.per_request_max_items)
    assert.same({ param = "iccids", size = 10 }, d.batch)
    assert.is_nil(d.facts.batch)
    assert.equal(validate.DEFAULT_MAX_LENGTH, iccids.item_max_length)
    assert.is_true(assert(c:describe("card_detail")).read)
    assert.is_true(param(assert(c:describe("card_detail")), "iccid").required)
  end)

  it("the described caps are the ones the client enforces", function()
    for _, vendor in ipairs(VENDORS) do
      local c = offline(vendor)
      for _, name in ipairs(c:operations()) do
        local d = assert(c:describe(name))
        for _, p in ipairs(d.params) do
          if (p.type or "string"):lower() == "string" then
            local data, err = c[name](c, { [p.name] = string.rep("a", p.max_length + 1) })
            assert.is_nil(data)
            assert.equal("input", err.kind)
            -- refused for its length, or for a rule met first (required
            -- parameters, formats, enums) — never sent (the transport raises)
            if err.param == p.name and not p.enum and not p.format and not p.numeric_string and not p.list then
              assert.matches("longer than " .. p.max_length, err.message)
            end
          end
        end
      end
    end
  end)

  it("returns a copy: changing it changes nothing in the client", function()
    local c = offline("eiotclub")
    local d = assert(c:describe("sms_send_sms"))
    param(d, "message").max_length = 10 ^ 9
    d.params[1] = nil
    local again = assert(c:describe("sms_send_sms"))
    assert.equal(300, param(again, "message").max_length)
    local _, err = c:sms_send_sms { iccid = "89852012345678900001", message = string.rep("m", 301) }
    assert.matches("longer than 300", err.message)
  end)

  it("an unknown operation: nil and an input error that names the closest operations", function()
    local hw = offline("huawei")
    local d, err = hw:describe("list_sim_card")
    assert.is_nil(d)
    assert.equal("input", err.kind)
    assert.equal("huawei", err.vendor)
    assert.matches("did you mean 'list_sim_cards'", err.message)
    assert.equal("list_sim_cards", err.suggestions[1])
    d, err = offline("eiotclub"):describe("get_card_info")
    assert.is_nil(d)
    assert.matches("did you mean 'get_cards_info'", err.message)
    d, err = offline("tibiot"):describe("CARD_DETAIL")
    assert.is_nil(d)
    assert.equal("card_detail", err.suggestions[1])
    d, err = hw:describe("zzzzzzzzzzzzzzzz")
    assert.is_nil(d)
    assert.same({}, err.suggestions)
    assert.matches("client:operations%(%)", err.message)
    -- a method of the client is not an operation
    d, err = hw:describe("describe")
    assert.is_nil(d)
    assert.equal("input", err.kind)
  end)

  it("bad names: wrong types, NUL, invalid UTF-8, 10 MB", function()
    local c = offline("eiotclub")
    for _, bad in ipairs({ 42, 0 / 0, math.huge, true, {}, print }) do
      local d, err = c:describe(bad)
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.matches("must be a string", err.message)
    end
    local d, err = c:describe(nil)
    assert.is_nil(d)
    assert.equal("input", err.kind)
    for _, bad in ipairs({ "get_cards_info\0", "\255\254", "", string.rep("x", 10 * 1024 * 1024) }) do
      d, err = c:describe(bad)
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.is_true(#err.message < 400, "the message stays short")
    end
  end)

  it("describes by vendor name too, and refuses an unknown vendor", function()
    local d = assert(sdescribe.vendor("huawei", "show_sim_card"))
    assert.equal("GET", d.method)
    local none, err = sdescribe.vendor("nokia", "x")
    assert.is_nil(none)
    assert.equal("input", err.kind)
    assert.has_error(function() sdescribe.operations("nokia") end)
    local bads = { 42, {}, string.rep("v", 10 * 1024 * 1024), "huawei\0", false }
    for i = 0, #bads do
      none, err = sdescribe.vendor(bads[i], "list_sim_cards") -- bads[0] is nil
      assert.is_nil(none)
      assert.equal("input", err.kind)
      assert.is_true(#err.message < 200)
      assert.is_nil(err.message:find("\0", 1, true))
    end
    assert.same(offline("tibiot"):operations(), sdescribe.operations("tibiot"))
  end)

  it("closest: the client's edit distance, case-insensitive, best first, unquoted", function()
    local names = { "get_cards_info", "get_all_card_info", "order_package", "reset" }
    assert.same({ "get_cards_info", "get_all_card_info" }, sdescribe.closest("get_card_info", names, 2))
    assert.same({ "reset" }, sdescribe.closest("RESET", names))
    assert.same({}, sdescribe.closest("xyzzy_plugh_quux", names))
    assert.same({}, sdescribe.closest("", names))
    assert.same({}, sdescribe.closest("reset", names, 0))
    -- a 10 MB word: only its first 200 characters are compared (bounded work)
    assert.same({}, sdescribe.closest(string.rep("x", 10 * 1024 * 1024) .. "reset", { "reset" }))
    assert.same({}, sdescribe.closest("reset" .. string.rep("x", 10 * 1024 * 1024), { "reset" }))
    for _, bad in ipairs({ { nil, names }, { 42, names }, { "x", nil }, { "x", "names" } }) do
      assert.has_error(function() sdescribe.closest(bad[1], bad[2]) end,
        "simkit.describe.closest: pass a string and a list of names")
    end
    for _, n in ipairs({ 0 / 0, -1, "3" }) do
      assert.has_error(function() sdescribe.closest("x", names, n) end)
    end
    assert.has_error(function() sdescribe.op(nil, "x") end,
      "simkit.describe.op: pass a client made by simkit.client (use client:describe(op))")
    assert.has_error(function() sdescribe.op({}, "x") end)
  end)
end)

describe("docs/reference", function()
  local ops_of = {}
  setup(function()
    for _, v in ipairs(VENDORS) do ops_of[v] = sdescribe.operations(v) end
  end)

  for _, vendor in ipairs(VENDORS) do
    it(vendor .. ".md has a section for every operation naming every parameter", function()
      local text = read("docs/reference/" .. vendor .. ".md")
      for _, name in ipairs(ops_of[vendor]) do
        local d = assert(sdescribe.vendor(vendor, name))
        local start = text:find("\n## " .. name .. "\n", 1, true)
        assert.truthy(start, "section " .. name)
        local stop = text:find("\n## ", start + 1, true) or #text
        local section = text:sub(start, stop)
        assert.truthy(section:find("`" .. d.method .. " " .. d.path .. "`", 1, true), name)
        for _, p in ipairs(d.params) do
          assert.truthy(section:find("| `" .. p.name .. "` |", 1, true), name .. "." .. p.name)
        end
        if d.money then assert.truthy(section:find("spends money", 1, true), name) end
        if d.paging then assert.truthy(section:find("Paging", 1, true), name) end
        if d.rate_limit then assert.truthy(section:find("Rate limit", 1, true), name) end
      end
    end)
  end

  it("is up to date (tools/gen_reference.lua --check), and --check fails on a stale page", function()
    local env = "LUA_CPATH='build/lua5.4/?.so;;' "
    local code, out = run(env .. "lua5.4 tools/gen_reference.lua --check spec/catalog docs/reference")
    assert.equal(0, code, out)
    local dir = os.tmpname()
    os.remove(dir)
    assert.equal(0, (run("mkdir -p '" .. dir .. "' && cp docs/reference/*.md '" .. dir .. "'")))
    local f = assert(io.open(dir .. "/huawei.md", "ab"))
    f:write("edited by hand\n")
    f:close()
    code, out = run(env .. "lua5.4 tools/gen_reference.lua --check spec/catalog '" .. dir .. "'")
    assert.equal(1, code)
    assert.matches("stale: " .. dir:gsub("%p", "%%%0") .. "/huawei.md", out)
    assert.is_nil(out:find("eiotclub.md", 1, true))
    -- writing regenerates it
    code = run(env .. "lua5.4 tools/gen_reference.lua spec/catalog '" .. dir .. "'")
    assert.equal(0, code)
    assert.equal(read("docs/reference/huawei.md"), read(dir .. "/huawei.md"))
    run("rm -rf '" .. dir .. "'")
  end)
end)
