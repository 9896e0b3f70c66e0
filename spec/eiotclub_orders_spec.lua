-- EIOTCLUB money-safe orders, refunds, per-card guards, deprecation warning
-- (unit specs over a fake transport that imitates the vendor).
local simkit = require "simkit"
local json = require "simkit.json"
local util = require "simkit.util"
local orders = require "simkit.orders"

-- A tiny stateful fake of the EIOTCLUB endpoints used here.
-- faults[path] = { kind = "timeout"|"reset"|"connect"|"5xx"|"html"|"truncate"|"vendor",
--                  when = "before"|"after", count = n, code = "43331" }
local function fake()
  local f = { orders = {}, cloud = {}, pool = {}, requests = {}, faults = {}, lookup_fail = false }
  local function ok(data) return { status = 200, headers = {}, body = json.encode({ code = "200", message = "ok", data = data }) } end
  local function verr(code, msg) return { status = 200, headers = {}, body = json.encode({ code = code, message = msg }) } end
  local n = 0
  local function process(path, p)
    if path == "/api/v3/package/orderPackage" then
      if f.orders[p.outTradeNo] then return verr("42002", "outTradeNo already exists.") end
      n = n + 1
      f.orders[p.outTradeNo] = { orderId = 5000 + n, outTradeNo = p.outTradeNo, iccid = p.iccid, state = 0 }
      return ok({ orderId = 5000 + n })
    elseif path == "/api/v3/package/getOrderPackageDetails" then
      if f.lookup_fail then return { status = 502, headers = {}, body = "bad gateway" } end
      local o = f.orders[p.outTradeNoArrStr]
      if o and o.state == p.state then return ok(json.array({ o })) end
      return ok(json.array({}))
    elseif path == "/api/v3/esim/purchase" then
      if f.esim and f.esim[p.outTradeNo] then return verr(503016, "duplicate") end
      f.esim = f.esim or {}
      f.esim[p.outTradeNo] = true
      return { status = 200, headers = {}, body = json.encode({ code = 200, message = "ok",
        data = { iccid = "8901", activationCode = "LPA:1$x", orderId = "77" } }) }
    elseif path == "/api/v3/cloudesim/purchase" then
      if f.cloud[p.outTradeNo] then return verr("42002", "outTradeNo already exists.") end
      n = n + 1
      f.cloud[p.outTradeNo] = { eshopOrderId = 9000 + n, outTradeNo = p.outTradeNo, eid = p.eid }
      return ok({ eshopOrderId = 9000 + n })
    elseif path == "/api/v3/cloudesim/pkg/record/list" then
      local list = {}
      for _, o in pairs(f.cloud) do if o.eid == p.eid then list[#list + 1] = o end end
      return ok({ list = json.array(list), total = #list })
    elseif path == "/api/v3/pool/sub" then
      if f.pool[p.out_trade_no] then return verr("42002", "outTradeNo already exists.") end
      n = n + 1
      f.pool[p.out_trade_no] = { order_no = "P" .. n, out_trade_no = p.out_trade_no }
      return ok({ order_no = "P" .. n })
    elseif path == "/api/v3/pool/record/list" then
      local o = f.pool[p.out_trade_no_arr]
      return ok({ list = json.array({ o }), total = o and 1 or 0 })
    elseif path:match("refund") or path:match("unsub") then
      f.refunds = (f.refunds or 0) + 1
      return ok({})
    end
    return ok(nil)
  end
  function f.transport(req)
    local path = req.url:match("^https?://[^/]+(/.*)$")
    local p = assert(json.decode(req.body))
    f.requests[#f.requests + 1] = { path = path, params = p }
    local fault = f.faults[path]
    if fault and (fault.count or 1) > 0 then
      fault.count = (fault.count or 1) - 1
      local res
      if fault.when == "after" then res = process(path, p) end
      if fault.kind == "timeout" then return nil, "Operation timed out", "timeout"
      elseif fault.kind == "reset" then return nil, "Connection reset by peer", "reset"
      elseif fault.kind == "connect" then return nil, "Connection refused", "connect"
      elseif fault.kind == "5xx" then return { status = 500, headers = {}, body = "<html>oops</html>" }
      elseif fault.kind == "html" then return { status = 200, headers = {}, body = "<html>proxy</html>" }
      elseif fault.kind == "truncate" then
        local b = res and res.body or '{"code":"200","data":{"orderId":1}}'
        return { status = 200, headers = {}, body = b:sub(1, math.floor(#b / 2)) }
      elseif fault.kind == "vendor" then return verr(fault.code or "43331", "server exception") end
    end
    return process(path, p)
  end
  function f.count(path)
    local c = 0
    for _, r in ipairs(f.requests) do if r.path == path then c = c + 1 end end
    return c
  end
  return f
end

local function client(f, extra)
  local o = { appkey = "k", secret = "s", transport = f.transport, sleep = function() end,
    base_url = "https://oapi.example", rate_limit = false,
    -- a store of its own, on the clock the guard specs move
    store = require("simkit.store").memory { clock = function() return util.now() end } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return simkit.client("eiotclub", o)
end

local ORDER = "/api/v3/package/orderPackage"

local function count(t)
  local c = 0
  for _ in pairs(t) do c = c + 1 end
  return c
end

describe("eiotclub orders", function()
  it("generates a key (<= 32 chars) when absent and returns it", function()
    local f = fake()
    local c = client(f)
    local data, err = c:order_package{ iccid = "8985", packageCode = "P1" }
    assert.is_nil(err)
    local key = data._simkit.key
    assert.truthy(key:match("^sk%d+%x+$"))
    assert.is_true(#key <= 32)
    assert.equal(key, data.outTradeNo)
    assert.equal("outTradeNo", data._simkit.key_name)
    assert.is_false(data._simkit.reconciled)
    assert.is_false(data._simkit.duplicate)
    assert.equal(key, f.requests[1].params.outTradeNo)
    assert.not_equal(orders.new_key(), orders.new_key())
  end)

  it("keeps a caller's key and refuses one longer than 32", function()
    local f = fake()
    local c = client(f)
    local data = assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "mine-1" })
    assert.equal("mine-1", data.outTradeNo)
    local d2, err = c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = string.rep("x", 33) }
    assert.is_nil(d2)
    assert.equal("input", err.kind)
    assert.equal(1, #f.requests)
  end)

  for _, kind in ipairs({ "timeout", "reset", "5xx", "html", "truncate", "vendor" }) do
    it("order made but the reply lost (" .. kind .. ", after): one order, reconciled", function()
      local f = fake()
      f.faults[ORDER] = { kind = kind, when = "after" }
      local c = client(f)
      local data, err = c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "k-" .. kind }
      assert.is_nil(err)
      assert.is_true(data._simkit.reconciled)
      assert.equal("k-" .. kind, data.outTradeNo)
      assert.equal(1, count(f.orders))
      assert.equal(1, f.count(ORDER))
    end)

    it("order not found after " .. kind .. " (before): outcome unknown, never 'not_placed', re-use the key",
        function()
      local f = fake()
      f.faults[ORDER] = { kind = kind, when = "before" }
      local c = client(f)
      local data, err = c:order_package{ iccid = "8985", packageCode = "P1" }
      assert.is_nil(data)
      -- the lookups found nothing, but the vendor may still be processing it
      assert.equal("unknown", err.outcome)
      assert.is_false(err.retryable)
      assert.is_true(err.reuse_key)
      assert.truthy(err.key)
      assert.matches("SAME outTradeNo '" .. err.key .. "'", err.message, 1, true)
      assert.equal(0, count(f.orders))
      assert.equal(1, f.count(ORDER))
      -- the caller retries with the same key: exactly one order
      local d2 = assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = err.key })
      assert.equal(err.key, d2.outTradeNo)
      assert.equal(1, count(f.orders))
    end)
  end

  it("bounds the whole order call by order_timeout (send + pause + lookups), each request cut to what is left",
      function()
    local real = util.monotonic
    local t = 100
    util.monotonic = function() return t end
    local ok, e = pcall(function()
      local f = fake()
      -- every request times out after its whole timeout (the fake clock moves by it)
      local inner = f.transport
      local timeouts = {}
      f.transport = function(req)
        timeouts[#timeouts + 1] = req.timeout
        assert.is_true(req.connect_timeout <= req.timeout)
        t = t + req.timeout
        inner(req)
        return nil, "Operation timed out", "timeout"
      end
      local c = client(f, { timeout = 4, order_timeout = 10, sleep = function(s) t = t + s end })
      local data, err = c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "bound" }
      assert.is_nil(data)
      assert.equal("unknown", err.outcome)
      assert.is_true(t - 100 <= 10 + 1e-9, "took " .. (t - 100))
      assert.equal(4, timeouts[1])
      for i = 2, #timeouts do assert.is_true(timeouts[i] <= 4) end
      assert.equal(1, f.count(ORDER)) -- the order itself was sent once
      -- default: 3 x timeout
      t = 100
      local c2 = client(f, { timeout = 2, sleep = function(s) t = t + s end })
      local _, err2 = c2:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "bound2" }
      assert.equal("unknown", err2.outcome)
      assert.is_true(t - 100 <= 6 + 1e-9, "took " .. (t - 100))
    end)
    util.monotonic = real
    assert(ok, e)
  end)

  it("one result shape: 'already exists' carries the orderId (looked up) and the key like a new order", function()
    local f = fake()
    local c = client(f)
    local new = assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "shape" })
    local dup = assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "shape" })
    for _, r in ipairs({ new, dup }) do
      assert.equal(5001, r.orderId)
      assert.equal("shape", r.outTradeNo)
      assert.equal("shape", r._simkit.key)
      assert.equal("outTradeNo", r._simkit.key_name)
    end
    assert.is_false(new._simkit.duplicate)
    assert.is_true(dup._simkit.duplicate)
    -- pool_sub's order id is its order_no, under orderId too
    local p = assert(c:pool_sub{ pool_object_id = 7, pool_type_code = "T", out_trade_no = "ps" })
    local pd = assert(c:pool_sub{ pool_object_id = 7, pool_type_code = "T", out_trade_no = "ps" })
    assert.equal(p.order_no, p.orderId)
    assert.equal(p.orderId, pd.orderId)
    assert.is_true(pd._simkit.duplicate)
  end)

  it("orders.lookup finds an order by its key without sending one; refuses what it cannot look up", function()
    local f = fake()
    local c = client(f)
    assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "look" })
    local sent = f.count(ORDER)
    local st, item = orders.lookup(c, "order_package", "look")
    assert.equal("found", st)
    assert.equal("look", item.outTradeNo)
    assert.equal("absent", (orders.lookup(c, "order_package", "nope")))
    assert.equal(sent, f.count(ORDER))
    assert(c:pool_sub{ pool_object_id = 7, pool_type_code = "T", out_trade_no = "pl" })
    assert.equal("found", (orders.lookup(c, "pool_sub", "pl", { pool_object_id = 7 })))
    f.lookup_fail = true
    local st2, err = orders.lookup(c, "order_package", "look")
    assert.equal("unknown", st2)
    assert.equal("http", err.kind)
    for _, key in ipairs({ "", 7 }) do
      local s3, e3 = orders.lookup(c, "order_package", key)
      assert.equal("unknown", s3)
      assert.equal("input", e3.kind)
    end
    assert.has_error(function() orders.lookup(c, "esim_purchase", "k") end) -- no lookup by key exists
    assert.has_error(function() orders.lookup(c, "get_cards_info", "k") end)
    assert.has_error(function() orders.lookup(c, "no_such_op", "k") end)
  end)

  it("connect failure: nothing sent, certainly not placed, retryable, no lookup", function()
    local f = fake()
    f.faults[ORDER] = { kind = "connect" }
    local data, err = client(f):order_package{ iccid = "8985", packageCode = "P1" }
    assert.is_nil(data)
    assert.is_true(err.retryable)
    assert.is_false(err.sent)
    assert.equal("not_placed", err.outcome)
    assert.truthy(err.key)
    assert.equal(1, #f.requests)
  end)

  it("lookup failing: outcome unknown, kind transport, not retryable, key given", function()
    local f = fake()
    f.faults[ORDER] = { kind = "timeout", when = "after" }
    f.lookup_fail = true
    local data, err = client(f):order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "u1" }
    assert.is_nil(data)
    assert.equal("transport", err.kind)
    assert.equal("unknown", err.outcome)
    assert.equal("u1", err.key)
    assert.is_false(err.retryable)
    assert.equal(1, f.count(ORDER))
  end)

  it("42002 (key exists): the existing order is returned, flagged duplicate", function()
    local f = fake()
    local c = client(f)
    assert(c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "dup" })
    local data, err = c:order_package{ iccid = "8985", packageCode = "P1", outTradeNo = "dup" }
    assert.is_nil(err)
    assert.is_true(data._simkit.duplicate)
    assert.equal("dup", data.outTradeNo)
    assert.equal(5001, data.orderId)
    assert.equal(1, count(f.orders))
  end)

  it("plain vendor errors (no balance) are returned with the key, no lookup", function()
    local f = fake()
    f.faults[ORDER] = { kind = "vendor", code = "45112" }
    local data, err = client(f):order_package{ iccid = "8985", packageCode = "P1" }
    assert.is_nil(data)
    assert.equal("vendor", err.kind)
    assert.truthy(err.key)
    assert.equal(1, #f.requests)
  end)

  it("cloudesim_purchase: asks again with the same key (its records carry no outTradeNo)", function()
    local f = fake()
    f.faults["/api/v3/cloudesim/purchase"] = { kind = "reset", when = "after" }
    local data, err = client(f):cloudesim_purchase{ eid = "E1", packageCode = "C1", outTradeNo = "c1" }
    assert.is_nil(data)
    assert.equal("exists", err.outcome)
    assert.is_true(err.duplicate)
    assert.equal("c1", err.key)
    assert.equal(1, count(f.cloud))
    assert.equal(0, f.count("/api/v3/cloudesim/pkg/record/list"))
    f = fake()
    f.faults["/api/v3/cloudesim/purchase"] = { kind = "5xx", when = "before" }
    data, err = client(f):cloudesim_purchase{ eid = "E1", packageCode = "C1", outTradeNo = "c2" }
    assert.is_nil(err)
    assert.is_true(data._simkit.reconciled)
    assert.equal(1, count(f.cloud))
    assert.truthy(data.eshopOrderId)
    assert.equal(2, f.count("/api/v3/cloudesim/purchase"))
  end)

  it("pool_sub uses out_trade_no and reconciles through pool_record_list", function()
    local f = fake()
    f.faults["/api/v3/pool/sub"] = { kind = "5xx", when = "after" }
    local data, err = client(f):pool_sub{ pool_object_id = 7, pool_type_code = "T" }
    assert.is_nil(err)
    assert.is_true(data._simkit.reconciled)
    assert.equal(data._simkit.key, data.out_trade_no)
    assert.equal(1, count(f.pool))
    f = fake()
    f.faults["/api/v3/pool/sub"] = { kind = "5xx", when = "before" }
    local d2, e2 = client(f):pool_sub{ pool_object_id = 7, pool_type_code = "T" }
    assert.is_nil(d2)
    assert.equal("unknown", e2.outcome)
    assert.is_true(e2.reuse_key)
    assert.equal(0, count(f.pool))
    -- the same key again: placed once, with the vendor's order id
    local d3 = assert(client(f):pool_sub{ pool_object_id = 7, pool_type_code = "T", out_trade_no = e2.key })
    assert.equal(e2.key, d3.out_trade_no)
    assert.equal(d3.order_no, d3.orderId)
    assert.equal(1, count(f.pool))
  end)

  it("esim_purchase: success returns the key; an ambiguous failure is settled by asking again", function()
    local f = fake()
    local c = client(f)
    local data = assert(c:esim_purchase{ eSIMGoodsCode = "G" })
    assert.truthy(data.outTradeNo)
    assert.equal("LPA:1$x", data.activationCode)
    -- placed, answer lost: asking again is refused as a duplicate -> "exists"
    f.faults["/api/v3/esim/purchase"] = { kind = "timeout", when = "after" }
    local d2, err = c:esim_purchase{ eSIMGoodsCode = "G", outTradeNo = "e2" }
    assert.is_nil(d2)
    assert.equal("exists", err.outcome)
    assert.equal("e2", err.key)
    assert.is_false(err.retryable)
    assert.equal(2, count(f.esim))
    -- not placed: asking again places it, once
    f.faults["/api/v3/esim/purchase"] = { kind = "reset", when = "before" }
    local d3 = assert(c:esim_purchase{ eSIMGoodsCode = "G", outTradeNo = "e3" })
    assert.is_true(d3._simkit.reconciled)
    assert.equal("e3", d3.outTradeNo)
    assert.equal(3, count(f.esim))
    -- no answer to either: "unknown", never a third send
    f.faults["/api/v3/esim/purchase"] = { kind = "timeout", when = "before", count = 2 }
    local before = f.count("/api/v3/esim/purchase")
    local d4, e4 = c:esim_purchase{ eSIMGoodsCode = "G", outTradeNo = "e4" }
    assert.is_nil(d4)
    assert.equal("unknown", e4.outcome)
    assert.is_false(e4.retryable)
    assert.equal(before + 2, f.count("/api/v3/esim/purchase"))
    -- a retry with the same key is refused as a duplicate, never charged twice
    local d5, e5 = c:esim_purchase{ eSIMGoodsCode = "G", outTradeNo = "e2" }
    assert.is_nil(d5)
    assert.is_true(e5.duplicate)
    assert.equal("exists", e5.outcome)
  end)

  it("refuses an order key with a comma or a space (it could not be looked up)", function()
    local f = fake()
    for _, key in ipairs({ "a,b", " k1", "k 2", "k3\n" }) do
      local d, err = client(f):order_package{ iccid = "8985", packageCode = "P", outTradeNo = key }
      assert.is_nil(d)
      assert.equal("input", err.kind)
      assert.equal("outTradeNo", err.param)
    end
    assert.equal(0, #f.requests)
  end)

  it("refunds are sent exactly once, even on a retryable failure", function()
    local f = fake()
    f.faults["/api/v3/package/refundPackage"] = { kind = "5xx", when = "before" }
    local c = client(f, { retries = 5 })
    local data, err = c:refund_package{ iccid = "8985", orderId = "1", remark = "test" }
    assert.is_nil(data)
    assert.truthy(err)
    assert.equal(1, f.count("/api/v3/package/refundPackage"))
  end)
end)

describe("eiotclub per-card guards", function()
  local now
  local real_now = util.now
  before_each(function()
    now = 1700000000
    util.now = function() return now end
  end)
  after_each(function() util.now = real_now end)

  it("refresh_usage once per card per 5 minutes, without sending the second", function()
    local f = fake()
    local c = client(f)
    assert.truthy(c:refresh_usage{ iccid = "A" })
    now = now + 100
    local data, err = c:refresh_usage{ iccid = "A" }
    assert.is_nil(data)
    assert.equal("rate_limited", err.kind)
    assert.equal(200, err.retry_after)
    assert.equal(1, #f.requests)
    assert.truthy(c:refresh_usage{ iccid = "B" }) -- another card
    assert.truthy(c:cancel_location{ iccid = "A" }) -- another op
    now = now + 200
    assert.truthy(c:refresh_usage{ iccid = "A" })
    assert.equal(4, #f.requests)
  end)

  it("does not guard the Cloud eSIM ops (the document states no limit for them)", function()
    local f = fake()
    local c = client(f)
    assert.truthy(c:cloudesim_refresh_usage{ eid = "E" })
    assert.truthy(c:cloudesim_refresh_usage{ eid = "E" })
    assert.truthy(c:cloudesim_cancel_session{ eid = "E" })
    assert.truthy(c:cloudesim_cancel_session{ eid = "E" })
    assert.equal(4, #f.requests)
    -- the vendor's own 44001 is still rate_limited
    f.faults["/api/v3/cloudesim/refreshUsage"] = { kind = "vendor", code = "44001" }
    local _, err = c:cloudesim_refresh_usage{ eid = "E" }
    assert.equal("rate_limited", err.kind)
    assert.equal(300, err.retry_after)
  end)

  it("get_order_package_details takes at most 50 order numbers and keys together", function()
    local f = fake()
    local a, b = {}, {}
    for i = 1, 30 do a[i] = "N" .. i; b[i] = "K" .. i end
    local d, err = client(f):get_order_package_details{ orderNumberArrStr = a, outTradeNoArrStr = b, state = 1,
      page = 1, pageSize = 10 }
    assert.is_nil(d)
    assert.equal("input", err.kind)
    assert.matches("50", err.message)
    assert.equal(0, #f.requests)
  end)

  it("a connect failure does not use up the slot", function()
    local f = fake()
    f.faults["/api/v3/card/refreshUsage"] = { kind = "connect" }
    local c = client(f)
    assert.is_nil((c:refresh_usage{ iccid = "A" }))
    assert.truthy(c:refresh_usage{ iccid = "A" })
  end)

  it("nor does a 501 the vendor refused unprocessed", function()
    local f = fake()
    f.faults["/api/v3/card/refreshUsage"] = { kind = "vendor", code = "501" }
    local c = client(f, { retries = 0 })
    local _, err = c:refresh_usage{ iccid = "A" }
    assert.equal("501", err.code)
    assert.truthy(c:refresh_usage{ iccid = "A" })
    assert.equal(2, f.count("/api/v3/card/refreshUsage"))
  end)

  it("44001 / 45102 from the vendor are rate_limited with retry_after", function()
    local f = fake()
    f.faults["/api/v3/card/cancelLocation"] = { kind = "vendor", code = "44001" }
    f.faults["/api/v3/card/imeiUnlock"] = { kind = "vendor", code = "45102" }
    local c = client(f)
    local _, err = c:cancel_location{ iccid = "A" }
    assert.equal("rate_limited", err.kind)
    assert.equal(300, err.retry_after)
    _, err = c:imei_unlock{ iccid = "A" }
    assert.equal("rate_limited", err.kind)
    assert.truthy(err.retry_after)
  end)

  it("refresh_card works and warns once through the logger", function()
    local f = fake()
    local warnings = {}
    local c = client(f, { logger = function(level, msg, fields)
      if fields and fields.deprecated then warnings[#warnings + 1] = level .. ": " .. msg end
    end })
    assert.truthy(c:refresh_card{ iccid = "A" })
    assert.truthy(c:refresh_card{ iccid = "B" })
    assert.equal(1, #warnings)
    assert.matches("deprecated", warnings[1])
    assert.matches("refresh_usage", warnings[1])
    assert.equal(2, #f.requests)
  end)
end)
