--- The performance goals of issue #11, row by row: simkit's figure, a
-- baseline measured in the same run, the ratio and the goal. Prints; never
-- asserts (a shared 2-core machine makes absolute figures noise).
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 bench/goals_bench.lua
--
-- Baselines:
--  * signers: the same algorithms in Python (bench/signers.py, standard
--    library only) on Debian's /usr/bin/python3; without it, the pure-Lua
--    references of spec/support (and the row says so). Both sides must give
--    the same signature.
--  * pipeline: bench/curl_loop.c, a C libcurl keep-alive loop re-sending the
--    very request simkit sent (captured), against the same local nginx
--    serving canned vendor answers (bench/canned/); simkit goes through
--    simkit.client with its libcurl transport (validate, build, sign, send,
--    decode, map). Alternating rounds, medians.
--  * per-call overhead: simkit.client with a transport function returning
--    the canned answer (no network).
--  * JSON: lua-cjson on the same page.
-- The CDR and webhook rows are measured by bench/cdr_bench.lua and
-- bench/webhook_bench.sh (bench/notify_bench.lua: the receiver alone). Client-side pacing is off (rate_limit = false):
-- the figures are simkit's cost, not a vendor's limit. Environment:
-- SIMKIT_BENCH_SECONDS (per measure, default 0.5), SIMKIT_BENCH_CALLS (the
-- memory check, default 1000000).
local simkit = require "simkit"
local core = require "simkit.core"
local util = require "simkit.util"
local support = require "bench.support"
local nginx = require "spec.support.nginx"
local proc = require "spec.support.proc"
local sandbox = require "spec.support.sandbox"

-- `goals_bench.lua --calls VENDOR URL N`: only N calls of the pipeline
-- rows' op against URL (the instruction count below runs it under callgrind)
local DRIVER = arg and arg[1] == "--calls"
local SECONDS = tonumber(os.getenv("SIMKIT_BENCH_SECONDS")) or 0.5
local CALLS = tonumber(os.getenv("SIMKIT_BENCH_CALLS")) or 1000000
local ROUNDS = 5
local ROOT = sandbox.root
local PYTHON = "/usr/bin/python3" -- Debian's, not a user's pyenv shim

local sh, shq = proc.sh, proc.q -- the exit status right on LuaJIT too

-- a canned answer of bench/canned/ (trailing newline dropped)
local function canned(name)
  local s = proc.read(ROOT .. "/bench/canned/" .. name)
  assert(s ~= "", "bench/canned/" .. name .. " is missing or empty")
  return (s:gsub("%s+$", ""))
end

local function row(what, mine, base, ratio, goal)
  print(string.format("%-46s %16s %24s %8s   %s", what, mine, base, ratio, goal))
end

local function per_s(r) return string.format("%.0f k/s", r / 1000) end

if not DRIVER then
  print(string.format("# %s; %.1fs per measure, %d alternating rounds for the pipeline (medians)",
    _VERSION .. (jit and (" / " .. jit.version) or ""), SECONDS, ROUNDS))
  row("what", "simkit", "baseline (same run)", "ratio", "goal")
end

------------------------------------------------------------------ signers
local HAVE_PY = sh("test -x " .. PYTHON .. " && " .. PYTHON .. " -c 'import hashlib, hmac'")

-- rate and signature of the Python signer `which` on `input` (a table)
local function python_rate(which, input)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(assert(core.json_encode(input)))
  f:close()
  local ok, out = sh(string.format("%s %s/bench/signers.py %s %s < %s", PYTHON, ROOT, which, SECONDS, tmp))
  os.remove(tmp)
  assert(ok, "bench/signers.py failed: " .. out)
  local res = assert(core.json_decode(out), "bench/signers.py: " .. out)
  return res.rate, res.signature
end

local EIOT_PARAMS = { appkey = "000001", timestamp = 1556595508, nonce = 24523, iccid = "89852012345678901234",
  packageCode = "PKG-1GB-30D", outTradeNo = "sk17954131450001abcdef", memo = "auto top-up", pageNum = "1",
  pageSize = 500, userName = "wx" } -- 10 parameters
local EIOT_SECRET = "a1b1c1d1"
local HW_REQ = { method = "GET",
  url = "https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards?limit=500&offset=3&sim_status=20",
  headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = "0123456789abcdef",
              ["X-Sdk-Date"] = "20261123T101500Z" },
  ak = "HPUAEXAMPLE", sk = "secret-sk" }

