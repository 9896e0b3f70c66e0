-- simkit.store: one table of cases (spec/support/store_cases.lua) run against
-- all four backends — memory and SQLite in this process, Redis from plain Lua
-- and over cosockets inside real nginx workers, shdict inside nginx — plus
-- races between real processes, stores that are down, and bad arguments.
local store = require "simkit.store"
local cases = require "spec.support.store_cases"
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local redis = require "spec.support.redis"
local socket = require "socket"
local core = require "simkit.core"

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

local proc = require "spec.support.proc"
local q, sh = proc.q, proc.out

local ENV = { sleep = socket.sleep, prefix = "c:" }

-- every case against a store made by `make` (called once, in setup)
local function contract(name, make)
  describe("the " .. name .. " store", function()
    local s
    setup(function() s = make() end)
    for _, c in ipairs(cases) do
      it(c.name, function() c.run(s, ENV) end)
    end
  end)
end

-- Start `count` racer processes at once (spec/support/store_race.lua); their outputs in order.
local function racers(count, backend, target, mode, n)
  local start = core.now() + 0.6
  local env = "LUA_PATH=" .. q(sandbox.root .. "/lua/?.lua;" .. sandbox.root .. "/lua/?/init.lua;;") ..
    " LUA_CPATH=" .. q(sandbox.root .. "/build/" .. LUA .. "/?.so;;")
  local procs = {}
  for i = 1, count do
    procs[i] = assert(io.popen(env .. " " .. LUA .. " " .. q(sandbox.root .. "/spec/support/store_race.lua") ..
      " " .. table.concat({ backend, q(target), mode, n, string.format("%.3f", start), "p" .. i }, " ") .. " 2>&1"))
  end
  local outs = {}
  for i, p in ipairs(procs) do
    outs[i] = p:read("*a")
    p:close()
  end
  return outs
end

-- add racing: every key won by exactly one process, and holding its id
local function check_add_race(s, outs, n)
  local winner = {}
  for i, out in ipairs(outs) do
    assert.is_nil(out:find("[^%d%s]"), "racer " .. i .. " failed: " .. out)
    for k in out:gmatch("%d+") do
      local key = tonumber(k)
      assert.is_nil(winner[key], "key " .. key .. " won twice")
      winner[key] = "p" .. i
    end
  end
  for key = 1, n do
    assert.is_not_nil(winner[key], "key " .. key .. " won by nobody")
    assert.equal(winner[key], s:get("race:" .. key))
  end
  return winner
end

local function every_method_fails(s, kind)
  for _, m in ipairs({ "get", "set", "add", "incr", "delete" }) do
    local v, err = s[m](s, "k", 1)
    assert.is_nil(v, m)
    assert.is_table(err, m)
    assert.equal(kind, err.kind, m .. ": " .. tostring(err))
    assert.is_string(tostring(err))
  end
end

contract("memory", function() return store.memory() end)

