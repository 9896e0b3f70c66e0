--- EIOTCLUB notification endpoint for OpenResty / nginx + lua-nginx-module.
-- See eiotclub_notify.conf. The secret comes from the environment
-- (`env EIOTCLUB_SECRET;` in the main nginx.conf); de-duplication uses a
-- `lua_shared_dict` (simkit.store.shdict), so that every worker sees the
-- notifications already handled (or being handled).
--
--     init_worker_by_lua_block { require("notify_handler").init() }
--     location = /eiotclub/notify {
--       content_by_lua_block { require("notify_handler").run() }
--     }
-- luacheck: globals ngx
local simkit = require "simkit"
local store = require "simkit.store"

local M = {}

local DICT_NAME = "eiotclub_seen"
local MAX_AGE = 24 * 3600 -- re-deliveries may come late: keep this generous
local TTL = 2 * MAX_AGE   -- the de-duplication window: longer than max_age

-- The handlers: replace with your own (top-up, alerting, bookkeeping...).
-- They run inside the request: keep them short (under the receiver's lease,
-- 30 s), or hand work to a queue / ngx.timer.at. Return false (or raise) to
-- get a 500, so the vendor re-sends.
local handlers = {
  FlowAlert = function(ev)
    ngx.log(ngx.WARN, "card ", ev.iccid, " low on data: alert_type=", ev.alert_type, " value=", ev.alert_value)
  end,
  CloudESimFlowAlert = function(ev)
    ngx.log(ngx.WARN, "cloud eSIM ", ev.eid, " low on data: alert_type=", ev.alert_type)
  end,
  Refund = function(ev)
    ngx.log(ngx.NOTICE, "refund for order ", tostring(ev.orderId), " (", tostring(ev.outTradeNo), "): ",
      tostring(ev.refundAmount or "amount not sent"))
  end,
  SubPkgList = function(ev)
    for _, pkg in ipairs(ev.data) do
      ngx.log(ngx.NOTICE, "package ", pkg.packageCode, " ordered for ", pkg.iccid)
    end
  end,
}

local receiver

--- Build this worker's receiver (from init_worker_by_lua; `run` does it
-- on first use otherwise). Without EIOTCLUB_SECRET it logs an error and
-- `run` answers 500.
function M.init()
  if receiver then return receiver end
  local secret = os.getenv("EIOTCLUB_SECRET")
  if not secret or secret == "" then
    ngx.log(ngx.ERR, "EIOTCLUB_SECRET is not set")
    return nil
  end
  receiver = simkit.notify.receiver {
    secret = secret,
    handlers = handlers,
    default = function(ev) ngx.log(ngx.INFO, "eiotclub event ", ev.event, " id ", ev.id) end,
    store = store.shdict(DICT_NAME),
    prefix = "n:", -- a short key: one event fits one 128-byte entry
    ttl = TTL,
    max_age = MAX_AGE,
    logger = function(level, msg) ngx.log(level == "error" and ngx.ERR or ngx.WARN, msg) end,
  }
  return receiver
end

--- The content handler.
function M.run()
  if ngx.req.get_method() ~= "POST" then
    return ngx.exit(ngx.HTTP_NOT_ALLOWED)
  end
  local r = receiver or M.init()
  if not r then
    return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file() -- a large body buffered to disk
    if file then
      local f = io.open(file, "rb")
      if f then
        body = f:read("*a")
        f:close()
      end
    end
  end
  local reply, status = r:handle(body or "")
  ngx.status = status -- Content-Type: default_type in the location (eiotclub_notify.conf)
  ngx.print(reply)
  -- returning ends the request with the status above (ngx.exit(status)
  -- here would do the same for ~1k more instructions per request)
end

return M
