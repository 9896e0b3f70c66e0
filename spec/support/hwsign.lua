--- Spec-side Huawei Cloud AK/SK signer (SDK-HMAC-SHA256), pure Lua, for
-- Lua 5.4 and LuaJIT alike. Independent of simkit and of the sandbox: the
-- digests come from spec/support/sha256.lua, and spec/sim_huawei_spec.lua
-- checks this file against vectors computed with Python's hashlib/hmac.
--
--   local hwsign = require "spec.support.hwsign"
--   local h, info = hwsign.sign{ method = "GET", path = "/v1/sim-cards",
--     query = "limit=10&offset=1", headers = { host = "...", ["content-type"] = "..." },
--     body = "", ak = "...", sk = "...", date = "20250101T000000Z" }
--   -- h: the headers to send (input headers + x-sdk-date + authorization)
--   -- info.canonical_request, info.string_to_sign, info.signature
local sha = require "spec.support.sha256"

local M = {}

local byte, format, gsub, sub, find, lower = string.byte, string.format, string.gsub, string.sub,
  string.find, string.lower
local concat, sort = table.concat, table.sort

--- Percent-encode all but A-Z a-z 0-9 - _ . ~ (upper-case hex).
function M.encode(s)
  return (gsub(s, "[^%w%-_%.~]", function(c) return format("%%%02X", byte(c)) end))
end

local function decode(s, plus)
  if plus then s = gsub(s, "+", " ") end
  return (gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Decoded path, each "/"-separated segment encoded, trailing "/".
function M.canonical_uri(path)
  local p = decode(path)
  local parts, start = {}, 1
  while true do
    local i = find(p, "/", start, true)
    if not i then parts[#parts + 1] = M.encode(sub(p, start)); break end
    parts[#parts + 1] = M.encode(sub(p, start, i - 1))
    start = i + 1
  end
  local u = concat(parts, "/")
  if sub(u, -1) ~= "/" then u = u .. "/" end
  return u
end

--- Pairs of the raw query decoded, sorted by key then value, re-encoded.
function M.canonical_query(raw)
  local kv = {}
  for piece in string.gmatch(raw or "", "[^&]+") do
    local k, v = piece:match("^([^=]*)=(.*)$")
    if not k then k, v = piece, "" end
    kv[#kv + 1] = { decode(k, true), decode(v, true) }
  end
  sort(kv, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, p in ipairs(kv) do out[i] = M.encode(p[1]) .. "=" .. M.encode(p[2]) end
  return concat(out, "&")
end

--- "YYYYMMDDTHHMMSSZ" of epoch seconds t (UTC).
function M.date(t)
  return os.date("!%Y%m%dT%H%M%SZ", math.floor(t))
end

--- Sign a request; every given header is signed. Returns the headers to
-- send and the intermediate strings.
function M.sign(r)
  local headers = {}
  for k, v in pairs(r.headers or {}) do headers[lower(k)] = v end
  headers["x-sdk-date"] = headers["x-sdk-date"] or r.date or M.date(os.time())
  local names = {}
  for k in pairs(headers) do
    if k ~= "authorization" then names[#names + 1] = k end
  end
  sort(names)
  local ch = {}
  for i, n in ipairs(names) do
    ch[i] = n .. ":" .. (gsub(gsub(headers[n], "^%s+", ""), "%s+$", "")) .. "\n"
  end
  local creq = concat({
    r.method:upper(), M.canonical_uri(r.path), M.canonical_query(r.query),
    concat(ch), concat(names, ";"), sha.sha256_hex(r.body or ""),
  }, "\n")
  local sts = "SDK-HMAC-SHA256\n" .. headers["x-sdk-date"] .. "\n" .. sha.sha256_hex(creq)
  local sig = sha.hmac_sha256_hex(r.sk, sts)
  headers.authorization = "SDK-HMAC-SHA256 Access=" .. r.ak .. ", SignedHeaders="
    .. concat(names, ";") .. ", Signature=" .. sig
  return headers, { canonical_request = creq, string_to_sign = sts, signature = sig }
end

return M
