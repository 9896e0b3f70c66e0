--- The rules engine inside nginx: EIOTCLUB's notifications (through the
-- receiver) trigger `event{}` rules at once, and a timer on one worker runs
-- `engine:run()` every RULES_INTERVAL seconds (poll rules, reconciliation,
-- scheduled actions). See rules.conf.
--
--     init_worker_by_lua_block { require("rules_handler").init() }
--     location = /eiotclub/notify { content_by_lua_block { require("rules_handler").notify() } }
--
-- Environment (declare each with `env NAME;` in nginx.conf):
-- EIOTCLUB_BASE_URL, EIOTCLUB_APPKEY, EIOTCLUB_SECRET; RULES_FILE (a rules
-- file, default examples/auto_topup.lua under the prefix); RULES_INTERVAL
-- (seconds, default 60); RULES_TZ; RULES_REDIS ("host:port": several nodes).
-- The state store: with RULES_REDIS, `simkit.store.redis{...}`, shared by
-- every node (rule state, ledger, leases, the receiver's de-duplication);
-- else `simkit.store.shdict("simkit_rules")` (lua_shared_dict simkit_rules),
-- shared by the workers of one node; else the worker's memory.
-- luacheck: globals ngx
local simkit = require "simkit"
local R = require "simkit.rules"

local M = {}

local engine, receiver, running

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function state_store()
  local store = require "simkit.store"
  local redis = env("RULES_REDIS")
  if redis then
    local host, port = redis:match("^([^:]+):(%d+)$")
    assert(host, "RULES_REDIS must be host:port")
    return store.redis { host = host, port = tonumber(port), prefix = "simkit:" }
  end
  if ngx.shared.simkit_rules then return store.shdict("simkit_rules") end
  return store.memory()
end

local function log(level, msg)
  ngx.log(level == "warn" and ngx.WARN or ngx.NOTICE, msg)
end

--- Build this worker's engine and receiver.
function M.init()
  if engine then return engine end
  local eiot = simkit.client("eiotclub", { appkey = env("EIOTCLUB_APPKEY"), secret = env("EIOTCLUB_SECRET"),
    base_url = env("EIOTCLUB_BASE_URL", "https://oapi.eiotclub.com"), timeout = 5 })
  local st = state_store()
  engine = R.engine { fleet = simkit.fleet { eiot }, clients = { eiot }, store = st,
    timezone = env("RULES_TZ"), audit = ngx.config.prefix() .. "logs/rules-audit.jsonl",
    logger = function(level, msg, f) log(level, "rules: " .. f.rule .. " " .. tostring(f.iccid) .. ": " .. msg) end }
  local file = env("RULES_FILE", ngx.config.prefix() .. "examples/auto_topup.lua")
  assert(R.load(engine, file))
  receiver = simkit.notify.receiver {
    secret = env("EIOTCLUB_SECRET"),
    store = st, -- each notification handled once across workers (and nodes, with Redis)
    default = function(ev)
      local rep, err = engine:handle(ev)
      if not rep then return false, err end
      for _, f in ipairs(rep.fired) do
        log(f.ok and "info" or "warn", "rules: event " .. ev.event .. " -> " .. f.rule .. " " .. f.action .. " " ..
          f.iccid .. (f.ok and " done" or (" failed: " .. tostring(f.err))))
      end
      return true
    end,
  }
  -- one worker polls: the timer never overlaps itself
  if ngx.worker.id() == 0 then
    local interval = tonumber(env("RULES_INTERVAL", "60"))
    ngx.timer.every(interval, function(premature)
      if premature or running then return end
      running = true
      local ok, rep = pcall(engine.run, engine)
      running = false
      if not ok then
        ngx.log(ngx.ERR, "rules: run failed: ", tostring(rep))
      else
        log("info", ("rules: run: %d cards, %d fired, %d errors"):format(rep.cards, #rep.fired, #rep.errors))
      end
    end)
  end
  return engine
end

--- The notification endpoint (content handler).
function M.notify()
  if ngx.req.get_method() ~= "POST" then return ngx.exit(ngx.HTTP_NOT_ALLOWED) end
  M.init()
  ngx.req.read_body()
  local reply, status = receiver:handle(ngx.req.get_body_data() or "")
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(reply)
  -- returning ends the request with the status above (ngx.exit(status)
  -- here would do the same for ~1k more instructions per request)
end

return M
