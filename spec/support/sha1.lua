--- Pure-Lua SHA-1 for the specs (Lua 5.3/5.4 native bit operators, LuaJIT `bit`).
--
-- The sandbox specs sign their own requests with this, so that neither
-- simkit's C core nor the sandbox's libcrypto path is trusted by the test.
--   local sha1 = require "spec.support.sha1"
--   sha1.hex("abc")  --> "a9993e364706816aba3e25717850c26c9cd0d89d"
local M = {}

local byte, format, rep, char = string.byte, string.format, string.rep, string.char
local concat = table.concat
local floor = math.floor

local ops
if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
  -- native integer operators; compiled with load() so LuaJIT never parses them
  ops = assert(load([[
    local M32 = 0xffffffff
    return {
      band = function(a, b) return a & b end,
      bor = function(a, b) return a | b end,
      bxor = function(a, b) return a ~ b end,
      bnot = function(a) return (~a) & M32 end,
      rol = function(a, n) return ((a << n) | (a >> (32 - n))) & M32 end,
      add = function(...) local s = 0; for i = 1, select("#", ...) do s = s + select(i, ...) end; return s & M32 end,
      int = math.tointeger,
    }
  ]]))()
else
  local bit = require "bit"
  local function u(x) return x % 4294967296 end
  ops = {
    band = function(a, b) return u(bit.band(a, b)) end,
    bor = function(a, b) return u(bit.bor(a, b)) end,
    bxor = function(a, b) return u(bit.bxor(a, b)) end,
    bnot = function(a) return u(bit.bnot(a)) end,
    rol = function(a, n) return u(bit.rol(a, n)) end,
    add = function(...)
      local s = 0
      for i = 1, select("#", ...) do s = s + select(i, ...) end
      return s % 4294967296
    end,
    int = function(x) return x end,
  }
end

local band, bor, bxor, bnot, rol, add, int =
  ops.band, ops.bor, ops.bxor, ops.bnot, ops.rol, ops.add, ops.int

local function be32(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  return int(((a * 256 + b) * 256 + c) * 256 + d)
end

local function u32be(n)
  n = floor(n)
  return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

--- SHA-1 digest of `msg` as 20 raw bytes.
function M.binary(msg)
  local len = #msg
  local bits = len * 8
  msg = msg .. "\128" .. rep("\0", (55 - len) % 64)
    .. u32be(floor(bits / 4294967296)) .. u32be(bits % 4294967296)
  local h0, h1, h2, h3, h4 = int(0x67452301), int(0xEFCDAB89), int(0x98BADCFE),
    int(0x10325476), int(0xC3D2E1F0)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = be32(msg, chunk + i * 4) end
    for i = 16, 79 do
      w[i] = rol(bxor(bxor(w[i - 3], w[i - 8]), bxor(w[i - 14], w[i - 16])), 1)
    end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then
        f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
      elseif i < 40 then
        f, k = bxor(bxor(b, c), d), 0x6ED9EBA1
      elseif i < 60 then
        f, k = bor(bor(band(b, c), band(b, d)), band(c, d)), 0x8F1BBCDC
      else
        f, k = bxor(bxor(b, c), d), 0xCA62C1D6
      end
      local t = add(rol(a, 5), f, e, int(k), w[i])
      e, d, c, b, a = d, c, rol(b, 30), a, t
    end
    h0, h1, h2, h3, h4 = add(h0, a), add(h1, b), add(h2, c), add(h3, d), add(h4, e)
  end
  return u32be(h0) .. u32be(h1) .. u32be(h2) .. u32be(h3) .. u32be(h4)
end

--- SHA-1 digest of `msg` as 40 lower-case hex characters.
function M.hex(msg)
  local out = {}
  local d = M.binary(msg)
  for i = 1, #d do out[i] = format("%02x", byte(d, i)) end
  return concat(out)
end

return M
