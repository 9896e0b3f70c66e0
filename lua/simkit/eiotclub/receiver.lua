--- An EIOTCLUB notification endpoint, independent of the web server:
-- verify, de-duplicate on `id`, dispatch on `event`,
-- build the reply.
--
--     local r = simkit.notify.receiver {
--       secret = "...",
--       handlers = {
--         FlowAlert = function(ev) top_up(ev.iccid) end,
--         Refund = function(ev) book_refund(ev.outTradeNo, ev.refundAmount) end,
--       },
--       default = function(ev) log(ev.event) end,      -- optional
--       store = simkit.store.shdict("eiotclub_seen"),  -- optional, see below
--     }
--     local reply, status, ev_or_err = r:handle(body)
--
-- Replies:
--
-- * a valid event: `{"status":"SUCCESS"}`, HTTP 200, after its handler ran;
-- * a duplicate (`id`, or signature, already handled): the same SUCCESS
--   reply, handler not called again (`ev.duplicate = true`);
-- * an event with no handler and no `default`: SUCCESS (acknowledged, so the
--   vendor stops re-sending; `ev.unhandled = true`);
-- * a bad signature / stale timestamp: 401; malformed or missing fields: 400;
--   body `{"status":"FAIL","message":"..."}`;
-- * a handler that raises or returns `false`: 500 and `{"status":"FAIL"}`;
--   the id is NOT recorded, so the vendor's re-delivery runs it again;
-- * the same notification being handled right now by another request (or
--   node): 503, so the vendor re-delivers it later (`ev.busy = true`);
-- * the store failing (`kind = "store"`): 503 before the handler runs, so
--   the vendor re-delivers; the handler never runs without a record.
--
-- De-duplication:
--
-- * Default (no `store`): in this process, the last `capacity` events
--   (default 10,000) are remembered, counted in events. It keeps between
--   `capacity` and 2 x `capacity` events (two generations: when the newer
--   one holds `capacity` events the older is dropped). A re-delivery of an
--   event older than that runs its handler again: set `max_age` (refuses
--   late copies as stale) or give a `store` with a `ttl` longer than the
--   vendor's re-delivery period. Each nginx worker has its own: under nginx
--   give a shared store.
-- * `store =` any `simkit.store` (memory, sqlite, shdict, redis): an event is
--   claimed with `store:add(key, 0, lease)` on its id; when
--   its handler succeeded the key is set to 1 for `ttl` seconds (default
--   7 days: the window in which a re-delivery is recognised); when it failed
--   it is deleted. A claim that finds 0 is an event in progress elsewhere
--   (503); one that finds 1 is a duplicate. The claim holds for `lease`
--   seconds (default 30): a process that dies inside a handler blocks its
--   event for that long only. Handlers must finish within `lease`. With one
--   store shared by several nodes, a notification is handled once whichever
--   node receives it.
-- * Keys: the id alone identifies an event, since the signed text fixes it
--   (`simkit.eiotclub.notify` refuses an id holding '&' and re-shaped
--   bodies). A value carrying "&id=" is the exception: `{id="A", x="1&id=B"}`
--   signs the same text as another shape with another id, so such an event
--   is also claimed, recorded and released under its signature.
--
-- Also reachable as `simkit.receiver` and `simkit.notify.receiver`.
-- @module simkit.eiotclub.receiver
local json = require "simkit.json"
local notify = require "simkit.eiotclub.notify"
local store_mod = require "simkit.store"

local upper = string.upper

local M = {}

--- Default number of events the in-process de-duplication remembers.
M.CAPACITY = 10000
--- Default de-duplication window with a store (seconds: 7 days).
M.TTL = 7 * 24 * 3600
--- Default claim time of an event being handled (seconds).
M.LEASE = 30
--- Default key prefix in a store.
M.PREFIX = "simkit:eiotclub:notify:"

local PENDING, DONE = 0, 1

