--- Requests per second through the whole simkit pipeline against the local
-- sandbox (sim/, nginx on loopback; client-side rate limiter off, the
-- sandbox's server-side limits switched off through /_sim/config).
-- Measured: client:show_sim_card{...} (Huawei AK/SK: validate, build, sign,
-- libcurl, decode, error mapping) and client:get_all_card_info{...} (EIOTCLUB).
-- Baseline, in the same process: a raw libcurl loop over the same requests
-- through the C core directly (core.http_new():request{...}), RE-SIGNED for
-- every request (simkit.sign.huawei / simkit.sign.eiotclub, as the pipeline
-- signs every attempt), status checked, answer NOT decoded. For Huawei also a
-- raw loop re-sending one request signed once up front. Wall-clock time
-- (the server shares the 2 cores), several alternating rounds; prints
-- requests/s of each and the ratio pipeline / raw. Every answer is checked
-- (HTTP 200, and code "200" for EIOTCLUB).
local simkit = require "simkit"
local core = require "simkit.core"
local util = require "simkit.util"
local sandbox = require "spec.support.sandbox"

local ROUNDS = 4
local ROUND_SECONDS = tonumber(os.getenv("SIMKIT_BENCH_SECONDS")) or 0.6
local now = util.monotonic

local HW = { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret", project_id = "0123456789abcdef0123456789abcdef" }
local EIOT = { appkey = "sandbox-appkey", secret = "sandbox-secret" }

-- requests per second of f (one request per call) for about `seconds` of
-- wall-clock time; returns rate, count, elapsed
local function run_for(f, seconds)
  local n, t0 = 0, now()
  local deadline = t0 + seconds
  repeat
    for _ = 1, 10 do f() end
    n = n + 10
  until now() >= deadline
  local dt = now() - t0
  return n / dt, n, dt
end

-- alternating rounds over { {name, f}, ... }; returns name -> total rate
local function compare(sb, modes)
  for _, m in ipairs(modes) do m[2]() end -- warm up: connections, JIT
  local total_n, total_t = {}, {}
  for _ = 1, ROUNDS do
    for _, m in ipairs(modes) do
      -- the sandbox's request log is capped at 20000 entries with a
      -- table.remove(log, 1) per request past that: keep it short
      sb:clear_requests()
      local _, n, dt = run_for(m[2], ROUND_SECONDS)
      total_n[m[1]] = (total_n[m[1]] or 0) + n
      total_t[m[1]] = (total_t[m[1]] or 0) + dt
    end
  end
  local rates = {}
  for _, m in ipairs(modes) do rates[m[1]] = total_n[m[1]] / total_t[m[1]] end
  return rates
end

local function line(name, p, raw, what)
  print(string.format("%-30s pipeline %6.0f req/s   %-21s %6.0f req/s   ratio %5.2fx", name, p, what, raw, p / raw))
end

local function huawei(sb)
  local st = sb:control("POST", "/_sim/config", { huawei = { rate_limit = false } })
  assert(st == 200, "sandbox: cannot switch the Huawei rate limit off")
  local client = simkit.client("huawei", { ak = HW.ak, sk = HW.sk, project_id = HW.project_id,
    endpoint = sb.url, rate_limit = false, retries = 0 })
  local CARD = "111111111111111111" -- fixture row 2

  local function pipeline()
    local data, err = client:show_sim_card { sim_card_id = CARD }
    if not data then error("huawei pipeline: " .. tostring(err)) end
    if data.sim_card_id ~= 111111111111111111 and data.sim_card_id ~= CARD then
      error("huawei pipeline: unexpected answer")
    end
  end

  local h = core.http_new()
  local url = sb.url .. "/v1/sim-cards/" .. CARD
  local function raw_req(headers)
    return { method = "GET", url = url, headers = headers, timeout = 10, connect_timeout = 10, idempotent = true }
  end
  local function unsigned()
    return { ["Content-Type"] = "application/json", ["X-Project-Id"] = HW.project_id }
  end
  local function check(res, err)
    if not res then error("huawei raw: " .. tostring(err)) end
    if res.status ~= 200 then error("huawei raw: HTTP " .. res.status .. " " .. res.body) end
  end
  local function raw_resigned()
    local headers = simkit.sign.huawei { method = "GET", url = url, headers = unsigned(), ak = HW.ak, sk = HW.sk }
    check(h:request(raw_req(headers)))
  end
  local once = raw_req(simkit.sign.huawei { method = "GET", url = url, headers = unsigned(), ak = HW.ak, sk = HW.sk })
  local function raw_once()
    check(h:request(once))
  end

  local r = compare(sb, { { "pipeline", pipeline }, { "resigned", raw_resigned }, { "once", raw_once } })
  local _, state = sb:control("GET", "/_sim/state/huawei")
  assert(type(state) == "table" and state.rate_limited == 0, "the sandbox rate-limited some requests")
  line("huawei show_sim_card (AK/SK)", r.pipeline, r.resigned, "raw curl, re-signed")
  line("huawei show_sim_card (AK/SK)", r.pipeline, r.once, "raw curl, signed once")
end

local function eiotclub(sb)
  local st = sb:control("POST", "/_sim/config", { eiotclub = { rate_limit = false } })
  assert(st == 200, "sandbox: cannot switch the EIOTCLUB rate limit off")
  -- rate_limit = false: simkit's client-side pacing (10 calls/s by default) off, as the sandbox's
  local client = simkit.client("eiotclub", { appkey = EIOT.appkey, secret = EIOT.secret, base_url = sb.url,
    retries = 0, rate_limit = false })
  -- The sandbox refuses a replayed request (same timestamp, nonce and sign)
  -- and simkit draws a random 5-digit nonce: pageSize 12..500 (the account
  -- has 12 cards, so every answer is the same) keeps identical requests apart.
  local size = 11
  local function next_size()
    size = size % 500 + 1
    if size < 12 then size = 12 end
    return size
  end
  local replays = 0
  local function pipeline()
    local data, err = client:get_all_card_info { pageNum = "1", pageSize = next_size() }
    if not data then
      if err.code == "43332" and tostring(err.message):find("nonce already used", 1, true) then
        replays = replays + 1
        return
      end
      error("eiotclub pipeline: " .. tostring(err))
    end
    if #data.cardInfoList ~= 12 then error("eiotclub pipeline: unexpected answer") end
  end

  local h = core.http_new()
  local url = sb.url .. "/api/v3/card/getAllCardInfo"
  local headers = { ["Content-Type"] = "application/json;charset=utf-8", ["Accept"] = "application/json" }
  local nonce = 10000
  local function raw_resigned()
    nonce = nonce % 99999 + 1
    if nonce < 10000 then nonce = 10000 end
    local params = { appkey = EIOT.appkey, timestamp = os.time(), nonce = nonce, pageNum = "1", pageSize = next_size() }
    params.sign = simkit.sign.eiotclub(params, EIOT.secret)
    local res, err = h:request { method = "POST", url = url, headers = headers, body = core.json_encode(params),
      timeout = 10, connect_timeout = 10, idempotent = true }
    if not res then error("eiotclub raw: " .. tostring(err)) end
    if res.status ~= 200 or not res.body:find('^{"code":"200"') then
      error("eiotclub raw: HTTP " .. res.status .. " " .. res.body:sub(1, 200))
    end
  end

  local r = compare(sb, { { "pipeline", pipeline }, { "resigned", raw_resigned } })
  line("eiotclub get_all_card_info", r.pipeline, r.resigned, "raw curl, re-signed")
  if replays > 0 then
    print(string.format("# eiotclub: %d pipeline request(s) refused as replays (random nonce collided)", replays))
  end
end

print(string.format("# %s, %d alternating rounds of %.1fs (wall clock) per mode", _VERSION ..
  (jit and (" / " .. jit.version) or ""), ROUNDS, ROUND_SECONDS))
local sb = sandbox.start()
local ok, err = pcall(function()
  huawei(sb)
  eiotclub(sb)
end)
sb:stop()
if not ok then error(err, 0) end
