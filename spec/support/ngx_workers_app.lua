--- Inside nginx workers, for spec/nginx_workers_spec.lua: one Huawei client
-- per worker (IAM token mode, against the sandbox), created at first use
-- and kept, as an application would. GET /call?op=&base=&shared=1|0&rl=1|0
-- [&vendor=eiotclub&iccid=] answers {worker, pid, ok, err, client_side}.
--   shared=1: one simkit.store over lua_shared_dict "simkit" (token and windows)
--   shared=0: the defaults (a per-worker memory store)
-- luacheck: globals ngx
local simkit = require "simkit"

local M = {}
local clients = {}

local function client(args)
  local key = table.concat({ args.vendor or "huawei", args.base, args.shared, args.rl }, "|")
  if clients[key] then return clients[key] end
  local vendor, opts = "huawei", { username = "sandbox-user", password = "sandbox-password",
    domain = "sandbox-domain", project = "cn-north-4", endpoint = args.base, iam_endpoint = args.base,
    rate_limit = args.rl == "1" }
  if args.vendor == "eiotclub" then
    vendor, opts = "eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret", base_url = args.base,
      rate_limit = args.rl == "1" and 10 or false, retries = 0 }
  end
  if args.shared == "1" then
    opts.store = simkit.store.shdict("simkit")
  else
    opts.store = require("simkit.store").memory()
  end
  clients[key] = simkit.client(vendor, opts)
  return clients[key]
end

function M.run()
  local args = ngx.req.get_uri_args()
  local data, err = client(args):call(args.op, { iccid = args.iccid })
  ngx.header["Content-Type"] = "application/json"
  ngx.print(simkit.json.encode({ worker = ngx.worker.id(), pid = ngx.worker.pid(), ok = data ~= nil,
    err = err and tostring(err) or simkit.json.null, client_side = err and err.client_side or false }))
end

return M
