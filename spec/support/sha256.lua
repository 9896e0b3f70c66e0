--- Pure-Lua SHA-256 and HMAC-SHA256 for specs (independent of simkit and of
-- the sandbox's libcrypto code, so a signing bug cannot pass on both sides).
--
-- Runs on Lua 5.3/5.4 (native integer bit operators, compiled through load()
-- so the file still parses on LuaJIT) and on LuaJIT / Lua 5.1 with the `bit`
-- library. Small inputs only: it is written for clarity, not speed.
--
--   local sha = require "spec.support.sha256"
--   sha.sha256(s) -> 32 raw bytes      sha.sha256_hex(s) -> 64 lower-case hex
--   sha.hmac_sha256(key, msg) -> raw   sha.hmac_sha256_hex(key, msg) -> hex
local M = {}

local byte, char, rep, format = string.byte, string.char, string.rep, string.format
local floor = math.floor

-- 32-bit word operations: band, bor, bxor (2 or 3 operands), bnot, shr, rotr,
-- add (mod 2^32), tohex. Words are kept in whatever form the backend prefers.
local ops

local native = load and load([[
  local M = {}
  local MASK = 0xffffffff
  function M.band(a, b) return a & b end
  function M.bor(a, b) return a | b end
  function M.bxor(a, b, c) return c and (a ~ b ~ c) or (a ~ b) end
  function M.bnot(a) return (~a) & MASK end
  function M.shr(a, n) return (a & MASK) >> n end
  function M.rotr(a, n) return ((a >> n) | (a << (32 - n))) & MASK end
  function M.add(...)
    local s = 0
    for i = 1, select("#", ...) do s = s + select(i, ...) end
    return s & MASK
  end
  function M.word(n) return math.tointeger(n) & MASK end
  function M.tohex(a) return string.format("%08x", a & MASK) end
  function M.tobytes(a)
    return string.char((a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255, a & 255)
  end
  return M
]])

if native and math.type then
  ops = native()
else
  local bit = require "bit"
  local tobit = bit.tobit
  ops = {
    band = bit.band, bor = bit.bor, bxor = bit.bxor, bnot = bit.bnot,
    shr = bit.rshift, rotr = bit.ror, tohex = bit.tohex,
    add = function(...)
      local s = 0
      for i = 1, select("#", ...) do s = s + select(i, ...) end
      return tobit(s)
    end,
    word = function(n) return tobit(n) end,
    tobytes = function(a)
      return char(bit.band(bit.rshift(a, 24), 255), bit.band(bit.rshift(a, 16), 255),
                  bit.band(bit.rshift(a, 8), 255), bit.band(a, 255))
    end,
  }
end

local band, bxor, bnot, shr, rotr, add, word =
  ops.band, ops.bxor, ops.bnot, ops.shr, ops.rotr, ops.add, ops.word

local K = {}
do
  local hex = {
    "428a2f98", "71374491", "b5c0fbcf", "e9b5dba5", "3956c25b", "59f111f1", "923f82a4", "ab1c5ed5",
    "d807aa98", "12835b01", "243185be", "550c7dc3", "72be5d74", "80deb1fe", "9bdc06a7", "c19bf174",
    "e49b69c1", "efbe4786", "0fc19dc6", "240ca1cc", "2de92c6f", "4a7484aa", "5cb0a9dc", "76f988da",
    "983e5152", "a831c66d", "b00327c8", "bf597fc7", "c6e00bf3", "d5a79147", "06ca6351", "14292967",
    "27b70a85", "2e1b2138", "4d2c6dfc", "53380d13", "650a7354", "766a0abb", "81c2c92e", "92722c85",
    "a2bfe8a1", "a81a664b", "c24b8b70", "c76c51a3", "d192e819", "d6990624", "f40e3585", "106aa070",
    "19a4c116", "1e376c08", "2748774c", "34b0bcb5", "391c0cb3", "4ed8aa4a", "5b9cca4f", "682e6ff3",
    "748f82ee", "78a5636f", "84c87814", "8cc70208", "90befffa", "a4506ceb", "bef9a3f7", "c67178f2",
  }
  for i, h in ipairs(hex) do K[i] = word(tonumber(h, 16)) end
end

local H0 = {}
for i, h in ipairs({ "6a09e667", "bb67ae85", "3c6ef372", "a54ff53a",
                     "510e527f", "9b05688c", "1f83d9ab", "5be0cd19" }) do
  H0[i] = word(tonumber(h, 16))
end

local function pad(msg)
  local len = #msg
  local bits = len * 8
  local zeros = (55 - len) % 64
  local tail = {}
  for i = 7, 0, -1 do
    tail[#tail + 1] = char(floor(bits / 2 ^ (8 * i)) % 256)
  end
  return msg .. "\128" .. rep("\0", zeros) .. table.concat(tail)
end

local function compress(H, s, off)
  local w = {}
  for i = 1, 16 do
    local a, b, c, d = byte(s, off + (i - 1) * 4 + 1, off + i * 4)
    w[i] = word(((a * 256 + b) * 256 + c) * 256 + d)
  end
  for i = 17, 64 do
    local v15, v2 = w[i - 15], w[i - 2]
    local s0 = bxor(rotr(v15, 7), rotr(v15, 18), shr(v15, 3))
    local s1 = bxor(rotr(v2, 17), rotr(v2, 19), shr(v2, 10))
    w[i] = add(w[i - 16], s0, w[i - 7], s1)
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for i = 1, 64 do
    local S1 = bxor(rotr(e, 6), rotr(e, 11), rotr(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = add(h, S1, ch, K[i], w[i])
    local S0 = bxor(rotr(a, 2), rotr(a, 13), rotr(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    local t2 = add(S0, maj)
    h, g, f, e, d, c, b, a = g, f, e, add(d, t1), c, b, a, add(t1, t2)
  end
  H[1], H[2], H[3], H[4] = add(H[1], a), add(H[2], b), add(H[3], c), add(H[4], d)
  H[5], H[6], H[7], H[8] = add(H[5], e), add(H[6], f), add(H[7], g), add(H[8], h)
end

local function digest_words(msg)
  local s = pad(msg)
  local H = { H0[1], H0[2], H0[3], H0[4], H0[5], H0[6], H0[7], H0[8] }
  for off = 0, #s - 1, 64 do compress(H, s, off) end
  return H
end

function M.sha256(msg)
  local H = digest_words(msg)
  local out = {}
  for i = 1, 8 do out[i] = ops.tobytes(H[i]) end
  return table.concat(out)
end

function M.sha256_hex(msg)
  local H = digest_words(msg)
  local out = {}
  for i = 1, 8 do out[i] = ops.tohex(H[i]) end
  return table.concat(out)
end

local function xor_pad(key, v)
  return (key:gsub(".", function(c) return char(bxor(byte(c), v) % 256) end))
end

function M.hmac_sha256(key, msg)
  if #key > 64 then key = M.sha256(key) end
  key = key .. rep("\0", 64 - #key)
  return M.sha256(xor_pad(key, 0x5c) .. M.sha256(xor_pad(key, 0x36) .. msg))
end

function M.hmac_sha256_hex(key, msg)
  return (M.hmac_sha256(key, msg):gsub(".", function(c) return format("%02x", byte(c)) end))
end

return M
