--- Start a throw-away redis-server on a free loopback port for specs, and
-- stop it by its PID. Under Lua 5.4 and LuaJIT alike; registers nothing global.
--
--   local redis = require "spec.support.redis"
--   local r = redis.start{ password = "..." }    -- password optional
--   r.port, r:cli("FLUSHALL"), r:stop(), r:start_again()
local socket = require "socket"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local M = {}

local sh, q = proc.sh, proc.q

local Redis = {}
Redis.__index = Redis

--- Run redis-cli against the server; returns its output.
function Redis:cli(...)
  local args = { "redis-cli", "-h", "127.0.0.1", "-p", tostring(self.port) }
  if self.password then args[#args + 1] = "--no-auth-warning -a " .. q(self.password) end
  for _, a in ipairs({ ... }) do args[#args + 1] = q(a) end
  local _, out = sh(table.concat(args, " "))
  return (out:gsub("%s+$", ""))
end

local function launch(self)
  local cmd = "redis-server --port " .. self.port .. " --bind 127.0.0.1 --save '' --appendonly no --daemonize no" ..
    " --dir " .. q(self.dir) .. (self.password and (" --requirepass " .. q(self.password)) or "")
  local ok, out = sh("(" .. cmd .. " >" .. q(self.dir .. "/redis.log") .. " 2>&1 & echo $!)")
  assert(ok, out)
  self.pid = assert(out:match("%d+"), out)
  if proc.wait_port(self.port, 5) then return self end
  error("redis-server does not answer on port " .. self.port)
end

--- Stop the server (SIGTERM, waiting for it to exit); the directory stays
-- until `stop{ remove = true }` (the default when called without arguments).
function Redis:stop(opts)
  if self.pid then
    sh("kill " .. self.pid)
    for _ = 1, 250 do
      -- by output, not exit status (LuaJIT's popen close does not report it);
      -- a zombie waiting for its reaper has exited
      local _, state = sh("ps -o stat= -p " .. self.pid)
      if not state:find("^%s*[^Z%s]") then break end
      socket.sleep(0.02)
    end
    self.pid = nil
  end
  if not opts or opts.remove ~= false then sh("rm -rf " .. q(self.dir)) end
end

--- Start the server again on the same port (after `stop{ remove = false }`).
function Redis:start_again()
  return launch(self)
end

--- Start redis-server. Raises when it does not come up.
-- @tparam[opt] table opts `password`
function M.start(opts)
  opts = opts or {}
  local self = setmetatable({ dir = proc.tempdir("simkit-redis"), port = sandbox.closed_port(), password = opts.password },
    Redis)
  return launch(self)
end

return M
