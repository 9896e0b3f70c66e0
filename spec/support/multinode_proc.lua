--- A plain-Lua "machine" for spec/multinode_spec.lua: N Huawei calls through
-- one client whose store is the shared Redis store, starting at a given
-- wall-clock second (so that it overlaps the nginx nodes).
--   lua5.4 spec/support/multinode_proc.lua BASE REDIS_PORT TAG RL OP N START   (RL: 1|0)
-- Prints one line per call: "ok" or the error.
local simkit = require "simkit"
local core = require "simkit.core"

local base, port, tag, rl, op = arg[1], tonumber(arg[2]), arg[3], arg[4] == "1", arg[5]
local n, start = tonumber(arg[6]), tonumber(arg[7])
local c = simkit.client("huawei", { username = "sandbox-user", password = "sandbox-password",
  domain = "sandbox-domain", project = "cn-north-4", endpoint = base, iam_endpoint = base, rate_limit = rl,
  store = simkit.store.redis { port = port, prefix = "mn:" .. tag .. ":" } })
while core.now() < start do core.sleep(0.005) end
for _ = 1, n do
  local data, err = c:call(op, {})
  io.write(data ~= nil and "ok" or tostring(err), "\n")
end