describe("simkit.store.sqlite", function()
  local dir
  setup(function() dir = proc.tempdir("simkit-store") end)
  teardown(function() sh("rm -rf " .. q(dir)) end)

  contract("sqlite", function() return store.sqlite(dir .. "/contract.db") end)

  it("keeps values across store objects and processes (one file)", function()
    local a = store.sqlite(dir .. "/shared.db")
    assert.is_true(a:set("k", { n = 1, s = "007" }))
    local b = store.sqlite(dir .. "/shared.db")
    assert.same({ n = 1, s = "007" }, b:get("k"))
    a:close()
    assert.same({ n = 1, s = "007" }, a:get("k")) -- reopens
    assert.matches("journal_mode.-wal", "journal_mode " .. sh("sqlite3 " .. q(dir .. "/shared.db") ..
      " 'PRAGMA journal_mode'"))
    -- private: the store may hold tokens
    assert.equal("600 600 600", (sh("stat -c %a " .. q(dir .. "/shared.db") .. " " .. q(dir .. "/shared.db-wal") ..
      " " .. q(dir .. "/shared.db-shm")):gsub("%s+", " "):gsub(" $", "")))
  end)

  it("add racing from two processes: each key won exactly once", function()
    local path = dir .. "/race.db"
    local s = store.sqlite(path)
    assert.is_nil(s:get("x")) -- creates the file
    local outs = racers(2, "sqlite", path, "add", 200)
    local winner = check_add_race(s, outs, 200)
    local by = {}
    for _, w in pairs(winner) do by[w] = (by[w] or 0) + 1 end
    assert.equal(200, (by.p1 or 0) + (by.p2 or 0))
  end)

  it("incr from two processes adds up", function()
    local path = dir .. "/count.db"
    local s = store.sqlite(path)
    assert.is_nil(s:get("x"))
    local outs = racers(2, "sqlite", path, "incr", 300)
    assert.same({ "done\n", "done\n" }, outs)
    assert.equal(600, s:get("count"))
  end)

  it("a path that cannot be opened: kind store from every method, and a retry later works", function()
    every_method_fails(store.sqlite(dir .. "/no/such/dir/x.db"), "store")
    every_method_fails(store.sqlite(dir), "store") -- a directory
    local f = assert(io.open(dir .. "/text.db", "w"))
    f:write(string.rep("not a database\n", 100))
    f:close()
    every_method_fails(store.sqlite(dir .. "/text.db"), "store")
    local later = store.sqlite(dir .. "/later/x.db")
    every_method_fails(later, "store")
    sh("mkdir " .. q(dir .. "/later"))
    assert.is_true(later:set("k", 1))
  end)

  it("locked by another process past the busy timeout: kind store; reads go on (WAL)", function()
    local path = dir .. "/locked.db"
    local s = store.sqlite(path, { busy_timeout = 0.2 })
    assert.is_true(s:set("k", "before"))
    -- another process takes the write lock and keeps it until told to commit
    local holder = assert(io.popen("sqlite3 " .. q(path) .. " >/dev/null 2>&1", "w"))
    holder:write("BEGIN IMMEDIATE; INSERT INTO simkit_kv VALUES ('h', 1, NULL);\n")
    holder:flush()
    local v, err, waited
    for _ = 1, 200 do
      local t0 = core.monotonic()
      v, err = s:set("probe", 1)
      waited = core.monotonic() - t0
      if v == nil then break end
      socket.sleep(0.02)
    end
    assert.is_nil(v)
    assert.equal("store", err.kind)
    assert.matches("locked", err.message)
    assert.is_true(waited >= 0.15, "waited the busy timeout")
    for _, m in ipairs({ "set", "add", "incr", "delete" }) do
      local r, e = s[m](s, "k", 1)
      assert.is_nil(r, m)
      assert.equal("store", e.kind, m)
    end
    assert.equal("before", s:get("k"))
    holder:write("COMMIT;\n")
    holder:close()
    assert.is_true(s:set("k", "after"))
    assert.equal(1, s:get("h"))
  end)

  it("bad constructor arguments raise, saying what to pass", function()
    for _, bad in ipairs({ { nil }, { 1 }, { "" }, { {} } }) do
      assert.has_error(function() store.sqlite(bad[1]) end, "simkit.store.sqlite: path must be a non-empty string")
    end
    assert.has_error(function() store.sqlite("x.db", "opts") end)
    for _, b in ipairs({ -1, 0 / 0, math.huge, 1e9, "5" }) do
      assert.has_error(function() store.sqlite("x.db", { busy_timeout = b }) end,
        "simkit.store.sqlite: opts.busy_timeout must be seconds in 0..3600")
    end
    assert.has_error(function() store.sqlite("x.db", { clock = 1 }) end)
  end)

  it("tostring names the file only", function()
    assert.equal("simkit.store.sqlite(" .. dir .. "/contract.db)", tostring(store.sqlite(dir .. "/contract.db")))
  end)
end)

