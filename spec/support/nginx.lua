--- Start a throw-away nginx (with the Lua module) from a configuration text,
-- for specs that run simkit inside real nginx workers. Under Lua 5.4 and
-- LuaJIT alike; registers nothing global.
--
--   local nginx = require "spec.support.nginx"
--   local ng = nginx.start{ conf = text, env = { K = "v" } }
--   ng.port, ng.prefix, ng:log() (error.log), ng:stop()
--
-- In `conf`: @PORT@ a free loopback port, @PREFIX@ the instance directory,
-- @REPO@ the repository root, @USER@ "user root root;" when run as root
-- (the workers must read the tree). `logs/` and `temp/` exist in the prefix.
local socket = require "socket"
local sandbox = require "spec.support.sandbox"

local M = {}

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then ok = ok == 0 end
  return ok == true, out, code
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end
M.read = read

local Nginx = {}
Nginx.__index = Nginx

--- The instance's error.log so far.
function Nginx:log()
  return read(self.prefix .. "/logs/error.log")
end

--- Stop nginx (gracefully, waiting for the master to exit) and remove the prefix.
function Nginx:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = read(self.prefix .. "/logs/nginx.pid"):match("%d+")
  if pid then
    sh("kill -QUIT " .. pid)
    for _ = 1, 150 do
      if not sh("kill -0 " .. pid) then break end
      socket.sleep(0.02)
    end
  end
  sh("rm -rf " .. q(self.prefix))
end

--- Start nginx; raises (with its error log) when it does not come up.
function M.start(opts)
  local f = io.open(sandbox.root .. "/build/luajit/simkit/core.so")
  assert(f, "build/luajit/simkit/core.so is missing: run `make LUA=luajit` (make test does)")
  f:close()
  local ok, out = sh("mktemp -d " .. q((os.getenv("TMPDIR") or "/tmp") .. "/simkit-nginx.XXXXXX"))
  assert(ok, out)
  local self = setmetatable({ prefix = out:gsub("%s+$", ""), port = sandbox.closed_port() }, Nginx)
  assert(sh("mkdir -p " .. q(self.prefix .. "/logs") .. " " .. q(self.prefix .. "/temp")))
  local user = sh("test \"$(id -u)\" = 0") and "user root root;" or ""
  local conf = opts.conf:gsub("@PORT@", tostring(self.port)):gsub("@PREFIX@", self.prefix)
    :gsub("@REPO@", sandbox.root):gsub("@USER@", user)
  local cf = assert(io.open(self.prefix .. "/nginx.conf", "w"))
  cf:write(conf)
  cf:close()
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  ok, out = sh(table.concat(env, " ") .. " nginx -p " .. q(self.prefix) .. " -c " .. q(self.prefix .. "/nginx.conf"))
  if not ok then
    local log = self:log()
    self:stop()
    error("nginx did not start: " .. out .. log, 2)
  end
  for _ = 1, 150 do
    local c = socket.connect("127.0.0.1", self.port)
    if c then c:close(); return self end
    socket.sleep(0.02)
  end
  local log = self:log()
  self:stop()
  error("nginx does not answer on port " .. self.port .. ": " .. log, 2)
end

--- Send `requests` (raw HTTP/1.0 request texts) on as many connections at
-- once, then read every answer: { {status, body}, ... } in order.
function M.concurrent(port, requests)
  local conns = {}
  for i, text in ipairs(requests) do
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(30)
    assert(c:send(text))
    conns[i] = c
  end
  local out = {}
  for i, c in ipairs(conns) do
    local all = c:receive("*a") or ""
    c:close()
    out[i] = { status = tonumber(all:match("^HTTP/%d%.%d (%d%d%d)")), body = all:match("\r\n\r\n(.*)$") or "" }
  end
  return out
end

return M
