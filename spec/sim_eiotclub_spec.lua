-- The EIOTCLUB part of the sandbox (sim/lua/simsandbox/vendor/eiotclub.lua,
-- contract in sim/EIOTCLUB.md), driven over raw HTTP against a real nginx.
-- Requests and notifications are signed / verified here with
-- spec/support/sha1.lua (pure Lua), never with simkit's or the sandbox's code.
local sandbox = require "spec.support.sandbox"
local sha1 = require "spec.support.sha1"
local pushsink = require "spec.support.pushsink"
local eiotclub_calls = require "spec.support.eiotclub_calls"
local socket = require "socket"

local json = sandbox.json -- the sandbox's decoder (keeps [] / {} apart)
local APPKEY, SECRET = "sandbox-appkey", "sandbox-secret"

local function ICCID(n) return string.format("8985201234567890%04d", n) end
local function EID(n) return string.format("890440451167274948000000116037%02d", n) end

----------------------------------------------------------------------------
-- the client side, written from the vendor document

-- Java String.valueOf of a JSON value; {raw = "..."} is a literal JSON number
local function render(v)
  if type(v) == "table" then return v.raw end
  if type(v) == "number" then
    if math.type and math.type(v) == "integer" then return string.format("%d", v) end
    if v == math.floor(v) then return string.format("%.0f", v) end
    return tostring(v)
  end
  return tostring(v)
end

-- "k=v&" for every non-empty parameter but sign, entries sorted, "secret="
local function sign(params, secret)
  local entries = {}
  for k, v in pairs(params) do
    if k ~= "sign" and v ~= "" then entries[#entries + 1] = k .. "=" .. render(v) .. "&" end
  end
  table.sort(entries)
  return sha1.hex(table.concat(entries) .. "secret=" .. (secret or SECRET)):upper()
end

local function encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v, s = t[k]
    if type(v) == "table" then s = v.raw
    elseif type(v) == "string" then s = json.json_quote(v)
    else s = render(v) end
    out[#out + 1] = json.json_quote(k) .. ":" .. s
  end
  return "{" .. table.concat(out, ",") .. "}"
end

local sb
local clock_offset = 0
local nonce_seq = math.random(0, 80000)

local function now() return math.floor(socket.gettime() + clock_offset) end

local function next_nonce()
  nonce_seq = (nonce_seq + 1) % 90000
  return 10000 + nonce_seq
end

local function post(path, body, ctype)
  local st, text = sb:request("POST", path, body,
    { ["content-type"] = ctype or "application/json;charset=utf-8" })
  assert(st, "request failed: " .. tostring(text))
  return st, json.json_decode(text), text
end

-- opts: timestamp, nonce, appkey, secret, sign, omit = {name = true},
-- unsigned = {k = v} (added to the body after signing), nonce_string
local function call(path, params, opts)
  opts = opts or {}
  local p = {}
  for k, v in pairs(params or {}) do p[k] = v end
  p.appkey = opts.appkey or APPKEY
  p.timestamp = opts.timestamp or now()
  p.nonce = opts.nonce or next_nonce()
  if opts.nonce_string then p.nonce = tostring(p.nonce) end
  for k in pairs(opts.omit or {}) do p[k] = nil end
  p.sign = opts.sign or sign(p, opts.secret)
  if opts.omit and opts.omit.sign then p.sign = nil end
  for k, v in pairs(opts.unsigned or {}) do p[k] = v end
  local st, env, text = post(path, encode(p))
  assert.are.equal(200, st, text)
  return env
end

local function control(method, path, body)
  return sb:control(method, path, body)
end

-- the eiotclub control actions: POST /_sim/eiotclub/<name>
local function action(name, args)
  return control("POST", "/_sim/eiotclub/" .. name, args)
end

local function state() return sb:state("eiotclub") end

local function advance(seconds)
  local st, res = control("POST", "/_sim/advance", { seconds = seconds })
  assert.are.equal(200, st)
  clock_offset = res.clock_offset
end

-- back to the seed; the 20 calls/s limit is off except where a test wants it
local function reset()
  sb:reset()
  clock_offset = 0
  local st = sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = false } })
  assert.are.equal(200, st)
end

local function is_array(t) return type(t) == "table" and getmetatable(t) == getmetatable(json.array()) end
local function is_object(t) return type(t) == "table" and getmetatable(t) == getmetatable(json.object()) end

local function ok(env, int_code)
  if int_code then
    assert.are.equal(200, env.code)
  else
    assert.are.equal("200", env.code, tostring(env.message))
  end
