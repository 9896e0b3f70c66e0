--- The rules engine (`simkit.rules.engine{...}`); see `simkit.rules`.
-- @module simkit.rules.engine
local period = require "simkit.rules.period"
local check = require "simkit.rules.check"
local actions = require "simkit.rules.actions"
local audit = require "simkit.rules.audit"
local ledger = require "simkit.rules.ledger"
local overlay = require "simkit.rules.overlay"
local meta = require "simkit.rules.meta"
local orders = require "simkit.eiotclub.orders"
local store_mod = require "simkit.store"
local util = require "simkit.util"
local vendors = require "simkit.rules.vendors"

local M = {}

local Engine = {}
Engine.__index = Engine

local DEFAULT_LAG = 600
local fleet_clients -- defined below

local function default_logger(level, msg)
  io.stderr:write("simkit.rules [", level, "] ", msg, "\n")
end

--- Create an engine. See `simkit.rules.engine` for the options.
function M.new(opts)
  if type(opts) ~= "table" then error("simkit.rules.engine: expects a table of options", 3) end
  local fleet = opts.fleet
  if fleet ~= nil and type(fleet) ~= "table" then error("simkit.rules.engine: fleet must be a simkit.fleet", 3) end
  local store = opts.store or store_mod.memory()
  if not store_mod.is_store(store) then error("simkit.rules.engine: store must be a simkit.store", 3) end
  local off, why = period.parse_tz(opts.timezone)
  if not off then error("simkit.rules.engine: " .. why, 3) end
  local clock = opts.clock or os.time
  if type(clock) ~= "function" then error("simkit.rules.engine: clock must be a function returning epoch seconds", 3) end
  local anchor = opts.anchor
  if type(anchor) ~= "function" then
    local a, awhy = period.check_anchor(anchor)
    if not a then error("simkit.rules.engine: " .. awhy, 3) end
    anchor = a
  end
  for _, k in ipairs({ "logger", "lookup" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "function" then error("simkit.rules.engine: " .. k .. " must be a function", 3) end
  end
  local lease = opts.lease_ttl or 300
  if type(lease) ~= "number" or lease ~= lease or lease <= 0 or lease > 86400 then
    error("simkit.rules.engine: lease_ttl must be seconds in (0, 86400]", 3)
  end
  if opts.lag ~= nil and type(opts.lag) ~= "number" and type(opts.lag) ~= "table" then
    error("simkit.rules.engine: lag must be seconds or { vendor = seconds }", 3)
  end
  local keep = opts.keep or 400 * 86400
  if type(keep) ~= "number" or keep ~= keep or keep < 86400 or keep > 3650 * 86400 then
    error("simkit.rules.engine: keep must be seconds from 1 day to 10 years", 3)
  end
  local prefix = opts.prefix or "simkit:rules:"
  if type(prefix) ~= "string" then error("simkit.rules.engine: prefix must be a string", 3) end
  local self = setmetatable({
    fleet = fleet, store = store, offset = off, clock = clock, anchor = anchor, dry_run = opts.dry_run == true,
    audit_write = audit.sink(opts.audit), logger = opts.logger or default_logger, lookup = opts.lookup,
    lease_ttl = lease, keep = keep, lag = opts.lag, prefix = prefix, rules = {}, by_name = {}, caps = {},
    owner = opts.owner or ("engine-" .. util.random_hex(6)), clients = vendors.index(opts.clients or fleet_clients(fleet)),
  }, Engine)
  return self
end

-- the clients of a fleet that names them (simkit.fleet's client(vendor)),
-- so `R.engine{ fleet = fleet }` alone can list packages and look orders up
fleet_clients = function(fleet)
  if type(fleet) ~= "table" or type(fleet.client) ~= "function" then return nil end
  local out = {}
  for _, v in ipairs({ "eiotclub", "huawei", "tibiot" }) do out[v] = fleet:client(v) end
  return out
end

-- the fleet's capabilities of `vendor` (cached), or nil when unknown
function Engine:_caps(vendor)
  local c = self.caps[vendor]
  if c == nil then
    c = false
    local f = self.fleet
    if f and type(f.capabilities) == "function" then
      local ok, res = pcall(f.capabilities, f, vendor)
      if ok and type(res) == "table" then c = res end
    end
    self.caps[vendor] = c
  end
  return c or nil
end

-- the packages `card` can order: the fleet's, else the vendor client's
function Engine:_packages(card)
  local f = self.fleet
  if f and type(f.packages) == "function" then return f:packages(card) end
  return vendors.packages(self.clients, card)
end

--- Add a rule. Raises (a programming error) with the rule's name when the
-- rule is bad. Returns the engine.
function Engine:rule(def)
  local fleet_vendors
  if self.fleet and type(self.fleet.vendors) == "function" then
    local ok, v = pcall(self.fleet.vendors, self.fleet)
    if ok and type(v) == "table" then fleet_vendors = v end
  end
  local ok, rule = pcall(check.rule, def, self.fleet and function(v) return self:_caps(v) end, fleet_vendors,
    self.by_name)
  if not ok then error(rule, 2) end
  self.rules[#self.rules + 1] = rule
  self.by_name[rule.name] = rule
  return self
end

-- ------------------------------------------------------------------ matching

local function one_of(want, have)
  if type(want) == "table" then
    for _, w in ipairs(want) do if tostring(w) == tostring(have) then return true end end
    return false
  end
  return tostring(want) == tostring(have)
end

local function matches(rule, card)
  local m = rule.match
  if m == nil then return true end
  if type(m) == "function" then
    local ok, res = pcall(m, card)
    return ok and res == true
  end
  for k, want in pairs(m) do
    if k == "tag" then
      local found = false
      for _, t in ipairs(card.tags or {}) do if one_of(want, t) then found = true break end end
      if not found then return false end
    elseif card[k] == nil or not one_of(want, card[k]) then
      return false
    end
  end
  return true
end

function Engine:_anchor(card)
  if type(self.anchor) ~= "function" then return self.anchor end
  local ok, a = pcall(self.anchor, card)
  local good = ok and period.check_anchor(a)
  return good or { day = 1, hour = 0 }
end

function Engine:_lag(vendor)
  local l = self.lag
  if type(l) == "number" then return l end
  if type(l) == "table" and type(l[vendor]) == "number" then return l[vendor] end
  return DEFAULT_LAG
end

-- ------------------------------------------------------------------ a cycle

-- A cycle's working set: the store it writes to (an overlay when dry), the
-- report, the ledger, the time.
function Engine:_cycle(dry)
  local st = dry and overlay.new(self.store) or self.store
  local now = self.clock()
  if type(now) ~= "number" or now ~= now or now == math.huge or now == -math.huge then
    error("simkit.rules: the engine's clock returned " .. tostring(now) .. "; it must return epoch seconds", 3)
  end
  return {
    dry = dry, store = st, now = now,
    ledger = ledger.new(st, self.prefix, self.lease_ttl, self.owner),
    report = { cards = 0, evaluated = 0, fired = {}, scheduled = {}, skipped = {}, errors = {} },
    plan = {},
  }
end

function Engine:_audit(cy, fields)
  if cy.dry then return end
  fields.time = cy.now
  local ok, err = self.audit_write(audit.entry(fields))
  if not ok then cy.report.errors[#cy.report.errors + 1] = { message = err } end
end

local function add_error(cy, err, where)
  local e = audit.error_of(err) or {}
  e.where = where
  cy.report.errors[#cy.report.errors + 1] = e
end

-- What a rule's state and intents are kept for: the card's ICCID, or with
-- `scope = "group"` "@" and the card's group (e.g. "@pool:huawei:7"); nil
-- when the card is in no group. The second value is the group, if any.
function Engine:_target(rule, card, ctx) -- luacheck: ignore 212
  if rule.scope ~= "group" then return tostring(card.iccid), nil end
  local ok, group = pcall(rule.group_of, card, ctx)
  if not ok or type(group) ~= "string" then return nil end
  return "@" .. group, group
end

-- the rule state of (rule, card or group) and its current epoch; `changed`
-- when reset. nil (and no error) when a group rule's card is in no group.
-- `target` (from _target) when the caller has it.
function Engine:_state(cy, rule, card, ctx, target)
  target = target or self:_target(rule, card, ctx)
  if not target then return nil end
  local key = self.prefix .. "s:" .. rule.name .. "|" .. target
  local s, err = cy.store:get(key)
  if err then return nil, err end
  s = type(s) == "table" and s or { n = 0, fired = {} }
  s.fired = type(s.fired) == "table" and s.fired or {}
  local spec, changed = rule.rearm_spec, false
  local function reset(epoch)
    s = { n = (s.n or 0) + 1, fired = {}, epoch = epoch, last = s.last }
    changed = true
  end
  if spec.kind == "next_day" or spec.kind == "next_month" then
    local k = spec.kind == "next_day" and period.day(cy.now, self.offset, ctx.anchor)
      or period.month(cy.now, self.offset, ctx.anchor)
    if s.epoch ~= k then reset(k) end
  elseif next(s.fired) ~= nil then
    if spec.kind == "after" and s.first and cy.now >= s.first + spec.seconds then
      reset("e" .. ((s.n or 0) + 1))
    elseif spec.kind == "clear" then
      local ok, holds = pcall(rule.clear, card, ctx)
      if ok and holds then reset("e" .. ((s.n or 0) + 1)) end
    end
  end
  s.epoch = s.epoch or "e0"
  return s, nil, key, changed
end

local function payload_of(rule, card, step, a, value, threshold, key, now, group)
  return { rule = rule.name, iccid = card.iccid, vendor = card.vendor, step = step, action = a.action,
    value = value, threshold = threshold, key = key, time = now, status = card.status,
    usage = card.usage, group = group }
end

-- Execute one intent exactly once. Returns "done" | "failed" | "skipped".
function Engine:_execute(cy, job)
  local led, key, rep = cy.ledger, job.key, cy.report
  local base = { rule = job.rule.name, iccid = job.card.iccid, vendor = job.card.vendor, action = job.act.action,
    key = key, value = job.value, threshold = job.threshold, group = job.group }
  local function skip(reason)
    local e = util.copy(base)
    e.reason = reason
    rep.skipped[#rep.skipped + 1] = e
    self:_audit(cy, { rule = base.rule, iccid = base.iccid, vendor = base.vendor, action = base.action, key = key,
      value = base.value, threshold = base.threshold, decision = "skipped", reason = reason, group = base.group })
    return "skipped"
  end
  local entry, err = led:get(key)
  if err then add_error(cy, err, "ledger") return "failed" end
  if entry ~= nil then return skip("intent already " .. tostring(entry.status)) end
  if cy.dry then
    local p = { rule = base.rule, iccid = base.iccid, vendor = base.vendor, action = base.action,
      value = base.value, threshold = base.threshold, key = key, group = base.group }
    cy.plan[#cy.plan + 1] = p
    local f = util.copy(base)
    f.dry_run = true
    rep.fired[#rep.fired + 1] = f
    return "done"
  end
  local got, lerr = led:lease(key)
  if got == nil then add_error(cy, lerr, "lease") return "failed" end
  if not got then return skip("leased by another engine") end
  entry, err = led:get(key)
  if err or entry ~= nil then
    led:release(key)
    if err then add_error(cy, err, "ledger") return "failed" end
    return skip("intent already " .. tostring(entry.status))
  end
  local is_order = job.act.action == "topup"
  local order_key = is_order and ledger.order_key(key) or nil
  local rec = { status = "pending", rule = base.rule, iccid = base.iccid, vendor = base.vendor,
    action = base.action, order_key = order_key, card_id = job.card.id, t = cy.now }
  local ok, perr = led:put(key, rec)
  if not ok then led:release(key) add_error(cy, perr, "ledger") return "failed" end
  if is_order then
    local slot, serr = led:push("open", key)
    if not slot then add_error(cy, serr, "ledger") end
  end
  rec.status = "sent"
  ok, perr = led:put(key, rec)
  if not ok then led:release(key) add_error(cy, perr, "ledger") return "failed" end
  local info = {}
  local res, aerr = actions.run(job.act, job.card, { fleet = self.fleet, order_key = order_key,
    payload = payload_of(job.rule, job.card, job.step, job.act, job.value, job.threshold, key, cy.now, job.group),
    logger = self.logger, now = cy.now, packages = function(card) return self:_packages(card) end,
    order_info = info })
  rec.package, rec.cost = info.package, info.cost
  local fired = { rule = base.rule, iccid = base.iccid, vendor = base.vendor, action = base.action, key = key,
    group = base.group }
  if res ~= nil then
    rec.status = "confirmed"
    if is_order and type(res) == "table" then
      local d = type(res.data) == "table" and res.data or res
      rec.order_id = d.orderId or d.order_id
    end
    fired.ok, fired.result = true, res
  else
    local unknown = is_order and type(aerr) == "table" and aerr.outcome ~= "not_placed"
      and (aerr.outcome == "unknown" or aerr.outcome == "exists" or orders.ambiguous(aerr))
    rec.status = unknown and "unknown" or "failed"
    rec.error = audit.error_of(aerr)
    if unknown then rec.error.outcome = "unknown" end
    fired.ok, fired.err = false, aerr
  end
  led:put(key, rec, rec.status ~= "unknown" and self.keep or nil)
  led:release(key)
  rep.fired[#rep.fired + 1] = fired
  local a = util.copy(base)
  a.decision = fired.ok and "done" or "failed"
  a.error = rec.error
  if is_order then a.package, a.cost, a.order_id = rec.package, rec.cost, rec.order_id end
  self:_audit(cy, a)
  return a.decision
end

-- Fire step `i` of `rule` for `card` (or its group: `target`, `group`):
-- each action now, or scheduled.
function Engine:_fire(cy, rule, card, ctx, state, i, value, threshold, target, group)
  for j, act in ipairs(rule.steps[i].actions) do
    local key = ledger.intent_key(rule.name, target, state.epoch, i, j, act.action)
    self:_audit(cy, { rule = rule.name, iccid = card.iccid, vendor = card.vendor, value = value,
      threshold = threshold, decision = "fired", action = act.action, key = key, group = group })
    local caps = self.fleet and actions.FLEET[act.action] and self:_caps(card.vendor)
    if caps and not caps[act.action] then
      local e = { rule = rule.name, iccid = card.iccid, vendor = card.vendor, action = act.action, key = key,
        reason = "unsupported by " .. tostring(card.vendor) }
      cy.report.skipped[#cy.report.skipped + 1] = e
      self:_audit(cy, { rule = rule.name, iccid = card.iccid, vendor = card.vendor, action = act.action, key = key,
        value = value, threshold = threshold, decision = "skipped", reason = e.reason })
    elseif act.at_spec then
      self:_schedule(cy, rule, card, ctx, i, j, act, key, value, threshold, group)
    else
      self:_execute(cy, { rule = rule, card = card, step = i, act = act, key = key, value = value,
        threshold = threshold, group = group })
    end
  end
end

function Engine:_schedule(cy, rule, card, ctx, i, j, act, key, value, threshold, group)
  local due = period.due(act.at_spec, cy.now, self.offset, ctx.anchor)
  local entry = { due = due, key = key, rule = rule.name, step = i, idx = j, value = value, threshold = threshold,
    group = group,
    card = { vendor = card.vendor, iccid = card.iccid, id = card.id, imei = card.imei, status = card.status } }
  local fresh, err = cy.store:add(self.prefix .. "schk:" .. key, due, due - cy.now + self.keep)
  if fresh == nil then add_error(cy, err, "schedule") return end
  if not fresh then return end
  local slot, serr = cy.ledger:push("sched", entry)
  if not slot then add_error(cy, serr, "schedule") return end
  cy.report.scheduled[#cy.report.scheduled + 1] = { rule = rule.name, iccid = card.iccid, vendor = card.vendor,
    action = act.action, key = key, at = due, group = group }
  if cy.dry then
    cy.plan[#cy.plan + 1] = { rule = rule.name, iccid = card.iccid, vendor = card.vendor, action = act.action,
      value = value, threshold = threshold, key = key, at = due, group = group }
  end
  self:_audit(cy, { rule = rule.name, iccid = card.iccid, vendor = card.vendor, value = value, threshold = threshold,
    decision = "scheduled", action = act.action, key = key, group = group })
end

local function threshold_of(t)
  local info = meta.get(t)
  return info and info.threshold
end

--- Evaluate the triggers of `rule` for `card` (pure: no I/O). Returns
-- any, holds, values — or nil, message when a trigger raised.
function M.decide(rule, card, ctx)
  local holds, values, any = {}, {}, false
  for i, s in ipairs(rule.steps) do
    local ok, h, v = pcall(s.when, card, ctx)
    if not ok then return nil, "rule " .. rule.name .. ": trigger raised: " .. tostring(h) end
    holds[i], values[i] = h == true, v
    if h == true then any = true end
  end
  return any, holds, values
end
local decide = M.decide
M.matches = matches

--- Does any step trigger of `rule` hold for `card`? The hot path of a
-- cycle: no allocation. Returns true, false, or nil and a message.
function M.holds(rule, card, ctx)
  for _, s in ipairs(rule.steps) do
    local ok, h = pcall(s.when, card, ctx)
    if not ok then return nil, "rule " .. rule.name .. ": trigger raised: " .. tostring(h) end
    if h == true then return true end
  end
  return false
end
local holds_any = M.holds

-- Evaluate one rule for one card (ctx filled). Returns nothing.
function Engine:_evaluate(cy, rule, card, ctx)
  cy.report.evaluated = cy.report.evaluated + 1
  local steps = rule.steps
  local h, herr = holds_any(rule, card, ctx)
  if h == nil then
    add_error(cy, { kind = "input", message = herr }, "trigger")
    return
  end
  if not h and rule.rearm_spec.kind ~= "clear" then return end
  local any, holds, values = decide(rule, card, ctx)
  if any == nil then
    add_error(cy, { kind = "input", message = holds }, "trigger")
    return
  end
  local target, group = self:_target(rule, card, ctx)
  if not target then return end -- a group rule, a card in no group
  local state, err, skey, changed = self:_state(cy, rule, card, ctx, target)
  if not state then add_error(cy, err, "state") return end
  local fired_now = false
  for i = 1, #steps do
    if not state.fired[tostring(i)] then
      if not holds[i] then break end
      state.fired[tostring(i)] = cy.now
      state.first = state.first or cy.now
      state.last = cy.now
      fired_now, changed = true, true
      -- the state first: a crash after it leaves the intent keys to the ledger
      local ok, serr = cy.store:set(skey, state)
      if not ok then add_error(cy, serr, "state") return end
      self:_fire(cy, rule, card, ctx, state, i, values[i], threshold_of(steps[i].when), target, group)
    end
  end
  if changed and not fired_now then
    local ok, serr = cy.store:set(skey, state)
    if not ok then add_error(cy, serr, "state") end
  end
  if not fired_now and any then
    local last = 0
    for i = 1, #steps do if holds[i] then last = i end end
    local reason = "not armed (rearm " .. rule.rearm .. ")"
    if group then reason = "not armed for " .. group .. " (scope group, rearm " .. rule.rearm .. ")" end
    cy.report.skipped[#cy.report.skipped + 1] = { rule = rule.name, iccid = card.iccid, vendor = card.vendor,
      reason = reason, group = group }
    self:_audit(cy, { rule = rule.name, iccid = card.iccid, vendor = card.vendor, value = values[last],
      threshold = threshold_of(steps[last].when), decision = "skipped", reason = reason, group = group })
  end
end

M.Engine = Engine
require("simkit.rules.runner").install(Engine, { matches = matches, add_error = add_error })

return M
