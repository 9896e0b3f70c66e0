--- A spec-only sandbox "vendor" (paths under /ngxtest/) that runs simkit
-- INSIDE the sandbox's nginx: simkit.transport.ngx (cosockets) and full
-- simkit clients calling back into the same sandbox (one worker, event
-- driven: a request to itself is fine). Loaded only by
-- spec/ngx_transport_spec.lua (sandbox.start{ vendors = {"sim_ngxclient"} });
-- never a built-in vendor. Answers are JSON for the spec to assert on:
--
--   GET  /ngxtest/env        {jit, lua_version, cpath, core = "ok" | error, core_file}
--   POST /ngxtest/transport  {opts = transport opts, drain = bool, requests = [
--            {method, url | path, headers = {name = value}, header_pairs =
--             [[name, value]], body, body_gen = "binary", timeout,
--             connect_timeout, max_body, idempotent}]} ("nan", "inf" and
--             "-inf" stand for those numbers in timeout, connect_timeout, max_body)
--        (drain: first empty the keepalive pool of the sandbox's address)
--        -> {results = [{ok, status, headers, body, body_len, body_same,
--                        elapsed, reused, message, category, took}]}
--   POST /ngxtest/client     {vendor, opts, transport_opts, default_transport, calls = [{op, args}]}
--        -> {results = [{ok, data_json | err = {...}}], ngx_sleeps = [s...],
--            blocking_sleeps = [s...], max_gap, took, logs = [...]}
--   GET  /ngxtest/raw/<name> a misbehaving HTTP server (see RAW below): also
--        used by spec/http_spec.lua against libcurl
--
-- For /ngxtest/client a light thread ticks every 5 ms meanwhile: max_gap is
-- the longest the worker was busy (a blocking sleep shows up there), and
-- ngx.sleep / simkit.core's sleep are wrapped to list who slept.
-- luacheck: globals ngx
local util = require "simsandbox.util"

local V = { name = "ngxclient" }

function V.match(_, path)
  return path:sub(1, 9) == "/ngxtest/"
end

function V.reset() end

local function now()
  ngx.update_time()
  return ngx.now()
end

local function self_url()
  return "http://127.0.0.1:" .. ngx.var.server_port
end

local function binary_body()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return string.rep(table.concat(t), 64) .. "\0tail"
end

-- JSON null / arrays from the decoder are plain enough for simkit; drop the
-- sandbox's markers so tables look like ordinary Lua tables.
local function plain(v)
  if v == util.null then return nil end
  if util.is_bignum(v) then return v.digits end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = plain(x) end
  return t
end

local function env()
  local info = {
    jit = rawget(_G, "jit") and jit.version or util.null,
    lua_version = _VERSION,
    cpath = package.cpath,
  }
  local ok, core = pcall(require, "simkit.core")
  info.core = ok and "ok" or tostring(core)
  if package.searchpath then
    info.core_file = package.searchpath("simkit.core", package.cpath) or util.null
  end
  local sok, serr = pcall(require, "simkit")
  info.simkit = sok and "ok" or tostring(serr)
  return 200, assert(util.json_encode(info))
end

local function printable(body)
  return #body <= 65536 and not body:find("[\128-\255]")
end

-- "nan" / "inf" / "-inf" stand for the numbers JSON cannot carry
local SPECIAL = { nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge }
local function number(v)
  if SPECIAL[v] then return SPECIAL[v] end
  return v
end

local function one_request(transport, r, base)
  local req = {
    method = r.method or "GET",
    url = r.url or (base .. (r.path or "/")),
    headers = plain(r.headers) or {},
    body = r.body,
    timeout = number(r.timeout),
    connect_timeout = number(r.connect_timeout),
    max_body = number(r.max_body),
    idempotent = r.idempotent,
  }
  for _, pair in ipairs(plain(r.header_pairs) or {}) do req.headers[#req.headers + 1] = pair end
  if r.body_gen == "binary" then req.body = binary_body() end
  local t0 = now()
  local ok, res, msg, cat = pcall(transport, req)
  local took = now() - t0
  if not ok then
    return { ok = false, raised = tostring(res), took = took }
  end
  if not res then
    return { ok = false, message = tostring(msg), category = cat == nil and util.null or cat, took = took }
  end
  local headers = util.object()
  for k, v in pairs(res.headers) do headers[k] = v end
  local out = {
    ok = true, status = res.status, headers = headers, body_len = #res.body,
    elapsed = res.elapsed, reused = res.reused == nil and util.null or res.reused, took = took,
  }
  if printable(res.body) then out.body = res.body end
  if req.body then out.body_same = res.body == req.body end
  return out
end

-- Empty the keepalive pool of the sandbox's own address: requests with
-- "Connection: close" take the pooled connections one by one until one is
-- fresh. Returns how many it took.
local function drain(transport, base)
  for i = 1, 50 do
    local res = transport({ method = "GET", url = base .. "/test/status/200", headers = { Connection = "close" } })
    if not res then error("drain: request failed") end
    if not res.reused then return i end
  end
  error("drain: the pool never emptied")
end

local function run_transport(body)
  local ngxt = require "simkit.transport.ngx"
  local transport = ngxt.new(plain(body.opts))
  local base = self_url()
  local out = { results = util.array() }
  if body.drain then out.drained = drain(transport, base) end
  for i, r in ipairs(body.requests or {}) do
    out.results[i] = one_request(transport, r, base)
  end
  return 200, assert(util.json_encode(out))
end

local function err_table(err)
  local t = { message = tostring(err) }
  if type(err) == "table" then
    for _, k in ipairs({ "kind", "category", "code", "status", "attempts", "op", "vendor" }) do
      if err[k] ~= nil then t[k] = err[k] end
    end
    if err.retryable ~= nil then t.retryable = err.retryable end
    if err.sent ~= nil then t.sent = err.sent end
  end
  return t
end

local function run_client(body)
  local simkit = require "simkit"
  local core = require "simkit.core"
  local ngxt = require "simkit.transport.ngx"
  local opts = plain(body.opts) or {}
  local logs = util.array()
  -- default_transport: leave it to simkit (it must pick cosockets here)
  if not body.default_transport then opts.transport = ngxt.new(plain(body.transport_opts)) end
  opts.logger = function(level, msg) logs[#logs + 1] = level .. " " .. msg end
  local c = simkit.client(body.vendor, opts)

  -- who sleeps: ngx.sleep (yields) or simkit.core's sleep (blocks the worker)
  local real_ngx_sleep, real_core_sleep = ngx.sleep, core.sleep
  local ngx_sleeps, blocking_sleeps = util.array(), util.array()
  ngx.sleep = function(s) ngx_sleeps[#ngx_sleeps + 1] = s; return real_ngx_sleep(s) end
  core.sleep = function(s) blocking_sleeps[#blocking_sleeps + 1] = s; return real_core_sleep(s) end

  local done, max_gap = false, 0
  local watcher = ngx.thread.spawn(function()
    local last = now()
    while not done do
      real_ngx_sleep(0.005)
      local t = now()
      if t - last > max_gap then max_gap = t - last end
      last = t
    end
  end)

  local results = util.array()
  local t0 = now()
  local ok, perr = pcall(function()
    for i, call in ipairs(body.calls or {}) do
      local data, err = c:call(call.op, plain(call.args) or {})
      if data ~= nil then
        local json = require "simkit.json"
        local text, jerr = json.encode(data)
        results[i] = { ok = true, data_json = text or ("unencodable: " .. tostring(jerr)) }
      else
        results[i] = { ok = false, err = err_table(err) }
      end
    end
  end)
  local took = now() - t0
  done = true
  ngx.thread.wait(watcher)
  ngx.sleep, core.sleep = real_ngx_sleep, real_core_sleep
  if not ok then error(perr, 0) end
  return 200, assert(util.json_encode({
    results = results, ngx_sleeps = ngx_sleeps, blocking_sleeps = blocking_sleeps,
    max_gap = max_gap, took = took, logs = logs,
  }))
end

-- GET /ngxtest/raw/<name>: a misbehaving server, written byte by byte on the
-- raw downstream socket (the sandbox's own answers are always well formed).
-- A step is a string to send, a number of seconds to sleep, "close", or a
-- function(sock) -> false to stop.

-- send `text` one byte at a time, `pause` seconds apart
local function trickle(text, pause)
  return function(sock)
    for i = 1, #text do
      if not sock:send(text:sub(i, i)) then return false end
      ngx.sleep(pause)
    end
    return true
  end
end

-- send `piece` `count` times (nil: until the peer goes away, 60 s at most)
local function flood(piece, count)
  return function(sock)
    local i, stop = 0, now() + 60
    while (count == nil or i < count) and now() < stop do
      i = i + 1
      if not sock:send(piece) then return false end
    end
    return true
  end
end

local MB = string.rep("x", 1024 * 1024)
local CHUNK64K = string.format("%x", 65536) .. "\r\n" .. string.rep("y", 65536) .. "\r\n"

local RAW = {
  -- the body stalls after half of it
  slowbody = { "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789", 0.6, "abcdefghij" },
  -- a chunked body whose connection closes in the middle
  chunkcut = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n8\r\nwor", "close" },
  -- headers that never end
  headcut = { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n", "close" },
  badlen = { "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello", "close" },
  badstatus = { "SSH-2.0-OpenSSH_9.2\r\n", "close" },
  badchunk = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "close" },
  -- an interim answer first
  continue = { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: 2\r\n"
                .. "Connection: close\r\n\r\nok", "close" },
  -- HTTP/1.0 without keep-alive, connection left open: must not be pooled
  http10 = { "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0.5 },
  -- "Connection: close" in another case and with another token, left open
  closetoken = { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close, x-foo\r\n\r\nok", 0.5 },
  -- no length: the body ends with the connection
  closedelim = { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", "close" },
  -- Trickles: a complete, valid answer, one byte every 30 ms (about 1.5 s in
  -- all), so no single read ever waits long; only a per-attempt deadline
  -- cuts them.
  trickle_head = { trickle("HTTP/1.1 200 OK\r\nX-Slow: 1\r\nContent-Length: 2\r\n\r\nok", 0.03), "close" },
  trickle_body = { "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", trickle(string.rep("z", 40), 0.03), "close" },
  trickle_chunked = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                      trickle(string.rep("1\r\nz\r\n", 8) .. "0\r\n\r\n", 0.03), "close" },
  -- Floods: 100 MB announced by Content-Length, and bodies that never end
  -- (chunked, and delimited by the connection).
  huge = { "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n", flood(MB, 100), "close" },
  endless_chunked = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", flood(CHUNK64K), "close" },
  endless_close = { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", flood(MB), "close" },
}

local function raw(name)
  local steps = RAW[name]
  if not steps then return 404, util.json_encode({ error = "ngxtest: no raw scenario " .. name }) end
  local sock, err = ngx.req.socket(true)
  if not sock then return 500, util.json_encode({ error = "ngxtest: raw socket: " .. tostring(err) }) end
  sock:settimeout(5000)
  for _, step in ipairs(steps) do
    if type(step) == "number" then
      ngx.sleep(step)
    elseif type(step) == "function" then
      if not step(sock) then break end
    elseif step ~= "close" then
      if not sock:send(step) then break end
    end
  end
  return ngx.exit(444)
end

function V.handle(req)
  local body
  if req.body ~= "" then
    local err
    body, err = util.json_decode(req.body)
    if body == nil then return 400, util.json_encode({ error = "ngxtest: " .. tostring(err) }) end
  end
  local route = req.method .. " " .. req.path
  local ok, st, text
  if req.path:match("^/ngxtest/raw/") then
    return raw(req.path:sub(14))
  elseif route == "GET /ngxtest/env" then
    ok, st, text = pcall(env)
  elseif route == "POST /ngxtest/transport" then
    ok, st, text = pcall(run_transport, body or {})
  elseif route == "POST /ngxtest/client" then
    ok, st, text = pcall(run_client, body or {})
  else
    return 404, util.json_encode({ error = "ngxtest: no route " .. route })
  end
  if not ok then
    return 500, util.json_encode({ error = "ngxtest: " .. tostring(st) })
  end
  return st, text
end

return V
