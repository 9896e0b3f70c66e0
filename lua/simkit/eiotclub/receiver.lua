--- An EIOTCLUB notification endpoint, independent of the web server:
-- verify, de-duplicate on `id`, dispatch on `event`, build the reply.
--
--     local r = simkit.notify.receiver {
--       secret = "...",
--       handlers = {
--         FlowAlert = function(ev) top_up(ev.iccid) end,
--         Refund = function(ev) book_refund(ev.outTradeNo, ev.refundAmount) end,
--       },
--       default = function(ev) log(ev.event) end,      -- optional
--     }
--     local reply, status, ev_or_err = r:handle(body)
--
-- Replies:
--
-- * a valid event: `{"status":"SUCCESS"}`, HTTP 200, after its handler ran;
-- * a duplicate (`id` already handled): the same SUCCESS reply, handler not
--   called again (`ev.duplicate = true`);
-- * an event with no handler and no `default`: SUCCESS (acknowledged, so the
--   vendor stops re-sending; `ev.unhandled = true`);
-- * a bad signature / stale timestamp: 401; malformed or missing fields: 400;
--   body `{"status":"FAIL","message":"..."}`;
-- * a handler that raises or returns `false`: 500 and `{"status":"FAIL"}`;
--   the id is NOT recorded, so the vendor's re-delivery runs it again.
--
-- The seen-store is any object with `:seen(id) -> boolean` and `:add(id)`;
-- the default keeps the last 10000 ids of this process in memory. Under
-- nginx use one backed by a `lua_shared_dict` (see
-- `examples/nginx/notify_handler.lua`). Two deliveries of the same id that
-- arrive at the same moment may both run their handler: make handlers
-- idempotent where that matters.
-- @module simkit.eiotclub.receiver
local json = require "simkit.json"
local notify = require "simkit.eiotclub.notify"

local M = {}

--- A bounded in-memory set of ids (a ring: the oldest id is forgotten first).
-- @tparam[opt=10000] number capacity
-- @treturn table store with `:seen(id)`, `:add(id)`
function M.memory_store(capacity)
  capacity = capacity or 10000
  local set, ring, pos = {}, {}, 0
  local store = {}
  function store.seen(_, id) return set[id] == true end
  function store.add(_, id)
    if set[id] then return end
    pos = pos % capacity + 1
    local old = ring[pos]
    if old ~= nil then set[old] = nil end
    ring[pos] = id
    set[id] = true
  end
  return store
end

local SUCCESS = '{"status":"SUCCESS"}'

local function failure(message)
  return json.encode({ status = "FAIL", message = message }) or '{"status":"FAIL"}'
end

local Receiver = {}
Receiver.__index = Receiver

--- Create a receiver.
-- @tparam table opts `secret` (required), `handlers` (event name ->
--   function(ev)), `default` (function(ev) for events without a handler),
--   `seen` (a store; default `memory_store(10000)`), `max_age` and `now`
--   (passed to `simkit.notify.eiotclub`), `logger` (function(level, msg))
-- @treturn table the receiver
function M.new(opts)
  if type(opts) ~= "table" then error("simkit.receiver: opts must be a table", 2) end
  if type(opts.secret) ~= "string" or opts.secret == "" then
    error("simkit.receiver: option 'secret' is required", 2)
  end
  if opts.handlers ~= nil and type(opts.handlers) ~= "table" then
    error("simkit.receiver: option 'handlers' must be a table", 2)
  end
  local self = setmetatable({
    handlers = opts.handlers or {}, default = opts.default,
    seen = opts.seen or M.memory_store(opts.capacity),
    verify_opts = { max_age = opts.max_age, now = opts.now }, logger = opts.logger,
  }, Receiver)
  -- the secret is kept in a closure, never in a field
  local secret = opts.secret
  self.verify = function(body) return notify.eiotclub(body, secret, self.verify_opts) end
  return self
end

local function log(self, level, msg)
  if self.logger then pcall(self.logger, level, msg) end
end

--- Handle one POST body.
-- @param body the raw body (string) or a decoded table
-- @treturn string the reply body
-- @treturn number the HTTP status
-- @return the event (on success) or the error
function Receiver:handle(body)
  local ev, err = self.verify(body)
  if not ev then
    log(self, "warn", "simkit eiotclub notification refused: " .. tostring(err))
    return failure(err.message), err.kind == "auth" and 401 or 400, err
  end
  -- dedupe on the id, and on the signature too: a copy re-shaped under the
  -- same signature (another id) is the same notification
  local sig = "sign:" .. tostring(ev.raw.sign):upper()
  if self.seen:seen(ev.id) or self.seen:seen(sig) then
    ev.duplicate = true
    return SUCCESS, 200, ev
  end
  local handler = self.handlers[ev.event] or self.default
  if not handler then
    ev.unhandled = true
    self.seen:add(ev.id)
    self.seen:add(sig)
    return SUCCESS, 200, ev
  end
  local ok, res = pcall(handler, ev)
  if not ok or res == false then
    log(self, "error", "simkit eiotclub notification handler for " .. ev.event .. " (id " .. ev.id ..
      ") failed: " .. tostring(res))
    ev.handler_error = ok and "handler returned false" or tostring(res)
    return failure("handler failed"), 500, ev
  end
  self.seen:add(ev.id)
  self.seen:add(sig)
  return SUCCESS, 200, ev
end

return M