if not DRIVER then
  local mine = support.rate(function() simkit.sign.eiotclub(EIOT_PARAMS, EIOT_SECRET) end, SECONDS)
  local base, label
  if HAVE_PY then
    local sig
    base, sig = python_rate("eiotclub", { params = EIOT_PARAMS, secret = EIOT_SECRET })
    assert(sig == simkit.sign.eiotclub(EIOT_PARAMS, EIOT_SECRET), "the Python EIOTCLUB signer disagrees")
    label = "Python " .. per_s(base)
  else
    local sha1 = require "spec.support.sha1"
    local function lua_sign()
      local e = {}
      for k, v in pairs(EIOT_PARAMS) do e[#e + 1] = k .. "=" .. tostring(v) .. "&" end
      table.sort(e)
      return sha1.hex(table.concat(e) .. "secret=" .. EIOT_SECRET):upper()
    end
    base = support.rate(lua_sign, SECONDS)
    label = "pure Lua " .. per_s(base) .. " (no python3)"
  end
  row("sign.eiotclub, 10 params", per_s(mine), label, string.format("%.2fx", mine / base),
    ">= 1000 k/s and >= 2.7x Python")
end

if not DRIVER then
  local mine = support.rate(function() simkit.sign.huawei(HW_REQ) end, SECONDS)
  local base, label
  if HAVE_PY then
    local sig
    base, sig = python_rate("huawei", HW_REQ)
    assert(sig == simkit.sign.huawei(HW_REQ).Authorization, "the Python Huawei signer disagrees")
    label = "Python " .. per_s(base)
  else
    base = 0 / 0
    label = "n/a (no python3)"
  end
  row("sign.huawei, GET with a query", per_s(mine), label, string.format("%.2fx", mine / base),
    ">= 300 k/s and >= 4x Python")
end

------------------------------------------------------------------ canned answers
local CANNED = {
  eiotclub = canned("eiotclub_get_cards_info.json"),
  huawei = canned("huawei_show_sim_card.json"),
}
local REQUEST_ID = "1255fd62efe306bcf204a6ad00000001"
local ICCID, CARD = "89852012345678900001", "111111111111111111"

local function nginx_string(s)
  assert(not s:find("[%$'\\]"), "canned answer needs escaping")
  return "'" .. s .. "'"
end

local CONF = [[
@USER@
worker_processes 1;
error_log @PREFIX@/logs/error.log warn;
pid @PREFIX@/logs/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path @PREFIX@/temp/body;
  proxy_temp_path @PREFIX@/temp/proxy;
  fastcgi_temp_path @PREFIX@/temp/fastcgi;
  uwsgi_temp_path @PREFIX@/temp/uwsgi;
  scgi_temp_path @PREFIX@/temp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  default_type "application/json;charset=UTF-8";
  server {
    listen 127.0.0.1:@PORT@;
    location = /api/v3/card/getCardsInfo { return 200 EIOT; }
    location /v1/sim-cards/ { add_header X-Request-Id REQID; return 200 HW; }
  }
}
]]

local function start_nginx()
  local conf = CONF:gsub("EIOT", function() return nginx_string(CANNED.eiotclub) end)
    :gsub("HW", function() return nginx_string(CANNED.huawei) end):gsub("REQID", REQUEST_ID)
  return nginx.start { conf = conf }
end

local function clients(transport_for)
  return {
    eiotclub = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
      base_url = transport_for.url, rate_limit = false, retries = 0, transport = transport_for.eiotclub }),
    huawei = simkit.client("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
      project_id = "0123456789abcdef0123456789abcdef", endpoint = transport_for.url, rate_limit = false,
      retries = 0, transport = transport_for.huawei }),
  }
end

local CALL = {
  eiotclub = function(c)
    local data, err = c:get_cards_info { iccid = ICCID }
    if not data or data.iccid ~= ICCID then error("eiotclub get_cards_info: " .. tostring(err)) end
  end,
  huawei = function(c)
    local data, err = c:show_sim_card { sim_card_id = CARD }
    if not data or data.iccid ~= "89860121000000000002" then error("huawei show_sim_card: " .. tostring(err)) end
  end,
}

if DRIVER then
  local vendor, url, n = arg[2], arg[3], tonumber(arg[4])
  local client = clients { url = url }[vendor]
  for _ = 1, 100 + n do CALL[vendor](client) end
  os.exit(0)
end

------------------------------------------------------------------ pipeline vs C libcurl
local function curl_loop_binary()
  local bin = ROOT .. "/build/bench/curl_loop"
  local ok, out = sh(string.format("mkdir -p %s/build/bench && cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall "
    .. "-Wextra -Werror -o %s %s/bench/curl_loop.c -lcurl", ROOT, bin, ROOT))
  assert(ok, "cannot build bench/curl_loop.c: " .. out)
  return bin
end


