--- Shared helpers for the simkit sandbox and its vendor modules.
--
-- Pure Lua except the digests, which use LuaJIT FFI to libcrypto (they raise
-- a clear error on a VM without FFI). Loads under nginx (LuaJIT), plain
-- LuaJIT and Lua 5.4, so specs can test the JSON code directly.
--
-- JSON:
--   util.json_encode(v) -> text | nil, err
--   util.json_decode(text) -> value | nil, err   (never raises)
--   util.null                 JSON null (decoded everywhere, encodes as null)
--   util.bignum("123...")     an integer beyond +-2^53, kept as its digits;
--                             decoded for such literals, encoded raw
--   util.array(t) / util.object(t)  mark a table so an empty one encodes as
--                             [] / {} (unmarked empty tables encode as {});
--                             decoded arrays and objects carry these marks
-- luacheck: globals ngx
local util = {}

local byte, char, find, sub, gsub, format =
  string.byte, string.char, string.find, string.sub, string.gsub, string.format
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local type, pairs, tostring, tonumber, setmetatable, getmetatable, rawequal =
  type, pairs, tostring, tonumber, setmetatable, getmetatable, rawequal

----------------------------------------------------------------------------
-- sentinels and markers

util.null = setmetatable({}, {
  __tostring = function() return "null" end,
  __name = "simsandbox.null",
})

local array_mt = { __jsontype = "array" }
local object_mt = { __jsontype = "object" }

--- Mark `t` (or a new table) as a JSON array.
function util.array(t)
  return setmetatable(t or {}, array_mt)
end

--- Mark `t` (or a new table) as a JSON object.
function util.object(t)
  return setmetatable(t or {}, object_mt)
end

local bignum_mt = {}
bignum_mt.__index = bignum_mt
bignum_mt.__tostring = function(b) return b.digits end
bignum_mt.__eq = function(a, b) return a.digits == b.digits end
bignum_mt.__name = "simsandbox.bignum"

--- An integer too large for a double, kept as its decimal digits.
function util.bignum(s)
  s = tostring(s)
  if not find(s, "^%-?%d+$") then
    error("bignum: not an integer literal: " .. s, 2)
  end
  return setmetatable({ digits = s }, bignum_mt)
end

function util.is_bignum(v)
  return type(v) == "table" and getmetatable(v) == bignum_mt
end

----------------------------------------------------------------------------
-- JSON encode

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
for i = 0, 31 do
  local c = char(i)
  if not escapes[c] then escapes[c] = format("\\u%04x", i) end
end
escapes["\127"] = "\\u007f"

local function encode_string(s)
  return '"' .. gsub(s, '[%c"\\]', escapes) .. '"'
end
util.json_quote = encode_string

local math_type = math.type

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    return nil, "cannot encode NaN or infinity"
  end
  if math_type and math_type(n) == "integer" then
    return format("%d", n)
  end
  if n == floor(n) and n >= -2^53 and n <= 2^53 then
    return format("%.0f", n)
  end
  local s = format("%.14g", n)
  if tonumber(s) ~= n then s = format("%.17g", n) end
  return s
end

local encode_value

