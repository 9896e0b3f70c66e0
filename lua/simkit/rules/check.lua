--- Checking a rule when it is added (internal). A bad rule is a programming
-- error: `engine:rule` raises with the rule's name and what is wrong.
-- @module simkit.rules.check
local meta = require "simkit.rules.meta"
local actions = require "simkit.rules.actions"
local period = require "simkit.rules.period"

local M = {}

local VENDORS = { "eiotclub", "huawei", "tibiot" }
local MATCH_KEYS = { vendor = true, status = true, pool = true, tag = true, iccid = true }
local REARM_WORDS = { clear = true, never = true }

local function fail(name, msg)
  error("simkit.rules: rule '" .. tostring(name) .. "': " .. msg, 0)
end

local function check_trigger(name, t, where)
  if type(t) == "table" and t.unknown then fail(name, where .. ": unknown trigger or action '" .. t.unknown .. "'") end
  if type(t) == "table" and t.action then
    fail(name, where .. ": '" .. t.action .. "' is an action, a trigger was expected")
  end
  if type(t) ~= "function" then
    fail(name, where .. ": expected a trigger (R.used_above{...} or a function(card, ctx)), got " .. type(t))
  end
  local info = meta.get(t)
  if info and info.unknown then fail(name, where .. ": unknown trigger or action '" .. info.constructor .. "'") end
  if info and info.constructor then
    fail(name, where .. ": R." .. info.constructor .. " must be called: R." .. info.constructor .. "{...}")
  end
  if info and info.invalid then fail(name, where .. ": " .. info.invalid) end
  return info
end

local function check_action(name, a, where)
  if type(a) == "table" and a.unknown then fail(name, where .. ": unknown trigger or action '" .. a.unknown .. "'") end
  if type(a) == "function" then
    local info = meta.get(a)
    if info and info.unknown then fail(name, where .. ": unknown trigger or action '" .. info.constructor .. "'") end
    if info and info.constructor then
      fail(name, where .. ": R." .. info.constructor .. " must be called: R." .. info.constructor .. "{...}")
    end
    fail(name, where .. ": a function is not an action; wrap it: R.call{ fn }")
  end
  if type(a) ~= "table" or type(a.action) ~= "string" or actions[a.action] == nil then
    fail(name, where .. ": unknown action (expected R.suspend{}, R.topup{...}, ...)")
  end
  if a.invalid then fail(name, where .. ": " .. a.invalid) end
end

-- the vendors a rule can match
local function vendors_of(match, fleet_vendors)
  local v = type(match) == "table" and match.vendor or nil
  if type(v) == "string" then return { v } end
  if type(v) == "table" then return v end
  return fleet_vendors or VENDORS
end

local function check_match(name, match)
  if match == nil or type(match) == "function" then return end
  if type(match) ~= "table" then fail(name, "match must be a table or a function(card) -> bool") end
  for k, v in pairs(match) do
    if not MATCH_KEYS[k] then
      fail(name, "match: unknown field '" .. tostring(k) .. "' (vendor, status, pool, tag, iccid)")
    end
    if type(v) == "table" then
      if #v == 0 then fail(name, "match." .. k .. ": an empty list matches nothing") end
      for _, x in ipairs(v) do
        if type(x) ~= "string" and type(x) ~= "number" then fail(name, "match." .. k .. ": strings expected") end
      end
    elseif type(v) ~= "string" and type(v) ~= "number" then
      fail(name, "match." .. k .. ": a string or a list of strings expected")
    end
  end
end

-- a ladder's thresholds must rise (used_above) or fall (left_below ...)
local function check_order(name, steps)
  for i = 2, #steps do
    local a, b = meta.get(steps[i - 1].when), meta.get(steps[i].when)
    if a and b and a.name == b.name and a.unit == b.unit and a.period == b.period
      and type(a.threshold) == "number" and type(b.threshold) == "number" then
      if (a.rising and b.threshold <= a.threshold) or (a.rising == false and b.threshold >= a.threshold) then
        fail(name, "steps out of order: step " .. i .. " (" .. b.name .. " " .. b.threshold .. ") must come " ..
          (a.rising and "above" or "below") .. " step " .. (i - 1) .. " (" .. a.threshold .. ")")
      end
    end
  end
end

-- the first group trigger (pool_*, group_used_above) of a trigger tree
local function group_info(t)
  local info = meta.get(t)
  if not info then return nil end
  if info.group then return info end
  for _, k in ipairs(info.children or {}) do
    local g = group_info(k)
    if g then return g end
  end
  return nil
end