-- the command line of the C loop re-sending `req`; `amount` is its first
-- argument (seconds, or "nCOUNT" requests)
local function c_command(bin, amount, req)
  local args = { bin, amount, req.url, req.method or "GET", req.body or "" }
  for k, v in pairs(req.headers or {}) do
    if type(k) == "number" then k, v = v[1], v[2] end
    args[#args + 1] = k .. ": " .. v
  end
  for i, a in ipairs(args) do args[i] = shq(a) end
  return table.concat(args, " ")
end

-- the C loop re-sending `req` for SECONDS: requests per second
local function c_rate(bin, req)
  local ok, out = sh(c_command(bin, SECONDS, req))
  local n, dt = out:match("^(%d+) ([%d.]+)")
  assert(ok and n, "curl_loop failed: " .. out)
  return tonumber(n) / tonumber(dt)
end

-- the pipeline for SECONDS of wall clock: calls per second
local function pipeline_rate(f)
  local n, t0 = 0, util.monotonic()
  local deadline = t0 + SECONDS
  repeat
    for _ = 1, 10 do f() end
    n = n + 10
  until util.monotonic() >= deadline
  return n / (util.monotonic() - t0)
end

local ng = start_nginx()
local ok, err = pcall(function()
  local url = "http://127.0.0.1:" .. ng.port
  local bin = curl_loop_binary()
  -- the requests simkit sends, captured through its own libcurl transport
  local sent = {}
  local function capturing(vendor)
    local t = require("simkit.transport.curl").new {}
    return function(req)
      sent[vendor] = sent[vendor] or req
      return t(req)
    end
  end
  local c = clients { url = url, eiotclub = capturing("eiotclub"), huawei = capturing("huawei") }
  for _, vendor in ipairs({ "eiotclub", "huawei" }) do
    local call = CALL[vendor]
    local client = c[vendor]
    call(client) -- warm up, capture
    local what = vendor == "eiotclub" and "end-to-end EIOTCLUB get_cards_info" or "end-to-end Huawei show_sim_card"
    local mine, base, ratios = {}, {}, {}
    for i = 1, ROUNDS do
      base[i] = c_rate(bin, sent[vendor])
      mine[i] = pipeline_rate(function() call(client) end)
      ratios[i] = mine[i] / base[i]
    end
    row(what, per_s(support.median(mine)), "C libcurl " .. per_s(support.median(base)),
      string.format("%.2fx", support.median(ratios)), ">= 0.8x")
  end
  -- the same requests counted in user-space instructions (callgrind): what
  -- the client side costs per request, whatever else runs on the machine
  if os.getenv("SIMKIT_BENCH_IR") ~= "0" and sh("command -v valgrind") then
    local lua = arg[-1] or "lua5.4"
    local function instructions(cmd)
      local okc, out = sh("valgrind --tool=callgrind --callgrind-out-file=/dev/null " .. cmd)
      local total = out:match("Collected : ([%d,]+)")
      assert(okc and total, "callgrind failed: " .. out)
      return tonumber((total:gsub(",", "")))
    end
    local function per_request(cmd_of)
      return (instructions(cmd_of(1200)) - instructions(cmd_of(200))) / 1000
    end
    for _, vendor in ipairs({ "eiotclub", "huawei" }) do
      local base = per_request(function(n) return c_command(bin, "n" .. n, sent[vendor]) end)
      local mine = per_request(function(n)
        return table.concat({ shq(lua), shq(ROOT .. "/bench/goals_bench.lua"), "--calls", vendor, shq(url), n }, " ")
      end)
      row((vendor == "eiotclub" and "  EIOTCLUB" or "  Huawei") .. " user-space instructions per request",
        string.format("%.0f k", mine / 1000), string.format("C libcurl %.0f k", base / 1000),
        string.format("%.2fx", mine / base), "(callgrind: immune to load; lower is better)")
    end
  end
end)
ng:stop()
if not ok then error(err, 0) end

------------------------------------------------------------------ per-call overhead
local function canned_transport(vendor)
  local res = { status = 200, body = CANNED[vendor],
    headers = { ["content-type"] = "application/json;charset=UTF-8", ["x-request-id"] = REQUEST_ID } }
  return function() return res end
end

local offline = clients { url = "http://127.0.0.1:9", eiotclub = canned_transport("eiotclub"),
  huawei = canned_transport("huawei") }
do
  local us = {}
  for _, vendor in ipairs({ "eiotclub", "huawei" }) do
    local client = offline[vendor]
    local call = CALL[vendor]
    us[vendor] = 1e6 / support.rate(function() call(client) end, SECONDS)
  end
  row("per-call overhead, transport excluded", string.format("E %.1f / H %.1f us", us.eiotclub, us.huawei), "-", "-",
    "<= 10 us both (stretch 6)")
  -- the same with client-side pacing on, as clients have it by default (EIOTCLUB
  -- 10/s, Huawei 5/s) in a memory store whose clock moves 1 s per reading, so
  -- that the limit never makes a call wait: what the limiter itself costs
  local t = 0
  local store = require("simkit.store").memory { clock = function() t = t + 1; return t end }
  local function paced(vendor, opts)
    opts.store, opts.rate_limit, opts.transport = store, nil, canned_transport(vendor)
    return opts
  end
  local paced_clients = {
    eiotclub = simkit.client("eiotclub", paced("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
      base_url = "http://127.0.0.1:9", retries = 0 })),
    huawei = simkit.client("huawei", paced("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
      project_id = "0123456789abcdef0123456789abcdef", endpoint = "http://127.0.0.1:9", retries = 0 })),
  }
  local paced_us = {}
  for _, vendor in ipairs({ "eiotclub", "huawei" }) do
    local client, call = paced_clients[vendor], CALL[vendor]
    paced_us[vendor] = 1e6 / support.rate(function() call(client) end, SECONDS)
  end
  row("  the same with client-side pacing (memory store)", string.format("E %.1f / H %.1f us", paced_us.eiotclub,
    paced_us.huawei), "-", "-", "(the default; not a goal of #11)")