describe("simkit.store.redis", function()
  local rs
  setup(function() rs = redis.start() end)
  teardown(function() if rs then rs:stop() end end)

  contract("redis (plain Lua)", function() return store.redis { port = rs.port, prefix = "plain:" } end)

  it("keys carry the prefix; TTLs are the server's (PX)", function()
    local s = store.redis { port = rs.port, prefix = "pfx:" }
    assert.is_true(s:set("k", "v", 20))
    assert.is_true(s:set("n", 12))
    assert.equal("s:v", rs:cli("GET", "pfx:k"))
    assert.equal("12", rs:cli("GET", "pfx:n"))
    local pttl = tonumber(rs:cli("PTTL", "pfx:k"))
    assert.is_true(pttl > 19000 and pttl <= 20000, "PTTL " .. tostring(pttl))
    assert.equal("-1", rs:cli("PTTL", "pfx:n"))
    assert.equal(13, s:incr("n", 1))
    assert.equal(1, s:incr("w", 1, 5))
    local wttl = tonumber(rs:cli("PTTL", "pfx:w"))
    assert.is_true(wttl > 4000 and wttl <= 5000, "incr ttl on creation " .. tostring(wttl))
  end)

  it("db selects the database", function()
    local s = store.redis { port = rs.port, db = 3, prefix = "" }
    assert.is_true(s:set("indb3", 1))
    assert.equal("", rs:cli("GET", "indb3"))
    assert.equal("1", rs:cli("-n", "3", "GET", "indb3"))
  end)

  it("add racing from two processes: each key won exactly once", function()
    local s = store.redis { port = rs.port, prefix = "race:" }
    local outs = racers(2, "redis", tostring(rs.port), "add", 200)
    check_add_race(s, outs, 200)
  end)

  it("incr from two processes adds up", function()
    local s = store.redis { port = rs.port, prefix = "race:" }
    local outs = racers(2, "redis", tostring(rs.port), "incr", 300)
    assert.same({ "done\n", "done\n" }, outs)
    assert.equal(600, s:get("count"))
  end)

  it("a server that is down: kind store from every method, and it reconnects when back", function()
    every_method_fails(store.redis { port = sandbox.closed_port(), timeout = 0.5 }, "store")
    local s = store.redis { port = rs.port, prefix = "down:" }
    assert.is_true(s:set("k", "v"))
    rs:stop { remove = false }
    every_method_fails(s, "store")
    rs:start_again()
    assert.is_true(s:set("k", "again"))
    assert.equal("again", s:get("k"))
  end)

  it("a server that answers garbage, half an answer, nothing at all, or an error: kind store, never a raise",
    function()
      local function hex(s) return (s:gsub(".", function(ch) return string.format("%02x", ch:byte()) end)) end
      local replies = { "?what\r\n", "$10\r\nabc", "", "*2\r\n$1\r\na\r\n", "-ERR unknown command\r\n",
        ":12\r\n", "$-5x\r\n" }
      for _, reply in ipairs(replies) do
        local port = sandbox.closed_port()
        local p = assert(io.popen(LUA .. " " .. q(sandbox.root .. "/spec/support/fake_redis.lua") .. " " .. port ..
          " 1 " .. q(hex(reply))))
        assert.equal("ready", p:read("*l"))
        local s = store.redis { port = port, timeout = 1 }
        local v, err = s:get("k")
        p:read("*a")
        p:close()
        assert.is_nil(v, "reply " .. string.format("%q", reply))
        assert.equal("store", err.kind, "reply " .. string.format("%q", reply))
      end
      -- a server that accepts and never answers: the timeout, as kind store
      local port = sandbox.closed_port()
      local p = assert(io.popen(LUA .. " " .. q(sandbox.root .. "/spec/support/fake_redis.lua") .. " " .. port .. " 1 -"))
      assert.equal("ready", p:read("*l"))
      local v, err = store.redis({ port = port, timeout = 0.3 }):set("k", 1)
      p:read("*a")
      p:close()
      assert.is_nil(v)
      assert.equal("store", err.kind)
      assert.matches("timeout", err.message)
    end)

  it("a password: used, and never in an error or tostring", function()
    local secret = "s3cr3t-pa55"
    local pr = redis.start { password = secret }
    finally(function() pr:stop() end)
    local good = store.redis { port = pr.port, password = secret, prefix = "" }
    assert.is_true(good:set("k", 1))
    assert.equal(1, good:get("k"))
    local bad = store.redis { port = pr.port, password = "wrong-" .. secret, prefix = "" }
    local v, err = bad:get("k")
    assert.is_nil(v)
    assert.equal("store", err.kind)
    assert.is_nil(tostring(err):find(secret, 1, true))
    local none = store.redis { port = pr.port, prefix = "" }
    v, err = none:get("k")
    assert.is_nil(v)
    assert.equal("store", err.kind)
    for _, s in ipairs({ good, bad }) do
      assert.is_nil(tostring(s):find(secret, 1, true))
      for _, field in pairs(s) do assert.is_not.equal(secret, field) end
    end
  end)

  it("bad constructor arguments raise, saying what to pass", function()
    assert.has_error(function() store.redis("localhost") end, "simkit.store.redis: opts must be a table or nil")
    local bad = { { port = "6379" }, { port = 0 }, { port = 70000 }, { port = 0 / 0 }, { port = 1.5 }, { host = "" },
      { host = 1 }, { db = -1 }, { db = 0.5 }, { password = "" }, { password = 1 }, { prefix = 1 },
      { prefix = string.rep("p", 257) }, { timeout = 0 }, { timeout = 0 / 0 }, { timeout = math.huge },
      { keepalive = -1 }, { pool_size = 0 } }
    for _, o in ipairs(bad) do
      local ok, e = pcall(store.redis, o)
      assert.is_false(ok)
      assert.matches("^[^\n]*simkit.store.redis: opts%.", tostring(e))
    end
  end)
end)

