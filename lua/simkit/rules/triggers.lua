--- Triggers of the rules engine. Each constructor returns a plain function
-- `function(card, ctx) -> bool, value` (also usable on its own); its
-- description (name, threshold) is registered in `simkit.rules.meta`.
--
-- `ctx` is filled by the engine: `now` (epoch seconds), `prev` (the card's
-- previous snapshot: `status`, `used_mb`, `imei`, `expires`, `t`),
-- `history` (`{ { t, used_mb } ... }`, oldest first), `day_used` and
-- `total_used` (MB), `pool` (the card's pool), `group` (function(by, key) ->
-- used MB, limit MB), `event` (event mode), `lag` (the vendor's reporting
-- lag in seconds). Every field is optional: a trigger whose input is
-- missing does not hold.
-- @module simkit.rules.triggers
local meta = require "simkit.rules.meta"

local M = {}

local huge = math.huge
local MAX_MB = 1e12

local function finite(v) return type(v) == "number" and v == v and v > -huge and v < huge end

-- an invalid trigger: never holds, refused by engine:rule with `why`
local function invalid(name, why)
  return meta.set(function() return false end, { name = name, invalid = name .. ": " .. why })
end

-- read `{ mb = n }` or `{ ratio = r }`; returns kind, threshold or nil, why
local function amount(args, ratio_ok)
  local mb, ratio = args.mb, args.ratio
  if mb ~= nil and ratio ~= nil then return nil, "give mb or ratio, not both" end
  if mb ~= nil then
    if not finite(mb) or mb < 0 or mb > MAX_MB then return nil, "mb must be a finite number 0.." .. MAX_MB end
    return "mb", mb
  end
  if ratio ~= nil then
    if not ratio_ok then return nil, "takes mb only" end
    if not finite(ratio) or ratio < 0 or ratio > 1000 then return nil, "ratio must be a finite number 0..1000" end
    return "ratio", ratio
  end
  return nil, "missing threshold: give mb" .. (ratio_ok and " or ratio" or "")
end

local function args_of(name, args)
  if args == nil then return {} end
  if type(args) ~= "table" then return nil, invalid(name, "expected a table of arguments, got " .. type(args)) end
  return args
end

local function define(name, info, fn)
  info.name = name
  return meta.set(fn, info)
end

local function ratio_of(used, limit)
  if not (finite(used) and finite(limit)) or limit <= 0 then return nil end
  return used / limit
end

-- used MB of `card` over `period`
local function used_in(card, ctx, period)
  local u = card.usage
  if period == "month" then return u and u.used_mb end
  if period == "day" then return ctx and ctx.day_used end
  return ctx and ctx.total_used
end

local PERIODS = { day = true, month = true, total = true }

local function used_trigger(name, above)
  return function(args)
    local a, bad = args_of(name, args)
    if not a then return bad end
    local kind, th = amount(a, true)
    if not kind then return invalid(name, th) end
    local period = a.period or "month"
    if not PERIODS[period] then return invalid(name, "period must be \"day\", \"month\" or \"total\"") end
    if kind == "ratio" and period ~= "month" then return invalid(name, "ratio works with period = \"month\" only") end
    return define(name, { threshold = th, unit = kind, period = period, rising = above }, function(card, ctx)
      local v = used_in(card, ctx, period)
      if kind == "ratio" then v = ratio_of(v, card.usage and card.usage.limit_mb) end
      if not finite(v) then return false, nil end
      if above then return v >= th, v end
      return v < th, v
    end)
  end
end

--- `used_above{ mb | ratio, period = "day" | "month" | "total" }`: used >= threshold.
M.used_above = used_trigger("used_above", true)
--- `used_below{ mb | ratio, period }`: used < threshold.
M.used_below = used_trigger("used_below", false)

