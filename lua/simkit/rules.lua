--- simkit.rules: automation written as Lua — triggers, actions, re-arm,
-- schedules, exactly-once top-ups, dry run, explain, audit.
--
--     local R = require "simkit.rules"
--     local engine = R.engine{ fleet = fleet, store = store, timezone = "+08:00" }
--     engine:rule{ name = "topup-when-low", match = { vendor = "eiotclub" },
--                  when = R.left_below{ mb = 200 }, actions = { R.topup{ package = "cheapest" } },
--                  rearm = "next_day" }
--     local report = engine:run()
--
-- A rule fires once per armed period per card; with `scope = "group"` a
-- group rule (pool_used_above, pool_left_below, group_used_above) fires
-- once per group instead (Soracom's runOnceAmongTarget).
--
-- Errors: a bad rule (unknown trigger or action, missing threshold, an
-- action no matched vendor supports, a ladder out of order, a bad `rearm`
-- or `at`) is a programming error: `engine:rule` **raises** with the rule's
-- name and what is wrong. Everything that happens while running (vendor,
-- store, transport failures) is returned: in the report's `errors`,
-- `fired[i].err`, or as `nil, err` from `handle` / `explain` / `load`.
-- See docs/rules.md.
-- @module simkit.rules
local triggers = require "simkit.rules.triggers"
local actions = require "simkit.rules.actions"
local meta = require "simkit.rules.meta"
local errors = require "simkit.errors"

local M = {}

local TRIGGERS = { "used_above", "used_below", "left_below", "pool_used_above", "pool_left_below",
  "group_used_above", "status_is", "status_changed", "first_traffic", "expires_within", "expired", "imei_changed",
  "balance_below", "event", "exhausts_within", "all", "any", "none" }
local ACTIONS = { "suspend", "resume", "network", "speed", "topup", "sms", "tag", "imei_lock", "usage_cap",
  "webhook", "mail", "alert", "log", "call" }

for _, n in ipairs(TRIGGERS) do M[n] = meta.constructor(triggers[n], n) end
for _, n in ipairs(ACTIONS) do M[n] = meta.constructor(actions[n], n) end

--- The names of every trigger and action.
M.TRIGGERS, M.ACTIONS = TRIGGERS, ACTIONS

--- Create an engine.
-- @tparam table opts `fleet` (simkit.fleet), `store` (simkit.store; default
--   memory), `timezone` ("+08:00"; default UTC), `anchor` (`{ day, hour }`
--   or function(card) -> anchor: billing anchor of day/month periods),
--   `dry_run`, `audit` (path or function(entry)), `clock` (function ->
--   epoch seconds; default os.time), `logger` (function(level, msg, fields)),
--   `clients` (simkit clients: EIOTCLUB's lists packages for
--   `topup{ package = "cheapest" | function }` and looks orders in doubt up
--   by their key), `lookup` (function(card, order_key) -> "found", order |
--   "absent" | "unknown", err; replaces that lookup), `lease_ttl` (seconds, default 300), `lag` (reporting
--   lag in seconds, or per vendor; default 600), `keep` (seconds final
--   ledger entries, schedules and snapshots are kept; default 400 days),
--   `prefix` (store keys).
-- @treturn table the engine
function M.engine(opts)
  return require("simkit.rules.engine").new(opts)
end

--- Load a rules file into `engine`. The file is a Lua chunk called with
-- `R, engine` (`local R, engine = ...`); it may instead return a
-- `function(R, engine)`, which is then called. A file that cannot be read
-- or compiled returns nil, err (kind "input"); a bad rule in it raises
-- (a programming error), naming the rule.
-- @tparam table engine
-- @tparam string path
-- @treturn table engine, or nil, err
function M.load(engine, path)
  if type(engine) ~= "table" or type(engine.rule) ~= "function" then
    error("simkit.rules.load(engine, path): engine must be made by simkit.rules.engine", 2)
  end
  if type(path) ~= "string" or path == "" then
    return nil, errors.input("simkit.rules.load: path must be a non-empty string")
  end
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, errors.input("simkit.rules.load: " .. tostring(err)) end
  local ret = chunk(M, engine)
  if type(ret) == "function" then ret(M, engine) end
  return engine
end

--- The description of a trigger made by this module (name, threshold), or nil.
M.describe = meta.get

return setmetatable(M, {
  __index = function(_, k)
    if type(k) ~= "string" then return nil end
    -- an unknown name is refused by engine:rule, which names the rule
    return meta.constructor(function() return meta.unknown(k) end, k, true)
  end,
})
