--- Rules evaluation throughput, I/O excluded.
-- Measured: 100,000 card snapshots x 20 rules through the engine's hot path
-- (simkit.rules.engine.matches + holds: the match table, then every step
-- trigger, as engine:run evaluates them before touching the store).
-- Baseline, in the same process: a plain Lua loop doing the same
-- comparisons written by hand. Prints evaluations per second and the ratio;
-- the goal is >= 1 M rule evaluations/s on Lua 5.4. Does not assert.
local R = require "simkit.rules"
local engine_mod = require "simkit.rules.engine"

local N = tonumber(os.getenv("RULES_BENCH_CARDS") or "100000")
local VENDORS = { "eiotclub", "huawei", "tibiot" }
local STATUSES = { "active", "active", "active", "suspended", "inactive" }

local cards = {}
for i = 1, N do
  local limit = 1024 * (1 + i % 4)
  local used = (i * 7919) % limit
  cards[i] = { vendor = VENDORS[i % 3 + 1], iccid = string.format("8985%016d", i), status = STATUSES[i % 5 + 1],
    tags = { i % 2 == 0 and "even" or "odd" }, expires = 1796292000 + (i % 400) * 86400,
    usage = { used_mb = used, limit_mb = limit, left_mb = limit - used, period = "month" } }
end

local e = R.engine { fleet = { capabilities = function() return nil end } }
local rules = {
  { match = { vendor = "eiotclub" }, when = R.left_below { mb = 10 } },
  { match = { vendor = "eiotclub", status = "active" }, when = R.left_below { ratio = 0.01 } },
  { when = R.used_above { ratio = 0.999 } },
  { when = R.used_above { mb = 4000 } },
  { match = { vendor = "huawei" }, when = R.used_above { ratio = 0.998 } },
  { match = { vendor = "tibiot" }, when = R.left_below { mb = 1 } },
  { when = R.status_is { "testing" } },
  { match = { status = "active" }, when = R.all { R.used_above { ratio = 0.9 }, R.left_below { mb = 5 } } },
  { when = R.any { R.status_is { "deactivated" }, R.used_above { mb = 5000 } } },
  { when = R.none { R.status_is { "active" }, R.status_is { "suspended" }, R.status_is { "inactive" } } },
  { when = R.expires_within { days = 0.5 } },
  { when = R.expired {} },
  { match = { tag = "even" }, when = R.used_above { mb = 4090 } },
  { match = { vendor = { "huawei", "tibiot" } }, when = R.left_below { ratio = 0.0005 } },
  { when = R.used_below { mb = 0 } },
  { match = function(c) return c.vendor == "huawei" end, when = R.used_above { mb = 4095 } },
  { steps = { { R.used_above { ratio = 0.9995 }, R.alert {} }, { R.used_above { ratio = 0.9999 }, R.suspend {} } } },
  { when = R.balance_below { amount = 1 } },
  { match = { status = "suspended" }, when = R.used_above { ratio = 1.5 } },
  { match = { vendor = "eiotclub" }, when = R.all { R.status_is { "active" }, R.expires_within { days = 0.1 } } },
}
for i, r in ipairs(rules) do
  r.name = "r" .. i
  if not r.steps then r.actions = { R.alert {} } end
  e:rule(r)