describe("shdict and Redis inside nginx workers", function()
  local CONF = nginx.conf { workers = 2, http = [[
    lua_shared_dict store 16m;
    lua_shared_dict race 1m;
    lua_shared_dict tiny 12k;
    init_worker_by_lua_block { require("store_ngx_app").init_worker(@REDIS@, "@PREFIX@") }
    server {
        listen 127.0.0.1:@PORT@;
        location = /cases { content_by_lua_block { require("store_ngx_app").cases() } }
        location = /race { content_by_lua_block { require("store_ngx_app").race() } }
        location = /probe { content_by_lua_block { require("store_ngx_app").probe() } }
    }]] }
  local ng, rs
  local results = {}

  local function get(path)
    local out = nginx.concurrent(ng.port, { "GET " .. path .. " HTTP/1.0\r\nHost: x\r\n\r\n" })[1]
    assert.equal(200, out.status, out.body .. ng:log())
    return assert(sandbox.json.json_decode(out.body))
  end

  setup(function()
    rs = redis.start()
    ng = nginx.start { conf = CONF:gsub("@REDIS@", tostring(rs.port)) }
  end)
  teardown(function()
    if ng then ng:stop() end
    if rs then rs:stop() end
  end)

  for _, backend in ipairs({ "shdict", "redis" }) do
    describe("the " .. backend .. " store (nginx)", function()
      for _, c in ipairs(cases) do
        it(c.name, function()
          if not results[backend] then results[backend] = get("/cases?backend=" .. backend .. "&port=" .. rs.port) end
          assert.equal("ok", results[backend][c.name])
        end)
      end

      it("add racing from two nginx workers: each key won exactly once", function()
        local r = get("/race?backend=" .. backend .. "&port=" .. rs.port .. "&n=200")
        assert.equal(sandbox.json.null, r.error)
        assert.equal(2, #r.workers)
        assert.is_not.equal(r.workers[1], r.workers[2])
        for i = 1, 200 do assert.equal(1, r.wins[i], "key " .. i) end
      end)
    end)
  end

  it("Redis over cosockets and plain Lua see the same data", function()
    local s = store.redis { port = rs.port, prefix = "ngxcases:" }
    assert.equal("007", s:get("c:s1"))
    assert.equal(false, s:get("c:f"))
    assert.equal("007", s:get("c:tab").a.b[3].c)
  end)

  it("Redis pools inside nginx keep databases apart", function()
    local r = get("/probe?what=db_pools&port=" .. rs.port)
    assert.equal("zero5 three5", r.value)
    assert.equal("s:three5", rs:cli("-n", "3", "GET", "pool:k"))
  end)

  it("init_worker (no cosockets): Redis over LuaSocket and SQLite both work there", function()
    local s = store.redis { port = rs.port, prefix = "" }
    assert.equal("redis ok", s:get("init_worker"))
    assert.equal("sqlite ok", store.sqlite(ng.prefix .. "/init_worker.db"):get("init_worker"))
  end)

  it("Redis down inside nginx: kind store", function()
    local r = get("/probe?what=redis_down&port=" .. sandbox.closed_port())
    assert.equal("store", r.kind)
    assert.matches("connect", r.message)
  end)

  it("a full shared dict: kind store, nothing evicted", function()
    local r = get("/probe?what=shdict_full")
    assert.equal("store", r.kind)
    assert.matches("no memory", r.message)
  end)

  it("an unknown dict raises, naming the nginx.conf line to add", function()
    local r = get("/probe?what=shdict_unknown")
    assert.matches("lua_shared_dict nosuchdict", r.message)
  end)

  it("SQLite in a request phase: refused with kind store, saying what to use", function()
    local r = get("/probe?what=sqlite_refused&path=/tmp/simkit-never-created.db")
    assert.equal("store", r.kind)
    assert.matches("content", r.message)
    assert.matches("shdict", r.message)
    assert.is_nil(io.open("/tmp/simkit-never-created.db"))
  end)
end)

describe("simkit.store constructors", function()
  it("are reachable as simkit.store", function()
    assert.equal(store, require("simkit").store)
  end)

  it("shdict outside nginx raises, saying where it works", function()
    assert.has_error(function() store.shdict("x") end)
    local ok, e = pcall(store.shdict, "x")
    assert.is_false(ok)
    assert.matches("inside nginx", e)
    for _, bad in ipairs({ 1, "", {} }) do
      assert.has_error(function() store.shdict(bad) end, "simkit.store.shdict: name must be a non-empty string")
    end
  end)

  it("memory rejects bad options", function()
    assert.has_error(function() store.memory("x") end)
    assert.has_error(function() store.memory { clock = 1 } end)
  end)

  it("is_store recognises every backend", function()
    assert.is_true(store.is_store(store.memory()))
    assert.is_true(store.is_store(store.sqlite("/tmp/x-never-opened.db")))
    assert.is_true(store.is_store(store.redis { port = 1 }))
    assert.is_false(store.is_store({}))
    assert.is_false(store.is_store(nil))
  end)
end)

describe("simkit.store.codec.encode_write (what set / add write, every backend)", function()
  local codec = require "simkit.store.codec"

  it("encodes the value; with native, an integer stays a number", function()
    assert.equal(codec.encode("x"), codec.encode_write("k", "x"))
    assert.equal(codec.encode({ a = 1 }), codec.encode_write("k", { a = 1 }, 5))
    assert.equal("42", codec.encode_write("k", 42))
    assert.equal(42, codec.encode_write("k", 42, nil, true))
    assert.equal(codec.encode(0.5), codec.encode_write("k", 0.5, 1, true))
    assert.equal(codec.encode("7"), codec.encode_write("k", "7", nil, true))
  end)

  it("refuses bad keys, TTLs and values with kind input, never raising", function()
    local huge = string.rep("x", codec.MAX_VALUE + 1)
    local bad = { { nil, "v" }, { 1, "v" }, { "", "v" }, { string.rep("k", codec.MAX_KEY + 1), "v" },
      { "k", "v", 0 }, { "k", "v", -1 }, { "k", "v", 0 / 0 }, { "k", "v", math.huge }, { "k", "v", "10" },
      { "k", nil }, { "k", 0 / 0 }, { "k", math.huge }, { "k", print }, { "k", huge } }
    for i, a in ipairs(bad) do
      for _, native in ipairs({ false, true }) do
        local v, err = codec.encode_write(a[1], a[2], a[3], native)
        assert.is_nil(v, "case " .. i)
        assert.equal("input", err.kind, "case " .. i)
      end
    end
  end)
end)

-- The argument checks every backend shares (codec.check_write and
-- check_incr_args: one expression for the common case, the detailed errors
-- otherwise), at their edges, on the memory store.
describe("simkit.store argument edges", function()
  local codec = require "simkit.store.codec"
  local s = store.memory()
  local long_ok, long_bad = string.rep("k", codec.MAX_KEY), string.rep("k", codec.MAX_KEY + 1)

  local function input(msg, v, err)
    assert.is_nil(v)
    assert.are.equal("input", err.kind)
    assert.matches(msg, err.message, 1, true)
  end

  it("accepts a key of MAX_KEY bytes and a ttl of MAX_TTL seconds, for set, add and incr", function()
    assert.is_true(s:set(long_ok, "v", codec.MAX_TTL))
    assert.is_true(s:add(long_ok .. "", "w") == false)
    assert.are.equal(1, s:incr("n", 1, codec.MAX_TTL))
    assert.are.equal(3, s:incr("n", 2))
    assert.are.equal(4, s:incr(long_ok:sub(2) .. "x", 4, 0.001))
  end)

  it("refuses, with the detailed reason, what is just past the edges", function()
    for _, write in ipairs({ "set", "add" }) do
      input("a key must not be empty", s[write](s, "", 1))
      input("a key is at most " .. codec.MAX_KEY .. " bytes", s[write](s, long_bad, 1))
      input("a key must be a string, got number", s[write](s, 12, 1))
      input("ttl must be a number of seconds in (0, ", s[write](s, "k", 1, 0))
      input("ttl must be a number of seconds in (0, ", s[write](s, "k", 1, codec.MAX_TTL + 1))
      input("ttl must be a number of seconds in (0, ", s[write](s, "k", 1, 0 / 0))
      input("ttl must be a number of seconds, got string", s[write](s, "k", 1, "5"))
    end
    input("a key must not be empty", s:incr("", 1))
    input("a key is at most", s:incr(long_bad, 1))
    input("incr takes an integer, got 1.5", s:incr("k", 1.5))
    input("ttl must be a number of seconds in (0, ", s:incr("k", 1, -1))
    input("ttl must be a number of seconds in (0, ", s:incr("k", 1, 0 / 0))
    -- the key is checked first, as before
    input("a key must not be empty", s:incr("", 1.5, -1))
    assert.is_nil(s:get(""))
    assert.is_nil((s:get("k")))
  end)
end)