--- `left_below{ mb | ratio }`: data left < threshold (ratio: left / limit).
function M.left_below(args)
  local a, bad = args_of("left_below", args)
  if not a then return bad end
  local kind, th = amount(a, true)
  if not kind then return invalid("left_below", th) end
  return define("left_below", { threshold = th, unit = kind, rising = false }, function(card)
    local u = card.usage
    local v = u and u.left_mb
    if kind == "ratio" then v = ratio_of(v, u and u.limit_mb) end
    if not finite(v) then return false, nil end
    return v < th, v
  end)
end

local function pool_trigger(name, field, above)
  return function(args)
    local a, bad = args_of(name, args)
    if not a then return bad end
    local kind, th = amount(a, true)
    if not kind then return invalid(name, th) end
    -- the group a `scope = "group"` rule fires once for: the card's pool
    local function group_of(card)
      if card.pool == nil then return nil end
      return "pool:" .. tostring(card.vendor) .. ":" .. tostring(card.pool)
    end
    return define(name, { threshold = th, unit = kind, rising = above, needs = "pools", group = group_of,
      grouping = "pool" }, function(_, ctx)
      local p = ctx and ctx.pool
      if not p then return false, nil end
      local v = p[field]
      if kind == "ratio" then v = ratio_of(v, p.limit_mb) end
      if not finite(v) then return false, nil end
      if above then return v >= th, v end
      return v < th, v
    end)
  end
end

--- `pool_used_above{ mb | ratio }`: the card's pool has used >= threshold.
M.pool_used_above = pool_trigger("pool_used_above", "used_mb", true)
--- `pool_left_below{ mb | ratio }`: the card's pool has < threshold left.
M.pool_left_below = pool_trigger("pool_left_below", "left_mb", false)

local BY = { tag = true, vendor = true, pool = true }

