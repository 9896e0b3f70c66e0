--- EIOTCLUB notification endpoint for OpenResty / nginx + lua-nginx-module.
-- See eiotclub_notify.conf. The secret comes from the environment
-- (`env EIOTCLUB_SECRET;` in the main nginx.conf); de-duplication uses a
-- `lua_shared_dict` so that every worker sees the ids already handled.
--
--     location = /eiotclub/notify {
--       content_by_lua_block { require("notify_handler").run() }
--     }
-- luacheck: globals ngx
local simkit = require "simkit"

local M = {}

local DICT = ngx.shared.eiotclub_seen
local TTL = 7 * 24 * 3600 -- remember an id for a week

--- A seen-store over a lua_shared_dict (shared by all workers).
local seen = {
  seen = function(_, id) return DICT:get(id) ~= nil end,
  add = function(_, id) DICT:set(id, true, TTL) end,
}

-- The handlers: replace with your own (top-up, alerting, bookkeeping...).
-- They run inside the request: keep them short, or hand work to a queue /
-- ngx.timer.at. Return false (or raise) to get a 500, so the vendor re-sends.
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

local function get_receiver()
  if not receiver then
    local secret = os.getenv("EIOTCLUB_SECRET")
    if not secret or secret == "" then return nil end
    receiver = simkit.notify.receiver {
      secret = secret,
      handlers = handlers,
      default = function(ev) ngx.log(ngx.INFO, "eiotclub event ", ev.event, " id ", ev.id) end,
      seen = seen,
      max_age = 24 * 3600, -- re-deliveries may come late: keep this generous
      logger = function(level, msg) ngx.log(level == "error" and ngx.ERR or ngx.WARN, msg) end,
    }
  end
  return receiver
end

--- The content handler.
function M.run()
  if ngx.req.get_method() ~= "POST" then
    return ngx.exit(ngx.HTTP_NOT_ALLOWED)
  end
  local r = get_receiver()
  if not r then
    ngx.log(ngx.ERR, "EIOTCLUB_SECRET is not set")
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
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(reply)
  return ngx.exit(status)
end

return M