local SUCCESS = '{"status":"SUCCESS"}'
local BUSY = '{"status":"FAIL","message":"being handled, retry later"}'
local UNAVAILABLE = '{"status":"FAIL","message":"state store unavailable, retry later"}'

local function failure(message)
  return json.encode({ status = "FAIL", message = message }) or '{"status":"FAIL"}'
end

----------------------------------------------------------------------------
-- The two de-duplication backends: claim(a, b) -> "new" | DONE | PENDING |
-- nil, err; finish(a, b) -> true | nil, err; release(a, b). `b` (the
-- signature's key) is nil for the bodies whose id the signed text fixes.

-- In this process: two generations of key -> state, counted in events.
local function recent(capacity)
  local cur, old, count = {}, {}, 0
  local d = {}
  function d.claim(a, b)
    local s = cur[a] or old[a]
    if s then return s end
    if b then
      s = cur[b] or old[b]
      if s then return s end
      cur[b] = PENDING
    end
    cur[a] = PENDING
    return "new"
  end
  function d.finish(a, b)
    cur[a] = DONE
    if b then cur[b] = DONE end
    count = count + 1
    if count >= capacity then -- the older generation goes; no table ever shrinks in place
      old, cur, count = cur, {}, 0
    end
    return true
  end
  function d.release(a, b)
    cur[a], old[a] = nil, nil
    if b then cur[b], old[b] = nil, nil end
  end
  return d
end

-- In a simkit.store, shared by whoever uses the same store and prefix.
local function stored(store, ttl, lease)
  local d = {}
  local function state(k)
    local v, err = store:get(k)
    if err then return nil, err end
    return v == DONE and DONE or PENDING -- absent: the claim just expired, say busy
  end
  function d.claim(a, b)
    local ok, err = store:add(a, PENDING, lease)
    if ok == nil then return nil, err end
    if not ok then return state(a) end
    if not b then return "new" end
    ok, err = store:add(b, PENDING, lease)
    if ok then return "new" end
    store:delete(a) -- best effort: else the claim expires after `lease`
    if ok == nil then return nil, err end
    return state(b)
  end
  function d.finish(a, b)
    local ok, err = store:set(a, DONE, ttl)
    if ok and b then ok, err = store:set(b, DONE, ttl) end
    return ok, err
  end
  function d.release(a, b)
    store:delete(a)
    if b then store:delete(b) end
  end
  return d
end

local Receiver = {}
Receiver.__index = Receiver

local function positive(name, v, default, max)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 or v > max then
    error(string.format("simkit.receiver: option '%s' must be a number > 0 and <= %s, got %s", name,
      tostring(max), tostring(v)), 3)
  end
  return v
end

--- Create a receiver.
-- @tparam table opts `secret` (required), `handlers` (event name ->
--   function(ev)), `default` (function(ev) for events without a handler),
--   `store` (a `simkit.store`; default: in this process, see the module
--   doc), `ttl` (seconds a handled event is remembered in the store, default
--   `TTL`), `lease` (seconds an event being handled stays claimed, default
--   `LEASE`), `prefix` (of the store keys, default `PREFIX`), `capacity`
--   (events remembered without a store, default `CAPACITY`), `max_age` and
--   `now` (passed to `simkit.notify.eiotclub`), `logger` (function(level, msg))
-- @treturn table the receiver
function M.new(opts)
  if type(opts) ~= "table" then error("simkit.receiver: opts must be a table", 2) end
  if type(opts.secret) ~= "string" or opts.secret == "" then
    error("simkit.receiver: option 'secret' is required", 2)
  end
  if opts.handlers ~= nil and type(opts.handlers) ~= "table" then
    error("simkit.receiver: option 'handlers' must be a table", 2)
  end
  if opts.default ~= nil and type(opts.default) ~= "function" then
    error("simkit.receiver: option 'default' must be a function", 2)
  end
  if opts.logger ~= nil and type(opts.logger) ~= "function" then
    error("simkit.receiver: option 'logger' must be a function(level, message)", 2)
  end
  if opts.seen ~= nil then
    error("simkit.receiver: option 'seen' is gone: give 'store = ' a simkit.store " ..
      "(simkit.store.memory(), .sqlite(path), .shdict(name), .redis{...})", 2)
  end
  if opts.store ~= nil and not store_mod.is_store(opts.store) then
    error("simkit.receiver: option 'store' must be a simkit.store (get/set/add/incr/delete)", 2)
  end
  if opts.prefix ~= nil and (type(opts.prefix) ~= "string" or #opts.prefix > 128) then
    error("simkit.receiver: option 'prefix' must be a string of at most 128 bytes", 2)
  end
  local capacity = positive("capacity", opts.capacity, M.CAPACITY, 2 ^ 31)
  if capacity ~= math.floor(capacity) then error("simkit.receiver: option 'capacity' must be an integer", 2) end
  local ttl = positive("ttl", opts.ttl, M.TTL, 10 * 366 * 86400)
  local lease = positive("lease", opts.lease, M.LEASE, 86400)
  notify.check_opts("simkit.receiver", opts, 3)

  local self = setmetatable({
    handlers = opts.handlers or {}, default = opts.default, logger = opts.logger,
    dedup = opts.store and stored(opts.store, ttl, lease) or recent(capacity),
    prefix = opts.store and (opts.prefix or M.PREFIX) or "",
    verify_opts = { max_age = opts.max_age, now = opts.now },
  }, Receiver)
  -- the secret is kept in a closure, never in a field
  local secret, verify_opts = opts.secret, self.verify_opts
  self.verify = function(body) return notify.verify_checked(body, secret, verify_opts) end
  return self
end

-- The message is joined (tostring on each piece) only when there is a logger.
local function log(self, level, ...)
  if not self.logger then return end
  local parts = { ... }
  for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
  pcall(self.logger, level, table.concat(parts))
end

--- Handle one POST body.
-- @param body the raw body (string) or a decoded table
-- @treturn string the reply body
-- @treturn number the HTTP status
-- @return the event (on success, duplicate, busy or handler failure) or the
--   error (refused body, store failure)
function Receiver:handle(body)
  local ev, err, id_inside = self.verify(body)
  if not ev then
    log(self, "warn", "simkit eiotclub notification refused: ", err)
    return failure(err.message), err.kind == "auth" and 401 or 400, err
  end
  -- dedupe on the id; on the signature too when a value carries "&id=":
  -- only then can another body sign the same text with another id (see the
  -- module doc)
  local a, b = self.prefix .. "id:" .. ev.id, nil
  if id_inside then b = self.prefix .. "sig:" .. upper(ev.raw.sign) end
  local dedup = self.dedup
  local claim, cerr = dedup.claim(a, b)
  if claim ~= "new" then
    if claim == DONE then
      ev.duplicate = true
      return SUCCESS, 200, ev
    elseif claim == PENDING then
      ev.busy = true
      return BUSY, 503, ev
    end
    log(self, "error", "simkit eiotclub notification ", ev.id, " not handled, store failed: ", cerr)
    return UNAVAILABLE, 503, cerr
  end
  local handler = self.handlers[ev.event] or self.default
  if not handler then
    ev.unhandled = true
  else
    local ok, res = pcall(handler, ev)
    if not ok or res == false then
      dedup.release(a, b)
      log(self, "error", "simkit eiotclub notification handler for ", ev.event, " (id ", ev.id, ") failed: ", res)
      ev.handler_error = ok and "handler returned false" or tostring(res)
      return failure("handler failed"), 500, ev
    end
  end
  local ok, ferr = dedup.finish(a, b)
  if not ok then
    -- the handler ran: acknowledge (a 5xx would make the vendor re-deliver
    -- it once the claim expires); say so loudly
    ev.store_error = ferr
    log(self, "error", "simkit eiotclub notification ", ev.id, " handled but not recorded as done: ", ferr)
  end
  return SUCCESS, 200, ev
end

return M
