#!/usr/bin/env lua5.4
--- Run rules files against the fleet of the environment (see
-- examples/fleet_clients.lua for the variables), as cron would:
--
--   lua5.4 examples/rules/run.lua [--plan] [--cycles N] [--explain ICCID] FILE...
--
-- --plan      dry run: print what would be done; nothing is written anywhere
-- --cycles N  run N cycles in this process (the second shows what re-arm does)
-- --explain   print, per rule, why it fires or not for one card
-- RULES_STORE a simkit.store.sqlite path (state across runs; memory otherwise),
-- RULES_AUDIT the audit log path (JSON lines), RULES_TZ the time zone
-- ("+08:00"). Exit status: 0 fine, 1 an action failed or an error occurred,
-- 2 usage.
package.path = (arg[0]:match("^(.*)/rules/[^/]*$") or "examples") .. "/?.lua;" .. package.path
local simkit = require "simkit"
local R = require "simkit.rules"
local json = require "simkit.json"

local files, plan, cycles, explain = {}, false, 1, nil
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--plan" then plan = true
  elseif a == "--cycles" then i = i + 1 cycles = tonumber(arg[i])
  elseif a == "--explain" then i = i + 1 explain = arg[i]
  elseif a:sub(1, 2) == "--" then io.stderr:write("unknown option ", a, "\n") os.exit(2)
  else files[#files + 1] = a end
  i = i + 1
end
if #files == 0 or not cycles or cycles < 1 then
  io.stderr:write("usage: run.lua [--plan] [--cycles N] [--explain ICCID] FILE...\n")
  os.exit(2)
end

local opts = require "fleet_clients"
local clients = {}
for _, c in ipairs(opts) do clients[#clients + 1] = c end
local store
local path = os.getenv("RULES_STORE")
if path then
  local stores = require "simkit.store"
  local st, serr
  if stores.sqlite then st, serr = stores.sqlite(path) else serr = "this simkit has no simkit.store.sqlite" end
  if not st then io.stderr:write("RULES_STORE: ", tostring(serr), "\n") os.exit(2) end
  store = st
end
local engine = R.engine { fleet = simkit.fleet(opts), clients = clients, store = store,
  timezone = os.getenv("RULES_TZ"), audit = os.getenv("RULES_AUDIT"), dry_run = plan,
  logger = function(level, msg, f) print(("%-5s %s %s: %s"):format(level, f.rule, tostring(f.iccid), msg)) end }
for _, f in ipairs(files) do
  local ok, err = R.load(engine, f)
  if not ok then io.stderr:write(tostring(err), "\n") os.exit(2) end
end

if explain then
  local ex, err = engine:explain(explain)
  if not ex then io.stderr:write(tostring(err), "\n") os.exit(1) end
  print(json.encode(ex))
  os.exit(0)
end

local function show(v)
  if type(v) == "number" then return ("%.4g"):format(v) end
  return tostring(v)
end

local failed = 0
for c = 1, cycles do
  if cycles > 1 then print(("== cycle %d"):format(c)) end
  local rep = engine:run()
  for _, p in ipairs(rep.plan or {}) do
    print(("would %s %s %s (%s vs %s)%s"):format(p.action, p.vendor, p.iccid, show(p.value), show(p.threshold),
      p.at and (" at " .. os.date("!%Y-%m-%d %H:%M", p.at)) or ""))
  end
  if not plan then
    for _, f in ipairs(rep.fired) do
      if not f.ok then failed = failed + 1 end
      print(("%-6s %s %s %s %s key %s%s"):format(f.ok and "done" or "FAILED", f.rule, f.vendor, f.iccid, f.action,
        f.key, f.ok and "" or (": " .. tostring(f.err))))
    end
    for _, s in ipairs(rep.scheduled) do
      print(("later  %s %s %s %s at %s"):format(s.rule, s.vendor, s.iccid, s.action, os.date("!%Y-%m-%d %H:%M", s.at)))
    end
    for _, s in ipairs(rep.skipped) do
      print(("skip   %s %s %s: %s"):format(s.rule, s.vendor, s.iccid, s.reason))
    end
  end
  for _, e in ipairs(rep.errors) do print("ERROR " .. tostring(e.where) .. ": " .. tostring(e.message)) end
  failed = failed + #rep.errors
  print(("%d cards, %d evaluated, %d %s, %d scheduled, %d skipped, %d errors"):format(rep.cards, rep.evaluated,
    plan and #(rep.plan or {}) or #rep.fired, plan and "planned" or "fired", #rep.scheduled, #rep.skipped,
    #rep.errors))
end
os.exit(failed == 0 and 0 or 1)