end

------------------------------------------------------------------ JSON
do
  local has_cjson, cjson = pcall(require, "cjson")
  local text = support.card_page(500)
  local value = assert(core.json_decode(text))
  local enc = support.rate(function() return core.json_encode(value) end, SECONDS)
  local dec = support.rate(function() return core.json_decode(text) end, SECONDS)
  if has_cjson then
    local cenc = support.rate(function() return cjson.encode(value) end, SECONDS)
    local cdec = support.rate(function() return cjson.decode(text) end, SECONDS)
    row("JSON encode, 500-card page", string.format("%.0f/s", enc), string.format("lua-cjson %.0f/s", cenc),
      string.format("%.2fx", enc / cenc), ">= 1.0x")
    row("JSON decode, 500-card page", string.format("%.0f/s", dec), string.format("lua-cjson %.0f/s", cdec),
      string.format("%.2fx", dec / cdec), "keep 1.4-1.5x")
  else
    row("JSON encode, 500-card page", string.format("%.0f/s", enc), "lua-cjson missing", "-", ">= 1.0x")
  end
end

------------------------------------------------------------------ the cost of the new bounds
-- libcurl: a request refused by libcurl at once (no network), with and
-- without timeout + connect_timeout + max_body given: the difference is what
-- reading and applying the bounds costs per call (the max_body check itself
-- is one comparison per received block)
do
  local h = core.http_new()
  local bare = { url = "gopher://127.0.0.1:9/" }
  local bounded = { url = "gopher://127.0.0.1:9/", timeout = 5, connect_timeout = 1, max_body = 1000000 }
  assert(not h:request(bare))
  local r0 = support.rate(function() h:request(bare) end, SECONDS)
  local r1 = support.rate(function() h:request(bounded) end, SECONDS)
  h:close()
  row("timeout + connect_timeout + max_body (libcurl)", string.format("%+.2f us/call", 1e6 / r1 - 1e6 / r0),
    string.format("%.2f us without", 1e6 / r0), "-", "< 1 us/call")
end

row("cdr.rows / cdr.parse", "see bench/cdr_bench.lua", "", "", ">= 0.8x")
row("EIOTCLUB webhook in nginx", "see bench/webhook_bench.sh", "", "", ">= 0.6x, p99 < 2 ms at 64 conns")

------------------------------------------------------------------ memory
do
  local client, call = offline.eiotclub, CALL.eiotclub
  local function rss_kb()
    local f = io.open("/proc/self/statm")
    if not f then return 0 / 0 end
    local _, pages = f:read("*n", "*n") -- size, resident
    f:close()
    return pages * 4
  end
  for _ = 1, 10000 do call(client) end
  collectgarbage()
  collectgarbage()
  local lua0, rss0 = collectgarbage("count"), rss_kb()
  for _ = 1, CALLS do call(client) end
  collectgarbage()
  collectgarbage()
  local lua1, rss1 = collectgarbage("count"), rss_kb()
  row(string.format("memory over %d EIOTCLUB calls", CALLS),
    string.format("Lua %+.1f%%", (lua1 - lua0) / lua0 * 100), string.format("RSS %+.1f%% (%.0f -> %.0f kB)",
      (rss1 - rss0) / rss0 * 100, rss0, rss1), "-", "flat")
end
