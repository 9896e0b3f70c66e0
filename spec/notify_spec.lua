-- simkit.notify.eiotclub and simkit.receiver
local simkit = require "simkit"
local notify = require "simkit.notify"
local receiver = require "simkit.receiver"
local json = require "simkit.json"
local sign = require "simkit.sign"
local store = require "simkit.store"
local errors = require "simkit.errors"

local SECRET = "s3cret"

local function body_of(fields, secret)
  return notify.sign_eiotclub(fields, secret or SECRET)
end

local function flow_alert(extra)
  local t = { id = "CNTUlkm0pzRujPBr2tN8NNa7", event = "FlowAlert", timestamp = 1703142059, nonce = 40974,
    iccid = "89852012345678901234", alert_type = 1, alert_value = "100" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

describe("simkit.notify.eiotclub", function()
  it("is simkit.eiotclub.notify, reachable as simkit.notify (documented aliases)", function()
    assert.equal(require "simkit.eiotclub.notify", notify)
    assert.equal(require "simkit.eiotclub.receiver", receiver)
  end)

  it("is reachable as simkit.notify", function()
    assert.equal(notify, simkit.notify)
  end)

  it("verifies a signed notification and returns the event", function()
    local ev, err = notify.eiotclub(body_of(flow_alert()), SECRET)
    assert.is_nil(err)
    assert.equal("FlowAlert", ev.event)
    assert.equal("CNTUlkm0pzRujPBr2tN8NNa7", ev.id)
    assert.equal(1703142059, ev.timestamp)
    assert.equal(40974, ev.nonce)
    assert.equal("89852012345678901234", ev.iccid)
    assert.equal(1, ev.alert_type)
    assert.equal("FlowAlert", ev.raw.event)
    assert.is_true(ev.known)
  end)

  it("computes the signature by hand the documented way (no appkey, data as the string)", function()
    local data = '[{"iccid":"8988308650100524999","productCode":"2ROPDOZLLB20210607140809"}]'
    local s = "data=" .. data .. "&event=SwitchProduct&id=U0u&nonce=76706&timestamp=1710497899&secret=" .. SECRET
    local sha1 = require("spec.support.sha1")
    local expected = sha1.hex(s):upper()
    local raw = { data = data, event = "SwitchProduct", id = "U0u", nonce = 76706, timestamp = 1710497899,
      appkey = "ignored-appkey", sign = expected:lower() }
    local ev, err = notify.eiotclub(json.encode(raw), SECRET)
    assert.is_nil(err)
    assert.equal("2ROPDOZLLB20210607140809", ev.data[1].productCode)
  end)

  it("accepts an already-decoded table", function()
    local t = json.decode(body_of(flow_alert()))
    assert.truthy(notify.eiotclub(t, SECRET))
  end)

  it("accepts lower-case hex signatures", function()
    local t = json.decode(body_of(flow_alert()))
    t.sign = t.sign:lower()
    assert.truthy(notify.eiotclub(t, SECRET))
  end)

  it("refuses a wrong secret, a tampered field, a missing or malformed sign", function()
    local body = body_of(flow_alert())
    local ev, err = notify.eiotclub(body, "other")
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    local t = json.decode(body)
    t.alert_value = "1000"
    ev, err = notify.eiotclub(t, SECRET)
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    t = json.decode(body)
    t.sign = nil
    ev, err = notify.eiotclub(t, SECRET)
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    assert.matches("not signed", err.message)
    t.sign = "xyz"
    ev, err = notify.eiotclub(t, SECRET)
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    t = json.decode(body)
    t.extra = "added"
    assert.is_nil((notify.eiotclub(t, SECRET)))
  end)

  it("an added appkey does not change the signature (it is not signed)", function()
    local t = json.decode(body_of(flow_alert()))
    t.appkey = "whatever"
    assert.truthy(notify.eiotclub(t, SECRET))
  end)

  it("refuses data sent as an object (its signature cannot be reproduced)", function()
    local t = { id = "a1", event = "PkgEffective", timestamp = 1700000000, nonce = 12345,
      data = { iccid = "1" } }
    local p = { id = "a1", event = "PkgEffective", timestamp = 1700000000, nonce = 12345,
      data = '{"iccid":"1"}' }
    t.sign = sign.eiotclub(p, SECRET)
    local ev, err = notify.eiotclub(t, SECRET)
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    assert.matches("JSON string", err.message)
  end)

  it("malformed bodies are decode errors", function()
    for _, b in ipairs({ "", "{", "[1,2]", "null", "<html>" }) do
      local ev, err = notify.eiotclub(b, SECRET)
      assert.is_nil(ev)
      assert.equal("decode", err.kind)
    end
  end)

  it("signed but data not JSON: decode error", function()
    local b = body_of({ id = "x", event = "SubPkgList", timestamp = 1700000000, nonce = 12345, data = "[{" })
    local ev, err = notify.eiotclub(b, SECRET)
    assert.is_nil(ev)
    assert.equal("decode", err.kind)
  end)

  it("missing required fields are input errors", function()
    local t = flow_alert()
    t.iccid = nil
    local ev, err = notify.eiotclub(body_of(t), SECRET)
    assert.is_nil(ev)
    assert.equal("input", err.kind)
    assert.matches("iccid", err.message)
    t = flow_alert()
    t.id = nil
    ev, err = notify.eiotclub(body_of(t), SECRET)
    assert.is_nil(ev)
    assert.equal("input", err.kind)
    ev, err = notify.eiotclub(body_of({ id = "x", event = "SubPkgList", timestamp = 1700000000, nonce = 12345,
      data = { { iccid = "1" } } }), SECRET)
    assert.is_nil(ev)
    assert.equal("input", err.kind)
    assert.matches("data%[1%]%.orderId", err.message)
    ev, err = notify.eiotclub(body_of({ id = "x", event = "PkgEffective", timestamp = 1700000000, nonce = 12345,
      data = { { iccid = "1" } } }), SECRET)
    assert.is_nil(ev)
    assert.equal("input", err.kind)
  end)

  it("decodes data and keeps 64-bit integers exact", function()
    local data = '[{"iccid":"89423053323291099364","orderId":9007199254740993,"packageName":"A",' ..
      '"packageCode":"C","state":0,"gzhPackageName":"","createDate":"2024-05-28 09:34:47","packageType":3,' ..
      '"outTradeNo":"6300001983111426769635"}]'
    local ev, err = notify.eiotclub(body_of({ id = "ue5", event = "SubPkgList", timestamp = 1716860580,
      nonce = 40604, data = data }), SECRET)
    assert.is_nil(err)
    if math.type then
      assert.equal(9007199254740993, ev.data[1].orderId)
    else
      assert.equal("9007199254740993", ev.data[1].orderId)
    end
    assert.same({ "data[1].salesChannel" }, ev.missing)
  end)

  it("quirk 21: Refund without orderAmount/refundAmount is accepted and reported missing", function()
    local ev, err = notify.eiotclub(body_of({ id = "s2V", event = "Refund", timestamp = 1716860580, nonce = 15487,
      iccid = "89423053323291099364", orderId = 10004728, outTradeNo = "6300001983111426769635" }), SECRET)
    assert.is_nil(err)
    assert.same({ "orderAmount", "refundAmount" }, ev.missing)
  end)

  it("quirk 21: CloudESimUnLock is dispatched on its own name; the example's name is CloudESimLocked", function()
    local ev = assert(notify.eiotclub(body_of({ id = "13", event = "CloudESimUnLock", timestamp = 1776133394,
      nonce = 37722, eid = "89044045116727494800000011603725" }), SECRET))
    assert.equal("CloudESimUnLock", ev.event)
  end)

  it("the IMEI-pool events accept a string nonce", function()
    local ev = assert(notify.eiotclub(body_of({ id = "p1", event = "CardMovedInIMEIPool", timestamp = 1776133394,
      nonce = "37722", iccid = "8985", plockGroupId = 7 }), SECRET))
    assert.equal("37722", ev.nonce)
  end)

  it("unknown events are accepted when signed, flagged known=false", function()
    local ev = assert(notify.eiotclub(body_of({ id = "u1", event = "NewThing", timestamp = 1776133394,
      nonce = 37722, data = '{"a":1}' }), SECRET))
    assert.is_false(ev.known)
    assert.equal(1, ev.data.a)
  end)

  it("refuses a signed body re-shaped so that the signed text is unchanged", function()
    local t = flow_alert()
    local good = body_of(t)
    local calls = 0
    local r = notify.receiver { secret = SECRET, handlers = { FlowAlert = function() calls = calls + 1 end } }
    assert.equal(200, select(2, r:handle(good)))
    assert.equal(200, select(2, r:handle(good)))
    assert.equal(1, calls)
    local raw = json.decode(good)
    local reshaped = {
      -- a new id: the nonce moved into it, nonce left empty (skipped by the signer)
      function(x) x.id = x.id .. "&nonce=" .. tostring(x.nonce); x.nonce = "" end,
      -- a field merged into its neighbour
      function(x) x.alert_type = tostring(x.alert_type) .. "&alert_value=" .. x.alert_value; x.alert_value = "" end,
      function(x) x.alert_type = tostring(x.alert_type) .. "&alert_value=" .. x.alert_value; x.alert_value = nil end,
      -- a field moved into a key name
      function(x) x["alert_type=" .. x.alert_type .. "&alert_value"] = x.alert_value; x.alert_type = nil
        x.alert_value = nil end,
    }
    -- an id carrying '&' (vendor ids are 24 letters and digits): {id="A", x="1&id=B"} and {id="A&x=1&id=B"}
    -- sign the same text; the second is refused whatever x is
    local amp = body_of(flow_alert({ id = "A&x=1&id=B" }))
    local _, astatus, aerr = r:handle(amp)
    assert.equal(401, astatus)
    assert.equal("auth", aerr.kind)
    assert.equal("id", aerr.param)
    assert.matches("'id' contains '&'", aerr.message)
    for i, change in ipairs(reshaped) do
      local x = {}
      for k, v in pairs(raw) do x[k] = v end
      change(x)
      local text = json.encode(x)
      assert.equal(raw.sign, json.decode(text).sign)
      local reply, status, err = r:handle(text)
      assert.equal(401, status, "case " .. i .. ": " .. tostring(reply))
      assert.equal("auth", err.kind, "case " .. i)
    end
    assert.equal(1, calls)
    -- a genuine value that merely contains '&x=' (x is no field of the event) is accepted
    local refund = { id = "r1", event = "Refund", timestamp = 1716860580, nonce = 15487, iccid = "8942",
      orderId = 10004728, outTradeNo = "A&x=1", orderAmount = "4.50", refundAmount = "4.50" }
    local rev = assert(notify.eiotclub(body_of(refund), SECRET))
    assert.equal("A&x=1", rev.outTradeNo)
    -- ... but not when x is one of its fields that the body lacks
    refund.outTradeNo, refund.refundAmount = "A&refundAmount=4.50", nil
    local _, rerr = notify.eiotclub(body_of(refund), SECRET)
    assert.equal("auth", rerr.kind)
    -- data with its neighbour in the signed text ("dataz" sorts right after "data=") appended
    local d = { id = "d1", event = "NewThing", timestamp = 1776133394, nonce = 37722, data = '{"a":1}', dataz = "1" }
    local dx = json.decode(body_of(d))
    dx.data, dx.dataz = dx.data .. "&dataz=1", nil
    assert.equal(sign.eiotclub({ id = "d1", event = "NewThing", timestamp = 1776133394, nonce = 37722,
      data = dx.data }, SECRET), dx.sign)
    local ev, err = notify.eiotclub(json.encode(dx), SECRET)
    assert.is_nil(ev)
    assert.equal("decode", err.kind)
  end)

  it("verify_checked (the receiver's path): the same answers, and whether a value carries '&id='", function()
    local b = body_of(flow_alert())
    local ev, err, id_inside = notify.verify_checked(b, SECRET, {})
    assert.is_nil(err)
    assert.same(notify.eiotclub(b, SECRET), ev)
    assert.is_false(id_inside)
    ev, err, id_inside = notify.verify_checked(body_of(flow_alert({ alert_value = "5&id=x" })), SECRET, {})
    assert.equal("5&id=x", ev.alert_value)
    assert.is_nil(err)
    assert.is_true(id_inside)
    -- in data too (signed as its JSON string)
    id_inside = select(3, notify.verify_checked(body_of({ id = "d1", event = "NewThing", timestamp = 1776133394,
      nonce = 37722, data = '{"u":"a&id=b"}' }), SECRET, {}))
    assert.is_true(id_inside)
    -- bad bodies: nil, err (never a raise), no third value
    for _, body in ipairs({ 42, true, "", "{nope", "[]", body_of(flow_alert(), "wrong"),
      body_of(flow_alert({ id = "a&b" })), body_of(flow_alert({ timestamp = 1e300 })) }) do
      local e, verr, third = notify.verify_checked(body, SECRET, {})
      assert.is_nil(e, tostring(body))
      assert.truthy(verr.kind, tostring(body))
      assert.is_nil(third)
    end
    -- its options are the checked ones: max_age applies
    ev, err = notify.verify_checked(b, SECRET, { max_age = 300, now = 1703142059 + 301 })
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
  end)

  it("max_age rejects stale and future timestamps", function()
    local b = body_of(flow_alert())
    assert.truthy(notify.eiotclub(b, SECRET, { max_age = 300, now = 1703142059 + 299 }))
    local ev, err = notify.eiotclub(b, SECRET, { max_age = 300, now = 1703142059 + 301 })
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    ev = notify.eiotclub(b, SECRET, { max_age = 300, now = function() return 1703142059 - 400 end })
    assert.is_nil(ev)
    -- a fractional max_age is fine too (it was a format error on Lua 5.4)
    ev, err = notify.eiotclub(b, SECRET, { max_age = 0.5, now = 1703142059 + 1.25 })
    assert.is_nil(ev)
    assert.equal("auth", err.kind)
    assert.matches("max_age 0.5", err.message)
  end)

  it("bad arguments: a body of any type is nil, err; bad options raise naming the option", function()
    for _, body in ipairs({ 42, true, "", "[]", "[1,2]", "null", "1e999", string.rep("[", 100000) }) do
      local ev, err = notify.eiotclub(body, SECRET)
      assert.is_nil(ev, tostring(body))
      assert.equal("decode", err.kind)
    end
    assert.is_nil(notify.eiotclub(nil, SECRET))
    local b = body_of(flow_alert())
    for _, bad in ipairs({ 0 / 0, math.huge, -1, "300", {} }) do
      local ok, msg = pcall(notify.eiotclub, b, SECRET, { max_age = bad })
      assert.is_false(ok)
      assert.matches("option 'max_age'", msg)
    end
    local ok, msg = pcall(notify.eiotclub, b, SECRET, { max_age = 10, now = function() return 0 / 0 end })
    assert.is_false(ok)
    assert.matches("option 'now' returned", msg)
    assert.has_error(function() notify.eiotclub(b, SECRET, "opts") end)
    assert.has_error(function() notify.eiotclub(b, "") end)
    assert.has_error(function() notify.eiotclub(b, 42) end)
    -- huge values in the body are refused or carried, never a raise
    local ev = notify.eiotclub(body_of(flow_alert({ alert_value = string.rep("9", 100000) })), SECRET)
    assert.equal(100000, #ev.alert_value)
  end)

  it("equal_hex is case-insensitive and length-checked", function()
    assert.is_true(notify.equal_hex("ABCDEF", "abcdef"))
    assert.is_false(notify.equal_hex("ABCDEF", "abcde0"))
    assert.is_false(notify.equal_hex("ABCDEF", "ABCDE"))
    assert.is_false(notify.equal_hex(nil, "A"))
    assert.is_false(notify.equal_hex("A", 10))
    assert.is_true(notify.equal_hex("", ""))
  end)

  it("core.equal_nocase folds ASCII letters only, and sees a difference at any position", function()
    local core = require "simkit.core"
    local sig = "94AFB68E6BA3D6A1B78D4F0E20EF886B9620146E"
    assert.is_true(core.equal_nocase(sig, sig:lower()))
    assert.is_true(core.equal_nocase("azAZ09{}`@[", "AZaz09{}`@["))
    -- one byte changed, at every position, to every other byte: never equal
    -- (unless it is the same letter in the other case)
    for i = 1, #sig do
      for c = 0, 255 do
        local ch = string.char(c)
        local other = sig:sub(1, i - 1) .. ch .. sig:sub(i + 1)
        local same = ch:upper() == sig:sub(i, i)
        assert.equal(same, core.equal_nocase(sig, other), "position " .. i .. " byte " .. c)
      end
    end
    -- the letters' neighbours are not folded onto them: @ [ ` { and bytes >= 0x80
    for _, pair in ipairs({ { "@", "`" }, { "[", "{" }, { "\193", "\225" }, { "Z", "z" }, { "A", "a" } }) do
      local a, b = pair[1], pair[2]
      assert.equal(a:upper() == b:upper(), core.equal_nocase(a, b), a .. " " .. b)
    end
    assert.is_false(core.equal_nocase("abc", "abcd"))
    assert.is_false(core.equal_nocase("a\0b", "a\0c"))
    assert.is_true(core.equal_nocase("a\0b", "A\0B"))
    assert.has_error(function() core.equal_nocase(nil, "a") end)
    assert.has_error(function() core.equal_nocase("a", {}) end)
  end)

  it("core.is_hex: hex digits only, either case, at every position", function()
    local core = require "simkit.core"
    assert.is_true(core.is_hex("0123456789abcdefABCDEF"))
    assert.is_true(core.is_hex(""))
    local sig = "94AFB68E6BA3D6A1B78D4F0E20EF886B9620146E"
    for i = 1, #sig do
      for c = 0, 255 do
        local ch = string.char(c)
        assert.equal(ch:find("^%x$") ~= nil, core.is_hex(sig:sub(1, i - 1) .. ch .. sig:sub(i + 1)),
          "position " .. i .. " byte " .. c)
      end
    end
    assert.is_false(core.is_hex("ab\0cd")) -- an embedded zero is not the end
    assert.is_true(core.is_hex(string.rep("f", 100000)))
    assert.is_true(core.is_hex(12)) -- a number is its text, as in every core string argument
    assert.has_error(function() core.is_hex(nil) end)
    assert.has_error(function() core.is_hex({}) end)
  end)

  it("the event table matches the catalog", function()
    local f = assert(io.open("spec/catalog/eiotclub.json", "rb"))
    local cat = json.decode(f:read("*a"))
    f:close()
    local ENV = { timestamp = true, nonce = true, sign = true, id = true, event = true }
    local seen = 0
    for _, n in ipairs(cat.notifications) do
      seen = seen + 1
      local def = notify.EVENTS[n.event]
      assert.is_table(def, n.event)
      local ex = n.example
      if ex == json.null then ex = nil end
      local exd = ex and type(ex.data) == "string" and json.decode(ex.data) or nil
      if type(exd) == "table" and exd[1] then exd = exd[1] end
      local want = { fields = {}, soft = {}, data_fields = {}, data_soft = {} }
      local data_kind
      for _, fld in ipairs(n.fields) do
        if fld.required and not ENV[fld.name] then
          if fld.name == "data" then
            data_kind = fld.type
            for _, g in ipairs(fld.fields or {}) do
              if g.required then
                local nm = g.path:match("([^%.%]]+)$")
                local list = (exd and exd[nm] == nil) and want.data_soft or want.data_fields
                list[#list + 1] = nm
              end
            end
          else
            local list = (ex and ex[fld.name] == nil) and want.soft or want.fields
            list[#list + 1] = fld.name
          end
        end
      end
      assert.equal(data_kind, def.data, n.event)
      for _, k in ipairs({ "fields", "soft", "data_fields", "data_soft" }) do
        local a, b = {}, {}
        for _, v in ipairs(def[k] or {}) do a[#a + 1] = v end
        for _, v in ipairs(want[k]) do b[#b + 1] = v end
        table.sort(a)
        table.sort(b)
        assert.same(b, a, n.event .. " " .. k)
      end
    end
    local count = 0
    for _ in pairs(notify.EVENTS) do count = count + 1 end
    assert.equal(seen, count)
  end)
end)

describe("simkit.receiver", function()
  local function new(handlers, extra)
    local o = { secret = SECRET, handlers = handlers }
    for k, v in pairs(extra or {}) do o[k] = v end
    return simkit.notify.receiver(o)
  end

  it("replies SUCCESS and calls the handler once per id", function()
    local calls = 0
    local r = new({ FlowAlert = function(ev)
      calls = calls + 1
      assert.equal("89852012345678901234", ev.iccid)
    end })
    local b = body_of(flow_alert())
    local reply, status, ev = r:handle(b)
    assert.equal(200, status)
    assert.same({ status = "SUCCESS" }, json.decode(reply))
    assert.equal("FlowAlert", ev.event)
    reply, status, ev = r:handle(b)
    assert.equal(200, status)
    assert.same({ status = "SUCCESS" }, json.decode(reply))
    assert.is_true(ev.duplicate)
    assert.equal(1, calls)
  end)

  it("401 for a bad signature, 400 for a malformed body; handler not called", function()
    local called = false
    local r = new({ FlowAlert = function() called = true end })
    local reply, status, err = r:handle(body_of(flow_alert(), "wrong"))
    assert.equal(401, status)
    assert.equal("FAIL", json.decode(reply).status)
    assert.equal("auth", err.kind)
    reply, status = r:handle("{nope")
    assert.equal(400, status)
    assert.equal("FAIL", json.decode(reply).status)
    assert.is_false(called)
  end)

  it("events without a handler: default handler, else SUCCESS flagged unhandled", function()
    local r = new({})
    local _, status, ev = r:handle(body_of({ id = "c1", event = "CardStopped", timestamp = 1, nonce = 11111,
      iccid = "1" }))
    assert.equal(200, status)
    assert.is_true(ev.unhandled)
    local got
    r = new({}, { default = function(e) got = e.event end })
    r:handle(body_of({ id = "c2", event = "SomethingNew", timestamp = 1, nonce = 11111 }))
    assert.equal("SomethingNew", got)
  end)

  it("a failing handler gives 500 and the id is not recorded (the re-delivery runs again)", function()
    local n = 0
    local r = new({ FlowAlert = function()
      n = n + 1
      if n == 1 then error("db down") end
    end })
    local b = body_of(flow_alert())
    local _, status = r:handle(b)
    assert.equal(500, status)
    _, status = r:handle(b)
    assert.equal(200, status)
    _, status = r:handle(b)
    assert.equal(200, status)
    assert.equal(2, n)
    r = new({ FlowAlert = function() return false end })
    _, status = r:handle(b)
    assert.equal(500, status)
  end)

  it("the default remembers the last 10,000 events, counted in events (it forgot after 5,000)", function()
    local calls = 0
    local r = new({ FlowAlert = function() calls = calls + 1 end })
    local bodies = {}
    for i = 1, 10000 do bodies[i] = body_of(flow_alert({ id = "ev" .. i })) end
    for i = 1, 10000 do assert(r:handle(bodies[i])) end
    assert.equal(10000, calls)
    for i = 10000, 1, -1 do -- every one of them replayed, newest first
      local _, status, ev = r:handle(bodies[i])
      assert(status == 200 and ev.duplicate, "event " .. i .. " ran again")
    end
    assert.equal(10000, calls)
  end)

  it("beyond the bound the oldest generation is forgotten (capacity events kept, at most twice that)", function()
    local calls = {}
    local r = new({ FlowAlert = function(ev) calls[ev.id] = (calls[ev.id] or 0) + 1 end }, { capacity = 3 })
    local function deliver(i) return select(3, r:handle(body_of(flow_alert({ id = "e" .. i })))) end
    for i = 1, 7 do deliver(i) end  -- 1-3 and 4-6 fill two generations; 7 drops 1-3
    assert.is_nil(deliver(1).duplicate) -- forgotten: runs again
    assert.equal(2, calls.e1)
    for i = 4, 7 do assert.is_true(deliver(i).duplicate, "e" .. i) end
    for i = 4, 7 do assert.equal(1, calls["e" .. i]) end
  end)

  it("without a store, a copy arriving while the first is handled (a yielding handler) gets 503", function()
    local b = body_of(flow_alert())
    local r, inner
    local calls = 0
    r = new({ FlowAlert = function()
      calls = calls + 1
      if calls == 1 then inner = select(2, r:handle(b)) end
    end })
    assert.equal(200, select(2, r:handle(b)))
    assert.equal(503, inner)
    assert.equal(1, calls)
    assert.is_true(select(3, r:handle(b)).duplicate)
  end)

  it("with store =, de-duplicates across receivers sharing it, for ttl seconds", function()
    local t = 1000
    local st = store.memory { clock = function() return t end }
    local calls = 0
    local handlers = { FlowAlert = function() calls = calls + 1 end }
    local node1 = new(handlers, { store = st, ttl = 3600 })
    local node2 = new(handlers, { store = st, ttl = 3600 })
    local b = body_of(flow_alert())
    assert.equal(200, select(2, node1:handle(b)))
    local _, status, ev = node2:handle(b)
    assert.equal(200, status)
    assert.is_true(ev.duplicate)
    assert.equal(1, calls)
    assert.equal(1, st:get(receiver.PREFIX .. "id:CNTUlkm0pzRujPBr2tN8NNa7"))
    t = t + 3599
    assert.is_true(select(3, node2:handle(b)).duplicate)
    t = t + 2 -- the window is over: a late copy runs again
    assert.is_nil(select(3, node2:handle(b)).duplicate)
    assert.equal(2, calls)
    -- another prefix is another namespace
    local other = new(handlers, { store = st, prefix = "tenant2:" })
    other:handle(b)
    assert.equal(3, calls)
  end)

  it("with store =, a copy arriving while the first is being handled gets 503; a failure releases the claim", function()
    local st = store.memory()
    local b = body_of(flow_alert())
    local inner_status, node2
    local calls = 0
    local node1 = new({ FlowAlert = function()
      calls = calls + 1
      if calls == 1 then
        inner_status = select(2, node2:handle(b)) -- the vendor's copy reaches node 2 meanwhile
        error("db down")
      end
    end }, { store = st })
    node2 = new({ FlowAlert = function() calls = calls + 100 end }, { store = st })
    assert.equal(500, select(2, node1:handle(b)))
    assert.equal(503, inner_status)
    assert.equal(1, calls)
    assert.is_nil(st:get(receiver.PREFIX .. "id:CNTUlkm0pzRujPBr2tN8NNa7")) -- released
    assert.equal(200, select(2, node1:handle(b))) -- the re-delivery runs it
    assert.equal(2, calls)
    assert.is_true(select(3, node2:handle(b)).duplicate)
  end)

  it("with store =, a claim left by a process that died expires after lease seconds", function()
    local t = 0
    local st = store.memory { clock = function() return t end }
    assert.is_true(st:add(receiver.PREFIX .. "id:CNTUlkm0pzRujPBr2tN8NNa7", 0, 30)) -- what a dead node left
    local calls = 0
    local r = new({ FlowAlert = function() calls = calls + 1 end }, { store = st })
    local _, status, ev = r:handle(body_of(flow_alert()))
    assert.same({ 503, true, 0 }, { status, ev.busy, calls })
    t = 31
    assert.equal(200, select(2, r:handle(body_of(flow_alert()))))
    assert.equal(1, calls)
  end)

  -- a store whose methods fail as a store that is down does
  local function failing(which)
    local inner = store.memory()
    local s = {}
    for _, m in ipairs({ "get", "set", "add", "incr", "delete" }) do
      s[m] = function(_, ...)
        if which[m] then
          which[m] = which[m] - 1
          if which[m] < 0 then
            return nil, errors.new { kind = "store", backend = "test", message = "connection refused", retryable = true }
          end
        end
        return inner[m](inner, ...)
      end
    end
    return s, inner
  end

  it("with store =, one key per event; a body whose values carry '&id=' is claimed on its signature too", function()
    local st = store.memory()
    local calls = 0
    local r = new({ FlowAlert = function() calls = calls + 1 end }, { store = st })
    local t = flow_alert()
    local b = body_of(t)
    assert.equal(200, select(2, r:handle(b)))
    local sig = json.decode(b).sign
    assert.equal(1, st:get(receiver.PREFIX .. "id:" .. t.id))
    assert.is_nil(st:get(receiver.PREFIX .. "sig:" .. sig)) -- the id alone: its signed text fixes it
    -- "&id=" in a value: the signed text "id=A&x=1&id=B&" is also {id="A&x=1&id=B"} (refused: '&' in an id)
    -- or another shape with another id; the signature's key guards them
    local t2 = flow_alert({ id = "A", alert_value = "1&id=B" })
    local b2 = body_of(t2)
    local sig2 = json.decode(b2).sign
    local _, status, ev = r:handle(b2)
    assert.equal(200, status)
    assert.equal("1&id=B", ev.alert_value)
    assert.equal(1, st:get(receiver.PREFIX .. "id:A"))
    assert.equal(1, st:get(receiver.PREFIX .. "sig:" .. sig2))
    assert.equal(2, calls)
    -- once its id's key is gone (expired, say), a copy is still found by its signature's key, in any case
    assert(st:delete(receiver.PREFIX .. "id:A"))
    assert.is_true(select(3, r:handle(b2:gsub(sig2, sig2:lower()))).duplicate)
    assert.equal(2, calls)
    -- the same with a handler that fails: both keys released
    local r3 = new({ FlowAlert = function() return false end }, { store = st })
    local b3 = body_of(flow_alert({ id = "C", alert_value = "1&id=D" }))
    assert.equal(500, select(2, r3:handle(b3)))
    assert.is_nil(st:get(receiver.PREFIX .. "id:C"))
    assert.is_nil(st:get(receiver.PREFIX .. "sig:" .. json.decode(b3).sign))
    -- without a store: the same rule, in this process
    local mem_calls = 0
    local rm = new({ FlowAlert = function() mem_calls = mem_calls + 1 end })
    assert.equal(200, select(2, rm:handle(b2)))
    local x = json.decode(b2)
    x.id = "A2" -- another id but the old signature: refused as forged, never run
    assert.equal(401, select(2, rm:handle(json.encode(x))))
    assert.is_true(select(3, rm:handle(b2)).duplicate)
    assert.equal(1, mem_calls)
  end)

  it("a store that fails: 503 so the vendor re-delivers, the handler never runs without a record", function()
    local calls = 0
    local handlers = { FlowAlert = function() calls = calls + 1 end }
    local b = body_of(flow_alert())
    -- a body with "&id=" in a value claims its signature's key too: the second add can fail
    local b2 = body_of(flow_alert({ alert_value = "100&id=1" }))
    for _, case in ipairs({ { b, { add = 0 } }, { b2, { add = 0 } }, { b2, { add = 1 } }, { b2, { add = 1, delete = 0 } },
      { b, { add = 0, get = 0 } } }) do
      local st = failing(case[2])
      local reply, status, err = new(handlers, { store = st }):handle(case[1])
      assert.equal(503, status)
      assert.equal("FAIL", json.decode(reply).status)
      assert.equal("store", err.kind)
      assert.is_true(err.retryable)
    end
    assert.equal(0, calls)
    -- a duplicate whose state cannot be read: 503 too, not a pass
    local st, inner = failing({ get = 0 })
    assert(inner:add(receiver.PREFIX .. "id:CNTUlkm0pzRujPBr2tN8NNa7", 1))
    assert.equal(503, select(2, new(handlers, { store = st }):handle(b)))
    assert.equal(0, calls)
    -- recording "done" fails after the handler ran: acknowledged (a 5xx would
    -- run it twice), the error kept on the event and logged
    local logged = {}
    st = failing({ set = 0 })
    local _, status, ev = new(handlers, { store = st, logger = function(l, m) logged[#logged + 1] = l .. " " .. m end })
      :handle(b)
    assert.equal(200, status)
    assert.equal(1, calls)
    assert.equal("store", ev.store_error.kind)
    assert.matches("not recorded as done", logged[1])
  end)

  it("refuses bad options with a message saying what to do", function()
    local function raises(o, pattern)
      local ok, msg = pcall(new, {}, o)
      assert.is_false(ok)
      assert.matches(pattern, msg)
    end
    raises({ seen = {} }, "option 'seen' is gone")
    raises({ store = {} }, "must be a simkit.store")
    raises({ store = "redis" }, "must be a simkit.store")
    for _, bad in ipairs({ 0 / 0, math.huge, -math.huge, 0, -1, 1e300, "60", true }) do
      raises({ ttl = bad }, "option 'ttl'")
      raises({ lease = bad }, "option 'lease'")
      raises({ capacity = bad }, "option 'capacity'")
    end
    raises({ capacity = 2.5 }, "option 'capacity' must be an integer")
    for _, bad in ipairs({ 0 / 0, math.huge, -1, "60", {} }) do raises({ max_age = bad }, "option 'max_age'") end
    for _, bad in ipairs({ 0 / 0, math.huge, "now", {} }) do raises({ now = bad }, "option 'now'") end
    raises({ prefix = 5 }, "option 'prefix'")
    raises({ prefix = string.rep("p", 129) }, "option 'prefix'")
    raises({ default = "f" }, "option 'default'")
    raises({ logger = 1 }, "option 'logger'")
    assert.has_error(function() receiver.new("secret") end)
    assert.has_error(function() receiver.new({ secret = "" }) end)
  end)

  it("#10.10: a timestamp beyond +-2^53 (or not an integer) with max_age set is a 400, never a raise", function()
    local r = new({ FlowAlert = function() error("must not run") end }, { max_age = 300, now = 1703142059 })
    for _, ts in ipairs({ "99999999999999999999999", "-99999999999999999999999", "9223372036854775808",
      "9007199254740993", 1e300, -1e300, 2 ^ 63, "1e30", "NaN", "0x10", 1.5 }) do
      local reply, status, err = r:handle(body_of(flow_alert({ timestamp = ts })))
      assert.equal(400, status, tostring(ts))
      assert.equal("input", err.kind)
      assert.equal("timestamp", err.param)
      assert.equal("FAIL", json.decode(reply).status)
    end
    -- decoded tables with NaN / inf: refused, no raise (signature or timestamp)
    for _, ts in ipairs({ 0 / 0, math.huge, -math.huge }) do
      local t = flow_alert({ timestamp = ts })
      t.sign = string.rep("A", 40)
      local ok, _, status = pcall(r.handle, r, t)
      assert.is_true(ok)
      assert.is_true(status == 400 or status == 401)
    end
    -- a far but representable one: refused as stale, with its value in the message
    local _, status, err = r:handle(body_of(flow_alert({ timestamp = "9007199254740992" })))
    assert.equal(401, status)
    assert.matches("9007199254740992", err.message)
    -- an id too long to be a key
    _, status, err = r:handle(body_of(flow_alert({ id = string.rep("x", 300) })))
    assert.same({ 400, "id" }, { status, err.param })
  end)

  it("handle() answers 400 to a body of any type, never raises", function()
    local r = new({ FlowAlert = function() error("must not run") end })
    for _, body in ipairs({ 42, true, "", "[]", "null", "{", 0 / 0 }) do
      local reply, status, err = r:handle(body)
      assert.equal(400, status, tostring(body))
      assert.equal("FAIL", json.decode(reply).status)
      assert.equal("decode", err.kind)
    end
    local _, status = r:handle(nil)
    assert.equal(400, status)
    _, status = r:handle("{}") -- an object without a signature
    assert.equal(401, status)
  end)

  it("does not keep the secret in a field", function()
    local r = new({})
    for _, v in pairs(r) do assert.not_equal(SECRET, v) end
  end)

  it("requires a secret", function()
    assert.has_error(function() receiver.new({}) end)
  end)
end)
