--- One racer process for the store specs (run by lua5.4 or luajit, from the
-- repository root, several at once):
--
--   lua5.4 spec/support/store_race.lua BACKEND TARGET MODE N START ID
--
-- BACKEND `sqlite` (TARGET a file) or `redis` (TARGET a port). MODE `add`:
-- try `add("race:i", ID)` for i = 1..N and print the i won, one line; MODE
-- `incr`: `incr("count", 1)` N times and print "done". START is the wall
-- clock second at which to begin, so that the processes overlap.
local store = require "simkit.store"
local core = require "simkit.core"

local backend, target, mode, n, start, id = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), arg[6]
local s
if backend == "sqlite" then
  s = store.sqlite(target)
elseif backend == "redis" then
  s = store.redis { port = tonumber(target), prefix = "race:" }
else
  error("unknown backend " .. tostring(backend))
end
-- open the connection before the start line
assert(s:get("warmup") == nil)
while core.now() < start do core.sleep(0.001) end

local out = {}
for i = 1, n do
  if mode == "add" then
    local won, err = s:add("race:" .. i, id)
    if won == nil then error(tostring(err)) end
    if won then out[#out + 1] = tostring(i) end
  else
    local v, err = s:incr("count", 1)
    if v == nil then error(tostring(err)) end
  end
end
io.write(mode == "add" and table.concat(out, " ") or "done", "\n")