end
assert(#e.rules == 20)

local matches, holds = engine_mod.matches, engine_mod.holds
local ctx = { now = 1796292000 }

local function engine_pass()
  local n, fired = 0, 0
  local list = e.rules
  for i = 1, N do
    local c = cards[i]
    for j = 1, #list do
      local r = list[j]
      n = n + 1
      if matches(r, c) and holds(r, c, ctx) then fired = fired + 1 end
    end
  end
  return n, fired
end

-- the same comparisons, by hand
local function plain_pass()
  local n, fired = 0, 0
  local now = ctx.now
  for i = 1, N do
    local c = cards[i]
    local u, v, st = c.usage, c.vendor, c.status
    local used, limit, left = u.used_mb, u.limit_mb, u.left_mb
    local ratio = used / limit
    local days = (c.expires - now) / 86400
    local h = {
      v == "eiotclub" and left < 10,
      v == "eiotclub" and st == "active" and left / limit < 0.01,
      ratio >= 0.999,
      used >= 4000,
      v == "huawei" and ratio >= 0.998,
      v == "tibiot" and left < 1,
      st == "testing",
      st == "active" and ratio >= 0.9 and left < 5,
      st == "deactivated" or used >= 5000,
      not (st == "active" or st == "suspended" or st == "inactive"),
      days >= 0 and days <= 0.5,
      c.expires <= now,
      c.tags[1] == "even" and used >= 4090,
      (v == "huawei" or v == "tibiot") and left / limit < 0.0005,
      used < 0,
      v == "huawei" and used >= 4095,
      ratio >= 0.9995 or ratio >= 0.9999,
      false,
      st == "suspended" and ratio >= 1.5,
      v == "eiotclub" and st == "active" and days >= 0 and days <= 0.1,
    }
    for j = 1, 20 do
      n = n + 1
      if h[j] then fired = fired + 1 end
    end
  end
  return n, fired
end

local function timed(f)
  local t0 = os.clock()
  local n, fired = f()
  return n, fired, os.clock() - t0
end

engine_pass() -- warm up
local n1, f1, t1 = timed(engine_pass)
local n2, f2, t2 = timed(plain_pass)
assert(f1 == f2, "the engine and the plain loop disagree: " .. f1 .. " vs " .. f2)
print(string.format("rules evaluation (%d cards x 20 rules, I/O excluded)", N))
print(string.format("  engine     %10.0f evaluations/s  (%d held)", n1 / t1, f1))
print(string.format("  plain Lua  %10.0f evaluations/s", n2 / t2))
print(string.format("  engine / plain = %.2f   goal >= 1,000,000/s on Lua 5.4: %s", (n1 / t1) / (n2 / t2),
  n1 / t1 >= 1e6 and "met" or "NOT met"))

----------------------------------------------------------------------------
-- A full engine:run() over the sandbox at fleet scale: SIMKIT_BENCH_CARDS
-- (default 3,000) generated cards for EIOTCLUB and Huawei, TIBIOT's seeded
-- cards by ICCID (TIBIOT has no listing nor batch read: one call per card at
-- its pacing). Prints the vendor calls made next to the fleet's floor (pages
-- + batches), store operations per card, and the time of the run.
local simkit = require "simkit"
local sandbox = require "spec.support.sandbox"
local store_mod = require "simkit.store"
local util = require "simkit.util"

local CARDS = tonumber(os.getenv("SIMKIT_BENCH_CARDS")) or 3000
local sb = sandbox.start()
local ok, err = pcall(function()
  assert(sb:control("POST", "/_sim/config", { cards = CARDS }) == 200)
  local eiot = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = sb.url })
  local hw = simkit.client("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
    project_id = "0123456789abcdef0123456789abcdef", endpoint = sb.url })
  local tib = simkit.client("tibiot", { base_url = sb.url, app_key = "sandbox-tib-key", secret = "sandbox-tib-secret",
    signer = "hmac-sha256" })
  local tib_iccids = {}
  for i = 1, 12 do tib_iccids[i] = string.format("8986112233445566%04d", i) end
  local fleet = simkit.fleet { eiot, hw, tib, iccids = { tibiot = tib_iccids } }
  -- a store that counts its operations
  local mem = store_mod.memory()
  local ops = 0
  local counting = setmetatable({}, { __index = function(_, m)
    return function(_, ...)
      ops = ops + 1
      return mem[m](mem, ...)
    end
  end })
  local e2 = R.engine { fleet = fleet, clients = { eiot }, store = counting, logger = function() end }
  for i, r in ipairs(rules) do
    local def = { name = "r" .. i, match = r.match, when = r.when, steps = r.steps, actions = r.actions }
    -- alerts only: the bench measures the cycle, not the vendors' writes
    if def.steps then def.steps = { { r.steps[1][1], R.log {} }, { r.steps[2][1], R.log {} } } end
    if def.actions then def.actions = { R.log {} } end
    e2:rule(def)
  end
  local t0 = util.monotonic()
  local rep = e2:run()
  local dt = util.monotonic() - t0
  local calls = fleet:calls()
  local e_cards, h_cards = CARDS + 12, CARDS + 20
  local floor = { eiotclub = math.ceil(e_cards / 500) + 2,
    huawei = math.ceil(h_cards / 500) + math.ceil(h_cards / 50) + 1, tibiot = #tib_iccids }
  print(string.format("full run(): %d cards, %d evaluations, %d fired, %d errors in %.1f s", rep.cards, rep.evaluated,
    #rep.fired, #rep.errors, dt))
  for _, v in ipairs({ "eiotclub", "huawei", "tibiot" }) do
    print(string.format("  %-9s vendor calls %5d   fleet floor ~%5d", v, calls[v] or 0, floor[v]))
  end
  print(string.format("  store operations: %d (%.2f per card)", ops, ops / math.max(1, rep.cards)))
end)
sb:stop()
if not ok then print("full run() bench failed: " .. tostring(err)) end
