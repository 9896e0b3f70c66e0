--- EIOTCLUB notification verifications per second.
-- Measured: simkit.notify.eiotclub(body, secret) on realistic signed bodies
-- (signature check + JSON decode of the body and of `data` + required-field
-- check), and a simkit.notify.receiver handling them (distinct ids, so the
-- de-duplication never short-circuits).
-- Baseline, in the same process: a pure-Lua verification of the same body
-- (decoded with simkit.json, the signature recomputed with the pure-Lua SHA-1
-- of spec/support/sha1.lua following the rule of lua/simkit/notify.lua, the
-- same data decode and required-field check), and a pure-Lua receiver built
-- on it. Prints ratios simkit / pure Lua; absolute numbers are noise here.
local simkit = require "simkit"
local json = require "simkit.json"
local sha1 = require "spec.support.sha1"

local EVENTS = simkit.notify.EVENTS
local SECRET = "a1b1c1d1"
local rate = require("bench.support").rate


local function report(name, s_rate, l_rate)
  print(string.format("%-38s simkit %9.0f/s   pure Lua %8.0f/s   ratio %6.1fx", name, s_rate, l_rate,
    s_rate / l_rate))
end

----------------------------------------------------------------------------
-- pure-Lua verification: the rule of simkit.notify.eiotclub, by hand

local null = json.null
local HAS_INT = math.type ~= nil

-- String.valueOf as simkit.sign renders it: integers (and integral floats)
-- as digits, other floats with the shortest %.15g..%.17g that reads back.
local function value_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if HAS_INT and math.type(v) == "integer" then return string.format("%d", v) end
  if v == math.floor(v) then return string.format("%d", v) end
  local s
  for prec = 15, 17 do
    s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then break end
  end
  return s
end

local function present(v) return v ~= nil and v ~= null end

local function is_array(t)
  return type(t) == "table" and (getmetatable(t) == json.array_mt or (next(t) ~= nil and t[1] ~= nil))
end

