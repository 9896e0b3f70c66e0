-- simkit's EIOTCLUB client against the sandbox (whose signer, envelopes and
-- state are independent of src/ and lua/): every one of the 58 endpoints
-- through the client, paging, the per-card guards, and the money-safe
-- orders under every fault the sandbox injects (no duplicate; the outcome
-- reported is what the sandbox's state shows).
local simkit = require "simkit"
local sandbox = require "spec.support.sandbox"
local eiotclub_calls = require "spec.support.eiotclub_calls"
local socket = require "socket"

local APPKEY, SECRET = "sandbox-appkey", "sandbox-secret"
local function ICCID(n) return string.format("8985201234567890%04d", n) end
local function EID(n) return string.format("890440451167274948000000116037%02d", n) end
local array_mt = getmetatable(simkit.json.array())
local function is_array(t) return type(t) == "table" and getmetatable(t) == array_mt end
local function is_object(t) return type(t) == "table" and getmetatable(t) ~= array_mt end

local sb

local function client(extra)
  -- a store of its own: a fresh client is another process that shares nothing
  local o = { appkey = APPKEY, secret = SECRET, base_url = sb.url, timeout = 5, store = require("simkit.store").memory() }
  for k, v in pairs(extra or {}) do o[k] = v end
  return simkit.client("eiotclub", o)
end

local function state() return sb:state("eiotclub") end

describe("eiotclub client against the sandbox", function()
  setup(function()
    sb = sandbox.start()
  end)
  teardown(function()
    if sb then sb:stop() end
  end)

  describe("every endpoint", function()
    local c, ctx
    setup(function()
      sb:reset()
      c = client()
      ctx = {
        order_number = function(otn, st)
          local d = assert(c:get_order_package_details { outTradeNoArrStr = otn, state = st, page = 1, pageSize = 1 })
          return d[1].orderNumber
        end,
      }
    end)

    local E = eiotclub_calls { ICCID = ICCID, EID = EID, is_array = is_array, is_object = is_object }

    it("offers the 58 endpoints as methods", function()
      local mine = {}
      for _, e in ipairs(E) do mine[e[1]] = true end
      local ops = client():operations()
      assert.are.equal(58, #ops)
      for _, op in ipairs(ops) do assert.is_true(mine[op], op) end
    end)

    for _, e in ipairs(E) do
      it(e[1], function()
        local params = e[3]
        if type(params) == "function" then params = params(ctx) end
        local data, err = c[e[1]](c, params)
        assert.is_not_nil(data, e[1] .. ": " .. tostring(err))
        if e.no_data then
          assert.is_true(data)
        elseif e.check and not e.root_total then
          e.check({ data = data }, ctx)
        end
      end)
    end
  end)

  describe("pages", function()
    before_each(function() sb:reset() end)

    it("walks get_all_card_info page by page (1-based, totalPage)", function()
      local c = client()
      local seen, n = {}, 0
      for card, page in c:pages("get_all_card_info", { pageSize = 5 }) do
        assert.is_truthy(card, tostring(page))
        assert.is_nil(seen[card.iccid], "card listed twice")
        seen[card.iccid] = true
        n = n + 1
      end
      assert.are.equal(12, n)
      local pages = sb:requests({ path = "/api/v3/card/getAllCardInfo" })
      assert.are.equal(3, #pages)
    end)

    it("walks package_order_record with the root total", function()
      local n = 0
      for rec, page in client():pages("package_order_record", { iccid = ICCID(2), pageSize = 2 }) do
        assert.is_truthy(rec, tostring(page))
        assert.truthy(rec.outTradeNo)
        n = n + 1
      end
      assert.are.equal(3, n)
    end)
  end)

  describe("guards and limits", function()
    before_each(function() sb:reset() end)

    it("sends refresh_usage once per card per 5 minutes; the second call never leaves", function()
      local c = client()
      assert.is_true(c:refresh_usage { iccid = ICCID(1) })
      local d, err = c:refresh_usage { iccid = ICCID(1) }
      assert.is_nil(d)
      assert.are.equal("rate_limited", err.kind)
      assert.is_true(err.retry_after > 290)
      assert.are.equal(1, #sb:requests({ path = "/api/v3/card/refreshUsage" }))
    end)

    it("reports the vendor's 44001 from another process as rate_limited with the wait", function()
      assert.is_true(client():cancel_location { iccid = ICCID(3) })
      local d, err = client():cancel_location { iccid = ICCID(3) } -- a fresh client: no local guard
      assert.is_nil(d)
      assert.are.equal("rate_limited", err.kind)
      assert.are.equal("44001", tostring(err.code))
      assert.is_truthy(err.retry_after)
    end)

    it("shares the per-card guard through the store: another client on it never sends the second", function()
      local store = require("simkit.store").memory()
      assert.is_true(client({ store = store }):cancel_location { iccid = ICCID(4) })
      local d, err = client({ store = store }):cancel_location { iccid = ICCID(4) }
      assert.is_nil(d)
      assert.are.equal("rate_limited", err.kind)
      assert.is_true(err.client_side)
      assert.are.equal(1, #sb:requests({ path = "/api/v3/card/cancelLocation" }))
    end)

    it("paces calls client-side (rate_limit calls/s per appkey, through the store): 0 x 501", function()
      sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = 5 } })
      local c = client { rate_limit = 4, retries = 0 }
      for i = 1, 12 do
        local d, err = c:get_cards_info { iccid = ICCID(1) }
        assert.is_truthy(d, "call " .. i .. ": " .. tostring(err))
      end
      -- the off switch: the vendor's own limit answers 501 (rate_limited)
      local seen
      local free = client { rate_limit = false, retries = 0 }
      for _ = 1, 30 do
        local d, err = free:get_cards_info { iccid = ICCID(1) }
        if not d then seen = err; break end
      end
      assert.is_truthy(seen)
      assert.are.equal("rate_limited", seen.kind)
      assert.are.equal("501", tostring(seen.code))
      sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = 20 } })
    end)

    it("refuses bad input before sending anything", function()
      local c = client()
      local cases = {
        { "get_cards_info", {} },
        { "sms_send_sms", { iccid = ICCID(1), message = string.rep("x", 301) } },
        { "order_package", { iccid = ICCID(1), packageCode = "P", outTradeNo = string.rep("k", 33) } },
        { "reset", { iccids = {} } },
        { "switch_operator", { network = "ATT" } },
        { "get_all_card_info", { pageNum = 1, bogus = true } },
      }
      for _, case in ipairs(cases) do
        local d, err = c[case[1]](c, case[2])
        assert.is_nil(d, case[1])
        assert.are.equal("input", err.kind, case[1])
      end
      assert.are.same({}, sb:requests({ vendor = "eiotclub" }))
    end)
  end)

  describe("orders under every fault the sandbox injects", function()
    -- op -> path, arguments, and where its orders are in the sandbox state
    local function counter(list, field)
      return function(s, k)
        local n = 0
        for _, o in ipairs(s[list]) do if o[field] == k then n = n + 1 end end
        return n
      end
    end
    local ORDERS = {
      order_package = { path = "/api/v3/package/orderPackage", key = "outTradeNo",
        args = { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120" }, count = counter("orders", "outTradeNo") },
      esim_purchase = { path = "/api/v3/esim/purchase", key = "outTradeNo",
        args = { eSIMGoodsCode = "ESIM-NA-3G-30D" }, count = counter("esim_orders", "outTradeNo") },
      cloudesim_purchase = { path = "/api/v3/cloudesim/purchase", key = "outTradeNo",
        args = { eid = EID(2), packageCode = "CE-GLB-1G-7D" }, count = counter("cloud_orders", "outTradeNo") },
      pool_sub = { path = "/api/v3/pool/sub", key = "out_trade_no",
        args = { pool_object_id = 380, pool_type_code = "POOL-10L-10G-30D" },
        count = counter("pool_records", "out_trade_no") },
    }
    local FAULTS = {
      { kind = "5xx" }, { kind = "html" }, { kind = "truncate" }, { kind = "truncate", length = "full" },
      { kind = "reset" }, { kind = "delay", delay = 0.5 }, { kind = "vendor", vendor_code = "43331" },
    }
    local seq = 0

    before_each(function() sb:reset() end)

    it("an order the vendor processes after the lookups gave up is 'unknown', never 'not_placed'", function()
      -- the vendor takes 1.5 s; the client's timeout is 0.3 s and its order
      -- call is bounded by order_timeout = 0.9 s (send + lookups)
      local key = "late-" .. tostring(os.time())
      sb:fault { path = ORDERS.order_package.path, kind = "delay", delay = 1.5, when = "before", count = 1 }
      local args = { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120", outTradeNo = key }
      local c = client { timeout = 0.3, order_timeout = 0.9, rate_limit = false }
      local data, err = c:order_package(args)
      assert.is_nil(data)
      assert.are.equal(0, ORDERS.order_package.count(state(), key)) -- not there yet...
      assert.are.equal("unknown", err.outcome)
      assert.is_false(err.retryable)
      assert.is_true(err.reuse_key)
      assert.are.equal(key, err.key)
      assert.matches("SAME outTradeNo '" .. key .. "'", err.message, 1, true)
      socket.sleep(1.6)
      assert.are.equal(1, ORDERS.order_package.count(state(), key)) -- ...but it was placed
      -- the caller re-uses the key as told: the same order, one shape, with its orderId
      local again, aerr = client():order_package(args)
      assert.is_truthy(again, tostring(aerr))
      assert.is_true(again._simkit.duplicate)
      assert.are.equal(key, again.outTradeNo)
      assert.is_truthy(again.orderId)
      assert.are.equal(1, ORDERS.order_package.count(state(), key))
      -- a new order has the same shape: orderId, the key, _simkit
      local fresh = assert(client():order_package { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120" })
      assert.is_truthy(fresh.orderId)
      assert.is_truthy(fresh.outTradeNo)
      assert.is_false(fresh._simkit.duplicate)
      for k in pairs(again) do
        if k == "orderId" or k == "outTradeNo" or k == "_simkit" then assert.is_not_nil(fresh[k], k) end
      end
    end)

    for _, op in ipairs({ "order_package", "esim_purchase", "cloudesim_purchase", "pool_sub" }) do
      local o = ORDERS[op]
      for _, f in ipairs(FAULTS) do
        for _, when in ipairs({ "before", "after" }) do
          local name = op .. ": " .. f.kind .. (f.length and "/full" or "") .. " " .. when
          it(name, function()
            seq = seq + 1
            local key = "F" .. seq .. "-" .. op:gsub("_", "")
            local fault = { path = o.path, kind = f.kind, when = when, count = 1 }
            fault.delay, fault.length, fault.vendor_code = f.delay, f.length, f.vendor_code
            sb:fault(fault)
            -- a short timeout for the delay fault; sleeps shortened except
            -- where the vendor may still be processing (timeouts)
            local c = client { timeout = 0.2, retries = 2, rate_limit = false,
              sleep = function(s) socket.sleep(f.kind == "delay" and s or s / 20) end }
            local args = { [o.key] = key }
            for k, v in pairs(o.args) do args[k] = v end
            local data, err = c[op](c, args)
            if f.kind == "delay" then socket.sleep(0.4) end -- let a delayed request land
            local placed = o.count(state(), key)
            assert.is_true(placed <= 1, name .. ": " .. placed .. " orders with one key")
            if data then
              assert.are.equal(1, placed, name .. ": reported placed, the sandbox has none")
              assert.are.equal(key, data._simkit.key)
              assert.are.equal(key, data[o.key])
            else
              assert.are.equal(key, err.key, name)
              if err.outcome == "unknown" then
                -- may have been placed: honest either way, the caller re-uses the key
                assert.is_true(err.reuse_key, name)
                assert.is_false(err.retryable, name)
                assert.is_true(when == "before", name .. ": " .. tostring(err))
              elseif err.outcome == "not_placed" then
                assert.are.equal(0, placed, name .. ": reported not placed, the sandbox has it")
                assert.is_true(err.retryable)
              else
                assert.are.equal("exists", err.outcome, name .. ": " .. tostring(err))
                assert.are.equal(1, placed, name)
              end
            end
            if when == "after" or f.kind == "delay" then
              -- the vendor did it: simkit must say so
              assert.are.equal(1, placed, name)
              assert.is_true(data ~= nil or err.outcome == "exists" or (when == "before" and err.outcome == "unknown"),
                name .. ": " .. tostring(err))
            end
            -- the same call again with the same key never buys twice: it places
            -- the order if it was not, else returns it flagged duplicate (or, for
            -- the purchases that cannot be looked up, says it exists)
            local was_placed = placed == 1
            local again, aerr = client():call(op, args)
            assert.are.equal(1, o.count(state(), key), name .. ": second call")
            if not was_placed then
              assert.is_truthy(again, name .. ": " .. tostring(aerr))
              assert.is_false(again._simkit.duplicate)
            elseif again then
              assert.is_true(again._simkit.duplicate, name)
            else
              assert.are.equal("exists", aerr.outcome, name .. ": " .. tostring(aerr))
              assert.is_true(op == "esim_purchase" or op == "cloudesim_purchase", name)
            end
            if data and when == "after" and op ~= "esim_purchase" and op ~= "cloudesim_purchase" then
              assert.is_true(data._simkit.reconciled, name)
            end
          end)
        end
      end
    end
  end)
end)
