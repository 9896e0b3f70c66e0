--- Signatures per second: simkit's C signers against pure-Lua
-- implementations of the same algorithms, run side by side in this process.
-- Prints ratios (absolute numbers on a shared machine are noise).
local simkit = require "simkit"
local sha1 = require "spec.support.sha1"
local sha256 = require "spec.support.sha256"

local rate = require("bench.support").rate


local function report(name, c_rate, lua_rate)
  print(string.format("%-34s simkit %10.0f/s   pure Lua %9.0f/s   ratio %6.1fx", name, c_rate, lua_rate,
    c_rate / lua_rate))
end

-- EIOTCLUB: a typical order request (8 parameters).
local params = { appkey = "000001", timestamp = 1556595508, nonce = 24523, iccid = "89852012345678901234",
  packageCode = "PKG-1GB-30D", outTradeNo = "sk17954131450001abcdef", memo = "auto top-up", flag = true }
local secret = "a1b1c1d1"

local function lua_eiotclub(p, s)
  local entries = {}
  for k, v in pairs(p) do
    if k ~= "sign" and v ~= "" then
      if type(v) == "number" and v == math.floor(v) then v = string.format("%d", v) end
      entries[#entries + 1] = k .. "=" .. tostring(v) .. "&"
    end
  end
  table.sort(entries)
  return sha1.hex(table.concat(entries) .. "secret=" .. s):upper()
end

assert(lua_eiotclub(params, secret) == simkit.sign.eiotclub(params, secret), "pure-Lua EIOTCLUB signer disagrees")
report("eiotclub sign (8 params)", rate(function() simkit.sign.eiotclub(params, secret) end),
  rate(function() lua_eiotclub(params, secret) end))

-- Huawei: a GET with a query and a POST with a JSON body.
local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end
local function dec(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function lua_huawei(r)
  local scheme_host, path, query = r.url:match("^(https?://[^/?#]+)([^?#]*)%??([^#]*)")
  local host = scheme_host:gsub("^https?://", "")
  local headers = {}
  for k, v in pairs(r.headers) do headers[k] = v end
  headers.Host = headers.Host or host
  local segs = {}
  for seg in (dec(path ~= "" and path or "/") .. "/"):gmatch("([^/]*)/") do segs[#segs + 1] = enc(seg) end
  local uri = table.concat(segs, "/")
  if uri:sub(-1) ~= "/" then uri = uri .. "/" end
  local pairs_ = {}
  for kv in query:gmatch("[^&]+") do
    local k, v = kv:match("^([^=]*)=?(.*)$")
    pairs_[#pairs_ + 1] = { dec(k), dec(v) }
  end
  table.sort(pairs_, function(a, b) if a[1] ~= b[1] then return a[1] < b[1] end return a[2] < b[2] end)
  local q = {}
  for i, p in ipairs(pairs_) do q[i] = enc(p[1]) .. "=" .. enc(p[2]) end
  local names, lower = {}, {}
  for k, v in pairs(headers) do
    local l = k:lower()
    names[#names + 1] = l
    lower[l] = v:match("^%s*(.-)%s*$")
  end
  table.sort(names)
  local ch = {}
  for i, n in ipairs(names) do ch[i] = n .. ":" .. lower[n] end
  local signed = table.concat(names, ";")
  local canonical = table.concat({ r.method:upper(), uri, table.concat(q, "&"), table.concat(ch, "\n") .. "\n",
    signed, sha256.sha256_hex(r.body or "") }, "\n")
  local sts = "SDK-HMAC-SHA256\n" .. headers["X-Sdk-Date"] .. "\n" .. sha256.sha256_hex(canonical)
  return "SDK-HMAC-SHA256 Access=" .. r.ak .. ", SignedHeaders=" .. signed .. ", Signature="
    .. sha256.hmac_sha256_hex(r.sk, sts)
end

local get = { method = "GET", url = "https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards?limit=500&offset=3&sim_status=20",
  headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = "0123456789abcdef", ["X-Sdk-Date"] = "20261123T101500Z" },
  ak = "HPUAEXAMPLE", sk = "secret-sk" }
local post = { method = "POST", url = "https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards/111111111111111111/stop",
  headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = "0123456789abcdef", ["X-Sdk-Date"] = "20261123T101500Z" },
  body = '{"down_up_switch":1}', ak = "HPUAEXAMPLE", sk = "secret-sk" }
for _, r in ipairs({ get, post }) do
  assert(lua_huawei(r) == simkit.sign.huawei(r).Authorization, "pure-Lua Huawei signer disagrees")
end
report("huawei sign GET with query", rate(function() simkit.sign.huawei(get) end), rate(function() lua_huawei(get) end))
report("huawei sign POST with body", rate(function() simkit.sign.huawei(post) end), rate(function() lua_huawei(post) end))
