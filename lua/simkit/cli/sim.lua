--- `simkit sim start|stop|status`: the vendor sandbox (sim/run), with a
-- state file (`<state dir>/sim.state`: "URL DIR") so that `stop`, `status`
-- and profiles with `sandbox = true` find the running one.
-- @module simkit.cli.sim
local errors = require "simkit.errors"
local config = require "simkit.cli.config"

local M = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  if not p then return false, "cannot run " .. cmd end
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then code = ok; ok = code == 0 end -- LuaJIT without 5.2 compat
  return ok == true, out, code
end

--- The state file's path.
-- @treturn string
function M.state_file()
  return config.state_dir() .. "/sim.state"
end

--- The sim/run script: `$SIMKIT_SIM`, else `<root>/sim/run` of the source tree.
-- @tparam[opt] string root the source tree (bin/simkit finds it)
-- @treturn string|nil the path, or nil and an input error
function M.script(root)
  local p = os.getenv("SIMKIT_SIM")
  if p and p ~= "" then return p end
  if root then
    local f = io.open(root .. "/sim/run", "r")
    if f then f:close(); return root .. "/sim/run" end
  end
  return nil, errors.input("the sandbox is in simkit's source tree: run bin/simkit from a checkout, " ..
    "or set SIMKIT_SIM=/path/to/simkit/sim/run")
end

--- The running sandbox recorded in the state file.
-- @treturn string|nil url
-- @treturn string|table dir, or an error when there is none
function M.current()
  local f = io.open(M.state_file(), "r")
  if not f then
    return nil, errors.input("no sandbox started (run `simkit sim start`)")
  end
  local line = f:read("*l") or ""
  f:close()
  local url, dir = line:match("^(http://%S+) (.+)$")
  if not url then return nil, errors.input("state file " .. M.state_file() .. " is damaged; remove it") end
  return url, dir
end

--- The running sandbox's URL (for `sandbox = true` profiles).
-- @treturn string|nil url, or nil and an input error
function M.url()
  local url, dir = M.current()
  if not url then return nil, dir end
  return url
end

--- Start a sandbox (refused when one recorded in the state file still runs).
-- @tparam[opt] string root the source tree
-- @tparam[opt] number port the port (0 or nil: a free one)
-- @treturn string|nil "URL DIR", or nil and an error
function M.start(root, port)
  if port ~= nil and (type(port) ~= "number" or port ~= port or port < 0 or port > 65535 or port % 1 ~= 0) then
    return nil, errors.input("--port must be an integer in 0..65535")
  end
  local script, err = M.script(root)
  if not script then return nil, err end
  local url, dir = M.current()
  if url then
    local running = run(quote(script) .. " status " .. quote(dir))
    if running then
      return nil, errors.input("a sandbox already runs at " .. url .. " (" .. dir .. "); `simkit sim stop` first")
    end
  end
  local ok, out = run(quote(script) .. " start" .. (port and port > 0 and (" --port " .. string.format("%d", port)) or ""))
  local u, d = out:match("(http://127%.0%.0%.1:%d+) (%S+)%s*$")
  if not ok or not u then
    return nil, errors.new { kind = "transport", message = "sandbox did not start: " .. out:gsub("%s+$", "") }
  end
  local sd = config.state_dir()
  run("mkdir -p " .. quote(sd))
  local f, ferr = io.open(M.state_file(), "w")
  if not f then
    run(quote(script) .. " stop " .. quote(d))
    return nil, errors.new { kind = "store", message = "cannot write " .. M.state_file() .. ": " .. tostring(ferr) }
  end
  f:write(u, " ", d, "\n")
  f:close()
  return u .. " " .. d
end

--- Stop the sandbox of the state file and remove its directory.
-- @tparam[opt] string root the source tree
-- @treturn string|nil what was stopped, or nil and an error
function M.stop(root)
  local script, err = M.script(root)
  if not script then return nil, err end
  local url, dir = M.current()
  if not url then return nil, dir end
  local ok, out = run(quote(script) .. " stop " .. quote(dir))
  if not ok then
    return nil, errors.new { kind = "transport", message = "sandbox did not stop: " .. out:gsub("%s+$", "") }
  end
  if dir:match("/simsandbox%.[%w]+$") then run("rm -rf " .. quote(dir)) end
  os.remove(M.state_file())
  return "stopped " .. url
end

--- The sandbox's status.
-- @tparam[opt] string root the source tree
-- @treturn boolean running
-- @treturn string "running URL DIR" or "stopped"
function M.status(root)
  local script = M.script(root)
  local url, dir = M.current()
  if not url or not script then return false, "stopped" end
  local ok = run(quote(script) .. " status " .. quote(dir))
  if ok then return true, "running " .. url .. " " .. dir end
  return false, "stopped"
end

return M
