--- One card, pool and usage model over every vendor, with normalised
-- actions and the fewest vendor calls (see DESIGN.md "Fleet" and
-- docs/fleet.md for every field's source).
--
--     local fleet = simkit.fleet{ eiot, hw, tib, iccids = { tibiot = { ... } } }
--     for card, err in fleet:cards{ status = "active", left_below_mb = 200 } do
--       if not card then error(tostring(err)) end
--       print(card.vendor, card.iccid, card.usage.left_mb)
--     end
--     local res, err = fleet:act(card, "network", { on = false })
--
-- Errors are returned (`nil, err`; iterators yield `false, err` once and
-- stop): unknown or unconfigured vendor names, unknown statuses and
-- filter values of the wrong type are data errors (kind "input").
-- Only programming errors raise, saying what to do: bad options to
-- `simkit.fleet{...}`, a method called with a dot instead of a colon, a
-- `cards` filter that is not a table (docs/fleet.md, "Errors").
-- @module simkit.fleet
local C = require "simkit.fleet.common"
local store_mod = require "simkit.store"
local util = require "simkit.util"

local M = {}

local VENDOR = {
  eiotclub = require "simkit.fleet.eiotclub",
  huawei = require "simkit.fleet.huawei",
  tibiot = require "simkit.fleet.tibiot",
}
M.vendors = VENDOR

--- Default pacing (calls per second) of the vendors whose client does not
-- pace itself; Huawei's client keeps 5/s (1/s for list_sim_cards) itself.
M.PACE = { eiotclub = 10, tibiot = 10 }

--- When act_many waits for the vendor's asynchronous work by default.
M.WAIT = { tibiot = true, huawei = false }

local INDEX = "simkit:fleet:iccid:"      -- .. iccid -> vendor name
local SEEN = "simkit:fleet:seen:tibiot"  -- ICCIDs of TIBIOT cards seen by card()

local Fleet = {}
Fleet.__index = Fleet

local function raise(msg) error("simkit.fleet: " .. msg, 3) end

-- a method called with a dot (fleet.cards{...}) instead of a colon
local function check_self(self, method)
  if type(self) ~= "table" or type(self._vc) ~= "table" then
    error("simkit.fleet: call it as fleet:" .. method .. "(...) (with a colon) on a fleet made by simkit.fleet{...}", 3)
  end
end

local function pacer(rate, clock, sleep)
  if not rate then return function() end end
  local interval, last = 1 / rate, nil
  return function()
    local now = clock()
    if last and now - last < interval then
      sleep(interval - (now - last))
      now = clock()
    end
    last = now
  end
end

local function vendor_context(self, name, client, pace)
  local vc = { name = name, client = client, cache = {}, calls = 0,
    now = function() return math.floor(self._now()) end } -- epoch seconds of an answer
  local wait = pacer(pace, self._clock, self._sleep)
  vc.call = function(op, args)
    wait()
    vc.calls = vc.calls + 1
    return client:call(op, args)
  end
  return vc
end

local function check_list(v, what, iccids)
  if type(v) ~= "table" then raise("option '" .. what .. "' must be a list of strings") end
  for i, s in ipairs(v) do
    if type(s) ~= "string" or s == "" or (iccids and not C.iccid_ok(s)) then
      raise("option '" .. what .. "': item " .. i .. " is not " .. (iccids and "an ICCID" or "a non-empty string"))
    end
  end
end

--- Create a fleet over some clients.
-- @tparam table opts the clients (made by `simkit.client`) as the list
--   part, and optionally: `store` (the ICCID -> vendor index; default
--   `simkit.store.memory()`), `iccids = { tibiot = { ... } }` (TIBIOT
--   has no listing), `pools = { tibiot = { poolCode ... } }`, `pace =
--   { eiotclub = n, tibiot = n }` (calls per second, false = unpaced),
--   `clock`/`sleep` (monotonic seconds, for pacing), `now` (epoch seconds).
-- @return the fleet; raises on a programming error (not a client, two
--   clients of one vendor, options of the wrong type)
function M.new(opts)
  if type(opts) ~= "table" then raise("options must be a table: simkit.fleet{ client, ... }") end
  local self = setmetatable({ _vc = {}, _order = {} }, Fleet)
  self._clock = opts.clock or util.monotonic
  self._sleep = opts.sleep or util.sleep
  self._now = opts.now or util.now
  for _, k in ipairs({ "_clock", "_sleep", "_now" }) do
    if type(self[k]) ~= "function" then raise("option '" .. k:sub(2) .. "' must be a function") end
  end
  local store = opts.store or store_mod.memory()
  if not store_mod.is_store(store) then raise("option 'store' must be a simkit.store") end
  self._store = store
  local pace = util.copy(M.PACE)
  if opts.pace ~= nil then
    if type(opts.pace) ~= "table" then raise("option 'pace' must be a table { vendor = calls per second }") end
    for k, v in pairs(opts.pace) do
      if not VENDOR[k] or (v ~= false and not (C.finite(v) and v > 0)) then
        raise("option 'pace': " .. tostring(k) .. " must be a known vendor with a rate > 0 or false")
      end
      pace[k] = v or nil
    end
  end
  for k in pairs(opts) do
    if type(k) ~= "number" and not ({ store = 1, iccids = 1, pools = 1, pace = 1, clock = 1, sleep = 1, now = 1 })[k] then
      raise("unknown option '" .. tostring(k) .. "'")
    end
  end
  for i, client in ipairs(opts) do
    local ok, name = pcall(function() return client:vendor() end)
    if type(client) ~= "table" or not ok or not VENDOR[name] then
      raise("item " .. i .. " is not a simkit client (make it with simkit.client)")
    end
    if self._vc[name] then raise("two " .. name .. " clients: one per vendor") end
    self._vc[name] = vendor_context(self, name, client, pace[name])
  end
  for _, name in ipairs(C.VENDORS) do
    if self._vc[name] then self._order[#self._order + 1] = name end
  end
  self._iccids, self._pools = {}, {}
  for what, dest in pairs({ iccids = self._iccids, pools = self._pools }) do
    if opts[what] ~= nil then
      if type(opts[what]) ~= "table" then raise("option '" .. what .. "' must be a table { vendor = { ... } }") end
      for k, list in pairs(opts[what]) do
        if not VENDOR[k] then raise("option '" .. what .. "': unknown vendor '" .. tostring(k) .. "'") end
        check_list(list, what .. "." .. k, what == "iccids")
        dest[k] = util.copy(list)
      end
    end
  end
  return self
end

--- The vendors of this fleet, in order.
-- @treturn table list of vendor names
function Fleet:vendors()
  check_self(self, "vendors")
  return util.copy(self._order)
end

--- The simkit client this fleet uses for `vendor`.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @return the client, or nil and an input error for an unknown vendor
--   or one this fleet has no client for
function Fleet:client(vendor)
  check_self(self, "client")
  local vc, err = self:_vendor(vendor, "client")
  if not vc then return nil, err end
  return vc.client
end

--- Vendor calls made so far, per vendor (for benchmarks and tests).
-- @treturn table { vendor = count }
function Fleet:calls()
  check_self(self, "calls")
  local out = {}
  for name, vc in pairs(self._vc) do out[name] = vc.calls end
  return out
end

-- The one check of a vendor name: nil and an input error for a name that
-- is not a vendor (any type) or, unless `any`, one this fleet has no
-- client for; else the vendor's context (nil with `any` and no client).
function Fleet:_vendor(name, op, any)
  if type(name) ~= "string" or not VENDOR[name] then
    return nil, C.input(op .. ": unknown vendor '" .. tostring(name):sub(1, 40) .. "' (" .. table.concat(C.VENDORS, ", ") .. ")",
      { op = op, param = "vendor" })
  end
  local vc = self._vc[name]
  if not vc and not any then
    return nil, C.input(op .. ": this fleet has no " .. name .. " client (it has: " ..
      (#self._order > 0 and table.concat(self._order, ", ") or "none") .. ")", { op = op, param = "vendor", vendor = name })
  end
  return vc, nil
end

----------------------------------------------------------------------------
-- the ICCID index

local function remember(self, card)
  -- the index is a cache: a store that fails costs calls, not answers
  self._store:set(INDEX .. card.iccid, card.vendor)
end

local function seen_tibiot(self)
  local list = self._store:get(SEEN)
  return type(list) == "table" and list or {}
end

local function add_seen_tibiot(self, iccid)
  local list = seen_tibiot(self)
  for _, v in ipairs(list) do if v == iccid then return end end
  list[#list + 1] = iccid
  self._store:set(SEEN, list)
end

--- The TIBIOT ICCIDs a sync visits: those given, then those seen.
local function tibiot_iccids(self)
  local out, have = {}, {}
  for _, src in ipairs({ self._iccids.tibiot or {}, seen_tibiot(self) }) do
    for _, i in ipairs(src) do
      if not have[i] then have[i] = true; out[#out + 1] = i end
    end
  end
  return out
end

----------------------------------------------------------------------------
-- cards

local FILTERS = { vendor = true, status = true, tag = true, pool = true, left_below_mb = true,
  iccids = true, on_progress = true }

local function set_of(v, valid, what)
  if v == nil then return nil end
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then return nil, what .. " must be a name or a list of names" end
  local s = {}
  for _, x in ipairs(v) do
    if not valid[x] then return nil, "unknown " .. what .. " '" .. tostring(x) .. "'" end
    s[x] = true
  end
  return s
end

local function check_filters(self, filters)
  if filters == nil then filters = {} end
  if type(filters) ~= "table" then
    -- a programming error (the filters are code, not data): say what to write
    error("simkit.fleet: cards(filters): filters must be a table such as { vendor = \"huawei\", status = " ..
      "\"active\" } or nil, not a " .. type(filters), 3)
  end
  for k in pairs(filters) do
    if not FILTERS[k] then return nil, C.input("cards: unknown filter '" .. tostring(k) .. "'", { param = tostring(k) }) end
  end
  local f, msg = {}, nil -- luacheck: ignore 311
  f.vendor, msg = set_of(filters.vendor, VENDOR, "vendor")
  if msg then return nil, C.input("cards: " .. msg, { param = "vendor" }) end
  for name in pairs(f.vendor or {}) do
    local vc, err = self:_vendor(name, "cards")
    if not vc then return nil, err end
  end
  f.status, msg = set_of(filters.status, C.STATUSES, "status")
  if msg then return nil, C.input("cards: " .. msg, { param = "status" }) end
  if filters.tag ~= nil and (type(filters.tag) ~= "string" or filters.tag == "") then
    return nil, C.input("cards: tag must be a tag name", { param = "tag" })
  end
  f.tag = filters.tag
  if filters.pool ~= nil then
    f.pool = util.integer_text(filters.pool) or (type(filters.pool) == "string" and filters.pool) or nil
    if not f.pool then return nil, C.input("cards: pool must be a pool id", { param = "pool" }) end
  end
  if filters.left_below_mb ~= nil then
    if not C.finite(filters.left_below_mb) then
      return nil, C.input("cards: left_below_mb must be a finite number of MB", { param = "left_below_mb" })
    end
    f.left_below_mb = filters.left_below_mb
  end
  if filters.iccids ~= nil then
    if type(filters.iccids) ~= "table" then return nil, C.input("cards: iccids must be a list", { param = "iccids" }) end
    f.iccids = {}
    for _, i in ipairs(filters.iccids) do
      if not C.iccid_ok(i) then return nil, C.input("cards: bad ICCID '" .. tostring(i) .. "'", { param = "iccids" }) end
      f.iccids[i] = true
    end
  end
  if filters.on_progress ~= nil and type(filters.on_progress) ~= "function" then
    return nil, C.input("cards: on_progress must be a function(done, total, info)", { param = "on_progress" })
  end
  f.on_progress = filters.on_progress
  return f
end

local function id_text(v)
  return util.integer_text(v) or (type(v) == "string" and v) or nil
end

local function matches(card, f)
  if f.status and not f.status[card.status] then return false end
  if f.iccids and not f.iccids[card.iccid] then return false end
  if f.pool and (card.pool == nil or id_text(card.pool) ~= f.pool) then return false end
  if f.left_below_mb and not (card.usage.left_mb and card.usage.left_mb < f.left_below_mb) then return false end
  if f.tag then
    local found = false
    for _, t in ipairs(card.tags) do if t == f.tag then found = true end end
    if not found then return false end
  end
  return true
end

-- the vendors a query visits: configured, wanted, and able to hold a match
local function plan(self, f)
  local out = {}
  for _, name in ipairs(self._order) do
    local want = not f.vendor or f.vendor[name]
    if want and f.status then
      local any = false
      for _, s in pairs(VENDOR[name].STATUS) do if f.status[s] then any = true end end
      if f.status.unknown then any = true end
      want = any
    end
    if want then out[#out + 1] = name end
  end
  return out
end

local function failing(err)
  local done = false
  return function()
    if done then return nil end
    done = true
    return false, err
  end
end

--- Iterate over the fleet's cards (see DESIGN.md for the card shape).
-- Each vendor is listed at its largest page size with batch usage reads;
-- TIBIOT, which has no listing, visits the ICCIDs given in `iccids` and
-- those `card()` found. Every card seen goes into the ICCID index.
-- @tparam[opt] table filters `vendor`, `status` (a name or a list),
--   `tag`, `pool` (a pool id), `left_below_mb`, `iccids` (a list), and
--   `on_progress(done, total, info)` (`total` nil until every vendor told
--   it; `info = { vendor, vendor_done, vendor_total }`)
-- @return an iterator: `for card, err in fleet:cards{} do`; on an error it
--   yields `false, err` once and stops (kind "input" for an unknown or
--   unconfigured vendor, an unknown status, a filter value of the wrong
--   type; nothing is sent then). Raises when `filters` is not a table.
function Fleet:cards(filters)
  check_self(self, "cards")
  local f, err = check_filters(self, filters)
  if not f then return failing(err) end
  local vendors = plan(self, f)
  local status_hint
  if f.status then
    local n, only = 0, nil
    for s in pairs(f.status) do n, only = n + 1, s end
    if n == 1 then status_hint = only end
  end
  local vi, pager, buf, bi = 0, nil, nil, 0
  local done, totals, vdone, failed = 0, {}, 0, false
  local function progress(name, info)
    if not f.on_progress then return end
    totals[name] = info and info.total
    local total = 0
    for _, v in ipairs(vendors) do
      if totals[v] == nil then total = nil break end
      total = total + totals[v]
    end
    pcall(f.on_progress, done, total, { vendor = name, vendor_done = vdone, vendor_total = info and info.total })
  end
  return function()
    if failed then return nil end
    while true do
      if buf and bi < #buf then
        bi = bi + 1
        local card = buf[bi]
        if matches(card, f) then return card end
      else
        if not pager then
          vi = vi + 1
          if vi > #vendors then return nil end
          local name = vendors[vi]
          vdone = 0
          local tib
          if name == "tibiot" then
            -- one call per card: visit only the wanted ones when the query names them
            tib = tibiot_iccids(self)
            if f.iccids then
              local only = {}
              for _, i in ipairs(tib) do if f.iccids[i] then only[#only + 1] = i end end
              tib = only
            end
          end
          pager = VENDOR[name].lister(self._vc[name], { status = status_hint, iccids = tib })
        end
        local list, info = pager()
        if list == nil then
          pager, buf = nil, nil
        elseif list == false then
          failed = true
          return false, info
        else
          buf, bi = list, 0
          for _, card in ipairs(list) do remember(self, card) end
          done, vdone = done + #list, vdone + #list
          progress(vendors[vi], info)
        end
      end
    end
  end
end

local function miss(err)
  -- an ICCID this vendor refuses the format of is not this vendor's
  return err and err.kind == "input"
end

--- One card by ICCID, from any vendor. The ICCID index (the store) names
-- the vendor when known; otherwise the vendors are asked in turn and the
-- answer is indexed.
-- @tparam string iccid
-- @return the card, or nil and an error (kind "vendor", code "not_found"
--   when no vendor knows it; "input" for a malformed ICCID)
function Fleet:card(iccid)
  check_self(self, "card")
  if not C.iccid_ok(iccid) then
    return nil, C.input("card: an ICCID (10-22 digits) is required", { op = "card", param = "iccid" })
  end
  local known = self._store:get(INDEX .. iccid)
  local vc = known and self._vc[known]
  if vc then
    local card, err = VENDOR[known].one(vc, iccid)
    if card then return card end
    if err and not miss(err) then return nil, err end
    self._store:delete(INDEX .. iccid) -- gone from there: ask the others
  end
  for _, name in ipairs(self._order) do
    if name ~= known then
      local card, err = VENDOR[name].one(self._vc[name], iccid)
      if card then
        remember(self, card)
        if name == "tibiot" then add_seen_tibiot(self, iccid) end
        return card
      end
      if err and not miss(err) then return nil, err end
    end
  end
  return nil, C.not_found(iccid)
end

--- Iterate over every pool of every vendor (TIBIOT: the pools named in
-- the `pools` option). Pool shape in DESIGN.md.
-- @return an iterator `for pool, err in fleet:pools() do`
function Fleet:pools()
  check_self(self, "pools")
  local vi, buf, bi, failed = 0, nil, 0, false
  return function()
    if failed then return nil end
    while true do
      if buf and bi < #buf then
        bi = bi + 1
        return buf[bi]
      end
      vi = vi + 1
      local name = self._order[vi]
      if not name then return nil end
      local list, err = VENDOR[name].pools(self._vc[name], self._pools[name])
      if not list then
        failed = true
        return false, err
      end
      buf, bi = list, 0
    end
  end
end

--- What each vendor can do: `{ action = true | false }` for every
-- normalised action.
-- @tparam string vendor "eiotclub", "huawei" or "tibiot"
-- @return the table, or nil and an input error for an unknown vendor
function Fleet:capabilities(vendor)
  check_self(self, "capabilities")
  local _, err = self:_vendor(vendor, "capabilities", true)
  if err then return nil, err end
  local V = VENDOR[vendor]
  local out = {}
  for _, a in ipairs(C.ACTIONS) do out[a] = V.OPS[a] and true or false end
  return out
end

----------------------------------------------------------------------------
-- actions

-- The vendor context of a card, or nil and an input error.
local function card_vc(self, card)
  if type(card) ~= "table" then return nil, C.input("a card table (from fleet:cards / fleet:card) is required") end
  local name = card.vendor
  if not C.iccid_ok(card.iccid) then return nil, C.input("card.iccid is not an ICCID", { param = "card" }) end
  local vc, err = self:_vendor(name, "card.vendor")
  if not vc then
    err.param = "card"
    return nil, err
  end
  local indexed = self._store:get(INDEX .. card.iccid)
  if type(indexed) == "string" and indexed ~= name then
    return nil, C.input("card " .. card.iccid .. " is a " .. indexed .. " card, not " .. name, { vendor = name, param = "card" })
  end
  if name == "huawei" and not util.integer_text(card.id) then
    return nil, C.input("a Huawei card needs its sim_card_id (card.id)", { vendor = name, param = "card" })
  end
  return vc
end

local function check_action(action, args)
  if not C.is_action(action) then
    return nil, C.input("unknown action '" .. tostring(action) .. "' (" .. table.concat(C.ACTIONS, ", ") .. ")",
      { param = "action" })
  end
  return C.check_args(action, args)
end

-- one vendor's share of the cards: outcomes { ok, result, err } in order
local function run_vendor(vc, cards, action, args, opts, progress)
  local V = VENDOR[vc.name]
  local out
  if V.act_batch then
    out = V.act_batch(vc, cards, action, args, progress)
  else
    out = {}
    for i, card in ipairs(cards) do
      local res, err = V.act(vc, card, action, args)
      out[i] = res and { ok = true, result = res } or { ok = false, err = err }
      progress(i)
    end
  end
  for i, o in ipairs(out) do o.card = cards[i] end
  local wait = opts.wait
  if wait == nil then wait = M.WAIT[vc.name] end
  if wait and V.wait then V.wait(vc, out, opts.wait_opts) end
  return out
end

--- Do one normalised action on many cards: the cards are grouped per
-- vendor into the vendor's batch operations (TIBIOT 10 ICCIDs a call,
-- Huawei's batch tag and SMS ops); one failed call fails only its cards.
-- @tparam table cards a list of cards
-- @tparam string action see DESIGN.md
-- @tparam[opt] table args the action's arguments
-- @tparam[opt] table opts `on_progress(done, total, info)`, `wait`
--   (wait for TIBIOT batches / Huawei work orders; default TIBIOT yes,
--   Huawei no), `wait_opts` (`timeout`, `interval` for the wait)
-- @return a list, in the order of `cards`, of `{ card, ok, result, err }`;
--   or nil and an input error when the action or its arguments are wrong
function Fleet:act_many(cards, action, args, opts)
  check_self(self, "act_many")
  if type(cards) ~= "table" then return nil, C.input("act_many: cards must be a list", { param = "cards" }) end
  local norm, err = check_action(action, args)
  if not norm then return nil, err end
  opts = opts or {}
  if type(opts) ~= "table" then return nil, C.input("act_many: opts must be a table", { param = "opts" }) end
  if opts.on_progress ~= nil and type(opts.on_progress) ~= "function" then
    return nil, C.input("act_many: on_progress must be a function", { param = "on_progress" })
  end
  if opts.wait_opts ~= nil and type(opts.wait_opts) ~= "table" then
    return nil, C.input("act_many: wait_opts must be a table", { param = "wait_opts" })
  end
  local results, groups, order = {}, {}, {}
  for i, card in ipairs(cards) do
    local vc, cerr = card_vc(self, card)
    if not vc then
      results[i] = { card = card, ok = false, err = cerr }
    elseif not VENDOR[vc.name].OPS[action] then
      results[i] = { card = card, ok = false, err = C.unsupported(vc.name, action) }
    else
      if not groups[vc.name] then groups[vc.name] = { idx = {}, cards = {} }; order[#order + 1] = vc.name end
      local g = groups[vc.name]
      g.idx[#g.idx + 1], g.cards[#g.cards + 1] = i, card
    end
  end
  local total, base = #cards, 0
  for i = 1, #cards do if results[i] then base = base + 1 end end
  local done = base
  for _, name in ipairs(order) do
    local g = groups[name]
    local before = done
    local out = run_vendor(self._vc[name], g.cards, action, norm, opts, function(n)
      done = before + n
      if opts.on_progress then pcall(opts.on_progress, done, total, { vendor = name, action = action }) end
    end)
    done = before + #g.cards
    for j, o in ipairs(out) do
      results[g.idx[j]] = { card = g.cards[j], ok = o.ok, result = o.result, err = o.err }
    end
  end
  return results
end

--- Do one normalised action on one card.
-- @tparam table card a card of `cards` / `card`
-- @tparam string action `suspend`, `resume`, `network {on}`, `speed {kbps}`,
--   `topup {package, key}`, `sms {text}`, `tag {tags}`, `imei_lock {imei}`,
--   `usage_cap {mb}`
-- @tparam[opt] table args the action's arguments
-- @tparam[opt] table opts as for act_many (`wait`, `wait_opts`)
-- @return the vendor's result `{ op, data, ... }`, or nil and an error:
--   kind "unsupported" (nothing sent) when the vendor has no such
--   operation, "input" for bad arguments or a card of another vendor
function Fleet:act(card, action, args, opts)
  check_self(self, "act")
  local vc, err = card_vc(self, card)
  if not vc then return nil, err end
  if not C.is_action(action) then
    local _, aerr = check_action(action, args)
    return nil, aerr
  end
  if not VENDOR[vc.name].OPS[action] then return nil, C.unsupported(vc.name, action) end
  local res
  res, err = self:act_many({ card }, action, args, opts)
  if not res then return nil, err end
  if res[1].ok then return res[1].result end
  return nil, res[1].err
end

M.Fleet = Fleet

-- simkit.fleet{ ... } is simkit.fleet.new{ ... }
return setmetatable(M, { __call = function(_, opts) return M.new(opts) end })
