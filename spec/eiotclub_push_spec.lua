-- End to end: the sandbox's own notification signer (sim/, independent of
-- src/ and lua/) pushes each of the 20 EIOTCLUB events to a loopback sink,
-- and simkit's receiver (simkit.notify.receiver) verifies, dedupes and
-- dispatches what arrives, answering the sandbox with its reply body.
local simkit = require "simkit"
local events = require "simkit.vendor.eiotclub_events"
local sandbox = require "spec.support.sandbox"
local pushsink = require "spec.support.pushsink"
local socket = require "socket"

local SECRET = "sandbox-secret"
local function ICCID(n) return string.format("8985201234567890%04d", n) end

-- per-event arguments for the sandbox (defaults: its first card / Cloud eSIM)
local ARGS = {
  Refund = { iccid = ICCID(2), orderId = 10004703 },
}

local sb, srv, url

local function control(method, path, body)
  local st, res = sb:control(method, path, body)
  return st, res
end

local function trigger(event, extra)
  local args = { event = event }
  for k, v in pairs(ARGS[event] or {}) do args[k] = v end
  for k, v in pairs(extra or {}) do args[k] = v end
  local st, res = control("POST", "/_sim/eiotclub/notify", args)
  assert.are.equal(200, st, event .. ": " .. tostring(type(res) == "table" and res.error or res))
  return res.notification
end

-- deliver pushes into `rcv`, answering the sandbox with what the receiver says
local function deliver(rcv, want, seconds, override)
  local results = {}
  pushsink.collect(srv, want, seconds or 5, function(entry, i)
    local reply, status, ev = rcv:handle(entry.body)
    results[i] = { reply = reply, status = status, ev = ev, body = entry.body }
    if override then return override(i, reply, status) end
    return reply, status
  end)
  return results
end

-- the sandbox's record of notification `id`, once its delivery settled
local function record(id, attempts)
  local rec
  for _ = 1, 40 do
    local st, res = control("GET", "/_sim/eiotclub/notifications")
    assert.are.equal(200, st)
    for _, n in ipairs(res.notifications) do if n.id == id then rec = n end end
    if rec and rec.status ~= "pending" and (not attempts or #rec.attempts >= attempts) then break end
    socket.sleep(0.05)
  end
  return rec
end

describe("EIOTCLUB notifications pushed by the sandbox into simkit's receiver", function()
  setup(function()
    sb = sandbox.start()
  end)
  teardown(function()
    if srv then srv:close() end
    if sb then sb:stop() end
  end)
  before_each(function()
    sb:reset()
    if srv then srv:close() end
    srv, url = pushsink.listen()
    assert.are.equal(200, (control("POST", "/_sim/config", { eiotclub = { notify_url = url,
      notify_retry_delay = 0.2, notify_timeout = 3 } })))
  end)

  it("verifies and dispatches each of the 20 events", function()
    local names = {}
    for name in pairs(events) do names[#names + 1] = name end
    table.sort(names)
    assert.are.equal(20, #names)
    for _, name in ipairs(names) do
      local handled = {}
      local rcv = simkit.notify.receiver { secret = SECRET,
        handlers = { [name] = function(ev) handled[#handled + 1] = ev end } }
      local sent = trigger(name)
      local res = deliver(rcv, 1)
      assert.are.equal(1, #res, name .. ": nothing pushed")
      local r = res[1]
      assert.are.equal(200, r.status, name .. ": " .. tostring(r.reply) .. " for " .. r.body)
      assert.are.equal('{"status":"SUCCESS"}', r.reply)
      assert.are.equal(1, #handled, name)
      local ev = handled[1]
      assert.are.equal(name, ev.event)
      assert.are.equal(sent.id, ev.id)
      if events[name].data then
        assert.are.equal("table", type(ev.data), name .. ": data not decoded")
        local item = events[name].data == "array" and ev.data[1] or ev.data
        for _, f in ipairs(events[name].data_fields) do
          assert.is_not_nil(item[f], name .. ": data." .. f)
        end
      end
      for _, f in ipairs(events[name].fields or {}) do
        assert.is_not_nil(ev[f] ~= nil and ev[f] or ev.raw[f], name .. ": " .. f)
      end
      local rec = record(sent.id)
      assert.are.equal("delivered", rec.status, name)
    end
  end)

  it("follows the sandbox's state: an order pushes SubPkgList then PkgEffective with its outTradeNo", function()
    local seen = {}
    local rcv = simkit.notify.receiver { secret = SECRET, default = function(ev) seen[ev.event] = ev end }
    local client = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = SECRET, base_url = sb.url })
    local order, err = client:order_package { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120",
      outTradeNo = "PUSH-1" }
    assert.is_truthy(order, err and tostring(err))
    local res = deliver(rcv, 2)
    assert.are.equal(2, #res)
    assert.are.equal("PUSH-1", seen.SubPkgList.data[1].outTradeNo)
    assert.are.equal(ICCID(11), seen.PkgEffective.data.iccid)
  end)

  it("dedupes a redelivery: the handler runs once, both deliveries are answered SUCCESS", function()
    local calls = 0
    local rcv = simkit.notify.receiver { secret = SECRET,
      handlers = { FlowAlert = function() calls = calls + 1 end } }
    local sent = trigger("FlowAlert", { iccid = ICCID(7), alert_type = 2 })
    -- the first reply is lost on the way back (the sandbox sees a 500) so it sends again
    local res = deliver(rcv, 2, 5, function(i, reply, status)
      if i == 1 then return '{"status":"FAIL"}', 500 end
      return reply, status
    end)
    assert.are.equal(2, #res)
    assert.are.equal(1, calls)
    assert.is_nil(res[1].ev.duplicate)
    assert.is_true(res[2].ev.duplicate)
    assert.are.equal('{"status":"SUCCESS"}', res[2].reply)
    local rec = record(sent.id, 2)
    assert.are.equal("delivered", rec.status)
    assert.are.equal(2, #rec.attempts)
  end)

  it("refuses a pushed body tampered on the way, or signed with another secret, and keeps the sandbox retrying", function()
    local calls = 0
    local rcv = simkit.notify.receiver { secret = SECRET, default = function() calls = calls + 1 end }
    local wrong = simkit.notify.receiver { secret = "not-the-secret", default = function() calls = calls + 1 end }
    trigger("CardStopped", { iccid = ICCID(5) })
    local replies = {}
    pushsink.collect(srv, 2, 5, function(entry, i)
      local reply, status, err
      if i == 1 then
        local tampered = entry.body:gsub(ICCID(5), ICCID(6))
        assert.are_not.equal(entry.body, tampered)
        reply, status, err = rcv:handle(tampered)
      else
        reply, status, err = wrong:handle(entry.body)
      end
      replies[i] = { reply = reply, status = status, err = err }
      return reply, status
    end)
    assert.are.equal(2, #replies)
    for _, r in ipairs(replies) do
      assert.are.equal(401, r.status)
      assert.are.equal("auth", r.err.kind)
      assert.truthy(r.reply:find('"FAIL"', 1, true))
      assert.is_nil(r.reply:find(SECRET, 1, true))
    end
    assert.are.equal(0, calls)
  end)
end)
