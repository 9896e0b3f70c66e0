-- Store operations per second, per backend, against the memory store and
-- against the backends' own tools doing comparable work:
--   sqlite: the sqlite3 CLI running the same statements (one autocommit
--           transaction each, WAL, synchronous=NORMAL) from a script;
--   redis:  redis-benchmark with one client and no pipelining (one round
--           trip per operation, as the store does).
-- Then the per-call overhead of the pipeline's admit and authenticate steps
-- with each store, against the memory store (no network: a fake transport).
--   LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 bench/store_bench.lua [N]
-- Wall-clock rates (the work is I/O); prints figure, baseline and ratio; no pass/fail.
local store = require "simkit.store"
local core = require "simkit.core"

local N = tonumber(arg and arg[1]) or tonumber(os.getenv("SIMKIT_BENCH_STORE_N")) or 5000

local proc = require "spec.support.proc"
local q, sh = proc.q, proc.out

-- ops/s of f(i) for i = 1..N, wall clock
local function rate(f)
  f(0)
  local t0 = core.monotonic()
  for i = 1, N do f(i) end
  return N / (core.monotonic() - t0)
end

local function measure(s)
  local r = {}
  r.set = rate(function(i) assert(s:set("k" .. i, i)) end)
  r.get = rate(function(i) assert(s:get("k" .. i) == (i > 0 and i or nil) or i == 0) end)
  r.incr = rate(function() assert(s:incr("ctr", 1)) end)
  r.add = rate(function(i) assert(s:add("a" .. i, "x", 60) ~= nil) end)
  return r
end

local function line(name, op, figure, base, base_name)
  if base then
    print(string.format("%-8s %-4s %10.0f ops/s   %-16s %10.0f ops/s   ratio %.2f", name, op, figure, base_name, base,
      figure / base))
  else
    print(string.format("%-8s %-4s %10.0f ops/s   %-16s %10s", name, op, figure, base_name, "n/a"))
  end
end

local OPS = { "set", "get", "incr", "add" }
local dir = proc.tempdir("simkit-bench")

print(string.format("store ops/s, %d operations each (%s)", N, _VERSION))
local mem = measure(store.memory())
for _, op in ipairs(OPS) do line("memory", op, mem[op], nil, "(reference)") end

-- SQLite: the store against the sqlite3 CLI running the equivalent statements
local sq = measure(store.sqlite(dir .. "/bench.db"))
local function cli_rate(sql_for)
  local path = dir .. "/cli.db"
  os.remove(path)
  local f = assert(io.open(dir .. "/cli.sql", "w"))
  f:write("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;\n",
    "CREATE TABLE kv (k TEXT PRIMARY KEY NOT NULL, v NOT NULL, expires REAL);\n",
    "INSERT INTO kv VALUES ('ctr', 0, NULL);\n")
  for i = 1, N do f:write("INSERT OR IGNORE INTO kv VALUES ('k", i, "', ", i, ", NULL);\n") end
  f:close()
  sh("sqlite3 " .. q(path) .. " < " .. q(dir .. "/cli.sql"))
  f = assert(io.open(dir .. "/cli.sql", "w"))
  f:write("PRAGMA synchronous = NORMAL;\n") -- per connection, as the store sets it
  for i = 1, N do f:write(sql_for(i), "\n") end
  f:close()
  local t0 = core.monotonic()
  sh("sqlite3 " .. q(path) .. " < " .. q(dir .. "/cli.sql") .. " > /dev/null")
  return N / (core.monotonic() - t0)
end
local has_cli = sh("command -v sqlite3") ~= ""
local cli = has_cli and {
  set = cli_rate(function(i)
    return "INSERT INTO kv VALUES ('k" .. i .. "', " .. i .. ", NULL) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
  end),
  get = cli_rate(function(i) return "SELECT v FROM kv WHERE k = 'k" .. i .. "';" end),
  incr = cli_rate(function() return "UPDATE kv SET v = v + 1 WHERE k = 'ctr' RETURNING v;" end),
  add = cli_rate(function(i) return "INSERT OR IGNORE INTO kv VALUES ('a" .. i .. "', 'x', NULL);" end),
} or {}
for _, op in ipairs(OPS) do line("sqlite", op, sq[op], cli[op], "sqlite3 CLI") end
for _, op in ipairs(OPS) do line("sqlite", op, sq[op], mem[op], "memory") end

-- Redis: the store against redis-benchmark (one client, no pipelining)
local redis_server, redis_port
if sh("command -v redis-server") ~= "" then
  redis_server = require("spec.support.redis").start()
  local port = redis_server.port
  local rd = measure(store.redis { port = port })
  local rb = {}
  local out = sh("redis-benchmark -h 127.0.0.1 -p " .. port .. " -c 1 -P 1 -n " .. N .. " -q -t set,get,incr")
  for name, r in out:gmatch("(%u+): ([%d%.]+) requests per second") do rb[name:lower()] = tonumber(r) end
  -- add = SET NX PX: the same command shape as set
  rb.add = rb.set
  for _, op in ipairs(OPS) do line("redis", op, rd[op], rb[op], "redis-benchmark") end
  for _, op in ipairs(OPS) do line("redis", op, rd[op], mem[op], "memory") end
  redis_port = port
else
  print("redis: redis-server not installed, skipped")
end
-- Per-call overhead of the pipeline's admit + authenticate steps with each
-- store, against the memory store. No network: a Huawei client in IAM-token
-- mode over a transport function answering at once, so what differs between
-- the rows is the store work of each call (the token read; a rate-window slot).
local simkit = require "simkit"
local ratelimit = require "simkit.ratelimit"
local function fake(req)
  if req.url:match("/v3/auth/tokens$") then
    return { status = 201, headers = { ["x-subject-token"] = "BENCH-TOKEN" },
      body = '{"token":{"expires_at":"2099-01-01T00:00:00.000000Z"}}' }
  end
  return { status = 200, headers = {}, body = '{"tags":[],"count":0}' }
end
local function pipeline_rates(name, st)
  local c = simkit.client("huawei", { username = "u", password = "p", domain = "d", project = "cn-north-4",
    endpoint = "http://127.0.0.1:9", iam_endpoint = "http://127.0.0.1:9", transport = fake, rate_limit = false,
    store = st })
  local auth = rate(function() assert(c:list_tags {}) end)
  -- admit: one rate-window slot per call (ratelimit.acquire, as the admit step
  -- does when the window has room), under a limit the bench never reaches
  local admit = rate(function() assert(ratelimit.acquire(st, { { key = "bench:" .. name, limit = 1000000,
    period = 60 } }, {})) end)
  return auth, admit
end
local rows = { { "memory", store.memory() }, { "sqlite", store.sqlite(dir .. "/pipeline.db") } }
if redis_port then rows[#rows + 1] = { "redis", store.redis { port = redis_port, prefix = "bench:" } } end
local base_auth, base_admit
for _, r in ipairs(rows) do
  local auth, admit = pipeline_rates(r[1], r[2])
  base_auth, base_admit = base_auth or auth, base_admit or admit
  print(string.format("%-8s call with token from the store %8.0f calls/s   memory %8.0f   ratio %.2f", r[1], auth,
    base_auth, auth / base_auth))
  print(string.format("%-8s admit (one window slot)        %8.0f calls/s   memory %8.0f   ratio %.2f", r[1], admit,
    base_admit, admit / base_admit))
end
if redis_server then redis_server:stop() end
sh("rm -rf " .. q(dir))
