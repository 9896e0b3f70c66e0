-- Property fuzzer for simkit.core, the C core. Self-contained, no dependencies;
-- Lua 5.1 syntax so that it runs under Lua 5.4 and LuaJIT alike.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 tools/fuzz.lua [ITER [SEED [FIRST]]]
--
-- Iteration i draws from a generator seeded with (SEED, i), so a single case is
-- replayed with `tools/fuzz.lua 1 SEED i`; FUZZ_TRACE=1 prints each iteration
-- before running it (to find the one an ASan report aborted). Exit status 1 on
-- any property failure. What it checks, per core function:
--
-- * json_decode: never raises on a string; accepts exactly what a reference
--   decoder written here (strict RFC 8259, depth <= 1000, numbers within the
--   double range) accepts, with the same values (int64 integers exact on 5.4,
--   larger ones as their text, -0.0 kept, nulls, the array metatable); errors
--   are "json: ... at byte N".
-- * json_encode: never raises; refuses exactly what cannot be encoded (NaN,
--   inf, functions, invalid UTF-8, mixed or sparse tables, depth > 1000,
--   cycles); its output is valid JSON that decodes back to the value, and
--   encode(decode(text)) is a fixpoint. Metatables are never consulted.
-- * crypto: SHA-1 / SHA-256 / HMAC known vectors, HMAC recomputed from the
--   hash by its definition, raw|hex|HEX consistent, hex/unhex and base64
--   against reference codecs, random_bytes; raising only on bad arguments.
-- * sign_eiotclub: equals the signature of the canonical text built here
--   (Java String.valueOf rules), deterministic, independent of insertion order;
--   raises only on values that have no text form.
-- * sign_huawei: the Authorization equals the SDK-HMAC-SHA256 recomputed here
--   from the canonical request; raises only on bad fields.
-- * http: request{} argument validation against a closed loopback port (no
--   network): raises iff an option has a wrong type or value, else nil + error.
-- * clock: now/monotonic/sleep argument checks.
-- * is_hex / int_text: equal byte-level models (hex digits only; canonical
--   "-?digits" text or nil), on digit-heavy texts and random bytes.
-- * cdr_parse / cdr_utc_epoch: the rows and the (line, kind) of every error
--   equal those of a CSV model written here, for the text parsed whole and
--   in random pieces (line ends and over-long lines split across pieces).
--
-- The REGRESSION cases (bugs this fuzzer found, fixed in src/) run first.

local core = require "simkit.core"

local NULL = core.json_null
local ARRAY_MT = core.json_array_mt
local has_int64 = math.type ~= nil
local math_type = math.type
local unpack = table.unpack or unpack -- luacheck: ignore 143
local floor, huge = math.floor, math.huge
local byte, char, sub, find, format, rep = string.byte, string.char, string.sub, string.find, string.format,
  string.rep
local concat, sort = table.concat, table.sort
local getmt = debug.getmetatable
local NEG0 = -1 / huge
local NONE = {} -- stands for nil in the lists values are picked from
local function opt(v)
  if v == NONE then return nil end
  return v
end

-- the locale's decimal point (Lua 5.4's string.format and tonumber honour
-- LC_NUMERIC; it may be several bytes: ps_AF's is U+066B)
local function decimal_point()
  return format("%.1f", 0.5):match("^0(.-)5$")
end

