--- Shell and process helpers shared by the spec support modules that start
-- throw-away servers (sandbox, nginx, redis): one place for running a
-- command, quoting, reading a file, a temp directory and waiting for a port.
-- Under Lua 5.4 and LuaJIT alike; registers nothing global.
--
--   local proc = require "spec.support.proc"
--   local ok, out, code = proc.sh("kill -0 " .. pid); proc.out("id -u") -> output
--   proc.q(path), proc.read(path), proc.tempdir("simkit-x"), proc.wait_port(port)
local socket = require "socket"

local M = {}

--- Quote a value for the shell (single quotes, ' escaped).
-- @param s any value (tostring'd)
-- @treturn string
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Run a shell command (in a subshell), stderr folded into stdout.
-- The exit status is read from the output, so it is right under LuaJIT too
-- (whose popen close does not report it).
-- @tparam string cmd
-- @treturn boolean ok (exit status 0)
-- @treturn string output
-- @treturn number exit status
function M.sh(cmd)
  if type(cmd) ~= "string" then error("proc.sh: cmd must be a string", 2) end
  local p = assert(io.popen("( " .. cmd .. "\n) 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code == 0, (out:gsub("exit=%d+%s*$", "")), code
end

--- A shell command's output (stderr folded in), whatever its exit status.
-- @tparam string cmd
-- @treturn string
function M.out(cmd)
  if type(cmd) ~= "string" then error("proc.out: cmd must be a string", 2) end
  local _, out = M.sh(cmd)
  return out
end

--- A file's whole content, or "" when it cannot be read.
-- @tparam string path
-- @treturn string
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s or ""
end

--- A fresh directory under $TMPDIR (or /tmp) named `tag`.XXXXXX; raises
-- when mktemp fails.
-- @tparam string tag
-- @treturn string the directory's path
function M.tempdir(tag)
  if type(tag) ~= "string" or not tag:match("^[%w_.-]+$") then
    error("proc.tempdir: tag must be a name of letters, digits, _ . -", 2)
  end
  local ok, out = M.sh("mktemp -d " .. M.q((os.getenv("TMPDIR") or "/tmp") .. "/" .. tag .. ".XXXXXX"))
  assert(ok, out)
  return (out:gsub("%s+$", ""))
end

--- Wait until something accepts connections on 127.0.0.1:`port`.
-- @tparam number port
-- @tparam[opt=3] number seconds how long at the most
-- @treturn boolean whether it answered in time
function M.wait_port(port, seconds)
  local deadline = socket.gettime() + (seconds or 3)
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then
      c:close()
      return true
    end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false
end

return M
