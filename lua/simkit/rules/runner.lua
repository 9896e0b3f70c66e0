--- The engine's public cycles (internal; installed into the engine):
-- `run`, `plan`, `handle`, `explain`, and the reconciliation of orders in
-- doubt and the scheduled actions that start every run.
-- @module simkit.rules.runner
local period = require "simkit.rules.period"
local snapshot = require "simkit.rules.snapshot"
local audit = require "simkit.rules.audit"
local meta = require "simkit.rules.meta"
local errors = require "simkit.errors"
local vendors = require "simkit.rules.vendors"

local M = {}

local function needs(rules)
  local pools, groups = false, false
  local function walk(t)
    local info = meta.get(t)
    if not info then return end
    if info.needs == "pools" then pools = true end
    if info.needs == "groups" then groups = true end
    for _, k in ipairs(info.children or {}) do walk(k) end
  end
  for _, r in ipairs(rules) do
    for _, s in ipairs(r.steps) do walk(s.when) end
    if r.clear then walk(r.clear) end
  end
  return pools, groups
end

local function group_totals(cards)
  local t = { tag = {}, vendor = {}, pool = {} }
  local function add(by, key, used, limit)
    if key == nil then return end
    local g = t[by][key]
    if not g then g = { used = 0, limit = 0 } t[by][key] = g end
    g.used = g.used + (used or 0)
    g.limit = g.limit + (limit or 0)
  end
  for _, c in ipairs(cards) do
    local u = c.usage or {}
    local used, limit = tonumber(u.used_mb), tonumber(u.limit_mb)
    for _, tag in ipairs(c.tags or {}) do add("tag", tag, used, limit) end
    add("vendor", c.vendor, used, limit)
    if c.pool ~= nil then add("pool", c.vendor .. ":" .. tostring(c.pool), used, limit) end
  end
  return t
end

local function pool_index(self, cy)
  local idx = {}
  local f = self.fleet
  if not (f and type(f.pools) == "function") then return idx end
  for pool, err in f:pools() do
    if not pool then M.add_error(cy, err, "pools") break end
    idx[tostring(pool.vendor) .. ":" .. tostring(pool.id)] = pool
  end
  return idx
end