--- `group_used_above{ by = "tag" | "vendor" | "pool", mb | ratio, [tag] }`:
-- the total used by the card's group (over every card the fleet lists) is
-- >= threshold. With `by = "tag"`: the group of `tag` (cards without it do
-- not match), or without `tag` the card's most used tag group.
function M.group_used_above(args)
  local a, bad = args_of("group_used_above", args)
  if not a then return bad end
  if not BY[a.by] then return invalid("group_used_above", "by must be \"tag\", \"vendor\" or \"pool\"") end
  if a.tag ~= nil and (a.by ~= "tag" or type(a.tag) ~= "string") then
    return invalid("group_used_above", "tag must be a string, with by = \"tag\"")
  end
  local kind, th = amount(a, true)
  if not kind then return invalid("group_used_above", th) end
  local by = a.by
  -- the card's group with the highest value: value, the group's key
  local function best_of(card, ctx)
    local group = ctx and ctx.group
    if not group then return nil end
    local keys
    if by == "tag" and a.tag then
      keys = {}
      for _, t in ipairs(card.tags or {}) do if t == a.tag then keys[1] = t end end
    elseif by == "tag" then keys = card.tags or {}
    elseif by == "vendor" then keys = { card.vendor }
    else keys = { card.pool } end
    local best, best_key
    for _, key in ipairs(keys) do
      if key ~= nil then
        local used, limit = group(by, key)
        local v = used
        if kind == "ratio" then v = ratio_of(used, limit) end
        if finite(v) and (best == nil or v > best) then best, best_key = v, key end
      end
    end
    return best, best_key
  end
  -- the group a `scope = "group"` rule fires once for (the same one the
  -- totals are kept under: a pool is its vendor's)
  local function group_of(card, ctx)
    local _, key = best_of(card, ctx)
    if key == nil then return nil end
    if by == "pool" then return "pool:" .. tostring(card.vendor) .. ":" .. tostring(key) end
    return by .. ":" .. tostring(key)
  end
  return define("group_used_above", { threshold = th, unit = kind, rising = true, needs = "groups", group = group_of,
    grouping = by == "tag" and a.tag and ("tag:" .. a.tag) or by }, function(card, ctx)
    local best = best_of(card, ctx)
    if best == nil then return false, nil end
    return best >= th, best
  end)
end

local STATUSES = { active = true, inactive = true, suspended = true, deactivated = true, testing = true,
  unknown = true }

--- `status_is{ "suspended" }` or `status_is{ status = "suspended" }` or `status_is("suspended")`.
function M.status_is(args)
  local st = type(args) == "string" and args or (type(args) == "table" and (args.status or args[1]))
  if not STATUSES[st] then
    return invalid("status_is", "status must be one of active, inactive, suspended, deactivated, testing, unknown")
  end
  return define("status_is", { threshold = st }, function(card)
    return card.status == st, card.status
  end)
end

--- `status_changed{ from, to }` (both optional): the status differs from the
-- previous snapshot's (and matches from / to when given).
function M.status_changed(args)
  local a, bad = args_of("status_changed", args)
  if not a then return bad end
  for _, f in ipairs({ "from", "to" }) do
    if a[f] ~= nil and not STATUSES[a[f]] then return invalid("status_changed", f .. " is not a known status") end
  end
  return define("status_changed", { threshold = (a.from or "*") .. "->" .. (a.to or "*"), derived = true },
    function(card, ctx)
      local prev = ctx and ctx.prev
      if not prev or prev.status == nil or prev.status == card.status then return false, card.status end
      if a.from and prev.status ~= a.from then return false, card.status end
      if a.to and card.status ~= a.to then return false, card.status end
      return true, prev.status .. "->" .. tostring(card.status)
    end)
end

--- `first_traffic{}`: the card used data for the first time since the
-- previous snapshot (which showed none). Needs one earlier snapshot.
function M.first_traffic(args)
  local _, bad = args_of("first_traffic", args)
  if bad then return bad end
  return define("first_traffic", { derived = true }, function(card, ctx)
    local u = card.usage and card.usage.used_mb
    local prev = ctx and ctx.prev
    if not prev or not finite(u) then return false, u end
    return (prev.total_used or prev.used_mb or 0) <= 0 and u > 0, u
  end)
end

--- `expires_within{ days }`: the card expires within `days` (and has not yet).
function M.expires_within(args)
  local a, bad = args_of("expires_within", args)
  if not a then return bad end
  if not finite(a.days) or a.days < 0 or a.days > 36600 then
    return invalid("expires_within", "missing threshold: days must be a finite number 0..36600")
  end
  return define("expires_within", { threshold = a.days, unit = "days", rising = false }, function(card, ctx)
    local now = ctx and ctx.now or os.time()
    if not finite(card.expires) then return false, nil end
    local left = (card.expires - now) / 86400
    return left >= 0 and left <= a.days, left
  end)
end

--- `expired{}`: the card's expiry time has passed.
function M.expired(args)
  local _, bad = args_of("expired", args)
  if bad then return bad end
  return define("expired", { derived = true }, function(card, ctx)
    local now = ctx and ctx.now or os.time()
    if not finite(card.expires) then return false, nil end
    return card.expires <= now, card.expires
  end)
end

--- `imei_changed{}`: the card's IMEI differs from the previous snapshot's.
function M.imei_changed(args)
  local _, bad = args_of("imei_changed", args)
  if bad then return bad end
  return define("imei_changed", { derived = true }, function(card, ctx)
    local prev = ctx and ctx.prev
    if not prev or prev.imei == nil or card.imei == nil then return false, card.imei end
    return prev.imei ~= card.imei, card.imei
  end)
end

--- `balance_below{ amount }`: the card's (or its account's) balance, as the
-- fleet gives it in `card.balance`, is below `amount`.
function M.balance_below(args)
  local a, bad = args_of("balance_below", args)
  if not a then return bad end
  if not finite(a.amount) then return invalid("balance_below", "missing threshold: amount must be a finite number") end
  return define("balance_below", { threshold = a.amount, rising = false }, function(card)
    local b = tonumber(card.balance)
    if not finite(b) then return false, nil end
    return b < a.amount, b
  end)