local function encode_table(t, depth, out)
  if depth > 200 then return nil, "nesting too deep (cycle?)" end
  local mt = getmetatable(t)
  if mt == bignum_mt then
    out[#out + 1] = t.digits
    return true
  end
  local n, count, keys = 0, 0, nil
  for k in pairs(t) do
    count = count + 1
    if type(k) == "number" and k > 0 and k == floor(k) then
      if k > n then n = k end
    else
      keys = keys or {}
      keys[#keys + 1] = k
    end
  end
  local as_array
  if mt == array_mt then
    as_array = true
  elseif mt == object_mt then
    as_array = false
  else
    as_array = count > 0 and keys == nil
  end
  if as_array then
    if keys or n ~= count then
      return nil, "cannot encode a sparse array or a table with mixed keys"
    end
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = "," end
      local ok, err = encode_value(t[i], depth + 1, out)
      if not ok then return nil, err end
    end
    out[#out + 1] = "]"
    return true
  end
  -- object: every key as a string, sorted for a stable output
  local skeys = {}
  for k in pairs(t) do
    local tk = type(k)
    if tk == "string" then
      skeys[#skeys + 1] = k
    elseif tk == "number" then
      skeys[#skeys + 1] = encode_number(k)
    else
      return nil, "cannot encode a table key of type " .. tk
    end
  end
  local orig = {}
  for k in pairs(t) do
    orig[type(k) == "number" and encode_number(k) or k] = k
  end
  sort(skeys)
  out[#out + 1] = "{"
  for i, sk in ipairs(skeys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(sk)
    out[#out + 1] = ":"
    local ok, err = encode_value(t[orig[sk]], depth + 1, out)
    if not ok then return nil, err end
  end
  out[#out + 1] = "}"
  return true
end

encode_value = function(v, depth, out)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    local s, err = encode_number(v)
    if not s then return nil, err end
    out[#out + 1] = s
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or rawequal(v, util.null) or (ngx and rawequal(v, ngx.null)) then
    out[#out + 1] = "null"
  elseif tv == "table" then
    return encode_table(v, depth, out)
  else
    return nil, "cannot encode a value of type " .. tv
  end
  return true
end

--- Encode a Lua value as JSON text. Returns text, or nil and a message.
function util.json_encode(v)
  local out = {}
  local ok, err = encode_value(v, 0, out)
  if not ok then return nil, err end
  return concat(out)
end

----------------------------------------------------------------------------
-- JSON decode (strict RFC 8259; never raises)

local MAX_DEPTH = 512

local function utf8_char(cp)
  if cp < 0x80 then
    return char(cp)
  elseif cp < 0x800 then
    return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
              0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end
util.utf8_char = utf8_char

-- Validate UTF-8 of a chunk with no ASCII control characters; returns true or false.
local function valid_utf8(s)
  if not find(s, "[\128-\255]") then return true end
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local len, min
      if c >= 0xC2 and c <= 0xDF then len, min = 2, 0x80
      elseif c >= 0xE0 and c <= 0xEF then len, min = 3, 0x800
      elseif c >= 0xF0 and c <= 0xF4 then len, min = 4, 0x10000
      else return false end
      if i + len - 1 > n then return false end
      local cp = c % (2 ^ (7 - len))
      for j = i + 1, i + len - 1 do
        local cc = byte(s, j)
        if cc < 0x80 or cc > 0xBF then return false end
        cp = cp * 64 + cc % 64
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
      i = i + len
    end
  end
  return true
end

local escape_chars = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f",
  [110] = "\n", [114] = "\r", [116] = "\t",
}

local decode_value

local function skip_ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local function decode_error(i, msg)
  error({ json_error = format("json: %s at byte %d", msg, i) }, 0)
end

-- a run of plain string bytes: not '"', '\\' nor a control character 0-31
-- (DEL is allowed); LuaJIT's patterns need %z for NUL, Lua 5.2+ take "\0"
local STRING_RUN = pcall(find, "", "[\0]") and '^[^"\\\0-\31]+' or '^[^"\\%z\1-\31]+'

local function decode_string(s, i) -- i at the opening quote
  local parts, np = nil, 0
  local j = i + 1
  while true do
    local a, b = find(s, STRING_RUN, j)
    local chunk_end = b or j - 1
    if a then
      local chunk = sub(s, a, b)
      if not valid_utf8(chunk) then decode_error(a, "invalid UTF-8 in string") end
      if not parts and byte(s, b + 1) == 34 then
        return chunk, b + 2
      end
      parts = parts or {}
      np = np + 1; parts[np] = chunk
    end
    j = chunk_end + 1
    local c = byte(s, j)
    if c == 34 then
      return parts and concat(parts, "", 1, np) or "", j + 1
    elseif c == 92 then
      local e = byte(s, j + 1)
      parts = parts or {}
      if e == 117 then -- \uXXXX
        local hex4 = sub(s, j + 2, j + 5)
        if not find(hex4, "^%x%x%x%x$") then decode_error(j, "bad \\u escape") end
        local cp = tonumber(hex4, 16)
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = sub(s, j, j + 5)
          if not find(lo, "^\\u[dD][c-fC-F]%x%x$") then
            decode_error(j, "lone high surrogate")
          end
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(sub(lo, 3), 16) - 0xDC00)
          j = j + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          decode_error(j, "lone low surrogate")
        end
        np = np + 1; parts[np] = utf8_char(cp)
      else
        local r = escape_chars[e]
        if not r then decode_error(j, "bad escape") end
        np = np + 1; parts[np] = r
        j = j + 2
      end
    elseif c == nil then
      decode_error(j, "unterminated string")
    else
      decode_error(j, "control character in string")
    end
  end
end

local TWO53 = "9007199254740992"

local function big_integer(digits) -- digits without sign
  digits = gsub(digits, "^0+(%d)", "%1")
  if #digits < #TWO53 or (#digits == #TWO53 and digits <= TWO53) then
    return false
  end
  return true
end

local function decode_number(s, i)
  local a, b = find(s, "^%-?%d+", i)
  if not a then decode_error(i, "unexpected character") end
  local int = sub(s, a, b)
  if find(int, "^%-?0%d") then decode_error(i, "leading zero") end
  local j = b + 1
  local frac, expo = false, false
  local fa, fb = find(s, "^%.%d+", j)
  if fa then frac = true; j = fb + 1
  elseif byte(s, j) == 46 then decode_error(j, "bad fraction") end
  local ea, eb = find(s, "^[eE][+-]?%d+", j)
  if ea then expo = true; j = eb + 1
  elseif byte(s, j) == 101 or byte(s, j) == 69 then decode_error(j, "bad exponent") end
  local text = sub(s, i, j - 1)
  if not frac and not expo then
    local digits = byte(int, 1) == 45 and sub(int, 2) or int
    if big_integer(digits) then
      return util.bignum(text), j
    end
    local n = tonumber(text)
    if math_type and math_type(n) == "float" then n = math.tointeger(n) or n end
    return n, j
  end
  local n = tonumber(text)
  if n == huge or n == -huge then decode_error(i, "number out of range") end
  return n, j
end

decode_value = function(s, i, depth)
  i = skip_ws(s, i)
  local c = byte(s, i)
  if c == 123 then -- {
    if depth >= MAX_DEPTH then decode_error(i, "nesting too deep") end
    local obj = setmetatable({}, object_mt)
    i = skip_ws(s, i + 1)
    if byte(s, i) == 125 then return obj, i + 1 end
    while true do
      if byte(s, i) ~= 34 then decode_error(i, "expected a string key") end
      local k
      k, i = decode_string(s, i)
      i = skip_ws(s, i)
      if byte(s, i) ~= 58 then decode_error(i, "expected ':'") end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      obj[k] = v
      i = skip_ws(s, i)
      local d = byte(s, i)
      if d == 125 then return obj, i + 1 end
      if d ~= 44 then decode_error(i, "expected ',' or '}'") end
      i = skip_ws(s, i + 1)
    end
  elseif c == 91 then -- [
    if depth >= MAX_DEPTH then decode_error(i, "nesting too deep") end
    local arr, n = setmetatable({}, array_mt), 0
    i = skip_ws(s, i + 1)
    if byte(s, i) == 93 then return arr, i + 1 end
    while true do
      local v
      v, i = decode_value(s, i, depth + 1)
      n = n + 1
      arr[n] = v
      i = skip_ws(s, i)
      local d = byte(s, i)
      if d == 93 then return arr, i + 1 end
      if d ~= 44 then decode_error(i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == 34 then
    return decode_string(s, i)
  elseif c == 116 then
    if sub(s, i, i + 3) == "true" then return true, i + 4 end
  elseif c == 102 then
    if sub(s, i, i + 4) == "false" then return false, i + 5 end
  elseif c == 110 then
    if sub(s, i, i + 3) == "null" then return util.null, i + 4 end
  elseif c == nil then
    decode_error(i, "unexpected end of input")
  else
    return decode_number(s, i)
  end
  decode_error(i, "unexpected character")
end

--- Decode JSON text. Returns the value, or nil and a message; never raises.
-- null decodes as util.null; integers beyond +-2^53 as util.bignum.
function util.json_decode(s)
  if type(s) ~= "string" then return nil, "json: expected a string" end
  local ok, v, i = pcall(decode_value, s, 1, 0)
  if not ok then
    if type(v) == "table" and v.json_error then return nil, v.json_error end
    return nil, "json: " .. tostring(v)
  end
  i = skip_ws(s, i)
  if i <= #s then return nil, format("json: trailing garbage at byte %d", i) end
  return v
end

----------------------------------------------------------------------------
-- hex, base64, url encoding, query strings

function util.hex(s)
  return (gsub(s, ".", function(c) return format("%02x", byte(c)) end))
end

function util.unhex(h)
  if #h % 2 == 1 or find(h, "%X") then return nil end
  return (gsub(h, "%x%x", function(x) return char(tonumber(x, 16)) end))
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64index = {}
for i = 1, 64 do b64index[byte(b64chars, i)] = i - 1 end

function util.b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = floor(n / 262144) % 64
    local c2 = floor(n / 4096) % 64
    local c3 = floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = sub(b64chars, c1 + 1, c1 + 1) .. sub(b64chars, c2 + 1, c2 + 1)
      .. (b and sub(b64chars, c3 + 1, c3 + 1) or "=") .. (c and sub(b64chars, c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end

function util.b64decode(s)
  s = gsub(s, "[\r\n]", "")
  if #s % 4 ~= 0 or find(s, "[^%w%+/=]") or find(s, "=[^=]") then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local n, pad = 0, 0
    for j = i, i + 3 do
      local c = byte(s, j)
      if c == 61 then pad = pad + 1; n = n * 64 else n = n * 64 + b64index[c] end
    end
    local bytes = char(floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
    out[#out + 1] = sub(bytes, 1, 3 - pad)
  end
  return concat(out)
end

--- Percent-encode everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~).
function util.urlencode(s)
  return (gsub(tostring(s), "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end

--- Decode %XX escapes; with `form` true, '+' is a space too (x-www-form-urlencoded).
function util.urldecode(s, form)
  if form then s = gsub(s, "+", " ") end
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- Parse a query string (or form body): { k = v } with repeated keys as { v1, v2, ... }.
-- '+' decodes as a space; a key without '=' gets "".
function util.parse_query(qs)
  local t = {}
  if not qs or qs == "" then return t end
  for pair in string.gmatch(qs, "[^&]+") do
    local k, v = string.match(pair, "^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    k, v = util.urldecode(k, true), util.urldecode(v, true)
    local old = t[k]
    if old == nil then
      t[k] = v
    elseif type(old) == "table" then
      old[#old + 1] = v
    else
      t[k] = { old, v }
    end
  end
  return t
end

----------------------------------------------------------------------------
-- digests (LuaJIT FFI to libcrypto)

local crypto -- { ffi = ffi, lib = clib }

local function load_crypto()
  if crypto then return crypto end
  local ok, ffi = pcall(require, "ffi")
  if not ok then error("simsandbox.util: digests need LuaJIT FFI", 3) end
  pcall(ffi.cdef, [[
    typedef struct evp_md_st EVP_MD;
    typedef struct engine_st ENGINE;
    const EVP_MD *EVP_sha1(void);
    const EVP_MD *EVP_sha256(void);
    int EVP_Digest(const void *data, size_t count, unsigned char *md,
                   unsigned int *size, const EVP_MD *type, ENGINE *impl);
    unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                        const unsigned char *d, size_t n, unsigned char *md,
                        unsigned int *md_len);
  ]])
  local lib
  for _, name in ipairs({ "crypto", "libcrypto.so.3", "libcrypto.so" }) do
    local okl, l = pcall(ffi.load, name)
    if okl then lib = l; break end
  end
  if not lib then error("simsandbox.util: cannot load libcrypto", 3) end
  crypto = { ffi = ffi, lib = lib, buf = ffi.new("unsigned char[64]"),
             len = ffi.new("unsigned int[1]") }
  return crypto
end

local function digest(which, s)
  local c = load_crypto()
  local md = which == "sha1" and c.lib.EVP_sha1() or c.lib.EVP_sha256()
  if c.lib.EVP_Digest(s, #s, c.buf, c.len, md, nil) ~= 1 then
    error("simsandbox.util: EVP_Digest failed", 2)
  end
  return c.ffi.string(c.buf, c.len[0])
end

local function hmac(which, key, msg)
  local c = load_crypto()
  local md = which == "sha1" and c.lib.EVP_sha1() or c.lib.EVP_sha256()
  if c.lib.HMAC(md, key, #key, msg, #msg, c.buf, c.len) == nil then
    error("simsandbox.util: HMAC failed", 2)
  end
  return c.ffi.string(c.buf, c.len[0])
end

function util.sha1(s) return digest("sha1", s) end
function util.sha256(s) return digest("sha256", s) end
function util.sha1_hex(s) return util.hex(digest("sha1", s)) end
function util.sha256_hex(s) return util.hex(digest("sha256", s)) end
function util.hmac_sha1(key, msg) return hmac("sha1", key, msg) end
function util.hmac_sha256(key, msg) return hmac("sha256", key, msg) end
function util.hmac_sha1_hex(key, msg) return util.hex(hmac("sha1", key, msg)) end
function util.hmac_sha256_hex(key, msg) return util.hex(hmac("sha256", key, msg)) end

----------------------------------------------------------------------------
-- clock

util.clock_offset = 0

local function real_now()
  if ngx and ngx.now then return ngx.now() end
  local okS, socket = pcall(require, "socket")
  if okS and socket.gettime then return socket.gettime() end
  return os.time()
end

--- The sandbox clock: real time (ngx.now()) plus the offset set by
-- /_sim/config {clock_offset} and /_sim/advance.
function util.now()
  return real_now() + util.clock_offset
end

function util.set_clock_offset(s) util.clock_offset = s end
function util.advance(s) util.clock_offset = util.clock_offset + s end

--- Format a sandbox time (default now) as UTC, e.g. util.date("!%Y-%m-%d %H:%M:%S").
function util.date(fmt, t)
  return os.date(fmt or "!%Y-%m-%dT%H:%M:%SZ", floor(t or util.now()))
end

----------------------------------------------------------------------------
-- rate limiting (token buckets; cleared by /_sim/reset)

local buckets = {}

--- Take one token from the bucket `key` refilled at `per_second` (burst =
-- max(1, per_second)). Returns true, or false and the seconds until a token.
function util.ratelimit(key, per_second, now)
  now = now or util.now()
  local cap = per_second >= 1 and per_second or 1
  local b = buckets[key]
  if not b then
    b = { tokens = cap, t = now }
    buckets[key] = b
  end
  local elapsed = now - b.t
  if elapsed > 0 then
    b.tokens = b.tokens + elapsed * per_second
    if b.tokens > cap then b.tokens = cap end
  end
  b.t = now
  if b.tokens >= 1 then
    b.tokens = b.tokens - 1
    return true
  end
  return false, (1 - b.tokens) / per_second
end

function util.reset_ratelimits()
  buckets = {}
end

----------------------------------------------------------------------------
-- small helpers

--- Deep copy of plain data (keeps bignum/array/object marks, shares util.null).
function util.deepcopy(v)
  if type(v) ~= "table" or rawequal(v, util.null) then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = util.deepcopy(x) end
  return setmetatable(c, getmetatable(v))
end

--- A random lowercase hex string of n characters (not cryptographic).
function util.random_hex(n)
  local t = {}
  for i = 1, n do t[i] = format("%x", math.random(0, 15)) end
  return concat(t)
end

function util.uuid4()
  local h = util.random_hex(32)
  local v = math.random(1, 4)
  return sub(h, 1, 8) .. "-" .. sub(h, 9, 12) .. "-4" .. sub(h, 14, 16) .. "-"
    .. sub("89ab", v, v) .. sub(h, 18, 20) .. "-" .. sub(h, 21, 32)
end

----------------------------------------------------------------------------
-- calendar: pure arithmetic on day numbers (proleptic Gregorian), no
-- dependence on the host time zone. Shared by the vendor modules.

--- Days since 1970-01-01 of a civil date.
function util.days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Civil date (y, m, d) of a day number (days since 1970-01-01).
function util.civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

return util
