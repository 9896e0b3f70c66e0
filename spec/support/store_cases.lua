--- The store contract as one table of cases, run against every backend:
-- by busted directly (memory, sqlite, redis from plain Lua) and inside real
-- nginx workers (shdict, redis over cosockets), where busted does not run.
-- So a case raises a plain error on failure instead of using luassert.
--
--   local cases = require "spec.support.store_cases"   -- or "store_cases" in nginx
--   for _, c in ipairs(cases) do c.run(store, env) end
--
-- `env.sleep(seconds)` waits (ngx.sleep inside nginx); `env.prefix` makes keys
-- unique per run. Lua 5.4 and LuaJIT syntax alike (no integer operators).
local json = require "simkit.json"

local HAS_INT = math.type ~= nil
local BIG = HAS_INT and tonumber("4611686018427387905") or nil      -- 2^62 + 1
local MAXINT = HAS_INT and math.maxinteger or nil

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then return json.encode(v) or tostring(v) end
  return tostring(v) .. (HAS_INT and type(v) == "number" and (" (" .. math.type(v) .. ")") or "")
end

local function check(cond, msg)
  if not cond then error(msg, 2) end
end

-- exact: same type, same value (and same integer/float subtype on 5.3+)
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" and HAS_INT and math.type(a) ~= math.type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function eq(expected, got, what)
  if not same(expected, got) then
    error((what or "value") .. ": expected " .. fmt(expected) .. ", got " .. fmt(got), 2)
  end
end

-- `nil, err` with err.kind == kind
local function fails(kind, v, err, what)
  check(v == nil, (what or "call") .. ": expected nil, err (" .. kind .. "), got " .. fmt(v))
  check(type(err) == "table" and err.kind == kind,
    (what or "call") .. ": expected an error of kind " .. kind .. ", got " .. fmt(err and (err.kind or tostring(err))))
  check(type(tostring(err)) == "string", "errors print")
end

local function ok(v, err, what)
  if v == nil then error((what or "call") .. " failed: " .. tostring(err), 2) end
  return v
end