-- scope = "group": every step names one grouping; only group-wide actions
local function check_scope(name, rule, def)
  local scope = def.scope
  if scope == nil or scope == "card" then rule.scope = "card" return end
  if scope ~= "group" then
    fail(name, "scope must be \"card\" (the default: once per card) or \"group\" (once per group), got " ..
      tostring(scope))
  end
  rule.scope = "group"
  local grouping
  for i, s in ipairs(rule.steps) do
    local where = #rule.steps > 1 and ("step " .. i) or "when"
    local g = group_info(s.when)
    if not g then
      fail(name, "scope = \"group\" needs a group trigger (pool_used_above, pool_left_below, group_used_above) in "
        .. where .. ": the group is the one it sums")
    end
    if grouping and g.grouping ~= grouping then
      fail(name, "scope = \"group\": every step must group alike (" .. where .. " groups by " .. g.grouping ..
        ", step 1 by " .. grouping .. ")")
    end
    grouping = grouping or g.grouping
    if i == 1 then rule.group_of = g.group end
    for j, a in ipairs(s.actions) do
      if actions.FLEET[a.action] then
        fail(name, "scope = \"group\": " .. where .. " action " .. j .. " '" .. a.action .. "' acts on one card; " ..
          "a group rule fires once for the group: use webhook, mail, alert, log or call, or scope = \"card\"")
      end
    end
  end
  if rule.rearm_spec.kind == "clear" and not group_info(rule.clear) then
    fail(name, "scope = \"group\" with rearm = \"clear\" needs a group trigger in clear too")
  end
end

--- Check `def` (the table given to engine:rule) and return the rule:
-- `{ name, match, steps = { { when, actions } ... }, rearm, rearm_spec, clear, event, scope, group_of }`.
-- `caps(vendor)` returns the fleet's capabilities table or nil.
function M.rule(def, caps, fleet_vendors, existing)
  if type(def) ~= "table" then error("simkit.rules: engine:rule expects a table, got " .. type(def), 0) end
  local name = def.name
  if type(name) ~= "string" or name == "" or #name > 100 or name:find("[|%c]") then
    error("simkit.rules: a rule needs a name: a string of 1..100 characters without '|' or control characters", 0)
  end
  if existing[name] then fail(name, "a rule with this name exists already (names key the rule's state)") end
  for k in pairs(def) do
    if not ({ name = true, match = true, when = true, actions = true, steps = true, rearm = true, clear = true,
      description = true, scope = true })[k] then
      fail(name, "unknown field '" .. tostring(k) .. "'")
    end
  end
  check_match(name, def.match)
  local steps = {}
  if def.steps ~= nil then
    if def.when ~= nil or def.actions ~= nil then fail(name, "give either when + actions or steps, not both") end
    if type(def.steps) ~= "table" or #def.steps == 0 then fail(name, "steps must be a non-empty list") end
    for i, s in ipairs(def.steps) do
      if type(s) ~= "table" or #s < 2 then fail(name, "step " .. i .. " must be { trigger, action, ... }") end
      local acts = {}
      for j = 2, #s do acts[#acts + 1] = s[j] end
      steps[i] = { when = s[1], actions = acts }
    end
  else
    if def.when == nil then fail(name, "missing 'when' (a trigger) or 'steps'") end
    if type(def.actions) ~= "table" or (#def.actions == 0 and not def.actions.action) then
      fail(name, "missing 'actions' (a list of actions)")
    end
    local acts = def.actions
    if acts.action or acts.unknown then acts = { acts } end
    steps[1] = { when = def.when, actions = acts }
  end
  local rule = { name = name, match = def.match, steps = steps, description = def.description }
  for i, s in ipairs(steps) do
    local where = #steps > 1 and ("step " .. i) or "when"
    local info = check_trigger(name, s.when, where)
    if info and info.event then rule.event = true end
    for j, a in ipairs(s.actions) do
      check_action(name, a, (#steps > 1 and ("step " .. i .. " ") or "") .. "action " .. j)
    end
  end
  check_order(name, steps)
  -- every fleet action must be supported by at least one vendor the rule matches
  local vendors = vendors_of(def.match, fleet_vendors)
  for _, s in ipairs(steps) do
    for _, a in ipairs(s.actions) do
      if actions.FLEET[a.action] and caps then
        local any, known = false, false
        for _, v in ipairs(vendors) do
          local c = caps(v)
          if c then
            known = true
            if c[a.action] then any = true end
          end
        end
        if known and not any then
          fail(name, "action '" .. a.action .. "' is not supported by any vendor the rule matches (" ..
            table.concat(vendors, ", ") .. ")")
        end
      end
    end
  end
  local rearm = def.rearm or "never"
  local spec, why = period.parse_when(rearm, REARM_WORDS)
  if not spec then fail(name, "rearm: " .. why .. " (next_day, next_month, after:SECONDS, clear, never)") end
  rule.rearm, rule.rearm_spec = rearm, spec
  if spec.kind == "clear" then
    if def.clear == nil then fail(name, "rearm = \"clear\" needs a clear = <trigger>") end
    check_trigger(name, def.clear, "clear")
    rule.clear = def.clear
  elseif def.clear ~= nil then
    fail(name, "clear is only used with rearm = \"clear\"")
  end
  check_scope(name, rule, def)
  return rule
end

return M