-- s printed by string.format in the current locale, with a '.' again
local function c_numeric(s)
  local dp = decimal_point()
  if dp == "." then return s end
  local a = find(s, dp, 1, true)
  if not a then return s end
  return sub(s, 1, a - 1) .. "." .. sub(s, a + #dp)
end

-- ---------------------------------------------------------------------------
-- Regression inputs: each one made the C core misbehave before its fix.
-- ---------------------------------------------------------------------------
local REGRESSION = {
  -- sign_eiotclub compared names with strcmp: "sign\0x" counted as "sign" and
  -- was left out of the signature (a parameter sent but not signed).
  { "eiotclub", { ["sign\0x"] = "evil", a = "1" }, "s" },
  { "eiotclub", { ["sign\0"] = 1 }, "secret" },
  -- sign_huawei located the encoded query entry after the "second NUL" of a
  -- "key\0value\0encoded" sort key: a %00 in a query key or value put raw
  -- bytes and NULs into the canonical query (wrong signature), and NULs inside
  -- keys also broke the (key, value) order.
  { "huawei", { method = "GET", url = "https://h.example.com/p?a=x%00y&b=1", ak = "ak", sk = "sk",
    headers = { ["X-Sdk-Date"] = "20200101T000000Z" } } },
  { "huawei", { method = "GET", url = "https://h.example.com/?a%00b=&a=z", ak = "ak", sk = "sk",
    headers = { ["X-Sdk-Date"] = "20200101T000000Z" } } },
  { "huawei", { method = "GET", url = "https://h.example.com/?%00=%00&%00%00=", ak = "ak", sk = "sk",
    headers = { ["X-Sdk-Date"] = "20200101T000000Z" } } },
  -- num.c turned only a decimal ',' back into '.': under a locale whose
  -- decimal point is multibyte (ps_AF: U+066B) json_encode(0.1) gave the
  -- invalid JSON 0\217\171\49 and sign_eiotclub signed "v=0\217\1711".
  { "encode", { v = 0.1, w = -1.5e-7, x = 1e300 }, locale = "ps_AF.UTF-8" },
  { "eiotclub", { v = 0.1 }, "s", locale = "ps_AF.UTF-8" },
  { "encode", { 1 / 3, 123.456 }, locale = "de_DE.UTF-8" },
}

-- LC_NUMERIC locales the iterations also run under, when installed (set
-- LOCPATH to a directory made with e.g. localedef -i ps_AF -f UTF-8 DIR/ps_AF.UTF-8).
local LOCALES = { "de_DE.UTF-8", "ps_AF.UTF-8" }

-- ---------------------------------------------------------------------------
-- Random numbers: Park-Miller, exact on every VM, one stream per iteration.
-- ---------------------------------------------------------------------------
local state = 1
local function reseed(seed, i)
  -- a non-linear mix (squares stay below 2^53), so that seeds give unrelated streams
  local P = 67108859
  local h = seed % P + 1
  for round = 1, 4 do h = (h * h + (i % P) * 7919 + seed % 65521 + round) % P end
  state = h % 2147483646 + 1
  for _ = 1, 3 do state = state * 16807 % 2147483647 end
end
local function next31()
  state = state * 16807 % 2147483647
  return state
end
-- integer in [a, b] (b - a < 2^31)
local function rnd(a, b)
  return a + next31() % (b - a + 1)
end
local function chance(n) return rnd(1, n) == 1 end
local function pick(t) return t[rnd(1, #t)] end

-- ---------------------------------------------------------------------------
-- Reporting
-- ---------------------------------------------------------------------------
local SEED, ITER, FIRST = 1, 2000, 1
local current = "setup"
local failures, checks, notes = 0, 0, {}
local per_target = {}

local function dump(v, depth, seen)
  depth, seen = depth or 0, seen or {}
  local t = type(v)
  if t == "string" then
    local q = (format("%q", sub(v, 1, 300)):gsub("\\\n", "\\n"))
    if #v > 300 then return q .. format("..(%d bytes)", #v) end
    return q
  elseif t == "number" then
    if v ~= v then return "0/0" end
    if v == huge then return "1/0" end
    if v == -huge then return "-1/0" end
    if v == 0 and 1 / v < 0 then return "-0.0" end
    if has_int64 and math_type(v) == "integer" then return format("%d", v) end
    return c_numeric(format("%.17g", v))
  elseif v == NULL then
    return "null"
  elseif t ~= "table" then
    return "<" .. tostring(v) .. ">"
  end
  if seen[v] then return "<cycle>" end
  if depth > 6 then return "{...}" end
  seen[v] = true
  local parts, n = {}, 0
  for k, x in next, v do
    n = n + 1
    if n > 12 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = "[" .. dump(k, depth + 1, seen) .. "]=" .. dump(x, depth + 1, seen)
  end
  seen[v] = nil
  local mt = getmt(v)
  local s = "{" .. concat(parts, ", ") .. "}"
  if mt == ARRAY_MT then s = "array" .. s elseif mt then s = "mt" .. s end
  return s
end

local function fail(target, what, input)
  failures = failures + 1
  if failures <= 30 then
    io.stderr:write(format("FAIL [seed %d, %s] %s: %s\n    input: %s\n", SEED, current, target, what,
      input == nil and "-" or dump(input)))
  end
end

local function note(key, text)
  if not notes[key] then notes[key] = text end
end

local function count(target)
  checks = checks + 1
  per_target[target] = (per_target[target] or 0) + 1
end

-- ---------------------------------------------------------------------------
-- Text helpers
-- ---------------------------------------------------------------------------
local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

-- Length of the well-formed UTF-8 sequence at s[i] (RFC 3629), or nil.
local function utf8_len(s, i, n)
  local c = byte(s, i)
  if c < 0x80 then return 1 end
  if c < 0xC2 then return nil end
  local need, lo, hi = 1, 0x80, 0xBF
  if c < 0xE0 then -- luacheck: ignore 542
  elseif c < 0xF0 then
    need = 2
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
  elseif c < 0xF5 then
    need = 3
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  else
    return nil
  end
  if i + need > n then return nil end
  local c1 = byte(s, i + 1)
  if c1 < lo or c1 > hi then return nil end
  for k = 2, need do
    local ck = byte(s, i + k)
    if ck < 0x80 or ck > 0xBF then return nil end
  end
  return need + 1
end

local function utf8_valid(s)
  local i, n = 1, #s
  while i <= n do
    local _, e = find(s, "^[%z\1-\127]+", i)
    if e then
      i = e + 1
    else
      local l = utf8_len(s, i, n)
      if not l then return false end
      i = i + l
    end
  end
  return true
end

local function tonum_plain(text)
  return tonumber(text) or tonumber((text:gsub("%.", decimal_point())))
end

-- A JSON number's value when tonumber refuses it (LuaJIT's scanner does for
-- exponents of many digits): at most 200 significant digits, scaled.
local function tonum_slow(text)
  local sign, int, frac, ex = text:match("^(-?)(%d+)%.?(%d*)[eE]?([+-]?%d*)$")
  if not sign then return nil end
  local neg = sign == "-"
  local all = int .. frac
  local lead = #all:match("^0*")
  local sig = sub(all, lead + 1)
  if sig == "" then return neg and NEG0 or 0.0 end
  local esign, edig = ex:match("^([+-]?)0*(%d*)$")
  local e10 = #edig > 9 and huge or (tonumber(edig) or 0)
  if esign == "-" then e10 = -e10 end
  local point = #int - lead + e10
  if point > 400 then return neg and -huge or huge end
  if point < -400 then return neg and NEG0 or 0.0 end
  local v = tonum_plain("0." .. sub(sig, 1, 200) .. "e" .. format("%d", point))
  return neg and -v or v
end

local function tonum(text)
  return tonum_plain(text) or tonum_slow(text)
end

-- ---------------------------------------------------------------------------
-- Reference JSON decoder (strict RFC 8259, the core's documented limits)
-- ---------------------------------------------------------------------------
local REFERR = {}
local ESC = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" }
local INT_MAX_DIGITS = has_int64 and "9223372036854775807" or "9007199254740992"
local INT_MIN_DIGITS = has_int64 and "9223372036854775808" or "9007199254740992"

local function digits_le(a, b) -- decimal digit strings without leading zeros
  if #a ~= #b then return #a < #b end
  return a <= b
end

local function ref_decode(s)
  local pos, n, depth = 1, #s, 0
  local function err(why) error({ REFERR, why }, 0) end
  local function ws()
    local _, e = find(s, "^[ \t\n\r]+", pos)
    if e then pos = e + 1 end
  end
  local function hex4(i)
    local h = sub(s, i, i + 3)
    if #h ~= 4 or not find(h, "^%x%x%x%x$") then return nil end
    return tonumber(h, 16)
  end
  local function str()
    pos = pos + 1
    local parts = {}
    while true do
      local a, e = find(s, "^[^%z\1-\31\"\\\128-\255]+", pos)
      if a then
        parts[#parts + 1] = sub(s, a, e)
        pos = e + 1
      end
      if pos > n then err("unterminated string") end
      local c = byte(s, pos)
      if c == 34 then
        pos = pos + 1
        return concat(parts)
      elseif c == 92 then
        local e2 = byte(s, pos + 1)
        if not e2 then err("unterminated string") end
        if ESC[e2] then
          parts[#parts + 1] = ESC[e2]
          pos = pos + 2
        elseif e2 == 117 then
          local cp = hex4(pos + 2)
          if not cp then err("bad \\u") end
          if cp >= 0xDC00 and cp <= 0xDFFF then err("lone low surrogate") end
          if cp >= 0xD800 and cp <= 0xDBFF then
            local lo = sub(s, pos + 6, pos + 7) == "\\u" and hex4(pos + 8)
            if not lo or lo < 0xDC00 or lo > 0xDFFF then err("lone high surrogate") end
            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
            pos = pos + 12
          else
            pos = pos + 6
          end
          parts[#parts + 1] = utf8_char(cp)
        else
          err("bad escape")
        end
      elseif c < 32 then
        err("control character")
      else
        local l = utf8_len(s, pos, n)
        if not l then err("invalid UTF-8") end
        parts[#parts + 1] = sub(s, pos, pos + l - 1)
        pos = pos + l
      end
    end
  end
  local function num()
    local p = pos
    if byte(s, p) == 45 then p = p + 1 end
    local c = byte(s, p)
    if c == 48 then
      p = p + 1
    elseif c and c >= 49 and c <= 57 then
      local _, e = find(s, "^%d+", p)
      p = e + 1
    else
      err("digit expected")
    end
    local isfloat = false
    if byte(s, p) == 46 then
      local _, e = find(s, "^%d+", p + 1)
      if not e then err("digit expected after '.'") end
      p, isfloat = e + 1, true
    end
    c = byte(s, p)
    if c == 101 or c == 69 then
      local _, e = find(s, "^[+-]?%d+", p + 1)
      if not e then err("digit expected in exponent") end
      p, isfloat = e + 1, true
    end
    local text = sub(s, pos, p - 1)
    pos = p
    if not isfloat then
      local neg = byte(text, 1) == 45
      local digits = neg and sub(text, 2) or text
      if digits == "0" then return 0 end
      if digits_le(digits, neg and INT_MIN_DIGITS or INT_MAX_DIGITS) then return tonumber(text) end
      return text
    end
    local v = tonum(text)
    if v == nil then error("reference: tonumber failed on " .. text) end
    if v == huge or v == -huge then err("number out of range") end
    return v
  end
  local value
  local function container(close, t)
    depth = depth + 1
    if depth > 1000 then err("nesting too deep") end
    pos = pos + 1
    ws()
    if byte(s, pos) == close then
      pos = pos + 1
    else
      local i = 0
      while true do
        if close == 125 then
          ws()
          if byte(s, pos) ~= 34 then err("key expected") end
          local k = str()
          ws()
          if byte(s, pos) ~= 58 then err("':' expected") end
          pos = pos + 1
          t[k] = value()
        else
          i = i + 1
          t[i] = value()
        end
        ws()
        local c = byte(s, pos)
        if c == 44 then
          pos = pos + 1
        elseif c == close then
          pos = pos + 1
          break
        else
          err("',' or close expected")
        end
      end
    end
    depth = depth - 1
    return t
  end
  value = function()
    ws()
    local c = byte(s, pos)
    if c == 123 then return container(125, {}) end
    if c == 91 then return container(93, setmetatable({}, ARRAY_MT)) end
    if c == 34 then return str() end
    if c == 45 or (c and c >= 48 and c <= 57) then return num() end
    if sub(s, pos, pos + 3) == "true" then pos = pos + 4; return true end
    if sub(s, pos, pos + 4) == "false" then pos = pos + 5; return false end
    if sub(s, pos, pos + 3) == "null" then pos = pos + 4; return NULL end
    err("unexpected")
  end
  local ok, v = pcall(function()
    local x = value()
    ws()
    if pos <= n then err("trailing garbage") end
    return x
  end)
  if ok then return true, v end
  if type(v) == "table" and v[1] == REFERR then return false, v[2] end
  error(v, 0) -- a bug in the reference itself
end

local equiv -- defined with the encoder checks

-- Same value, same Lua types (integer/float on 5.4), same sign of zero, same
-- metatables.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if a ~= b then return false end
    if has_int64 and math_type(a) ~= math_type(b) then return false end
    if a == 0 and 1 / a ~= 1 / b then return false end
    return true
  end
  if type(a) ~= "table" then return a == b end
  if getmt(a) ~= getmt(b) then return false end
  for k, v in next, a do
    if not same(v, rawget(b, k)) then return false end
  end
  for k in next, b do
    if rawget(a, k) == nil then return false end
  end
  return true
end

-- ---------------------------------------------------------------------------
-- json_decode
-- ---------------------------------------------------------------------------
local decode, encode = core.json_decode, core.json_encode

local function check_decode(text, must_accept)
  count("json_decode")
  local ok, v, err = pcall(decode, text)
  if not ok then return fail("json_decode", "raised: " .. tostring(v), text) end
  local rok, rv = ref_decode(text)
  if v == nil then
    if type(err) ~= "string" or not find(err, "^json: .* at byte %d+$") then
      return fail("json_decode", "bad error message: " .. tostring(err), text)
    end
    local at = tonumber(err:match("at byte (%d+)$"))
    if at < 1 or at > #text + 1 then fail("json_decode", "error offset out of range: " .. err, text) end
    if rok then return fail("json_decode", "refused valid JSON: " .. err, text) end
    if must_accept then fail("fuzz", "generator made invalid JSON (" .. tostring(rv) .. ")", text) end
    return
  end
  if err ~= nil then fail("json_decode", "a second result on success", text) end
  if not rok then return fail("json_decode", "accepted invalid JSON (" .. rv .. ")", text) end
  if not same(v, rv) then
    return fail("json_decode", "decoded " .. dump(v) .. ", expected " .. dump(rv), text)
  end
  -- the canonical form is a fixpoint
  local t1, e1 = encode(v)
  if not t1 then return fail("json_encode", "cannot re-encode a decoded value: " .. tostring(e1), text) end
  local v2 = decode(t1)
  if not equiv(v, v2) then return fail("json_encode", "decode(encode(decode(x))) differs: " .. t1, text) end
  local t2 = encode(v2)
  if has_int64 and t2 ~= t1 then
    fail("json_encode", "encode is not a fixpoint: " .. tostring(t2) .. " vs " .. t1, text)
  end
end

-- ---------------------------------------------------------------------------
-- Generators
-- ---------------------------------------------------------------------------
local WS = { " ", "\t", "\n", "\r" }
local function ws_s()
  if rnd(1, 3) > 1 then return "" end
  local t = {}
  for i = 1, rnd(1, 3) do t[i] = pick(WS) end
  return concat(t)
end

local SPECIAL_CP = { 0x00, 0x1F, 0x20, 0x22, 0x2F, 0x5C, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFEFF, 0xFFFD,
  0xFFFF, 0x10000, 0x10FFFF, 0x2028, 0x2029 }
local function rand_cp()
  local k = rnd(1, 10)
  if k <= 4 then return rnd(0x20, 0x7E) end
  if k == 5 then return rnd(0, 0x1F) end
  if k == 6 then return rnd(0x80, 0x7FF) end
  if k == 7 then
    local c = rnd(0x800, 0xFFFF)
    if c >= 0xD800 and c <= 0xDFFF then c = c - 0x800 end
    return c
  end
  if k == 8 then return rnd(0x10000, 0x10FFFF) end
  return pick(SPECIAL_CP)
end

local function rand_utf8(maxlen)
  local t = {}
  for i = 1, rnd(0, maxlen) do t[i] = utf8_char(rand_cp()) end
  return concat(t)
end

local function rand_bytes(maxlen)
  local t = {}
  for i = 1, rnd(0, maxlen) do t[i] = char(rnd(0, 255)) end
  return concat(t)
end

local BAD_UTF8 = { "\128", "\191", "\192\128", "\193\191", "\194", "\224\128\128", "\224\159\191", "\237\160\128",
  "\237\191\191", "\240\128\128\128", "\240\143\191\191", "\244\144\128\128", "\245\128\128\128", "\255", "\254",
  "\195", "\226\130", "\240\159\152", "\195\40", "\226\40\161", "\248\136\128\128\128" }

-- Sometimes invalid UTF-8.
local function rand_text(maxlen)
  local k = rnd(1, 10)
  if k <= 6 then return rand_utf8(maxlen) end
  if k <= 8 then return rand_utf8(maxlen) .. pick(BAD_UTF8) .. rand_utf8(3) end
  return rand_bytes(maxlen)
end

-- JSON string literal of random content (escapes of every kind).
local function gen_json_string(maxlen)
  local t = { '"' }
  for _ = 1, rnd(0, maxlen) do
    local k = rnd(1, 10)
    if k <= 4 then
      local cp = rand_cp()
      if cp < 0x20 or cp == 0x22 or cp == 0x5C then cp = 0x41 + rnd(0, 25) end
      t[#t + 1] = utf8_char(cp)
    elseif k == 5 then
      t[#t + 1] = pick({ '\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t" })
    elseif k <= 7 then
      local cp = rnd(0, 0xFFFF)
      if cp >= 0xD800 and cp <= 0xDFFF then cp = pick({ 0, 0x1F, 0x7F, 0xFFFF }) end
      local h = format(pick({ "\\u%04x", "\\u%04X" }), cp)
      t[#t + 1] = h
    elseif k == 8 then
      t[#t + 1] = format("\\u%04X\\u%04x", rnd(0xD800, 0xDBFF), rnd(0xDC00, 0xDFFF))
    elseif k == 9 then
      t[#t + 1] = "\\u0000"
    else
      t[#t + 1] = utf8_char(rnd(0x10000, 0x10FFFF))
    end
  end
  t[#t + 1] = '"'
  return concat(t)
end

local function digits(n, lead)
  local t = { lead and tostring(rnd(1, 9)) or tostring(rnd(0, 9)) }
  for i = 2, n do t[i] = tostring(rnd(0, 9)) end
  return concat(t)
end

local INT_EDGES = { "0", "-0", "1", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
  "-9223372036854775809", "9007199254740992", "9007199254740993", "-9007199254740993", "18446744073709551615",
  "18446744073709551616", "99999999999999999999", "89852012345678901234", "4294967296", "2147483648" }
local FLOAT_EDGES = { "0.0", "-0.0", "-0e0", "0e-5", "1e400", "-1e400", "1e-400", "4.9e-324", "5e-324",
  "2.4703282292062328e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623158e308",
  "1.7976931348623159e308", "0.1", "0.30000000000000004", "1e22", "1e23", "9007199254740993.0", "123456789012345e22",
  "1E+2", "1e-7", "0.1000000000000000055511151231257827021181583404541015625", "1e99999999999", "0e99999999999",
  "-1e-99999999999", "100000000000000000000000.0", "7.2057594037927933e16" }

-- Returns a number literal and whether it may be out of range.
local function gen_json_number()
  local k = rnd(1, 8)
  if k == 1 then return pick(INT_EDGES), false end
  if k == 2 then return pick(FLOAT_EDGES), true end
  local t = {}
  if chance(3) then t[#t + 1] = "-" end
  if chance(4) then t[#t + 1] = "0" else t[#t + 1] = digits(rnd(1, chance(5) and 40 or 19), true) end
  if k == 3 or k == 4 then return concat(t), false end
  local isfloat = false
  if chance(2) then
    t[#t + 1] = "." .. digits(rnd(1, chance(5) and 40 or 17))
    isfloat = true
  end
  if chance(2) or not isfloat then
    t[#t + 1] = pick({ "e", "E" }) .. pick({ "", "+", "-" }) .. digits(rnd(1, chance(8) and 6 or 3))
  end
  return concat(t), true
end

-- A valid JSON text; the second result says whether it may contain a number
-- out of the double range (which the core refuses).
local function gen_json(depth)
  local risky = false
  local function value(d)
    local k = rnd(1, d > 0 and 10 or 6)
    if k == 1 then return pick({ "true", "false", "null" }) end
    if k <= 3 then
      local s, r = gen_json_number()
      risky = risky or r
      return s
    end
    if k <= 6 then return gen_json_string(rnd(0, 3) == 0 and 40 or 6) end
    local parts = {}
    if k <= 8 then
      for i = 1, rnd(0, 5) do parts[i] = ws_s() .. value(d - 1) .. ws_s() end
      return "[" .. ws_s() .. concat(parts, ",") .. "]"
    end
    local keys = {}
    for i = 1, rnd(0, 5) do
      local key = (i > 1 and chance(5)) and keys[rnd(1, i - 1)] or gen_json_string(6) -- duplicates too
      keys[i] = key
      parts[i] = ws_s() .. key .. ws_s() .. ":" .. ws_s() .. value(d - 1) .. ws_s()
    end
    return "{" .. ws_s() .. concat(parts, ",") .. "}"
  end
  local text = ws_s() .. value(depth) .. ws_s()
  return text, risky
end

-- n nested arrays/objects around a scalar
local function nested(n, inner)
  local open, close = {}, {}
  for i = 1, n do
    if chance(2) then
      open[i], close[n - i + 1] = "[", "]"
    else
      open[i], close[n - i + 1] = '{"k":', "}"
    end
  end
  return concat(open) .. (inner or "0") .. concat(close)
end

-- Fragments that are never a valid value.
local POISON = { "01", "-01", "00", "+1", "NaN", "-NaN", "Infinity", "-Infinity", "inf", ".5", "1.", "-", "1e", "1e+",
  "1.e3", "0x10", "tru", "True", "nul", "nulll", "fals", "'a'", '"\1"', '"a\tb"', '"a\nb"', '"\127\128"',
  '"\192\128"', '"\224\128\175"', '"\237\160\128"', '"\244\144\128\128"', '"\245\128\128\128"', '"\195"',
  '"\\uD800"', '"\\uDC00"', '"\\uD800\\u0041"', '"\\uD800\\uD800"', '"\\uDBFF\\uE000"', '"\\u12"', '"\\u12G4"',
  '"\\x41"', '"\\U0041"', '"\\\1"', '"\\', "[1,]", "[,1]", "[1 2]", '{"a":1,}', '{"a" 1}', '{"a":}', "{a:1}",
  "{1:2}", '{"a"}', '{"a":1 "b":2}', "[", "]", "{", "}", ":", ",", "", "\0", "\1", "\11", "\12", "\194\160",
  "\239\187\191", "[1]]", "/*c*/1", "1 2" }

local function gen_invalid()
  local base = gen_json(rnd(0, 3))
  local k = rnd(1, 4)
  if k == 1 then -- trailing garbage after whitespace
    return base .. pick(WS) .. pick({ "0", "x", "[]", "{}", '""', "null", ",", "]", "}", "\0" })
  elseif k == 2 then -- the whole document
    return pick(POISON)
  elseif k == 3 then -- a poison value inside a structure
    return "[" .. base .. "," .. pick(POISON) .. "]"
  end
  return '{"a":' .. base .. ',"b":' .. pick(POISON) .. "}"
end

local TOKENS = { "[", "]", "{", "}", ",", ":", '"', "\\", "u", "0", "1", "9", "-", "+", ".", "e", "E", "t", "r",
  "n", "l", "f", " ", "\n", "\0", "\1", "\195", "\169", "\237", "\240", "\159", "a", "D", "8", "true", "null",
  '"a"', "1.5", "[1,", '{"x":', "\\u", "\\uD83D", "\\uDE00", "\\u0000", "1e400", "\127", "\255" }

local function mutate(text)
  for _ = 1, rnd(1, 4) do
    local n = #text
    local at = rnd(1, n + 1)
    local k = rnd(1, 7)
    if k == 1 and n > 0 then
      text = sub(text, 1, at - 1) .. char(rnd(0, 255)) .. sub(text, at + 1)
    elseif k == 2 then
      text = sub(text, 1, at - 1) .. pick(TOKENS) .. sub(text, at)
    elseif k == 3 then
      text = sub(text, 1, at - 1) .. sub(text, at + rnd(1, 4))
    elseif k == 4 then
      local b = rnd(at, n + 1)
      text = sub(text, 1, b) .. sub(text, at, b) .. sub(text, b + 1)
    elseif k == 5 then
      text = sub(text, 1, at - 1)
    elseif k == 6 then
      text = sub(text, 1, at - 1) .. pick(BAD_UTF8) .. sub(text, at)
    else
      text = sub(text, 1, at - 1) .. pick(POISON) .. sub(text, at)
    end
  end
  return text
end

local function fuzz_decode()
  local k = rnd(1, 20)
  if k <= 6 then
    local text, risky = gen_json(rnd(0, 5))
    check_decode(text, not risky)
  elseif k <= 11 then
    check_decode(mutate((gen_json(rnd(0, 4)))))
  elseif k <= 13 then
    check_decode(gen_invalid())
  elseif k <= 15 then
    local t = {}
    for i = 1, rnd(0, 40) do t[i] = pick(TOKENS) end
    check_decode(concat(t))
  elseif k == 16 then
    check_decode(rand_bytes(64))
  elseif k == 17 then -- nesting around the limit, and far beyond it
    local n = chance(4) and rnd(1001, 100000) or rnd(990, 1010)
    local text = nested(n, chance(2) and "0" or "[]")
    if chance(4) then text = sub(text, 1, rnd(1, #text)) end
    check_decode(text)
  elseif k == 18 then -- long strings, with and without escapes
    local len = rnd(1, 20) * 4096 * (chance(10) and 20 or 1)
    local body = rep(pick({ "a", "\195\169", "\240\159\152\128", "\\n", "\\u00e9", "\\uD83D\\uDE00" }), len / 4)
    if chance(2) then body = body .. pick({ "\\\"", "\\u0000", "\1", "\237\160\128", "" }) end
    check_decode('"' .. body .. '"')
  elseif k == 19 then -- huge numbers
    local n = rnd(1, 5000)
    local text = pick({ "", "-" }) .. digits(n, true) .. pick({ "", "." .. digits(rnd(1, 3000)), "e" .. digits(rnd(1, 30)),
      "e-" .. digits(rnd(1, 30)), "." .. digits(20) .. "E+" .. digits(rnd(1, 4)) })
    if chance(3) then text = "0." .. rep("0", n) .. digits(rnd(1, 40), true) .. pick({ "", "e" .. tostring(n) }) end
    check_decode(text)
  else
    check_decode(nested(rnd(1, 50), (gen_json(3))))
  end
end

-- json_decode's key cache (per Lua state, so it lives on from iteration to
-- iteration): objects whose keys are much alike (a byte apart, prefixes of
-- each other, around the 40-byte limit of cached keys, some escaped, some
-- invalid), nested, checked against the reference decoder.
local function json_key_literal(k)
  local t = { '"' }
  for i = 1, #k do
    local c = byte(k, i)
    if c == 34 then
      t[i + 1] = '\\"'
    elseif c == 92 then
      t[i + 1] = "\\\\"
    elseif c < 0x20 or (c < 0x80 and chance(12)) then
      t[i + 1] = format("\\u%04x", c)
    else
      t[i + 1] = char(c)
    end
  end
  t[#t + 1] = '"'
  return concat(t)
end

local function fuzz_keys()
  local base = rand_utf8(12)
  if chance(2) then
    local t = {}
    for i = 1, rnd(0, 44) do t[i] = char(rnd(0x61, 0x64)) end
    base = concat(t)
  end
  local family = { base }
  for i = 2, rnd(2, 16) do
    local k = pick(family)
    local r = rnd(1, 6)
    if r <= 2 and #k > 0 then -- one byte changed
      local at = rnd(1, #k)
      k = sub(k, 1, at - 1) .. char(rnd(0x20, 0x7E)) .. sub(k, at + 1)
    elseif r == 3 then -- a prefix (a cut UTF-8 sequence makes it invalid)
      k = sub(k, 1, rnd(0, #k))
    elseif r == 4 then
      k = k .. utf8_char(rand_cp())
    elseif r == 5 then
      k = rep(pick({ "k", "\195\169" }), rnd(18, 22)) .. pick({ "", "a", "b" })
    end
    family[i] = k
  end
  local function object(depth)
    local parts = {}
    for i = 1, rnd(0, 12) do
      local v = (depth > 0 and chance(4)) and object(depth - 1) or tostring(rnd(0, 99))
      parts[i] = ws_s() .. json_key_literal(pick(family)) .. ws_s() .. ":" .. ws_s() .. v
    end
    return "{" .. concat(parts, ",") .. ws_s() .. "}"
  end
  for _ = 1, rnd(1, 3) do check_decode(object(2)) end
end

-- ---------------------------------------------------------------------------
-- json_encode
-- ---------------------------------------------------------------------------
local function is_index(k)
  if type(k) ~= "number" then return false end
  if has_int64 then return math_type(k) == "integer" and k >= 1 end
  return k >= 1 and k <= 2147483647 and k == floor(k)
end

-- What the encoder must accept (raw access only: metatables never matter).
local function encodable(x, depth)
  local t = type(x)
  if t == "nil" or t == "boolean" then return true end
  if t == "number" then return x == x and x ~= huge and x ~= -huge end
  if t == "string" then return utf8_valid(x) end
  if x == NULL then return true end
  if t ~= "table" then return false end
  if depth >= 1000 then return false end
  local n, nstr, maxk = 0, 0, 0
  for k in next, x do
    n = n + 1
    if type(k) == "string" then
      nstr = nstr + 1
    elseif is_index(k) then
      if k > maxk then maxk = k end
    else
      return false
    end
  end
  local is_array = getmt(x) == ARRAY_MT
  if n == 0 then return true end
  if nstr == n and not is_array then
    for k, v in next, x do
      if not utf8_valid(k) or not encodable(v, depth + 1) then return false end
    end
    return true
  end
  if nstr ~= 0 or maxk ~= n then return false end
  for i = 1, n do
    if not encodable(rawget(x, i), depth + 1) then return false end
  end
  return true
end

-- y (decoded) is what x (encoded) must come back as.
function equiv(x, y)
  if x == nil then return y == NULL end
  local t = type(x)
  if t == "number" then
    if type(y) == "string" then -- LuaJIT: integers beyond 2^53 come back as text
      return not has_int64 and x == floor(x) and math.abs(x) > 2 ^ 53 and x < 2 ^ 63 and x >= -2 ^ 63
        and y == format("%.0f", x)
    end
    if type(y) ~= "number" or x ~= y then return false end
    if has_int64 then
      local integral = math_type(x) == "integer" or (x == floor(x) and x >= -2 ^ 63 and x < 2 ^ 63)
      return math_type(y) == (integral and "integer" or "float")
    end
    return true
  end
  if t ~= "table" then return x == y end
  if type(y) ~= "table" then return false end
  local n = 0
  for _ in next, x do n = n + 1 end
  local arr = (n == 0 and getmt(x) == ARRAY_MT) or (n > 0 and type(next(x)) == "number")
  if arr then
    if getmt(y) ~= ARRAY_MT then return false end
    local m = 0
    for _ in next, y do m = m + 1 end
    if m ~= n then return false end
    for i = 1, n do
      if not equiv(rawget(x, i), rawget(y, i)) then return false end
    end
    return true
  end
  if getmt(y) ~= nil then return false end
  local m = 0
  for k, v in next, y do
    m = m + 1
    local xv = rawget(x, k)
    if xv == nil or not equiv(xv, v) then return false end
  end
  return m == n
end

local function check_encode(x, label)
  count("json_encode")
  local ok, s, err = pcall(encode, x)
  if not ok then return fail("json_encode", "raised: " .. tostring(s), x) end
  local want = encodable(x, 0)
  if s == nil then
    if type(err) ~= "string" or not find(err, "^json: ") then
      return fail("json_encode", "bad error message: " .. tostring(err), x)
    end
    if want then fail("json_encode", "refused an encodable value (" .. (label or "") .. "): " .. err, x) end
    return
  end
  if type(s) ~= "string" then return fail("json_encode", "returned a " .. type(s), x) end
  if not want then return fail("json_encode", "encoded what it must refuse: " .. dump(s), x) end
  local rok, rv = ref_decode(s)
  if not rok then return fail("json_encode", "output is not valid JSON (" .. rv .. "): " .. dump(s), x) end
  local v = decode(s)
  if not same(v, rv) then return fail("json_decode", "decodes encoder output wrongly: " .. dump(s), x) end
  if not equiv(x, v) then return fail("json_encode", "does not round-trip: " .. dump(s) .. " -> " .. dump(v), x) end
  local s2 = encode(v)
  if has_int64 and s2 ~= s then fail("json_encode", "not canonical: " .. dump(s) .. " then " .. dump(s2), x) end
  if encode(x) ~= s then fail("json_encode", "not deterministic", x) end
end

local INTS = has_int64 and { 0, 1, -1, math.maxinteger, math.mininteger, 9007199254740993, -9007199254740993,
  4294967296, 2147483647 } or { 0, 1, -1, 2 ^ 53, -2 ^ 53, 2 ^ 53 + 2, 4294967296, 2147483647 }
local FLOATS = { 0.0, NEG0, 0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 2 ^ 53, 2 ^ 53 + 2,
  2 ^ 63, -2 ^ 63, 2 ^ 64, 1e20, 1e21, 1e22, 1e23, 500.0, -0.5, 1e-7, 1e15 + 0.3, 123456789012345680000.0,
  2 ^ 63 - 1024, -(2 ^ 63 - 1024), 0.30000000000000004 }
local NONFINITE = { 0 / 0, -(0 / 0), huge, -huge }

local function rand_float()
  local k = rnd(1, 4)
  if k == 1 then return pick(FLOATS) end
  local m = rnd(0, 2 ^ 26 - 1) * 2 ^ 26 + rnd(0, 2 ^ 26 - 1)
  local e = k == 2 and rnd(-1074, 1023) or rnd(-40, 70)
  local v = (2 ^ 52 + m) * 2 ^ (e - 52)
  if chance(2) then v = -v end
  return v
end

local function rand_int()
  if chance(3) then return pick(INTS) end
  local v
  if has_int64 then
    v = next31() * 2147483648 + next31()
    if chance(2) then v = v * 2 + 1 end -- up to 2^63 - 1 (integer wrap is fine)
  else
    v = rnd(0, 2 ^ 21 - 1) * 2 ^ 31 + next31()
  end
  if chance(2) then v = -v end
  return v
end

local function rand_key()
  local k = rnd(1, 12)
  if k <= 5 then return rand_utf8(8) end
  if k == 6 then return pick({ "", "sign", "1", "a b", "\0", "__index", "k" }) end
  if k == 7 then return rep("k", rnd(50, 10000)) end
  if k == 8 then return rand_utf8(4) .. pick(BAD_UTF8) end -- invalid
  return pick({ "a", "b", "c", "list", "data", "iccid", "id" })
end

local function raising_mt()
  local function boom() error("metamethod called") end
  return { __index = boom, __newindex = boom, __len = boom, __pairs = boom, __ipairs = boom, __tostring = boom,
    __eq = boom, __lt = boom, __le = boom, __concat = boom, __call = boom, __metatable = "locked" }
end

-- A Lua value for the encoder: mostly encodable, sometimes not.
local function gen_lua(d)
  local k = rnd(1, d > 0 and 16 or 9)
  if k == 1 then return pick({ true, false, NULL }) end
  if k == 2 then return rand_int() end
  if k == 3 then return rand_float() end
  if k <= 5 then return chance(6) and rand_text(10) or rand_utf8(12) end
  if k == 6 then return chance(4) and pick(NONFINITE) or rand_float() end
  if k == 7 then return chance(3) and pick({ print, coroutine.create(print), io.stdout }) or "x" end
  if k <= 9 then return chance(20) and rep(rand_utf8(3), rnd(1000, 50000)) or rand_utf8(3) end
  if k <= 12 then -- sequence
    local t = {}
    for i = 1, rnd(0, 6) do
      local v = gen_lua(d - 1)
      t[i] = v == nil and NULL or v
    end
    if chance(3) then setmetatable(t, ARRAY_MT) end
    return t
  end
  if k <= 15 then -- object
    local t = {}
    for _ = 1, rnd(0, 6) do t[rand_key()] = gen_lua(d - 1) end
    if chance(8) then setmetatable(t, raising_mt()) end
    return t
  end
  -- odd tables
  local shapes = {
    function() return { [1] = 1, [3] = 3 } end,
    function() return { [0] = "zero" } end,
    function() return { [-1] = 1 } end,
    function() return { [1.5] = 1 } end,
    function() return { [2 ^ 53] = 1 } end,
    function() return { 1, 2, a = 3 } end,
    function() return setmetatable({ a = 1 }, ARRAY_MT) end,
    function() return setmetatable({}, ARRAY_MT) end,
    function() return { [true] = 1 } end,
    function() return { [{}] = 1 } end,
    function() return { [print] = 1 } end,
    function() local t = {}; t.self = t; return t end,
    function() local t = { 1 }; t[2] = { t }; return t end,
    function() local s = { x = 1 }; return { s, s, { a = s } } end, -- shared, not a cycle
    function() return setmetatable({ 1, 2 }, raising_mt()) end,
    function() return setmetatable({}, raising_mt()) end,
    function() return { [has_int64 and math.maxinteger or 2 ^ 31] = 1 } end,
    function() return { [2 ^ 31] = 1 } end,
    function() return { 1, 2, nil, 4 } end,
    function() local t = {}; for i = 1, 100 do t[i] = i end; t[50] = nil; return t end,
    function() local t = {}; for i = 1, 300 do t["k" .. i] = i end; return t end,
    function() return { [rand_key()] = 0 / 0 } end,
  }
  return pick(shapes)()
end

local function deep_table(n, wide)
  local root = {}
  local t = root
  for _ = 2, n do
    local child = {}
    if chance(2) then
      t[1] = child
      if chance(3) then setmetatable(t, ARRAY_MT) end
    else
      t.k = child
      if wide then for j = 1, wide do t["w" .. j] = j end end
    end
    t = child
  end
  t.leaf = true
  return root
end

local function fuzz_encode()
  local k = rnd(1, 12)
  if k <= 8 then
    check_encode(gen_lua(rnd(0, 5)))
  elseif k == 9 then
    check_encode(deep_table(chance(8) and rnd(1, 100000) or rnd(995, 1005)), "deep")
  elseif k == 10 then
    check_encode(deep_table(rnd(990, 1000), chance(8) and rnd(20, 80) or rnd(1, 4)), "deep and wide")
  elseif k == 11 then -- decoded documents, re-encoded
    local v = decode((gen_json(4)))
    if v ~= nil then check_encode(v) end
  else
    check_encode(chance(2) and rand_int() or rand_float())
  end
end

-- ---------------------------------------------------------------------------
-- crypto
-- ---------------------------------------------------------------------------
local function hex_of(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

local function bxor(a, b)
  local r, bit = 0, 1
  for _ = 1, 8 do
    local x, y = a % 2, b % 2
    if x ~= y then r = r + bit end
    a, b, bit = (a - x) / 2, (b - y) / 2, bit * 2
  end
  return r
end
local XOR36, XOR5C = {}, {}
for i = 0, 255 do
  XOR36[char(i)] = char(bxor(i, 0x36))
  XOR5C[char(i)] = char(bxor(i, 0x5C))
end

-- HMAC-SHA256 by its definition (RFC 2104) over core.sha256.
local function hmac_ref(key, msg)
  if #key > 64 then key = core.sha256(key) end
  key = key .. rep("\0", 64 - #key)
  return core.sha256(key:gsub(".", XOR5C) .. core.sha256(key:gsub(".", XOR36) .. msg))
end

local VECTORS = {
  { "sha1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
  { "sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
  { "sha1", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
  { "sha1", rep("a", 1000000), "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
  { "sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
  { "sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
  { "sha256", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
  { "sha256", rep("a", 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
  { "hmac", rep("\11", 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
  { "hmac", "Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
  { "hmac", rep("\170", 131), "Test Using Larger Than Block-Size Key - Hash Key First",
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
}

local function check_vectors()
  for _, v in ipairs(VECTORS) do
    count("crypto")
    local got, want
    if v[1] == "hmac" then
      got, want = core.hmac_sha256(v[2], v[3], "hex"), v[4]
      if hex_of(hmac_ref(v[2], v[3])) ~= want then fail("fuzz", "reference HMAC is wrong", v[3]) end
    else
      got, want = core[v[1]](v[2], "hex"), v[3]
    end
    if got ~= want then fail(v[1], "known vector: got " .. tostring(got) .. ", want " .. want, v[2]) end
  end
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64V = {}
for i = 1, 64 do B64V[byte(B64, i)] = i - 1 end

-- strict base64 (padded, no whitespace); non-zero pad bits are allowed (RFC
-- 4648 3.5 leaves rejecting them to the decoder); nil when invalid
local function b64_ref(s)
  local n = #s
  if n % 4 ~= 0 then return nil end
  local out = {}
  for i = 1, n, 4 do
    local a, b, c, d = byte(s, i, i + 3)
    local last = i + 3 == n
    local va, vb = B64V[a], B64V[b]
    local vc = (last and c == 61 and d == 61) and 0 or B64V[c]
    local vd = (last and d == 61) and 0 or B64V[d]
    if not (va and vb and vc and vd) then return nil end
    local v = ((va * 64 + vb) * 64 + vc) * 64 + vd
    out[#out + 1] = char(floor(v / 65536))
    if c ~= 61 or not last then out[#out + 1] = char(floor(v / 256) % 256) end
    if d ~= 61 or not last then out[#out + 1] = char(v % 256) end
  end
  return concat(out)
end

local FMTS_BAD = { "Hex", "", "bin", "raw ", " hex", "hex\0", "raw\0junk", 1, 0, true, false, {}, print, rep("h", 1000) }

local function check_digest(name, fn, args, len)
  count(name)
  local ok, raw = pcall(fn, unpack(args))
  if not ok or type(raw) ~= "string" or #raw ~= len then
    return fail(name, "raw digest: " .. tostring(raw), args[#args])
  end
  local n = #args
  args[n + 1] = "hex"
  local hex = fn(unpack(args, 1, n + 1))
  args[n + 1] = "HEX"
  local HEX = fn(unpack(args, 1, n + 1))
  args[n + 1] = "raw"
  local raw2 = fn(unpack(args, 1, n + 1))
  if hex ~= hex_of(raw) or HEX ~= hex:upper() or raw2 ~= raw or core.hex(raw) ~= hex or core.hex(raw, true) ~= HEX then
    fail(name, "raw/hex/HEX disagree", args[1])
  end
  local bad = pick(FMTS_BAD)
  args[n + 1] = bad
  local ok2, r2 = pcall(fn, unpack(args, 1, n + 1))
  if ok2 then
    if type(bad) == "string" and (find(bad, "^hex%z") or find(bad, "^raw%z")) then
      note("fmt-nul", "crypto fmt is compared as a C string: \"hex\\0...\" is taken as \"hex\"")
    else
      fail(name, "accepted fmt " .. dump(bad) .. ": " .. dump(r2), args[1])
    end
  end
  return raw
end

local function fuzz_crypto()
  local k = rnd(1, 10)
  local data = chance(50) and rep(rand_bytes(64), rnd(1, 40000)) or rand_bytes(chance(5) and 5000 or 200)
  if k <= 2 then
    check_digest("sha1", core.sha1, { data }, 20)
    check_digest("sha256", core.sha256, { data }, 32)
  elseif k <= 4 then
    local key = chance(3) and rand_bytes(200) or rand_bytes(70)
    local raw = check_digest("hmac_sha256", core.hmac_sha256, { key, data }, 32)
    if raw and raw ~= hmac_ref(key, data) then fail("hmac_sha256", "differs from the RFC 2104 construction", key) end
  elseif k <= 6 then
    count("hex")
    local ok, h = pcall(core.hex, data, opt(pick({ NONE, true, false, 1 })))
    if not ok then return fail("hex", "raised: " .. tostring(h), data) end
    if core.unhex(h) ~= data or core.unhex(h:upper()) ~= data then fail("unhex", "does not invert hex", data) end
    local text = chance(2) and mutate(h) or rand_text(20)
    local ok2, v, err = pcall(core.unhex, text)
    if not ok2 then return fail("unhex", "raised: " .. tostring(v), text) end
    local valid = #text % 2 == 0 and not find(text, "[^%x]")
    if valid then
      if type(v) ~= "string" or hex_of(v) ~= text:lower() then fail("unhex", "wrong bytes", text) end
    elseif v ~= nil or type(err) ~= "string" then
      fail("unhex", "accepted invalid hex", text)
    end
  elseif k <= 9 then
    count("base64")
    local ok, e = pcall(core.base64_encode, data)
    if not ok then return fail("base64_encode", "raised: " .. tostring(e), data) end
    if #e ~= 4 * math.ceil(#data / 3) or find(e, "[^%w+/=]") then fail("base64_encode", "bad output " .. e, data) end
    if core.base64_decode(e) ~= data then fail("base64_decode", "does not invert encode", data) end
    local text = e
    local m = rnd(1, 4)
    if m == 1 then
      text = mutate(e)
    elseif m == 2 then
      text = pick({ rand_text(12), sub(e, 1, rnd(0, #e)) .. pick({ "=", "==", "===" }) })
    else -- a character or two replaced, padding included
      for _ = 1, rnd(1, 2) do
        local at = (chance(2) and #text > 4) and rnd(#text - 3, #text) or rnd(1, #text + 1)
        text = sub(text, 1, at - 1) .. pick({ "=", "=", "A", "z", "/", "+", "-", "_", "!", " ", "\n", "\0", "\128" })
          .. sub(text, at + 1)
      end
    end
    local ok2, v, err = pcall(core.base64_decode, text)
    if not ok2 then return fail("base64_decode", "raised: " .. tostring(v), text) end
    local want = b64_ref(text)
    if want ~= v then return fail("base64_decode", "got " .. dump(v) .. " want " .. dump(want), text) end
    if v == nil and type(err) ~= "string" then fail("base64_decode", "no error message", text) end
    if v and core.base64_encode(v) ~= text then
      note("b64-padbits", "base64_decode accepts non-zero pad bits (e.g. \"AB==\" and \"AR==\" both give \"\\0\")")
    end
  else
    count("random_bytes")
    local n = opt(pick({ 0, 1, 16, 1024, rnd(0, 1024), -1, 1025, 2 ^ 31, 1.5, "8", "x", NONE, {}, 0 / 0 }))
    local ok, r = pcall(core.random_bytes, n)
    local valid = type(n) == "number" and n >= 0 and n <= 1024 and n == floor(n)
    if type(n) == "string" and tonumber(n) then valid, n = true, tonumber(n) end
    if valid and (not ok or type(r) ~= "string" or #r ~= n) then fail("random_bytes", "bad result " .. dump(r), n) end
    if not valid and ok then
      if not has_int64 and n == 1.5 then -- LuaJIT's luaL_checkinteger truncates
        note("rb-1.5", "LuaJIT: random_bytes(1.5) gives 1 byte (luaL_checkinteger truncates)")
      else
        fail("random_bytes", "accepted a bad count", n)
      end
    end
  end
end

-- ---------------------------------------------------------------------------
-- sign_eiotclub: signature over sorted "k=v&" entries, then "secret=".
-- ---------------------------------------------------------------------------
-- C's "%.<p>g" of a finite non-zero double: exact ties round to even (LuaJIT's
-- own formatter rounds them up), so round the exact digits here.
local function fmt_g(x, p)
  local e = c_numeric(format("%.60e", x))
  local neg, d1, rest, ex = e:match("^(-?)(%d)%.(%d+)e([-+]%d+)$")
  local m, E = d1 .. rest, tonumber(ex)
  local head, tail = sub(m, 1, p), sub(m, p + 1)
  local t1 = byte(tail, 1) - 48
  local up = t1 > 5 or (t1 == 5 and (find(tail, "[1-9]", 2) ~= nil or (byte(head, p) - 48) % 2 == 1))
  if up then
    local i = p
    while i >= 1 and sub(head, i, i) == "9" do i = i - 1 end
    if i == 0 then
      head, E = "1" .. rep("0", p - 1), E + 1
    else
      head = sub(head, 1, i - 1) .. char(byte(head, i) + 1) .. rep("0", p - i)
    end
  end
  local out
  if E < -4 or E >= p then
    local frac = sub(head, 2):gsub("0+$", "")
    out = sub(head, 1, 1) .. (frac ~= "" and "." .. frac or "") .. format("e%s%02d", E < 0 and "-" or "+", math.abs(E))
  elseif E >= 0 then
    local frac = sub(head, E + 2):gsub("0+$", "")
    out = sub(head, 1, E + 1) .. (frac ~= "" and "." .. frac or "")
  else
    out = "0." .. rep("0", -E - 1) .. head:gsub("0+$", "")
  end
  return neg .. out
end

-- The text a number signs as (the core's shared formatter).
local function numtext(x)
  if has_int64 and math_type(x) == "integer" then return format("%d", x) end
  if x ~= x or x == huge or x == -huge then return nil end
  if x == floor(x) and x >= -2 ^ 63 and x < 2 ^ 63 then
    if x == 0 then return "0" end
    return format("%.0f", x)
  end
  local s
  for prec = 15, 17 do
    s = fmt_g(x, prec)
    if tonum(s) == x then break end
  end
  return s
end

local function eiot_expect(params, secret)
  local entries = {}
  for k, v in next, params do
    if type(k) ~= "string" then return nil, "non-string name" end
    if k ~= "sign" then
      local t = type(v)
      local text
      if t == "string" then
        if v ~= "" then text = v end
      elseif t == "number" then
        text = numtext(v)
        if not text then return nil, "non-finite number" end
      elseif t == "boolean" then
        text = tostring(v)
      elseif v ~= NULL then
        return nil, "a " .. t
      end
      if text then entries[#entries + 1] = k .. "=" .. text .. "&" end
    end
  end
  sort(entries)
  return core.sha1(concat(entries) .. "secret=" .. secret, "HEX")
end

local function check_eiotclub(params, secret)
  count("sign_eiotclub")
  local want, why = eiot_expect(params, secret)
  local ok, got = pcall(core.sign_eiotclub, params, secret)
  if not want then
    if ok then return fail("sign_eiotclub", "signed params with " .. why .. ": " .. tostring(got), params) end
    if find(tostring(got), secret, 1, true) and #secret > 3 then fail("sign_eiotclub", "secret in the error", params) end
    return
  end
  if not ok then return fail("sign_eiotclub", "raised: " .. tostring(got), params) end
  if got ~= want then return fail("sign_eiotclub", "got " .. tostring(got) .. ", want " .. want, params) end
  -- the same entries inserted in another order
  local keys = {}
  for k in next, params do keys[#keys + 1] = k end
  for i = #keys, 2, -1 do
    local j = rnd(1, i)
    keys[i], keys[j] = keys[j], keys[i]
  end
  local copy = {}
  for i = 1, rnd(0, 20) do copy["junk" .. i] = i end
  for i = 1, #keys do copy[keys[i]] = params[keys[i]] end
  for k in pairs(copy) do if params[k] == nil then copy[k] = nil end end
  local again = core.sign_eiotclub(copy, secret)
  if again ~= got then fail("sign_eiotclub", "depends on the insertion order", params) end
end

local EIOT_VALUES = { "", "x", "500", 500, 500.0, 1e20, -1e20, NEG0, 0.1, -2.5, 1 / 3, 2 ^ 63, 2 ^ 53 + 2, true,
  false, NULL, 0 / 0, huge, -huge, {}, { 1 }, print, "a=b&c", "\0", "中文", 1e-300 }

local function fuzz_eiotclub()
  local params = {}
  for _ = 1, rnd(0, 8) do
    local key = chance(10) and pick({ "sign", "Sign", "sign\0x", "", "a=b", "a&", rep("k", rnd(100, 5000)), "\0" })
      or rand_text(6)
    local v
    local k = rnd(1, 6)
    if k == 1 then v = rand_int() elseif k == 2 then v = rand_float() elseif k <= 4 then v = rand_bytes(10)
    else v = pick(EIOT_VALUES) end
    if chance(8) and v ~= nil then v = pick(EIOT_VALUES) end
    params[key] = v
  end
  if chance(30) then params[pick({ 1, 2.5, true })] = "x" end
  local secret = pick({ "", "s", "TOPSECRET", rand_bytes(20), rep("s", 5000), "se\0cret" })
  check_eiotclub(params, secret)
end

-- ---------------------------------------------------------------------------
-- sign_huawei: SDK-HMAC-SHA256 recomputed from the canonical request.
-- ---------------------------------------------------------------------------
local function unquote(s)
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
local function quote(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return format("%%%02X", byte(c)) end))
end
local function trim(s)
  return (s:gsub("^[ \t\n\11\12\r]+", ""):gsub("[ \t\n\11\12\r]+$", ""))
end
local function cstr(s) -- the part before the first NUL
  local z = find(s, "\0", 1, true)
  return z and sub(s, 1, z - 1) or s
end

local function split_url(url)
  url = cstr(url)
  local s = find(url, "://", 1, true)
  if not s then return nil end
  local rest = sub(url, s + 3)
  local he = find(rest, "[/?#]") or #rest + 1
  local host = sub(rest, 1, he - 1)
  local at = find(host, "@", 1, true)
  if at then host = sub(host, at + 1) end
  if host == "" then return nil end
  local after = sub(rest, he)
  local pe = find(after, "[?#]") or #after + 1
  local path, query = sub(after, 1, pe - 1), ""
  if sub(after, pe, pe) == "?" then
    local q = sub(after, pe + 1)
    query = sub(q, 1, (find(q, "#", 1, true) or #q + 1) - 1)
  end
  return host, path, query
end

local function canonical_uri(path)
  local p = unquote(path == "" and "/" or path)
  local parts, start = {}, 1
  while true do
    local i = find(p, "/", start, true)
    if not i then parts[#parts + 1] = quote(sub(p, start)); break end
    parts[#parts + 1] = quote(sub(p, start, i - 1))
    start = i + 1
  end
  local u = concat(parts, "/")
  if sub(u, -1) ~= "/" then u = u .. "/" end
  return u
end

local function canonical_query(raw)
  local kv = {}
  for piece in raw:gmatch("[^&]+") do
    local k, v = piece:match("^([^=]*)=(.*)$")
    if not k then k, v = piece, "" end
    kv[#kv + 1] = { unquote(k), unquote(v) }
  end
  sort(kv, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, p in ipairs(kv) do out[i] = quote(p[1]) .. "=" .. quote(p[2]) end
  return concat(out, "&")
end

local function is_date(s)
  return type(s) == "string" and #s == 16 and find(s, "^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$") ~= nil
end

-- Expected result headers (without Authorization's value when the date is
-- made up by the core), or nil and why the call must raise.
local function huawei_expect(req, given_date)
  for _, f in ipairs({ "method", "url", "ak", "sk" }) do
    if type(req[f]) ~= "string" then return nil, f end
  end
  if req.body ~= nil and type(req.body) ~= "string" then return nil, "body" end
  local host, path, query = split_url(req.url)
  if not host then return nil, "url" end
  local out = {}
  if req.headers ~= nil then
    if type(req.headers) ~= "table" then return nil, "headers" end
    for k, v in next, req.headers do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then return nil, "header" end
      out[k] = cstr(tostring(v))
    end
  end
  local date
  for k, v in next, out do
    if cstr(k):lower() == "x-sdk-date" then
      if #k ~= 10 then return nil, "ambiguous date header" end -- not generated
      date = v
    end
  end
  if date then
    if not is_date(date) then return nil, "date" end
  else
    date = given_date
    out["X-Sdk-Date"] = date
  end
  local has_host = false
  for k in next, out do if cstr(k):lower() == "host" then has_host = true end end
  if not has_host then out.Host = host end
  local entries = {}
  for k, v in next, out do
    if k:lower() ~= "authorization" then entries[#entries + 1] = { k:lower(), trim(v) } end
  end
  sort(entries, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local lines, names, body_hash = {}, {}, nil
  for i, e in ipairs(entries) do
    lines[i] = e[1] .. ":" .. e[2] .. "\n"
    names[i] = e[1]
    if e[1] == "x-sdk-content-sha256" then body_hash = e[2] end
  end
  local signed = concat(names, ";")
  local creq = concat({ req.method:upper(), canonical_uri(path), canonical_query(query), concat(lines), signed,
    body_hash or core.sha256(req.body or "", "hex") }, "\n")
  local sts = "SDK-HMAC-SHA256\n" .. date .. "\n" .. core.sha256(creq, "hex")
  out.Authorization = "SDK-HMAC-SHA256 Access=" .. req.ak .. ", SignedHeaders=" .. signed .. ", Signature="
    .. core.hmac_sha256(req.sk, sts, "hex")
  return out
end

local function check_huawei(req)
  count("sign_huawei")
  local ok, got = pcall(core.sign_huawei, req)
  local given = ok and type(got) == "table" and got["X-Sdk-Date"] or "20200101T000000Z"
  local want, why = huawei_expect(req, given)
  if not want then
    if ok then return fail("sign_huawei", "signed a bad request (" .. why .. ")", req) end
    if type(req.sk) == "string" and #req.sk > 3 and find(tostring(got), req.sk, 1, true) then
      fail("sign_huawei", "sk in the error", req)
    end
    return
  end
  if not ok then return fail("sign_huawei", "raised: " .. tostring(got), req) end
  if not is_date(got["X-Sdk-Date"] or "") then fail("sign_huawei", "bad X-Sdk-Date", req) end
  if not same(got, want) then
    return fail("sign_huawei", "got " .. dump(got) .. "\n    want " .. dump(want), req)
  end
end

local URL_PIECES = { "/", "/v1", "/a%20b", "/%E4%B8%AD", "/a%2Fb", "/%zz", "/%", "/x%0", "//", "/~._-", "/\195\169",
  "/a b", "?", "?a=1", "?b=2&a=1", "?a=1&a=0", "?=v", "?k", "?&&", "?a=%00", "?%00=x", "?a%00b=1", "?q=%E4%B8%AD%20x",
  "?a=b%2Fc", "?a+b=c+d", "?x=%", "?x=%4", "#frag", "#a?b", "?a=1#f&b=2", "?a==b", "?\0z" }
local HEADER_NAMES = { "Content-Type", "X-Project-Id", "X-Sdk-Content-Sha256", "Host", "Authorization", "X-A",
  "x-b", "X-Sdk-Date", "\195\169", "a b", "a:b", "" }

local function fuzz_huawei()
  local req = {
    method = pick({ "GET", "post", "Put", "DELETE", "", "x\0y", "g\195\169t" }),
    url = pick({ "https://h.example.com", "http://127.0.0.1:8080", "https://u:p@h.example.com", "https://@h",
      "https://", "h.example.com", "https://h.example.com:443", "http://a@b@c" }),
    ak = pick({ "ak", "", "a\0k", rep("a", 300) }),
    sk = pick({ "sk", "", "s\0k", rep("s", 300), rand_bytes(20) }),
  }
  for _ = 1, rnd(0, 4) do req.url = req.url .. pick(URL_PIECES) end
  if chance(5) then req.url = req.url .. rand_text(10) end
  if chance(2) then req.body = pick({ "", "{}", rand_bytes(100), rep("b", 70000) }) end
  if chance(2) then
    local h, lower = {}, {}
    for _ = 1, rnd(0, 5) do
      local name = chance(4) and rand_utf8(6):gsub("%z", "") or pick(HEADER_NAMES)
      if not lower[name:lower()] then
        lower[name:lower()] = true
        local v = pick({ "v", "  spaced  ", "\t", "\11x \12\r\n", "", 5, 1.5, 2 ^ 63, "a\0b", "20240101T000000Z", rand_utf8(10),
          "20240101T00000Z" })
        if name == "X-Sdk-Date" and chance(2) then v = "20240101T000000Z" end
        h[name] = v
      end
    end
    req.headers = h
  end
  if chance(20) then -- odd types
    local f = pick({ "method", "url", "ak", "sk", "body", "headers" })
    req[f] = opt(pick({ 1, true, {}, print, NONE }))
  end
  if chance(30) and type(req.headers) == "table" then req.headers[pick({ 1, true, 2.5 })] = "x" end
  if chance(30) and type(req.headers) == "table" then req.headers.X = pick({ {}, true, print }) end
  check_huawei(req)
end

-- ---------------------------------------------------------------------------
-- http: argument validation only, against a closed loopback port.
-- ---------------------------------------------------------------------------
local ENV_PROXY = os.getenv("http_proxy") or os.getenv("HTTP_PROXY") or os.getenv("https_proxy")
  or os.getenv("HTTPS_PROXY") or os.getenv("all_proxy") or os.getenv("ALL_PROXY")

-- each field: values that are fine, and values that must raise
local HTTP_FIELDS = {
  method = { { NONE, "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "X-CUSTOM_1", rep("A", 32) },
    { "get", "", "G T", rep("A", 33), "GET\0", 1, true, {} } },
  url = { { "http://127.0.0.1:1/", "http://127.0.0.1:1/p?q=1#f", "http://[::1]:1/", "https://127.0.0.1:1/",
    "ftp://127.0.0.1:1/", "http://localhost:1/" .. rep("p", 10000), "http://u:pw@127.0.0.1:1/",
    "http://127.0.0.1:99999/", "http://127.0.0.1:1/\1 x", "", "http://" },
    { NONE, 1, {}, true, "http://127.0.0.1:1/\0x" } },
  body = { { NONE, "", "x", rep("b", 100000), "\0\1\2" }, { 1, true, {} } },
  timeout = { { NONE, 0.001, 0.5, 3, 2592000, 1e-9 }, { 0, -1, 0 / 0, huge, 2592000.5, "5", true } },
  connect_timeout = { { NONE, 0.001, 2 }, { 0, -0.5, 0 / 0, -huge, {} } },
  cafile = { { NONE, "", "/nonexistent" }, { 1, true, "a\0b" } },
  capath = { { NONE, "/nonexistent" }, { false, {} } },
  proxy = { { NONE, "", "http://127.0.0.1:1" }, { 1, "p\0" } },
  noproxy = { { NONE, "*", "", "127.0.0.1" }, { true, {} } },
  insecure = { { NONE, true, false }, { 1, "yes", {} } },
  idempotent = { { NONE, true, false }, { 0, "no" } },
}
local HTTP_FIELD_NAMES = {}
for k in pairs(HTTP_FIELDS) do HTTP_FIELD_NAMES[#HTTP_FIELD_NAMES + 1] = k end
sort(HTTP_FIELD_NAMES)

local HEADERS_OK = {
  function() return { ["X-A"] = "v" } end,
  function() return { { "X-A", "v" }, { "X-A", "w" } } end,
  function() return { ["X-N"] = 5, ["X-F"] = 1.5, ["X-Nan"] = 0 / 0 } end,
  function() return { ["X-E"] = "" } end,
  function() return { Expect = "100-continue", ["Content-Type"] = "text/plain" } end,
  function() return { { "X-L", "1" }, ["X-M"] = "2" } end,
  function() return {} end,
  function() return { ["X-U"] = "\195\169 \1" } end,
}
local HEADERS_BAD = {
  function() return "x" end,
  function() return { ["X A"] = "v" } end,
  function() return { ["X:A"] = "v" } end,
  function() return { [""] = "v" } end,
  function() return { ["X-A"] = "a\r\nb" } end,
  function() return { ["X-A"] = "a\0b" } end,
  function() return { ["X-A"] = true } end,
  function() return { ["X-A"] = {} } end,
  function() return { { "X-A" } } end,
  function() return { { 1, "v" } } end,
  function() return { "notatable" } end,
  function() return { [1.5] = "v" } end,
  function() return { { "X-A", "v" }, [5] = { "a", "b" } } end,
  function() return { [true] = "x" } end,
  function() return { ["X-\200"] = "v" } end,
  function() return { [{}] = "v" } end,
}

local function check_http()
  count("http")
  local h, herr = core.http_new()
  if not h then return fail("http", "http_new failed: " .. tostring(herr)) end
  local opts, bad = {}, nil
  for _, name in ipairs(HTTP_FIELD_NAMES) do
    local f = HTTP_FIELDS[name]
    if chance(12) then
      opts[name] = opt(pick(f[2]))
      bad = name
    else
      opts[name] = opt(pick(f[1]))
    end
  end
  if opts.url == nil and bad ~= "url" then opts.url = "http://127.0.0.1:1/" end
  if chance(3) then
    if chance(6) then
      opts.headers = pick(HEADERS_BAD)()
      bad = "headers"
    else
      opts.headers = pick(HEADERS_OK)()
    end
  end
  if opts.proxy == nil and ENV_PROXY then opts.proxy = "" end
  opts.timeout = opts.timeout or 2
  local ok, res, msg, cat, code = pcall(h.request, h, opts)
  if bad then
    if ok then fail("http", "accepted a bad '" .. bad .. "': " .. tostring(msg), opts) end
  elseif not ok then
    fail("http", "raised on valid options: " .. tostring(res), opts)
  elseif res ~= nil then
    fail("http", "got an answer from a closed port", opts)
  elseif type(msg) ~= "string" or not find(msg, "^http: ") or type(cat) ~= "string" or type(code) ~= "number" then
    fail("http", "bad failure result: " .. dump({ msg, cat, code }), opts)
  end
  if chance(4) then -- misuse
    if pcall(h.request, h, "x") or pcall(h.request, {}, opts) or pcall(h.request, h) then
      fail("http", "accepted a non-table request or a non-handle")
    end
  end
  if chance(2) then
    h:close()
    h:close()
    if tostring(h) ~= "simkit.http (closed)" then fail("http", "tostring of a closed handle: " .. tostring(h)) end
    if pcall(h.request, h, { url = "http://127.0.0.1:1/" }) then fail("http", "a closed handle made a request") end
  end -- else left to __gc
end

local function check_clock()
  count("clock")
  local now, mono = core.now(), core.monotonic()
  if type(now) ~= "number" or math.abs(now - os.time()) > 5 or type(mono) ~= "number" then
    fail("clock", "now/monotonic: " .. tostring(now) .. " " .. tostring(mono))
  end
  local arg = opt(pick({ 0, 1e-9, "0", -1, 0 / 0, 86401, huge, -huge, "x", {}, NONE, true }))
  local valid = arg == 0 or arg == 1e-9 or arg == "0"
  local ok, err = pcall(core.sleep, arg)
  if ok ~= valid then fail("clock", "sleep: " .. tostring(err), arg) end
end

-- ---------------------------------------------------------------------------
-- cdr_parse: the EIOTCLUB CDR CSV parser against a model written here
-- ---------------------------------------------------------------------------
-- The model reads the whole text line by line (LF, CRLF or CR ends), keeps
-- going after a bad line, and gives the rows and the (line, kind) of every
-- error. The C parser is driven like simkit.eiotclub.cdr.rows does: whole,
-- and in random pieces (a line end split across pieces, long lines skipped
-- across pieces); both must agree with the model exactly.
local CDR_HEADER = { "id", "start_time", "stop_time", "iccid", "imsi", "data_usage", "imei", "mccmnc" }
local CDR_PREFIX = {
  long = "line longer than max_line (", unterminated = "unterminated quoted field",
  after = "unexpected text after a quoted field", header = "a header must be exactly id,start_time,",
  idword = "id 'id' is not a 64-bit integer (only line 1", fields = "expected 8 fields, got ",
  id = "id '", start = "start_time '", stop = "stop_time '", iccid = "iccid is empty", usage = "data_usage '",
}
local CDR_I63 = "9223372036854775807"

local function cdr_blank(b) return b == 32 or b == 9 or b == 11 or b == 12 end

local function cdr_trim(s)
  local i, j = 1, #s
  while i <= j and cdr_blank(byte(s, i)) do i = i + 1 end
  while j >= i and cdr_blank(byte(s, j)) do j = j - 1 end
  return sub(s, i, j)
end

local function cdr_split(line)
  local f, i, len = {}, 1, #line
  while true do
    local s = i
    while s <= len and cdr_blank(byte(line, s)) do s = s + 1 end
    if #f == 9 then return f end
    if byte(line, s) == 34 then
      local parts, j = {}, s + 1
      while true do
        local q = find(line, '"', j, true)
        if not q then return nil, "unterminated" end
        parts[#parts + 1] = sub(line, j, q - 1)
        if byte(line, q + 1) == 34 then
          parts[#parts + 1] = '"'
          j = q + 2
        else
          j = q + 1
          break
        end
      end
      f[#f + 1] = cdr_trim(concat(parts))
      while j <= len and cdr_blank(byte(line, j)) do j = j + 1 end
      if j > len then return f end
      if byte(line, j) ~= 44 then return nil, "after" end
      i = j + 1
    else
      local c = find(line, ",", i, true)
      f[#f + 1] = cdr_trim(sub(line, i, (c or len + 1) - 1))
      if not c then return f end
      i = c + 1
    end
  end
end

-- digits only, at most 2^63-1: the value (an integer on 5.4; on LuaJIT a
-- number up to 2^53, else the decimal text without leading zeros)
local function cdr_u63(s)
  if not find(s, "^%d+$") then return nil end
  local d = s:gsub("^0+", "")
  if #d > 19 or (#d == 19 and d > CDR_I63) then return nil end
  if d == "" then d = "0" end
  if has_int64 then return math.tointeger(tonumber(d)) end
  if #d < 16 or (#d == 16 and d <= "9007199254740992") then return tonumber(d) end
  return d
end

local CDR_MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local CDR_BEFORE = { 0 } -- days before month m in a common year
for m = 2, 12 do CDR_BEFORE[m] = CDR_BEFORE[m - 1] + CDR_MDAYS[m - 1] end

-- days from 0000-01-01 (proleptic Gregorian, year 0 is a leap year) to y-01-01
local function cdr_year_days(y)
  return y * 365 + floor((y + 3) / 4) - floor((y + 99) / 100) + floor((y + 399) / 400)
end

local function cdr_time(s)
  if #s ~= 19 then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d) (%d%d):(%d%d):(%d%d)$")
  if not y then return nil end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  local leap = y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
  if mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 or se > 59 then return nil end
  if d > CDR_MDAYS[mo] + ((mo == 2 and leap) and 1 or 0) then return nil end
  local days = cdr_year_days(y) + CDR_BEFORE[mo] + ((mo > 2 and leap) and 1 or 0) + d - 1 - cdr_year_days(1970)
  return days * 86400 + h * 3600 + mi * 60 + se
end

-- one line's content -> row | false (nothing: blank or header) | nil, kind
local function cdr_line(line, lineno)
  if lineno == 1 and sub(line, 1, 3) == "\239\187\191" then line = sub(line, 4) end
  if cdr_trim(line) == "" then return false end
  local f, kind = cdr_split(line)
  if not f then return nil, kind end
  if f[1]:lower() == "id" then
    if lineno == 1 and #f == 8 then
      local header = true
      for k = 1, 8 do if f[k]:lower() ~= CDR_HEADER[k] then header = false end end
      if header then return false end
    end
    return nil, lineno == 1 and "header" or "idword"
  end
  if #f ~= 8 then return nil, "fields" end
  local id, st, et, usage = cdr_u63(f[1]), cdr_time(f[2]), cdr_time(f[3]), cdr_u63(f[6])
  if id == nil then return nil, "id" end
  if not st then return nil, "start" end
  if not et then return nil, "stop" end
  if f[4] == "" then return nil, "iccid" end
  if usage == nil then return nil, "usage" end
  return { id = id, start_time = st, stop_time = et, start_time_text = f[2], stop_time_text = f[3], iccid = f[4],
    imsi = f[5], data_usage = usage, imei = f[7], mccmnc = f[8], line = lineno }
end

local function cdr_model(text, max_line)
  local rows, errs, pos, lineno, len = {}, {}, 1, 0, #text
  while pos <= len do
    local e = find(text, "[\r\n]", pos)
    local line, nxt
    if not e then
      line, nxt = sub(text, pos), len + 1
    else
      line = sub(text, pos, e - 1)
      nxt = (byte(text, e) == 13 and byte(text, e + 1) == 10) and e + 2 or e + 1
    end
    lineno = lineno + 1
    if #line > max_line then
      errs[#errs + 1] = { lineno, "long" }
    else
      local row, kind = cdr_line(line, lineno)
      if row then rows[#rows + 1] = row elseif row == nil then errs[#errs + 1] = { lineno, kind } end
    end
    pos = nxt
  end
  return rows, errs
end

-- The C parser over `pieces` (a list of strings), as the rows() iterator
-- drives it. Returns rows, errors ({ line, message }).
local function cdr_drive(pieces, max_line)
  local rows, errs, n, lineno, skipping, buf = {}, {}, 0, 0, false, ""
  for k = 1, #pieces + 1 do
    local final = k > #pieces
    buf = buf .. (pieces[k] or "")
    local pos = 1
    while true do
      local npos, nline, nn, msg, skip = core.cdr_parse(buf, pos, lineno, final, max_line, rows, n, skipping)
      if nn < n or nline < lineno or npos < pos or npos > #buf + 1 then
        fail("cdr_parse", format("went backwards: pos %d -> %d, line %d -> %d, n %d -> %d", pos, npos, lineno,
          nline, n, nn), buf)
        return rows, errs
      end
      n, lineno, skipping = nn, nline, skip
      if msg then errs[#errs + 1] = { nline, msg } end
      if msg and not skip and npos <= #buf then
        pos = npos
      else
        buf = sub(buf, npos)
        break
      end
    end
  end
  if skipping or buf ~= "" then fail("cdr_parse", "text left after the final piece: " .. dump(buf)) end
  if n ~= #rows then fail("cdr_parse", "n " .. n .. " but " .. #rows .. " rows") end
  return rows, errs
end

local CDR_FIELDS = { "id", "start_time", "stop_time", "start_time_text", "stop_time_text", "iccid", "imsi",
  "data_usage", "imei", "mccmnc", "line" }

local function cdr_compare(label, text, max_line, rows, errs, mrows, merrs)
  if #rows ~= #mrows then
    return fail("cdr_parse", format("%s: %d rows, the model %d (max_line %d)", label, #rows, #mrows, max_line), text)
  end
  for r = 1, #rows do
    local a, b = rows[r], mrows[r]
    local nkeys = 0
    for _ in pairs(a) do nkeys = nkeys + 1 end
    if nkeys ~= #CDR_FIELDS then return fail("cdr_parse", label .. ": row " .. r .. " has " .. nkeys .. " keys", text) end
    for _, key in ipairs(CDR_FIELDS) do
      if a[key] ~= b[key] or (has_int64 and math_type(a[key]) ~= math_type(b[key])) then
        return fail("cdr_parse", format("%s: row %d %s = %s, the model %s", label, r, key, dump(a[key]), dump(b[key])),
          text)
      end
    end
  end
  if #errs ~= #merrs then
    return fail("cdr_parse", format("%s: %d errors, the model %d (max_line %d)", label, #errs, #merrs, max_line), text)
  end
  for k = 1, #errs do
    local line, msg = errs[k][1], errs[k][2]
    local want = merrs[k]
    if line ~= want[1] or type(msg) ~= "string" or find(msg, CDR_PREFIX[want[2]], 1, true) ~= 1 then
      return fail("cdr_parse", format("%s: error %d at line %s %q, the model line %d %s", label, k, tostring(line),
        tostring(msg), want[1], want[2]), text)
    end
  end
end

local function cdr_digits(lo, hi)
  local t = {}
  for i = 1, rnd(lo, hi) do t[i] = char(rnd(48, 57)) end
  return concat(t)
end

local function cdr_time_text()
  if chance(6) then return pick({ "", "2026-02-29 00:00:00", "2024-02-29 23:59:59", "1900-02-29 10:00:00",
    "2000-02-29 10:00:00", "0000-01-01 00:00:00", "9999-12-31 23:59:59", "2026-13-01 00:00:00",
    "2026-04-31 00:00:00", "2026-01-01 24:00:00", "2026-01-01 00:60:00", "2026-01-01 00:00:60",
    "2026-1-01 00:00:00", "2026-01-01T00:00:00", "2026-01-01 00:00:00 ", "+026-01-01 00:00:00" }) end
  return format("%04d-%02d-%02d %02d:%02d:%02d", rnd(0, 9999), rnd(1, 12), rnd(1, chance(8) and 31 or 28),
    rnd(0, 23), rnd(0, 59), rnd(0, 59))
end

local function cdr_field(v)
  if chance(5) then v = rep(" ", rnd(1, 3)) .. v .. pick({ "", " ", "\t", "\v\f" }) end
  if chance(5) then
    v = '"' .. v:gsub('"', '""') .. '"'
    if chance(4) then v = " " .. v .. "\t" end
  end
  return v
end

local function cdr_gen_line(first)
  local c = rnd(1, 20)
  if c == 1 then return pick({ "", " ", "\t \f", "\239\187\191" }) end
  if c == 2 or (first and chance(2)) then
    local h = {}
    for k = 1, 8 do h[k] = cdr_field(chance(3) and CDR_HEADER[k]:upper() or CDR_HEADER[k]) end
    if chance(4) then h[rnd(1, 8)] = "x" end
    if chance(6) then h[9] = "extra" end
    return concat(h, ",")
  end
  if c == 3 then return rand_bytes(rnd(0, 40)) end
  local id = pick({ cdr_digits(1, 6), "0" .. cdr_digits(1, 3), cdr_digits(15, 18), CDR_I63, "9223372036854775808",
    "9007199254740993", "9007199254740992", cdr_digits(20, 22), "-1", "1e3", "", "ID", "iD" })
  local f = { id, cdr_time_text(), cdr_time_text(), pick({ "8901" .. cdr_digits(10, 16), "", "x\"y", "\0" }),
    cdr_digits(0, 15), pick({ cdr_digits(1, 9), "0", "00", CDR_I63, "9223372036854775808", "1.5", "-0", "" }),
    cdr_digits(0, 15), pick({ "310260", "00101", "", "a,b" }) }
  for k = 1, 8 do f[k] = cdr_field(f[k]) end
  if chance(10) then f[rnd(1, 8)] = '"unterminated' end
  if chance(10) then f[rnd(1, 8)] = '"q" x' end
  if chance(10) then f[#f + 1] = "extra" elseif chance(10) then f[#f] = nil end
  return concat(f, ",")
end

local CDR_NOISE = { ",", '"', " ", "\r", "\n", "0", "9", "-", ":", "x", "\239", "\0", "\t" }

local function fuzz_cdr()
  count("cdr_parse")
  local lines = {}
  for k = 1, rnd(0, 12) do lines[k] = cdr_gen_line(k == 1) end
  if lines[1] and chance(5) then lines[1] = "\239\187\191" .. lines[1] end
  local parts = {}
  for k = 1, #lines do
    parts[#parts + 1] = lines[k]
    if k < #lines or chance(2) then parts[#parts + 1] = pick({ "\n", "\r\n", "\r", "\n\r" }) end
  end
  local text = concat(parts)
  if chance(3) then
    for _ = 1, rnd(1, 4) do
      local at = rnd(1, #text + 1)
      local op = rnd(1, 3)
      if op == 1 then
        text = sub(text, 1, at - 1) .. pick(CDR_NOISE) .. sub(text, at)
      elseif op == 2 then
        text = sub(text, 1, at - 1) .. sub(text, at + rnd(1, 5))
      else
        text = sub(text, 1, at - 1) .. pick(CDR_NOISE) .. sub(text, at + 1)
      end
    end
  end
  local max_line = pick({ 1, 3, 20, 60, 90, 120, 1000000 })
  local mrows, merrs = cdr_model(text, max_line)
  local rows, errs = cdr_drive({ text }, max_line)
  cdr_compare("whole", text, max_line, rows, errs, mrows, merrs)
  local pieces, at = {}, 1
  local size = pick({ 1, 2, 3, 7, 16 })
  while at <= #text do
    local n = chance(2) and size or rnd(1, 40)
    pieces[#pieces + 1] = sub(text, at, at + n - 1)
    at = at + n
  end
  if chance(4) then table.insert(pieces, rnd(1, #pieces + 1), "") end
  rows, errs = cdr_drive(pieces, max_line)
  cdr_compare("pieces of " .. size, text, max_line, rows, errs, mrows, merrs)
  -- the time parser on its own
  local t = cdr_time_text()
  if chance(3) then t = sub(t, 1, rnd(0, 18)) .. pick(CDR_NOISE) .. sub(t, rnd(1, 20)) end
  local got, want = core.cdr_utc_epoch(t), cdr_time(t)
  if got ~= want then fail("cdr_parse", "cdr_utc_epoch(" .. format("%q", t) .. ") = " .. tostring(got) ..
    ", the model " .. tostring(want)) end
end

-- ---------------------------------------------------------------------------
-- core.text_check against a model: the first invalid UTF-8 sequence (RFC
-- 3629) anywhere wins, else the first control byte (C0 or DEL; LF and CR
-- pass with allow_newlines), else nothing
-- ---------------------------------------------------------------------------
local function text_model(s, newlines)
  local i, n, ctl = 1, #s, nil
  while i <= n do
    local c = byte(s, i)
    if c >= 0x80 then
      local l = utf8_len(s, i, n)
      if not l then return "utf8", i, c end
      i = i + l
    else
      if not ctl and (c < 0x20 or c == 0x7F) and not (newlines and (c == 10 or c == 13)) then ctl = i end
      i = i + 1
    end
  end
  if ctl then return "control", ctl, byte(s, ctl) end
  return nil
end

local function fuzz_text()
  local s = chance(2) and rand_text(40) or rand_bytes(40)
  if chance(3) then s = mutate(s) end
  local newlines = chance(2)
  local w1, w2, w3 = text_model(s, newlines)
  local g1, g2, g3 = core.text_check(s, newlines)
  count("text_check")
  if g1 ~= w1 or g2 ~= w2 or g3 ~= w3 then
    fail("text_check", "text_check(" .. format("%q", s) .. ", " .. tostring(newlines) .. ") = " ..
      tostring(g1) .. " " .. tostring(g2) .. " " .. tostring(g3) .. ", the model " .. tostring(w1) .. " " ..
      tostring(w2) .. " " .. tostring(w3), s)
  end
end

-- is_hex / int_text: byte-level models (no patterns), on texts made mostly of
-- digits, hex letters, '-' and a few others
local function digits_text(n)
  local alphabet = "0000123456789abcdefABCDEF--x +.\0"
  local t = {}
  for i = 1, rnd(0, n) do
    local k = rnd(1, #alphabet)
    t[i] = alphabet:sub(k, k)
  end
  return concat(t)
end

local function hex_model(s)
  for i = 1, #s do
    local b = byte(s, i)
    if not ((b >= 48 and b <= 57) or (b >= 65 and b <= 70) or (b >= 97 and b <= 102)) then return false end
  end
  return true
end

local function int_model(s)
  local neg = byte(s, 1) == 45
  local first = neg and 2 or 1
  if first > #s then return nil end
  for i = first, #s do
    local b = byte(s, i)
    if b < 48 or b > 57 then return nil end
  end
  while first < #s and byte(s, first) == 48 do first = first + 1 end
  local kept = s:sub(first)
  if kept == "0" then return "0" end
  return (neg and "-" or "") .. kept
end

local function fuzz_digits()
  local s = chance(4) and rand_bytes(30) or digits_text(30)
  count("is_hex")
  local ok, got = pcall(core.is_hex, s)
  if not ok or got ~= hex_model(s) then
    fail("is_hex", "is_hex(" .. format("%q", s) .. ") = " .. tostring(got) .. ", the model " .. tostring(hex_model(s)), s)
  end
  count("int_text")
  local ok2, text = pcall(core.int_text, s)
  if not ok2 or text ~= int_model(s) then
    fail("int_text", "int_text(" .. format("%q", s) .. ") = " .. tostring(text) .. ", the model " ..
      tostring(int_model(s)), s)
  end
end

-- ---------------------------------------------------------------------------
-- Driver
-- ---------------------------------------------------------------------------
local function run_regressions()
  for i, r in ipairs(REGRESSION) do
    current = "regression " .. i
    if r.locale and not os.setlocale(r.locale, "numeric") then
      note("loc-" .. r.locale, "regression cases for locale " .. r.locale .. " skipped: not installed")
    elseif r[1] == "eiotclub" then
      check_eiotclub(r[2], r[3])
    elseif r[1] == "huawei" then
      check_huawei(r[2])
    elseif r[1] == "decode" then
      check_decode(r[2])
    elseif r[1] == "encode" then
      check_encode(r[2])
    end
    os.setlocale("C", "numeric")
  end
end

local TARGETS = {
  { 30, fuzz_decode }, { 8, fuzz_keys }, { 22, fuzz_encode }, { 12, fuzz_crypto }, { 14, fuzz_eiotclub }, { 14, fuzz_huawei },
  { 4, check_http }, { 1, check_clock }, { 12, fuzz_cdr }, { 6, fuzz_text }, { 4, fuzz_digits },
}
local TOTAL = 0
for _, t in ipairs(TARGETS) do TOTAL = TOTAL + t[1] end

local function main(...)
  local args = { ... }
  ITER = floor(tonumber(args[1] or "") or ITER)
  SEED = floor(tonumber(args[2] or "") or os.time())
  FIRST = floor(tonumber(args[3] or "") or FIRST)
  local trace = os.getenv("FUZZ_TRACE")
  local locales = {}
  for _, l in ipairs(LOCALES) do
    if os.setlocale(l, "numeric") then locales[#locales + 1] = l end
  end
  os.setlocale("C", "numeric")
  local t0 = os.clock()
  run_regressions()
  current = "vectors"
  check_vectors()
  for i = FIRST, FIRST + ITER - 1 do
    current = "iteration " .. i
    if trace then io.stderr:write(current, "\n") end
    reseed(SEED, i)
    if locales[1] and chance(3) then os.setlocale(pick(locales), "numeric") end
    local r, acc = rnd(1, TOTAL), 0
    for _, t in ipairs(TARGETS) do
      acc = acc + t[1]
      if r <= acc then t[2](); break end
    end
    os.setlocale("C", "numeric")
    if i % 500 == 0 then collectgarbage() end
  end
  collectgarbage()
  collectgarbage()
  local names = {}
  for k, v in pairs(per_target) do names[#names + 1] = k .. "=" .. v end
  sort(names)
  for _, v in pairs(notes) do io.stderr:write("note: ", v, "\n") end
  print(format("fuzz: %d iterations from %d, seed %d, %s, %.1f s CPU: %d checks (%s), %d failures",
    ITER, FIRST, SEED, "LC_NUMERIC " .. concat(locales, ", ", 1, #locales) .. (locales[1] and " and C" or "C"), os.clock() - t0, checks,
    concat(names, " "), failures))
  os.exit(failures == 0 and 0 or 1)
end

main(...)