local cases = {}
local function case(name, run) cases[#cases + 1] = { name = name, run = run } end

local function roundtrip(store, k, v)
  ok(store:set(k, v), "set " .. fmt(v))
  eq(v, ok(store:get(k)), "get after set " .. fmt(v))
end

case("strings come back as strings, byte for byte", function(s, env)
  roundtrip(s, env.prefix .. "s1", "007")
  roundtrip(s, env.prefix .. "s2", "")
  roundtrip(s, env.prefix .. "s3", "12")
  roundtrip(s, env.prefix .. "s4", "s:tagged? i:7 t:{}")
  roundtrip(s, env.prefix .. "s5", "bytes \0\1\255 and utf-8 \226\130\172")
  roundtrip(s, env.prefix .. "s6", string.rep("x", 100000))
end)

case("integers stay integers, exact", function(s, env)
  for i, v in ipairs({ 0, 7, -7, 123456789, 9007199254740992 }) do roundtrip(s, env.prefix .. "i" .. i, v) end
  if BIG then
    roundtrip(s, env.prefix .. "big", BIG)
    roundtrip(s, env.prefix .. "max", MAXINT)
    roundtrip(s, env.prefix .. "min", math.mininteger)
  end
end)

case("floats stay floats", function(s, env)
  for i, v in ipairs({ 0.5, -1e300, 1 / 3, 2.5e-308, 5.0 }) do roundtrip(s, env.prefix .. "f" .. i, v) end
end)

case("booleans, false included", function(s, env)
  roundtrip(s, env.prefix .. "t", true)
  roundtrip(s, env.prefix .. "f", false)
end)

case("nested tables, JSON null and exact integers inside", function(s, env)
  local v = { a = { b = { 1, 2, { c = "007" } } }, n = json.null, list = { json.null, true, 0.25 } }
  if BIG then v.big = BIG end
  roundtrip(s, env.prefix .. "tab", v)
  local got = s:get(env.prefix .. "tab")
  check(got.n == json.null, "json null stays json null")
  roundtrip(s, env.prefix .. "empty", {})
end)

case("a table read back is a copy", function(s, env)
  local k = env.prefix .. "copy"
  ok(s:set(k, { n = 1 }))
  local a = ok(s:get(k))
  a.n = 2
  eq(1, ok(s:get(k)).n, "stored table unchanged")
end)

case("get of an absent key is nil without an error", function(s, env)
  local v, err = s:get(env.prefix .. "absent")
  check(v == nil and err == nil, "expected nil, nil; got " .. fmt(v) .. ", " .. fmt(err))
end)

case("set overwrites, and a set without ttl removes the old ttl", function(s, env)
  local k = env.prefix .. "ow"
  ok(s:set(k, "a", 0.2))
  ok(s:set(k, 2))
  eq(2, s:get(k), "overwritten")
  env.sleep(0.3)
  eq(2, s:get(k), "no expiry after set without ttl")
end)

case("add: exactly the first one writes", function(s, env)
  local k = env.prefix .. "add"
  eq(true, s:add(k, "first"), "first add")
  eq(false, s:add(k, "second"), "second add")
  eq("first", s:get(k), "value kept")
  ok(s:delete(k))
  eq(true, s:add(k, "third"), "add after delete")
  eq("third", s:get(k), "value after delete + add")
end)

case("incr: absent counts as 0, adds integers, negatives too", function(s, env)
  local k = env.prefix .. "ctr"
  eq(5, s:incr(k, 5), "first incr")
  eq(12, s:incr(k, 7), "second incr")
  eq(2, s:incr(k, -10), "negative incr")
  eq(2, s:get(k), "get after incr")
  ok(s:set(k, 40))
  eq(42, s:incr(k, 2), "incr of a set integer")
  if BIG then
    local b = env.prefix .. "bigctr"
    ok(s:set(b, BIG))
    eq(BIG + 2, s:incr(b, 2), "int64 exact")
  end
end)

case("incr of a value that is not an integer is a store error, value kept", function(s, env)
  for i, v in ipairs({ "7", 0.5, true, { 1 } }) do
    local k = env.prefix .. "nonint" .. i
    ok(s:set(k, v))
    local r, err = s:incr(k, 1)
    fails("store", r, err, "incr of " .. fmt(v))
    eq(v, s:get(k), "value kept")
  end
end)

case("incr that would overflow is a store error", function(s, env)
  if not MAXINT then return end -- LuaJIT has no int64 numbers
  local k = env.prefix .. "ovf"
  ok(s:set(k, MAXINT))
  local r, err = s:incr(k, 1)
  fails("store", r, err, "incr past maxinteger")
  eq(MAXINT, s:get(k), "value kept")
end)

case("delete: absent or present, then gone", function(s, env)
  local k = env.prefix .. "del"
  eq(true, s:delete(k), "delete absent")
  ok(s:set(k, 1))
  eq(true, s:delete(k), "delete present")
  local v, err = s:get(k)
  check(v == nil and err == nil, "gone")
end)

case("ttl: fractions of a second expire", function(s, env)
  local k = env.prefix .. "ttl"
  ok(s:set(k, "v", 0.2))
  ok(s:set(k .. "long", "v", 30))
  eq("v", s:get(k .. "long"), "before expiry")
  env.sleep(0.3)
  local v, err = s:get(k)
  check(v == nil and err == nil, "expired after 0.2 s: got " .. fmt(v))
  eq("v", s:get(k .. "long"), "long ttl still there")
end)

case("ttl: add over an expired key wins again", function(s, env)
  local k = env.prefix .. "lock"
  eq(true, s:add(k, "a", 0.2), "first add")
  eq(true, s:add(k .. "long", "a", 30), "first add, long ttl")
  eq(false, s:add(k .. "long", "b", 30), "second add before expiry")
  env.sleep(0.3)
  eq(true, s:add(k, "c", 0.2), "add after expiry")
  eq("c", s:get(k), "new value")
end)

case("ttl: incr applies ttl on creation only, and restarts after expiry", function(s, env)
  local k = env.prefix .. "win"
  eq(1, s:incr(k, 1, 0.3), "create with ttl")
  eq(2, s:incr(k, 1, 30), "second incr keeps the first ttl")
  env.sleep(0.4)
  local v = s:get(k)
  check(v == nil, "window expired with its first ttl: got " .. fmt(v))
  eq(1, s:incr(k, 1, 30), "restart after expiry")
end)

local BAD_KEYS = { { nil, "nil" }, { 1, "number" }, { {}, "table" }, { "", "empty" }, { string.rep("k", 513), "huge" },
  { true, "boolean" } }
local BAD_TTLS = { { 0 / 0, "NaN" }, { math.huge, "inf" }, { -math.huge, "-inf" }, { -1, "negative" }, { 0, "zero" },
  { "10", "string" }, { 1e12, "huge" }, { {}, "table" } }

case("bad keys: kind input from every method", function(s, env)
  for _, b in ipairs(BAD_KEYS) do
    for _, m in ipairs({ "get", "set", "add", "incr", "delete" }) do
      local r, err = s[m](s, b[1], 1)
      fails("input", r, err, m .. " with a " .. b[2] .. " key")
    end
  end
  ok(s:set(env.prefix .. string.rep("k", 512 - #env.prefix), 1), "a 512-byte key is fine")
end)

case("bad ttls: kind input, nothing written", function(s, env)
  for i, b in ipairs(BAD_TTLS) do
    local k = env.prefix .. "badttl" .. i
    for _, m in ipairs({ "set", "add", "incr" }) do
      local r, err = s[m](s, k, 1, b[1])
      fails("input", r, err, m .. " with ttl " .. b[2])
    end
    local v = s:get(k)
    check(v == nil, "nothing written for ttl " .. b[2])
  end
end)

case("bad values: kind input, nothing written", function(s, env)
  local bad = { { function() end, "function" }, { coroutine.create(function() end), "thread" },
    { 0 / 0, "NaN" }, { math.huge, "inf" }, { { f = print }, "table with a function" }, { nil, "nil" },
    { string.rep("x", 8 * 1024 * 1024 + 1), "huge string" } }
  for i, b in ipairs(bad) do
    local k = env.prefix .. "badval" .. i
    local r, err = s:set(k, b[1])
    fails("input", r, err, "set " .. b[2])
    r, err = s:add(k, b[1])
    fails("input", r, err, "add " .. b[2])
    check(s:get(k) == nil, "nothing written for " .. b[2])
  end
end)

case("bad increments: kind input", function(s, env)
  for i, n in ipairs({ 1.5, "1", 0 / 0, math.huge, {}, false }) do
    local r, err = s:incr(env.prefix .. "badinc" .. i, n)
    fails("input", r, err, "incr by " .. fmt(n))
  end
  local r, err = s:incr(env.prefix .. "badinc", nil)
  fails("input", r, err, "incr by nil")
end)

case("400 random operations agree with a plain-table model", function(s, env)
  local seed = 20261203
  local function rnd(n) -- Park-Miller: exact in doubles and integers alike
    seed = (seed * 16807) % 2147483647
    return seed % n + 1
  end
  local values = { "007", 7, -3, 0.5, true, false, { a = { 1, "2" } }, "", 0 }
  local model = {}
  for step = 1, 400 do
    local key = env.prefix .. "model" .. rnd(6)
    local op = rnd(5)
    local where = "step " .. step .. " "
    if op == 1 then
      local v = values[rnd(#values)]
      eq(true, s:set(key, v), where .. "set")
      model[key] = v
    elseif op == 2 then
      local v = values[rnd(#values)]
      eq(model[key] == nil, s:add(key, v), where .. "add")
      if model[key] == nil then model[key] = v end
    elseif op == 3 then
      local n = rnd(7) - 4
      local cur = model[key]
      local r, err = s:incr(key, n)
      if cur == nil or (type(cur) == "number" and (not HAS_INT or math.type(cur) == "integer")
          and cur == math.floor(cur)) then
        eq((cur or 0) + n, r, where .. "incr")
        model[key] = r
      else
        fails("store", r, err, where .. "incr of " .. fmt(cur))
      end
    elseif op == 4 then
      eq(true, s:delete(key), where .. "delete")
      model[key] = nil
    end
    local got, err = s:get(key)
    check(err == nil, where .. "get failed: " .. tostring(err))
    eq(model[key], got, where .. "get")
  end
end)

case("tostring names the backend", function(s)
  check(tostring(s):find("^simkit%.store%.") ~= nil, "tostring: " .. tostring(s))
end)

return cases