end

--- `event{ name, where }`: event mode only: the pushed notification is
-- `name` (EIOTCLUB's event names) and `where` (a table of fields that must
-- be equal, or function(event) -> bool) holds.
function M.event(args)
  local a, bad = args_of("event", args)
  if not a then return bad end
  local name = a.name or a[1]
  if type(name) ~= "string" or name == "" then return invalid("event", "missing the event name") end
  local where = a.where
  if where ~= nil and type(where) ~= "table" and type(where) ~= "function" then
    return invalid("event", "where must be a table or a function")
  end
  return define("event", { threshold = name, event = true }, function(_, ctx)
    local ev = ctx and ctx.event
    if type(ev) ~= "table" or ev.event ~= name then return false, ev and ev.event end
    if type(where) == "function" then
      local ok, res = pcall(where, ev)
      return ok and res == true, name
    elseif where then
      for k, v in pairs(where) do
        if ev[k] ~= v then return false, name end
      end
    end
    return true, name
  end)
end

--- `exhausts_within{ hours }`: at the burn rate seen over the stored
-- history, the data left runs out within `hours`, with the vendor's
-- reporting lag (`ctx.lag`, seconds) taken as a margin. Value: hours left.
function M.exhausts_within(args)
  local a, bad = args_of("exhausts_within", args)
  if not a then return bad end
  if not finite(a.hours) or a.hours < 0 or a.hours > 24 * 3660 then
    return invalid("exhausts_within", "missing threshold: hours must be a finite number 0..87840")
  end
  local min_span = 600
  return define("exhausts_within", { threshold = a.hours, unit = "hours", rising = false, derived = true },
    function(card, ctx)
      local h = ctx and ctx.history
      local u = card.usage
      local left, used = u and u.left_mb, u and u.used_mb
      if not (h and h[1] and finite(left) and finite(used)) then return false, nil end
      local first = h[1]
      local span = (ctx.now or 0) - first[1]
      local burned = used - first[2]
      if span < min_span or burned <= 0 then return false, nil end
      local rate = burned / span                      -- MB per second
      local hours = (left / rate - (ctx.lag or 0)) / 3600
      if hours < 0 then hours = 0 end
      return hours <= a.hours, hours
    end)
end

local function composite(name, combine)
  return function(list)
    if type(list) ~= "table" or #list == 0 then return invalid(name, "expected a list of triggers") end
    for i, t in ipairs(list) do
      if type(t) ~= "function" then
        local why = getmetatable(t) and tostring(t) or ("item " .. i .. " is not a trigger (" .. type(t) .. ")")
        return invalid(name, why)
      end
      local info = meta.get(t)
      if info and info.invalid then return invalid(name, info.invalid) end
    end
    local kids = {}
    for i, t in ipairs(list) do kids[i] = t end
    local info = { children = kids }
    for _, t in ipairs(kids) do
      local ti = meta.get(t)
      if ti and ti.event then info.event = true end
      if ti and ti.derived then info.derived = true end
    end
    return define(name, info, function(card, ctx) return combine(kids, card, ctx) end)
  end
end

--- `all{ t1, t2, ... }`: every trigger holds (value: the last one's).
M.all = composite("all", function(kids, card, ctx)
  local v
  for _, t in ipairs(kids) do
    local ok, val = t(card, ctx)
    if not ok then return false, val end
    v = val
  end
  return true, v
end)

--- `any{ t1, t2, ... }`: at least one holds (value: the first that holds).
M.any = composite("any", function(kids, card, ctx)
  local last
  for _, t in ipairs(kids) do
    local ok, val = t(card, ctx)
    if ok then return true, val end
    last = val
  end
  return false, last
end)

--- `none{ t1, t2, ... }`: no trigger holds.
M.none = composite("none", function(kids, card, ctx)
  for _, t in ipairs(kids) do
    local ok, val = t(card, ctx)
    if ok then return false, val end
  end
  return true, nil
end)

return M