end

----------------------------------------------------------------------------
-- notification receiver (LuaSocket, bounded)

local function receiver() return pushsink.listen() end

-- `collect` with each payload decoded
local function collect(srv, want, seconds, replies)
  local got = pushsink.collect(srv, want, seconds, replies)
  for _, g in ipairs(got) do g.payload = json.json_decode(g.body) end
  return got
end

-- the notification signature: all fields but sign, no appkey
local function notification_sign_ok(payload)
  local entries = {}
  for k, v in pairs(payload) do
    if k ~= "sign" then entries[#entries + 1] = k .. "=" .. render(v) .. "&" end
  end
  table.sort(entries)
  return sha1.hex(table.concat(entries) .. "secret=" .. SECRET):upper() == payload.sign
end

----------------------------------------------------------------------------

describe("eiotclub sandbox", function()
  setup(function()
    sb = sandbox.start()
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  describe("request signing", function()
    before_each(reset)

    it("reproduces the document's worked example with the spec's own signer", function()
      local p = { appkey = "000001", timestamp = 1556595508, nonce = 24523, userName = "wx", age = 24, sex = 1 }
      assert.are.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign(p, "a1b1c1d1"))
      p.age, p.sex = "24", "1" -- the body of the document sends them as strings: same sign
      assert.are.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign(p, "a1b1c1d1"))
    end)

    it("accepts a good signature and rejects a bad, missing or lower-case one", function()
      ok(call("/api/v3/agent/balance", {}))
      assert.are.equal("42402", call("/api/v3/agent/balance", {}, { sign = string.rep("A", 40) }).code)
      assert.are.equal("42401", call("/api/v3/agent/balance", {}, { omit = { sign = true } }).code)
      local p = { appkey = APPKEY, timestamp = now(), nonce = next_nonce() }
      p.sign = sign(p):lower()
      local _, env = post("/api/v3/agent/balance", encode(p))
      assert.are.equal("42402", env.code)
      -- the sandbox tells (in its state, not the answer) what it signed
      local s = state()
      assert.truthy(s.last_auth_failure.string_to_sign:find("appkey=sandbox-appkey&", 1, true))
      assert.truthy(s.last_auth_failure.string_to_sign:find("secret=<secret>$"))
    end)

    it("checks appkey, timestamp and nonce with the documented codes", function()
      assert.are.equal("42101", call("/api/v3/agent/balance", {}, { omit = { appkey = true } }).code)
      assert.are.equal("42102", call("/api/v3/agent/balance", {}, { appkey = "nobody" }).code)
      assert.are.equal("42201", call("/api/v3/agent/balance", {}, { omit = { timestamp = true } }).code)
      assert.are.equal("42203", call("/api/v3/agent/balance", {}, { timestamp = now() - 400 }).code)
      assert.are.equal("42203", call("/api/v3/agent/balance", {}, { timestamp = now() + 400 }).code)
      assert.are.equal("42203", call("/api/v3/agent/balance", {}, { timestamp = now() * 1000 }).code)
      assert.are.equal("42204", call("/api/v3/agent/balance", {}, { timestamp = "yesterday" }).code)
      ok(call("/api/v3/agent/balance", {}, { timestamp = now() - 250 }))
      assert.are.equal("42301", call("/api/v3/agent/balance", {}, { omit = { nonce = true } }).code)
      assert.are.equal("43332", call("/api/v3/agent/balance", {}, { nonce = 123 }).code)
      ok(call("/api/v3/task/query", { ids = "9001" }, { nonce_string = true }))
    end)

    it("rejects the same signed request replayed", function()
      local p = { appkey = APPKEY, timestamp = now(), nonce = next_nonce() }
      p.sign = sign(p)
      local _, first = post("/api/v3/agent/balance", encode(p))
      ok(first)
      local _, again = post("/api/v3/agent/balance", encode(p))
      assert.are.equal("43332", again.code)
    end)

    it("signs unknown parameters like the stray \"operator\" as any other", function()
      ok(call("/api/v3/card/getCardsInfo", { iccid = ICCID(1), operator = 5 }))
      local env = call("/api/v3/card/getCardsInfo", { iccid = ICCID(1) }, { unsigned = { operator = 5 } })
      assert.are.equal("42402", env.code)
    end)

    it("renders numbers as sent: 500.0 is not 500", function()
      ok(call("/api/v3/card/getAllCardInfo", { pageNum = "1", pageSize = { raw = "500" } }))
      local p = { appkey = APPKEY, timestamp = now(), nonce = next_nonce(), pageNum = "1", pageSize = 500 }
      p.sign = sign(p)
      p.pageSize = { raw = "500.0" }
      local _, env = post("/api/v3/card/getAllCardInfo", encode(p))
      assert.are.equal("42402", env.code)
      -- entries are sorted as whole "k=v&" strings (Java), not by key
      ok(call("/api/v3/card/getCardsInfo", { iccid = ICCID(1), i = "x", i2 = "y" }))
    end)

    it("leaves empty parameters out of the signature", function()
      ok(call("/api/v3/card/getAllCardInfo", { pageNum = "1", cardStatus = "" }))
    end)

    it("answers 415, 405 and 404 outside the contract", function()
      local st = post("/api/v3/agent/balance", "appkey=x", "application/x-www-form-urlencoded")
      assert.are.equal(415, st)
      local gst = sb:request("GET", "/api/v3/agent/balance")
      assert.are.equal(405, gst)
      local nst = post("/api/v3/no/such", "{}")
      assert.are.equal(404, nst)
      local _, env = post("/api/v3/agent/balance", "[1,2]")
      assert.are.equal("43332", env.code)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("every endpoint answers its envelope", function()
    local function order_number(otn, st)
      local d = call("/api/v3/package/getOrderPackageDetails",
        { outTradeNoArrStr = otn, state = st, page = 1, pageSize = 1 })
      return d.data[1].orderNumber
    end
    local ctx = {}
    setup(function()
      reset()
      ctx = { order_number = order_number }
    end)

    local E = eiotclub_calls { ICCID = ICCID, EID = EID, is_array = is_array, is_object = is_object }

    it("covers the 58 endpoints of the catalog", function()
      local f = assert(io.open(sandbox.root .. "/spec/catalog/eiotclub.json"))
      local mine = {}
      for _, e in ipairs(E) do mine[e[2]] = e[1] end
      local n = 0
      for _ in pairs(mine) do n = n + 1 end
      assert.are.equal(58, n)
      local catalog = json.json_decode(f:read("*a"))
      f:close()
      for _, ep in ipairs(catalog.endpoints) do
        assert.are.equal(ep.op, mine[ep.path], ep.path)
      end
    end)

    for _, e in ipairs(E) do
      it(e[1], function()
        local params = e[3]
        if type(params) == "function" then params = params(ctx) end
        local env = call(e[2], params, { nonce_string = e.nonce_string })
        ok(env, e.int_code)
        if e.no_message then
          assert.is_nil(env.message)
        else
          assert.are.equal("string", type(env.message))
        end
        if e.no_data then
          assert.is_nil(env.data)
        else
          assert.is_not_nil(env.data)
        end
        if e.check then e.check(env, ctx) end
      end)
    end
  end)

  ----------------------------------------------------------------------------
  describe("parameter errors", function()
    setup(reset)

    it("uses the documented 41xxx / 42xxx codes", function()
      local cases = {
        { "/api/v3/card/getCardsInfo", {}, "41003" },
        { "/api/v3/card/getCardsInfo", { iccid = "12ab" }, "41003" },
        { "/api/v3/card/getCardsInfo", { iccid = "89852012345678909999" }, "42405" },
        { "/api/v3/card/getAllCardInfo", {}, "42403" },
        { "/api/v3/card/getAllCardInfo", { pageNum = "0" }, "42403" },
        { "/api/v3/card/getAllCardInfo", { pageNum = "1", pageSize = 0 }, "42407" },
        { "/api/v3/card/getAllCardInfo", { pageNum = "1", iccids = "1,,2" }, "41001" },
        { "/api/v3/sms/sendSms", { iccid = ICCID(1), message = string.rep("x", 301) }, "42000" },
        { "/api/v3/sms/sendSms", { iccid = ICCID(1), message = "" }, "42000" },
        { "/api/v3/card/switchOperator", { iccid = ICCID(1) }, "41014" },
        { "/api/v3/card/switchOperator", { network = "ATT" }, "41003" },
        { "/api/v3/card/switchOperator", { imsi = "454123456789002", network = "Verizon" }, "45107" },
        { "/api/v3/card/switchOperator", { iccid = ICCID(11), network = "ATT" }, "45105" },
        { "/api/v3/card/bindDevice", { iccid = ICCID(1), imei = "12" }, "41015" },
        { "/api/v3/card/plockAddImei", { imei = "860000000000999", plockGroupId = 9 }, "42408" },
        { "/api/v3/card/imeiUnlock", { iccid = ICCID(1) }, "45104" },
        { "/api/v3/package/orderPackage", { iccid = ICCID(1), packageCode = "GJ-LLB-1G-30-1US-DN",
          outTradeNo = string.rep("9", 33) }, "42001" },
        { "/api/v3/package/orderPackage", { iccid = ICCID(1), packageCode = "GJ-LLB-1G-30-1US-DN" }, "42001" },
        { "/api/v3/package/orderPackage", { iccid = ICCID(1), packageCode = "NOPE", outTradeNo = "x1" }, "41018" },
        { "/api/v3/package/orderPackage", { iccid = ICCID(1), packageCode = "GJ-LLB-3G-30-GLB120",
          outTradeNo = "x2" }, "41050" },
        { "/api/v3/package/refundPackage", { iccid = ICCID(2), orderId = "10004705" }, "45106" },
        { "/api/v3/package/refundPackage", { iccid = ICCID(2), orderId = "10004703", remark = "r" }, "42008" },
        { "/api/v3/package/refundPackage", { iccid = ICCID(2), orderId = "abc", remark = "r" }, "42003" },
        { "/api/v3/package/queryPackage", { iccid = ICCID(1), orderId = "10004703" }, "42004" },
        { "/api/v3/package/getOrderPackageDetails", { outTradeNoArrStr = "a", state = 1, page = 1,
          pageSize = 51 }, "42407" },
        { "/api/v3/package/queryOrderPackageByPackageCode", { packageCode = "NOPE" }, "42007" },
        { "/api/v3/card/reset", {}, "41001" },
        { "/api/v3/task/query", { ids = string.rep("1,", 100) .. "1" }, "41007" },
        { "/api/v3/esim/purchase", { eSIMGoodsCode = "NOPE", outTradeNo = "e1" }, 45109 },
        { "/api/v3/esim/purchase", { eSIMGoodsCode = "ESIM-JP-1G-7D", outTradeNo = "e2" }, 45110 },
        { "/api/v3/esim/orderStatus", { orderId = "1" }, "45111" },
        { "/api/v3/cloudesim/get", { eid = EID(9) }, "900911" },
        { "/api/v3/cloudesim/orderStatus", {}, "42003" },
        { "/api/v3/cloudesim/refund", { eshopOrderId = 20001003 }, "45106" },
        { "/api/v3/cloudesim/refund", { eshopOrderId = 20001003, remark = "r" }, "45113" },
        { "/api/v3/pool/delete", { pool_object_id = 380 }, "43332" },
        { "/api/v3/pool/card/list", { pool_object_id = 1 }, "42404" },
        { "/api/v3/pool/card/add", { pool_object_id = 387, iccid_arr = ICCID(3) }, "41001" },
        { "/api/v3/cdr/traffic/query", { dateType = "daily", iccids = ICCID(1), startDate = "2026-13-01",
          endDate = "2026-01-02" }, "41004" },
        { "/api/v3/cdr/traffic/query", { dateType = "daily", iccids = ICCID(1), startDate = "2026-01-01" }, "41005" },
        { "/api/v3/cdr/traffic/query", { dateType = "monthly", iccids = ICCID(1) }, "41006" },
        { "/api/v3/outputApi/listProfitInfo", { pageNum = 1, pageSize = 5, startDate = "2026-01-01" }, "42409" },
      }
      for _, c in ipairs(cases) do
        local env = call(c[1], c[2])
        assert.are.equal(c[3], env.code, c[1] .. " " .. encode(c[2]) .. " -> " .. tostring(env.message))
        assert.are.equal("string", type(env.message))
      end
      local many = {}
      for i = 1, 51 do many[i] = "OTN" .. i end
      assert.are.equal("42009", call("/api/v3/package/getOrderPackageDetails",
        { outTradeNoArrStr = table.concat(many, ","), state = 1, page = 1, pageSize = 10 }).code)
      local ids = {}
      for i = 1, 101 do ids[i] = ICCID(1) end
      assert.are.equal("41007", call("/api/v3/card/reset", { iccids = table.concat(ids, ",") }).code)
      -- integer-coded envelopes stay integers on errors too
      assert.are.equal(45109, call("/api/v3/esim/purchase", { eSIMGoodsCode = "NOPE", outTradeNo = "e3" }).code)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("orders and money", function()
    before_each(reset)

    it("charges once for a duplicate outTradeNo (42002) and keeps exactly one order", function()
      local p = { iccid = ICCID(1), packageCode = "GJ-LLB-1G-30-1US-DN", outTradeNo = "DUP-1" }
      local first = call("/api/v3/package/orderPackage", p)
      ok(first)
      local again = call("/api/v3/package/orderPackage", p)
      assert.are.equal("42002", again.code)
      assert.are.equal("995.50", call("/api/v3/agent/balance", {}).data.balance)
      local n = 0
      for _, o in ipairs(state().orders) do
        if o.outTradeNo == "DUP-1" then n = n + 1 end
      end
      assert.are.equal(1, n)
      -- found again by outTradeNo and by orderId
      local d = call("/api/v3/package/getOrderPackageDetails",
        { outTradeNoArrStr = "DUP-1", state = 0, page = 1, pageSize = 50 })
      assert.are.equal(1, #d.data)
      assert.are.equal(first.data.orderNumber, d.data[1].orderNumber)
      local rec = call("/api/v3/package/packageOrderRecord",
        { iccid = ICCID(1), orderIdArrStr = tostring(first.data.orderId) })
      assert.are.equal(1, rec.total)
      assert.are.equal(1, call("/api/v3/package/queryPackage",
        { iccid = ICCID(1), orderId = tostring(first.data.orderId) }).data.status)
    end)

    it("answers 503016 for a duplicate eSIM purchase and 42002 for pool and Cloud eSIM ones", function()
      local p = { eSIMGoodsCode = "ESIM-EU-5G-30D", outTradeNo = "ES-DUP" }
      ok(call("/api/v3/esim/purchase", p), true)
      assert.are.equal(503016, call("/api/v3/esim/purchase", p).code)
      local ps = { pool_object_id = 387, pool_type_code = "POOL-50L-100G-30D", out_trade_no = "PS-DUP" }
      ok(call("/api/v3/pool/sub", ps))
      assert.are.equal("42002", call("/api/v3/pool/sub", ps).code)
      local cp = { eid = EID(1), outTradeNo = "CP-DUP", packageCode = "CE-GLB-1G-7D" }
      ok(call("/api/v3/cloudesim/purchase", cp))
      assert.are.equal("42002", call("/api/v3/cloudesim/purchase", cp).code)
      -- 1000.00 - 15.00 - 200.00 - 3.50
      assert.are.equal("781.50", state().balance)
    end)

    it("refuses an order the balance cannot pay (45112)", function()
      assert.are.equal(200, (control("POST", "/_sim/config", { eiotclub = { balance = "1.00" } })))
      local env = call("/api/v3/package/orderPackage",
        { iccid = ICCID(1), packageCode = "GJ-LLB-1G-30-1US-DN", outTradeNo = "POOR-1" })
      assert.are.equal("45112", env.code)
      assert.are.equal(0, #(function()
        local t = {}
        for _, o in ipairs(state().orders) do if o.outTradeNo == "POOR-1" then t[#t + 1] = o end end
        return t
      end)())
    end)

    it("refunds in full within 24 h and pro rata after", function()
      local o = call("/api/v3/package/orderPackage",
        { iccid = ICCID(9), packageCode = "GJ-LLB-3G-30-GLB120", outTradeNo = "RF-1" })
      ok(o)
      local oid = tostring(o.data.orderId)
      local q = call("/api/v3/package/queryRefundAmount", { iccid = ICCID(9), orderId = oid })
      assert.are.equal("12.00", q.data.amount)
      assert.are.equal(1200, q.data.amount_int)
      -- the card is used (its package starts), then 2 days pass
      local st = action("usage", { iccid = ICCID(9), mb = 1536 })
      assert.are.equal(200, st)
      advance(2 * 86400 + 60)
      q = call("/api/v3/package/queryRefundAmount", { iccid = ICCID(9), orderId = oid })
      -- min(28/30 days, 1536/3072 MB) x 12.00 = 6.00
      assert.are.equal(600, q.data.amount_int)
      ok(call("/api/v3/package/refundPackage", { iccid = ICCID(9), orderId = oid, remark = "changed plan" }))
      assert.are.equal(-1, call("/api/v3/package/queryPackage", { iccid = ICCID(9), orderId = oid }).data.status)
      assert.are.equal("994.00", call("/api/v3/agent/balance", {}).data.balance)
      assert.are.equal("42008", call("/api/v3/package/refundPackage",
        { iccid = ICCID(9), orderId = oid, remark = "again" }).code)
    end)

    it("queues a package ordered while another is in use", function()
      local o = call("/api/v3/package/orderPackage",
        { iccid = ICCID(7), packageCode = "GJ-LLB-3G-30-GLB120", outTradeNo = "Q-1" })
      ok(o)
      local rec = call("/api/v3/package/packageOrderRecord", { iccid = ICCID(7), state = 0 })
      assert.are.equal(1, rec.total)
      -- the 100M pack runs out: the queued one takes effect
      assert.are.equal(200, (action("usage", { iccid = ICCID(7), mb = 10 })))
      local info = call("/api/v3/card/getCardsInfo", { iccid = ICCID(7) })
      assert.are.equal("GJ-LLB-3G-30-GLB120", info.data.packageCode)
      assert.are.equal(1, call("/api/v3/package/packageOrderRecord", { iccid = ICCID(7), state = 1 }).total)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("limits", function()
    before_each(reset)

    it("allows refresh_usage / cancel_location once per card per 5 minutes (44001)", function()
      ok(call("/api/v3/card/refreshUsage", { iccid = ICCID(1) }))
      assert.are.equal("44001", call("/api/v3/card/refreshUsage", { iccid = ICCID(1) }).code)
      ok(call("/api/v3/card/refreshUsage", { iccid = ICCID(2) }))
      ok(call("/api/v3/card/cancelLocation", { iccid = ICCID(1) }))
      assert.are.equal("44001", call("/api/v3/card/cancelLocation", { iccid = ICCID(1) }).code)
      ok(call("/api/v3/cloudesim/refreshUsage", { eid = EID(1) }))
      assert.are.equal("44001", call("/api/v3/cloudesim/refreshUsage", { eid = EID(1) }).code)
      ok(call("/api/v3/cloudesim/cancelSession", { eid = EID(1) }))
      assert.are.equal("44001", call("/api/v3/cloudesim/cancelSession", { eid = EID(1) }).code)
      advance(301)
      ok(call("/api/v3/card/refreshUsage", { iccid = ICCID(1) }))
      ok(call("/api/v3/card/cancelLocation", { iccid = ICCID(1) }))
      ok(call("/api/v3/cloudesim/refreshUsage", { eid = EID(1) }))
    end)

    it("limits IMEI unlocking (45102 too frequent)", function()
      ok(call("/api/v3/card/imeiUnlock", { iccid = ICCID(5) }))
      assert.are.equal(200, (action("imei_lock", { iccid = ICCID(5) })))
      assert.are.equal("45102", call("/api/v3/card/imeiUnlock", { iccid = ICCID(5) }).code)
      advance(301)
      local env = call("/api/v3/card/imeiUnlock", { iccid = ICCID(5) })
      ok(env)
      assert.are.equal(3, env.data.imeiPoolUnlockCount)
    end)

    it("answers 501 past the per-appkey rate and can be switched off", function()
      assert.are.equal(200, (control("POST", "/_sim/config", { eiotclub = { rate_limit = 5 } })))
      local codes = {}
      for i = 1, 12 do codes[i] = call("/api/v3/agent/balance", {}).code end
      local n501 = 0
      for _, c in ipairs(codes) do if c == "501" then n501 = n501 + 1 end end
      assert.is_true(n501 >= 5, table.concat(codes, " "))
      assert.are.equal(200, (control("POST", "/_sim/config", { eiotclub = { rate_limit = false } })))
      for _ = 1, 25 do ok(call("/api/v3/agent/balance", {})) end
    end)
  end)

  ----------------------------------------------------------------------------
  describe("paging", function()
    setup(reset)

    it("pages the card list with totalPage", function()
      local p1 = call("/api/v3/card/getAllCardInfo", { pageNum = "1", pageSize = 5 })
      assert.are.equal(3, p1.data.totalPage)
      assert.are.equal(5, #p1.data.cardInfoList)
      local p3 = call("/api/v3/card/getAllCardInfo", { pageNum = "3", pageSize = 5 })
      assert.are.equal(2, #p3.data.cardInfoList)
      assert.are.equal(ICCID(11), p3.data.cardInfoList[1].iccid)
      local p4 = call("/api/v3/card/getAllCardInfo", { pageNum = "4", pageSize = 5 })
      assert.is_true(is_array(p4.data.cardInfoList))
      assert.are.equal(0, #p4.data.cardInfoList)
      local f = call("/api/v3/card/getAllCardInfo", { pageNum = "1", cardStatus = "ACTIVATED_NAME" })
      assert.are.equal(8, #f.data.cardInfoList)
      local i = call("/api/v3/card/getAllCardInfo", { pageNum = "1", iccids = ICCID(3) .. "," .. ICCID(4) })
      assert.are.equal(2, #i.data.cardInfoList)
    end)

    it("pages order records with the root total and list_profit_info with data.total", function()
      local r = call("/api/v3/package/packageOrderRecord", { iccid = ICCID(2), page = 2, pageSize = 2,
        orderBy = "createDateDesc" })
      assert.are.equal(3, r.total)
      assert.are.equal(1, #r.data)
      assert.are.equal(10004703, r.data[1].orderId)
      local p = call("/api/v3/outputApi/listProfitInfo", { pageNum = 2, pageSize = 5 })
      assert.are.equal(7, p.data.total)
      assert.are.equal(2, #p.data.data)
      local d = call("/api/v3/package/getOrderPackageDetails", { outTradeNoArrStr =
        "SEED-0001-B,SEED-0002-A,SEED-0005-A,SEED-0006-A,SEED-0007-A", state = 1, page = 2, pageSize = 2 })
      assert.are.equal(2, #d.data)
      local c = call("/api/v3/cloudesim/pkg/record/list", { eid = EID(1), page = 1, pageSize = 1001 })
      assert.are.equal("42407", c.code)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("notifications", function()
    local srv, url
    before_each(function()
      reset()
      srv, url = receiver()
      assert.are.equal(200, (control("POST", "/_sim/config", { eiotclub = { notify_url = url,
        notify_retry_delay = 0.2, notify_timeout = 3 } })))
    end)
    after_each(function()
      if srv then srv:close() end
    end)

    it("delivers SubPkgList and PkgEffective for an order, signed without appkey", function()
      ok(call("/api/v3/package/orderPackage",
        { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120", outTradeNo = "N-1" }))
      local got = collect(srv, 2, 5)
      assert.are.equal(2, #got)
      local events = {}
      for _, g in ipairs(got) do
        assert.truthy(g.line:match("^POST /cb HTTP/1%.1$"))
        assert.truthy(g.headers["content-type"]:find("application/json", 1, true))
        local p = g.payload
        assert.is_true(notification_sign_ok(p), g.body)
        assert.is_nil(p.appkey)
        assert.are.equal("string", type(p.data))
        assert.are.equal("string", type(p.id))
        assert.is_true(p.nonce >= 10000 and p.nonce <= 99999)
        assert.is_true(math.abs(p.timestamp - now()) < 60)
        events[p.event] = json.json_decode(p.data)
      end
      assert.is_true(is_array(events.SubPkgList))
      assert.are.equal("N-1", events.SubPkgList[1].outTradeNo)
      assert.are.equal(ICCID(11), events.PkgEffective.iccid)
      assert.truthy(events.PkgEffective.endDate:match("^%d%d%d%d%-%d%d%-%d%d "))
      -- recorded as delivered
      local delivered = 0
      for _ = 1, 20 do
        delivered = 0
        for _, n in ipairs(state().notifications) do
          if n.status == "delivered" then delivered = delivered + 1 end
        end
        if delivered == 2 then break end
        socket.sleep(0.05)
      end
      assert.are.equal(2, delivered)
    end)

    it("retries until the receiver answers SUCCESS", function()
      local st, res = action("notify", { event = "FlowAlert", iccid = ICCID(7), alert_type = 2 })
      assert.are.equal(200, st)
      local id = res.notification.id
      local got = collect(srv, 2, 5, { '{"status":"FAIL"}', '{"status":"SUCCESS"}' })
      assert.are.equal(2, #got)
      assert.are.equal(got[1].payload.id, got[2].payload.id)
      assert.are.equal(id, got[1].payload.id)
      local p = got[2].payload
      assert.are.equal("FlowAlert", p.event)
      assert.are.equal(ICCID(7), p.iccid)
      assert.are.equal(2, p.alert_type)
      assert.are.equal("10", p.alert_value)
      assert.is_true(notification_sign_ok(p))
      local rec
      for _ = 1, 20 do
        for _, n in ipairs(state().notifications) do if n.id == id then rec = n end end
        if rec and rec.status == "delivered" then break end
        socket.sleep(0.05)
      end
      assert.are.equal("delivered", rec.status)
      assert.are.equal(2, #rec.attempts)
    end)

    it("notifies usage alerts, the package used up and the card stopping", function()
      assert.are.equal(200, (action("usage", { iccid = ICCID(8), mb = 750 })))
      assert.are.equal(200, (action("usage", { iccid = ICCID(8), mb = 100, imei = "860000000000081" })))
      local got = collect(srv, 4, 5)
      local seen = {}
      for _, g in ipairs(got) do
        assert.is_true(notification_sign_ok(g.payload))
        seen[#seen + 1] = g.payload.event .. (g.payload.alert_type and (":" .. g.payload.alert_type) or "")
      end
      table.sort(seen)
      assert.are.same({ "CardStopped", "FlowAlert:1", "FlowAlert:2", "PkgQuantityList" }, seen)
      assert.are.equal("DEACTIVATED_NAME", call("/api/v3/card/getCardsInfo", { iccid = ICCID(8) }).data.cardStatus)
    end)

    it("sends any of the 20 events on demand, Refund with its amounts", function()
      local st = action("notify", { event = "Refund", iccid = ICCID(2), orderId = 10004703 })
      assert.are.equal(200, st)
      st = action("notify", { event = "CloudESimPkgActivate", eid = EID(1) })
      assert.are.equal(200, st)
      st = action("notify", { event = "CardMovedInIMEIPool", iccid = ICCID(6) })
      assert.are.equal(200, st)
      local got = collect(srv, 3, 5)
      assert.are.equal(3, #got)
      local by = {}
      for _, g in ipairs(got) do
        assert.is_true(notification_sign_ok(g.payload))
        by[g.payload.event] = g.payload
      end
      assert.are.same({ "4.50", "4.50", 10004703 },
        { by.Refund.orderAmount, by.Refund.refundAmount, by.Refund.orderId })
      assert.are.equal(EID(1), json.json_decode(by.CloudESimPkgActivate.data).eid)
      assert.are.equal("string", type(by.CardMovedInIMEIPool.nonce))
      assert.are.equal(3001, by.CardMovedInIMEIPool.plockGroupId)
      local bad = action("notify", { event = "NoSuchEvent" })
      assert.are.equal(400, bad)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("CDR", function()
    before_each(reset)

    it("writes the hourly CSV file with the 8 columns", function()
      local dir = os.tmpname()
      os.remove(dir)
      local st, res = action("cdr", { dir = dir, start = "20260115000000", ["end"] = "20260115010000" })
      assert.are.equal(200, st, tostring(type(res) == "table" and res.error))
      assert.are.equal(dir .. "/cdr_10001_20260115000000_20260115010000_20260115013000.csv", res.path)
      local f = assert(io.open(res.path))
      local lines = {}
      for line in f:lines() do lines[#lines + 1] = line end
      f:close()
      os.remove(res.path)
      os.remove(dir)
      assert.are.equal(8, #lines)
      assert.are.equal(8, res.rows)
      local total = 0
      for _, line in ipairs(lines) do
        local cols = {}
        for c in (line .. ","):gmatch("([^,]*),") do cols[#cols + 1] = c end
        assert.are.equal(8, #cols, line)
        assert.truthy(cols[1]:match("^%d+$"))
        assert.truthy(cols[2]:match("^2026%-01%-15 00:%d%d:%d%d$"))
        assert.truthy(cols[3]:match("^2026%-01%-15 00:%d%d:%d%d$"))
        assert.truthy(cols[4]:match("^8985201234567890%d%d%d%d$"))
        assert.are.equal(15, #cols[5])
        assert.truthy(cols[6]:match("^%d+$"))
        if cols[4] == ICCID(1) then total = total + tonumber(cols[6]) end
      end
      -- the same usage through the traffic query of that hour's day
      local q = call("/api/v3/cdr/traffic/query", { dateType = "daily", iccids = ICCID(1),
        startDate = "2026-01-15", endDate = "2026-01-15" }, { nonce_string = true })
      assert.is_true(tonumber(q.data[1].traffic) > total)
      assert.are.equal(400, (action("cdr", { dir = dir, start = "x", ["end"] = "y" })))
    end)

    it("adds the sandbox's live usage to the CDRs", function()
      assert.are.equal(200, (action("usage", { iccid = ICCID(1), bytes = 123456, mccmnc = "310260" })))
      local day = os.date("!%Y-%m-%d", now())
      local q = call("/api/v3/cdr/traffic/query", { dateType = "daily", iccids = ICCID(1) .. "," .. ICCID(2),
        startDate = day, endDate = day }, { nonce_string = true })
      assert.are.equal(1, #q.data)
      assert.are.equal("123456", q.data[1].traffic)
    end)
  end)

  describe("faults", function()
    before_each(reset)

    it("answers a vendor fault with the EIOTCLUB envelope", function()
      sb:fault({ path = "/api/v3/agent/balance", kind = "vendor", vendor_code = "43331" })
      local env = call("/api/v3/agent/balance", {})
      assert.are.equal("43331", env.code)
      assert.are.equal("string", type(env.message))
    end)
  end)
end)
