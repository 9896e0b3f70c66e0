--- The nginx side of spec/multinode_spec.lua: one "node" of a deployment
-- whose shared state is one Redis store.
--
--   GET  /hw?op=OP&base=URL&redis=PORT&tag=T&rl=1|0  one Huawei call (IAM token mode;
--                                              client-side rate limit on/off; one client per
--                                              worker and tag, kept)
--   POST /notify?redis=PORT&tag=T              the EIOTCLUB receiver; each handler run
--                                              counts itself in the store (handled:<id>)
-- Everything shared lives in simkit.store.redis with the prefix "mn:<tag>:",
-- so each spec starts from empty state.
-- luacheck: globals ngx
local simkit = require "simkit"

local M = {}
local clients, receivers = {}, {}

local function shared(port, tag)
  return simkit.store.redis { port = tonumber(port), prefix = "mn:" .. tag .. ":" }
end

function M.hw()
  local a = ngx.req.get_uri_args()
  local key = a.base .. "|" .. a.redis .. "|" .. a.tag
  local c = clients[key]
  if not c then
    c = simkit.client("huawei", { username = "sandbox-user", password = "sandbox-password",
      domain = "sandbox-domain", project = "cn-north-4", endpoint = a.base, iam_endpoint = a.base,
      rate_limit = a.rl == "1", store = shared(a.redis, a.tag) })
    clients[key] = c
  end
  local data, err = c:call(a.op, {})
  ngx.header["Content-Type"] = "application/json"
  ngx.print(simkit.json.encode({ pid = ngx.worker.pid(), ok = data ~= nil,
    err = err and tostring(err) or simkit.json.null }))
end

function M.notify()
  local a = ngx.req.get_uri_args()
  local key = a.redis .. "|" .. a.tag
  local r = receivers[key]
  if not r then
    local store = shared(a.redis, a.tag)
    r = require("simkit.eiotclub.receiver").new { secret = "mn-secret", store = store,
      default = function(ev)
        local n, err = store:incr("handled:" .. ev.id, 1)
        if not n then error(tostring(err)) end
        return true
      end }
    receivers[key] = r
  end
  ngx.req.read_body()
  local reply, status = r:handle(ngx.req.get_body_data())
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(reply)
end

return M