-- all the fleet's cards, in a list
local function sync(self, cy)
  local cards = {}
  local f = self.fleet
  if not (f and type(f.cards) == "function") then
    error("simkit.rules: run/plan need an engine made with fleet = simkit.fleet{...}", 3)
  end
  for card, err in f:cards {} do
    if not card then M.add_error(cy, err, "cards") break end
    if type(card) == "table" and card.iccid ~= nil then cards[#cards + 1] = card end
  end
  return cards
end

-- the evaluation context of `card`; returns ctx and the snapshot to store
function M.context(self, cy, card, env)
  local anchor = self:_anchor(card)
  local skey = self.prefix .. "snap:" .. tostring(card.iccid)
  local prev, err = cy.store:get(skey)
  if err then M.add_error(cy, err, "snapshot") end
  prev = type(prev) == "table" and prev or nil
  local dkey = period.day(cy.now, self.offset, anchor)
  local d = snapshot.derive(prev, card, dkey)
  local ctx = { now = cy.now, prev = prev, history = d.history, day_used = d.day_used, total_used = d.total_used,
    lag = self:_lag(card.vendor), anchor = anchor, event = env and env.event, engine = self }
  if env and env.pools and card.pool ~= nil then ctx.pool = env.pools[tostring(card.vendor) .. ":" .. tostring(card.pool)] end
  if env and env.groups then
    local groups = env.groups
    ctx.group = function(by, key)
      if by == "pool" then key = tostring(card.vendor) .. ":" .. tostring(key) end
      local x = groups[by] and groups[by][key]
      if not x then return nil, nil end
      return x.used, x.limit > 0 and x.limit or nil
    end
  end
  return ctx, skey, snapshot.next(prev, card, d, dkey, cy.now)
end

-- Reconcile the orders in doubt: look each one up by its order key.
local function reconcile(self, cy)
  local led = cy.ledger
  local ok, err = led:each("open", function(_, key)
    local rec, gerr = led:get(key)
    if gerr then M.add_error(cy, gerr, "reconcile") return false end
    if type(rec) ~= "table" or rec.status == "confirmed" or rec.status == "failed" then return true end
    local got = led:lease(key)
    if not got then return false end
    local card = { vendor = rec.vendor, iccid = rec.iccid, id = rec.card_id }
    local found, order, lerr = self:_lookup(card, rec.order_key)
    local base = { rule = rec.rule, iccid = rec.iccid, vendor = rec.vendor, action = rec.action, key = key }
    local done = false
    if found == "found" then
      rec.status, rec.error = "confirmed", nil
      if type(order) == "table" then rec.order_id = order.orderId or order.order_id end
      base.decision = "done"
      base.package, base.cost, base.order_id = rec.package, rec.cost, rec.order_id
      done = true
    elseif found == "absent" then
      rec.status = "failed"
      rec.error = { kind = "vendor", message = "the order was not placed", outcome = "not_placed" }
      base.decision, base.error = "failed", rec.error
      done = true
    else
      M.add_error(cy, lerr or errors.new { kind = "transport", message = "order lookup failed" }, "reconcile")
    end
    if done then
      led:put(key, rec, self.keep)
      self:_audit(cy, base)
      cy.report.reconciled = (cy.report.reconciled or 0) + 1
    end
    led:release(key)
    return done
  end)
  if not ok then M.add_error(cy, err, "reconcile") end
end

-- Run the scheduled actions that are due.
local function run_due(self, cy)
  local ok, err = cy.ledger:each("sched", function(_, e)
    if type(e) ~= "table" or type(e.due) ~= "number" then return true end
    if e.due > cy.now then return false end
    local rule = self.by_name[e.rule]
    local step = rule and rule.steps[e.step]
    local act = step and step.actions[e.idx]
    if not act then
      M.add_error(cy, { kind = "input", message = "scheduled action of unknown rule " .. tostring(e.rule) }, "schedule")
      return true
    end
    local card = e.card
    local f = self.fleet
    if f and type(f.card) == "function" then
      local fresh = f:card(card.iccid)
      if type(fresh) == "table" then card = fresh end
    end
    self:_execute(cy, { rule = rule, card = card, step = e.step, act = act, key = e.key, value = e.value,
      threshold = e.threshold, group = type(e.group) == "string" and e.group or nil })
    return true
  end)
  if not ok then M.add_error(cy, err, "schedule") end
end

-- The default order lookup: fleet:find_order(card, key) -> order | nil
-- (absent) | nil, err (unknown) when the fleet has it, else the vendor
-- client given to the engine (EIOTCLUB: by outTradeNo).
local function default_lookup(self, card, key)
  local f = self.fleet
  if f and type(f.find_order) == "function" then
    local order, err = f:find_order(card, key)
    if order then return "found", order end
    if err then return "unknown", nil, err end
    return "absent"
  end
  return vendors.lookup(self.clients, card, key)
end

local function poll(self, dry)
  local cy = self:_cycle(dry)
  if not dry then reconcile(self, cy) end
  run_due(self, cy)
  local cards = sync(self, cy)
  cy.report.cards = #cards
  local want_pools, want_groups = needs(self.rules)
  local env = {}
  if want_pools then env.pools = pool_index(self, cy) end
  if want_groups then env.groups = group_totals(cards) end
  local rules = {}
  for _, r in ipairs(self.rules) do if not r.event then rules[#rules + 1] = r end end
  local matches = M.matches
  for _, card in ipairs(cards) do
    local ctx, skey, snap = M.context(self, cy, card, env)
    for _, r in ipairs(rules) do
      if matches(r, card) then self:_evaluate(cy, r, card, ctx) end
    end
    local ok, err = cy.store:set(skey, snap, self.keep)
    if not ok then M.add_error(cy, err, "snapshot") end
  end
  return cy
end

function M.install(Engine, helpers)
  M.matches, M.add_error = helpers.matches, helpers.add_error

  function Engine:_lookup(card, key)
    if self.lookup then
      local ok, a, b, c = pcall(self.lookup, card, key)
      if not ok then return "unknown", nil, errors.new { kind = "input", message = "lookup raised: " .. tostring(a) } end
      return a, b, c
    end
    return default_lookup(self, card, key)
  end

  --- One cycle: reconcile orders in doubt, run due schedules, list the
  -- fleet, evaluate every rule for every matching card, act. With
  -- `dry_run = true` nothing is written anywhere.
  -- @treturn table `{ cards, evaluated, fired, scheduled, skipped, errors }`
  function Engine:run()
    local cy = poll(self, self.dry_run)
    if cy.dry then cy.report.plan = cy.plan end
    return cy.report
  end

  --- What `run()` would do: a list of `{ rule, iccid, vendor, action,
  -- value, threshold, key }` (and `at` for scheduled actions). Reads only.
  function Engine:plan()
    return poll(self, true).plan
  end

  --- Event mode: evaluate the rules with an `event{}` trigger for the
  -- card(s) of a pushed notification (as `simkit.notify` decodes it).
  -- @treturn table the report, or nil, err (kind "input") for a bad event
  function Engine:handle(event)
    if type(event) ~= "table" or type(event.event) ~= "string" then
      return nil, errors.input("engine:handle: expected an event table with an 'event' name")
    end
    local iccids = {}
    if event.iccid ~= nil then iccids[1] = tostring(event.iccid) end
    local d = event.data
    if #iccids == 0 and type(d) == "table" then
      if d.iccid ~= nil then iccids[1] = tostring(d.iccid) end
      for _, item in ipairs(d) do
        if type(item) == "table" and item.iccid ~= nil then iccids[#iccids + 1] = tostring(item.iccid) end
      end
    end
    local cy = self:_cycle(self.dry_run)
    for _, iccid in ipairs(iccids) do
      local card
      local f = self.fleet
      if f and type(f.card) == "function" then
        local c, err = f:card(iccid)
        if type(c) == "table" then card = c else M.add_error(cy, err, "card") end
      end
      card = card or { vendor = event.vendor or "eiotclub", iccid = iccid, usage = {} }
      cy.report.cards = cy.report.cards + 1
      local ctx = M.context(self, cy, card, { event = event })
      for _, r in ipairs(self.rules) do
        if r.event and M.matches(r, card) then self:_evaluate(cy, r, card, ctx) end
      end
    end
    if cy.dry then cy.report.plan = cy.plan end
    return cy.report
  end

  --- Why (or why not) each rule fires for one card: per rule `matched`,
  -- `holds`, `value`, `threshold`, `armed`, `last_fired`, `next_eligible`,
  -- and per step the same. Reads only.
  -- @tparam string iccid
  -- @treturn table `{ iccid, vendor, status, rules = { ... } }` or nil, err
  function Engine:explain(iccid)
    if type(iccid) ~= "string" or not iccid:match("^%w+$") or #iccid > 32 then
      return nil, errors.input("engine:explain: iccid must be a string of letters and digits (at most 32)")
    end
    local f = self.fleet
    if not (f and type(f.card) == "function") then
      error("simkit.rules: explain needs an engine made with fleet = simkit.fleet{...}", 2)
    end
    local card, err = f:card(iccid)
    if not card then return nil, err end
    local cy = self:_cycle(true)
    local want_pools, want_groups = needs(self.rules)
    local env = {}
    if want_pools then env.pools = pool_index(self, cy) end
    if want_groups then env.groups = group_totals(sync(self, cy)) end
    local ctx = M.context(self, cy, card, env)
    local out = { iccid = card.iccid, vendor = card.vendor, status = card.status, rules = {}, errors = cy.report.errors }
    for _, r in ipairs(self.rules) do
      local e = { rule = r.name, matched = M.matches(r, card), rearm = r.rearm, steps = {}, scope = r.scope }
      if e.matched then
        e.group = select(2, self:_target(r, card, ctx))
        local state = self:_state(cy, r, card, ctx)
        state = state or { fired = {} }
        for i, s in ipairs(r.steps) do
          local ok, h, v = pcall(s.when, card, ctx)
          local info = meta.get(s.when)
          e.steps[i] = { holds = ok and h == true, value = ok and v or nil, threshold = info and info.threshold,
            fired = state.fired[tostring(i)] }
        end
        local nxt
        for i = 1, #r.steps do if not state.fired[tostring(i)] then nxt = i break end end
        e.holds, e.value, e.threshold = e.steps[1].holds, e.steps[1].value, e.steps[1].threshold
        e.armed = nxt ~= nil
        e.next_step = nxt
        e.last_fired = state.last
        if state.first then
          local k = r.rearm_spec.kind
          if k == "next_day" then e.next_eligible = select(3, period.day(cy.now, self.offset, ctx.anchor))
          elseif k == "next_month" then e.next_eligible = select(3, period.month(cy.now, self.offset, ctx.anchor))
          elseif k == "after" then e.next_eligible = state.first + r.rearm_spec.seconds
          elseif k == "clear" then e.next_eligible = "when the clear trigger holds"
          else e.next_eligible = "never" end
          if nxt then e.next_eligible = cy.now end
        else
          e.next_eligible = cy.now
        end
      end
      out.rules[#out.rules + 1] = e
    end
    return out
  end
end

M.error_of = audit.error_of

return M