local function missing_in(t, names, out)
  for _, name in ipairs(names or {}) do
    if not present(t[name]) then out[#out + 1] = name end
  end
end

-- Returns the decoded notification, or nil and a reason.
local function lua_verify(body, secret)
  local raw = json.decode(body)
  if type(raw) ~= "table" or is_array(raw) then return nil, "decode" end
  local given = raw.sign
  if type(given) ~= "string" or #given ~= 40 or not given:match("^%x+$") then return nil, "auth" end
  local entries = {}
  for k, v in pairs(raw) do
    if k ~= "sign" and k ~= "appkey" and v ~= null and v ~= "" then
      if type(v) == "table" then return nil, "auth" end
      entries[#entries + 1] = k .. "=" .. value_text(v) .. "&"
    end
  end
  table.sort(entries)
  local expected = sha1.hex(table.concat(entries) .. "secret=" .. secret):upper()
  if expected ~= given:upper() then return nil, "auth" end
  if type(raw.event) ~= "string" or raw.event == "" or not present(raw.id) or not present(raw.nonce)
      or not present(raw.timestamp) then
    return nil, "input"
  end
  local def = EVENTS[raw.event]
  local data = raw.data
  if present(data) and data ~= "" then
    data = json.decode(data)
    if data == nil and def and def.data then return nil, "decode" end
  end
  if def then
    local missing = {}
    missing_in(raw, def.fields, missing)
    if def.data == "array" then
      if type(data) ~= "table" then return nil, "input" end
      for _, item in ipairs(data) do missing_in(item, def.data_fields, missing) end
    elseif def.data == "object" then
      if type(data) ~= "table" or is_array(data) then return nil, "input" end
      missing_in(data, def.data_fields, missing)
    end
    if #missing > 0 then return nil, "input" end
  end
  raw.data_decoded = data
  return raw
end

----------------------------------------------------------------------------
-- realistic bodies (as in spec/notify_spec.lua and the vendor's examples)

local function pkg_effective(id)
  return { id = id, event = "PkgEffective", timestamp = 1716860580, nonce = 40604,
    data = { iccid = "89423053323291099364", orderId = 10004728, packageName = "Europe 5GB 30 days",
      packageCode = "EU-5G-30D", state = 1, gzhPackageName = "Europe 5GB", packageType = 3,
      createDate = "2024-05-28 09:34:47", salesChannel = "API", startDate = "2024-05-28 09:34:47",
      endDate = "2024-06-27 09:34:47", outTradeNo = "6300001983111426769635" } }
end

local function flow_alert(id)
  return { id = id, event = "FlowAlert", timestamp = 1703142059, nonce = 40974,
    iccid = "89852012345678901234", alert_type = 1, alert_value = "100" }
end

local CASES = {
  { "PkgEffective", pkg_effective }, -- package order effective: `data` is a JSON object in a string
  { "FlowAlert", flow_alert },       -- low-data alert: top-level fields only
}

print(string.format("# %s", _VERSION .. (jit and (" / " .. jit.version) or "")))

for _, case in ipairs(CASES) do
  local name, make = case[1], case[2]
  local body = simkit.notify.sign_eiotclub(make("CNTUlkm0pzRujPBr2tN8NNa7"), SECRET)

  -- correctness, once, before any timing: both accept the body, both refuse
  -- a tampered copy (one signed field changed)
  local tampered = json.decode(body)
  if tampered.data then
    tampered.data = tampered.data:gsub("EU%-5G%-30D", "EU-50G-30D")
  else
    tampered.alert_value = "1000"
  end
  tampered = assert(json.encode(tampered))
  assert(tampered ~= body, "tampering changed nothing")
  local ev, err = simkit.notify.eiotclub(body, SECRET)
  assert(ev, "simkit refuses a valid body: " .. tostring(err))
  local bad, berr = simkit.notify.eiotclub(tampered, SECRET)
  assert(bad == nil and berr.kind == "auth", "simkit accepts a tampered body")
  assert(simkit.notify.eiotclub(body, "wrong-secret") == nil, "simkit accepts a wrong secret")
  local lev, lerr = lua_verify(body, SECRET)
  assert(lev, "pure-Lua baseline refuses a valid body: " .. tostring(lerr))
  assert(lev.id == ev.id and lev.event == ev.event, "pure-Lua baseline decodes differently")
  assert(select(2, lua_verify(tampered, SECRET)) == "auth", "pure-Lua baseline accepts a tampered body")
  assert(lua_verify(body, "wrong-secret") == nil, "pure-Lua baseline accepts a wrong secret")

  -- (a) verification alone
  report("notify verify " .. name .. " (" .. #body .. " B)",
    rate(function() return simkit.notify.eiotclub(body, SECRET) end),
    rate(function() return lua_verify(body, SECRET) end))

  -- (b) a receiver handling distinct notifications: K bodies, each with its
  -- own id, handed round in turn; the receiver remembers at most twice its
  -- capacity (< K), so an id has been forgotten when it comes round again
  -- and the handler runs every time. Two capacities, a power of two and
  -- not (the old ring rehashed on nearly every insert at 1024: #11), and a
  -- receiver over simkit.store.memory() (its clock moved past the ttl every
  -- K bodies, so ids come round as new).
  local K = 4096
  local bodies = {}
  for i = 1, K do bodies[i] = simkit.notify.sign_eiotclub(make(string.format("bench-%08d", i)), SECRET) end
  local calls, handled = 0, 0
  local function handler() calls = calls + 1 end
  local function receiver_rate(r, on_wrap)
    local i = 0
    calls, handled = 0, 0
    local rt = rate(function()
      i = i % K + 1
      if i == 1 and on_wrap then on_wrap() end
      handled = handled + 1
      local _, status = r:handle(bodies[i])
      return status
    end)
    assert(calls == handled, "the receiver short-circuited (duplicates?): " .. calls .. " of " .. handled)
    return rt
  end
  local hs = { PkgEffective = handler, FlowAlert = handler }
  local s_rates = {}
  for _, cap in ipairs({ 1000, 1024 }) do
    s_rates[cap] = receiver_rate(simkit.notify.receiver { secret = SECRET, capacity = cap, handlers = hs })
  end
  local t = 0
  local st = require("simkit.store").memory { clock = function() return t end }
  local st_rate = receiver_rate(simkit.notify.receiver { secret = SECRET, store = st, ttl = 60, handlers = hs },
    function() t = t + 61 end)

  -- pure-Lua receiver: the baseline verification, a set of seen ids
  -- (cleared every K), dispatch, reply
  local seen, lcalls, lhandled, j = {}, 0, 0, 0
  local handlers = { PkgEffective = function() lcalls = lcalls + 1 end, FlowAlert = function() lcalls = lcalls + 1 end }
  local function lua_handle(b)
    local e = lua_verify(b, SECRET)
    if not e then return '{"status":"FAIL"}', 401 end
    if seen[e.id] then return '{"status":"SUCCESS"}', 200 end
    local h = handlers[e.event]
    if h then h(e) end
    seen[e.id] = true
    return '{"status":"SUCCESS"}', 200
  end
  local l_rate = rate(function()
    j = j % K + 1
    if j == 1 then seen = {} end
    lhandled = lhandled + 1
    local _, status = lua_handle(bodies[j])
    return status
  end)
  assert(lcalls == lhandled, "the pure-Lua receiver short-circuited")
  report("receiver " .. name .. " capacity 1000", s_rates[1000], l_rate)
  report("receiver " .. name .. " capacity 1024", s_rates[1024], l_rate)
  report("receiver " .. name .. " store.memory()", st_rate, l_rate)
end
