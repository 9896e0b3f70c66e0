--- The nginx side of spec/store_spec.lua: runs the store cases and races
-- inside real nginx workers (shdict and Redis over cosockets).
--
--   GET /cases?backend=shdict|redis&port=P   -> { [case name] = "ok" | message }
--   GET /race?backend=shdict|redis&port=P&n=N -> both workers race add() on N keys
--   GET /probe?what=...&port=P               -> one error case, as JSON
--
-- Races run in a timer on every worker: /race posts an order in the `race`
-- dict, each worker's poller runs it once, /race waits for both and answers
-- { wins = { [i] = count }, workers = { pid, ... } }.
local json = require "simkit.json"
local store = require "simkit.store"
local cases = require "store_cases"

local ngx = rawget(_G, "ngx")
local M = {}

local function make(backend, port, prefix)
  if backend == "shdict" then return store.shdict("store") end
  return store.redis { port = tonumber(port), prefix = prefix }
end

local function reply(v)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(assert(json.encode(v)))
end

function M.cases()
  local a = ngx.req.get_uri_args()
  local s = make(a.backend, a.port, "ngxcases:")
  local out = {}
  for _, c in ipairs(cases) do
    local ok, err = pcall(c.run, s, { sleep = ngx.sleep, prefix = "c:" })
    out[c.name] = ok and "ok" or tostring(err)
  end
  reply(out)
end

-- the worker side of a race: run each new order once
local function poll(premature)
  if premature then return end
  local race = ngx.shared.race
  local gen = race:get("order")
  if not gen or race:get("ran:" .. ngx.worker.pid() .. ":" .. gen) then return end
  race:set("ran:" .. ngx.worker.pid() .. ":" .. gen, true)
  local s = make(race:get("backend"), race:get("port"), "ngxrace" .. gen .. ":")
  local n = race:get("n")
  while ngx.now() < race:get("start") do ngx.sleep(0.001) end
  for i = 1, n do
    local won, err = s:add("k" .. i, ngx.worker.pid())
    if won == nil then
      race:set("error", tostring(err))
      break
    end
    if won then race:incr("win:" .. gen .. ":" .. i, 1, 0) end
  end
  race:rpush("done:" .. gen, ngx.worker.pid())
end

-- also proves the blocking phase works: Redis over LuaSocket, SQLite allowed
function M.init_worker(redis_port, prefix)
  if ngx.worker.id() == 0 then
    assert(store.redis({ port = redis_port, prefix = "" }):set("init_worker", "redis ok"))
    assert(store.sqlite(prefix .. "/init_worker.db"):set("init_worker", "sqlite ok"))
  end
  ngx.timer.every(0.02, poll)
end

function M.race()
  local a = ngx.req.get_uri_args()
  local race = ngx.shared.race
  local gen = (race:get("order") or 0) + 1
  race:set("backend", a.backend)
  race:set("port", tonumber(a.port) or 0)
  race:set("n", tonumber(a.n))
  race:set("start", ngx.now() + 0.3)
  race:set("order", gen)
  local deadline = ngx.now() + 30
  while (race:llen("done:" .. gen) or 0) < 2 and ngx.now() < deadline do ngx.sleep(0.02) end
  local wins, workers = {}, {}
  for i = 1, tonumber(a.n) do wins[i] = race:get("win:" .. gen .. ":" .. i) or 0 end
  for _ = 1, race:llen("done:" .. gen) or 0 do workers[#workers + 1] = race:lpop("done:" .. gen) end
  reply { wins = wins, workers = workers, error = race:get("error") or json.null }
end

-- error cases that need nginx
function M.probe()
  local a = ngx.req.get_uri_args()
  local v, err
  if a.what == "redis_down" then
    v, err = store.redis({ port = tonumber(a.port), timeout = 0.5 }):set("k", 1)
  elseif a.what == "shdict_full" then
    v, err = store.shdict("tiny"):set("big", string.rep("x", 200000))
  elseif a.what == "sqlite_refused" then
    v, err = store.sqlite(a.path):get("k")
  elseif a.what == "db_pools" then
    -- two stores on one server, different databases: pooled connections must not mix them
    local zero = store.redis { port = tonumber(a.port), prefix = "pool:" }
    local three = store.redis { port = tonumber(a.port), db = 3, prefix = "pool:" }
    for i = 1, 5 do
      assert(zero:set("k", "zero" .. i))
      assert(three:set("k", "three" .. i))
    end
    v = zero:get("k") .. " " .. three:get("k")
  elseif a.what == "shdict_unknown" then
    local ok, e = pcall(store.shdict, "nosuchdict")
    v, err = ok, { kind = "raised", message = tostring(e) }
  end
  reply { value = v == nil and json.null or v, kind = err and err.kind or json.null,
    message = err and tostring(err.message) or json.null }
end

return M
