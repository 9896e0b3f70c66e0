--- Start a throw-away nginx (with the Lua module) from a configuration text,
-- for specs that run simkit inside real nginx workers. Under Lua 5.4 and
-- LuaJIT alike; registers nothing global.
--
--   local nginx = require "spec.support.nginx"
--   local ng = nginx.start{ conf = text, env = { K = "v" } }
--   ng.port, ng.prefix, ng:log() (error.log), ng:stop()
--   nginx.conf{ workers = 2, http = "server { listen 127.0.0.1:@PORT@; ... }" }
--     -> a conf text with the common header (Lua module, logs, temp paths)
--
-- In `conf`: @PORT@ a free loopback port, @PREFIX@ the instance directory,
-- @REPO@ the repository root, @USER@ "user root root;" when run as root
-- (the workers must read the tree). `logs/` and `temp/` exist in the prefix.
local socket = require "socket"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local M = {}

local sh, q, read = proc.sh, proc.q, proc.read
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
  local self = setmetatable({ prefix = proc.tempdir("simkit-nginx"), port = sandbox.closed_port() }, Nginx)
  assert(sh("mkdir -p " .. q(self.prefix .. "/logs") .. " " .. q(self.prefix .. "/temp")))
  local user = sh("test \"$(id -u)\" = 0") and "user root root;" or ""
  local conf = opts.conf:gsub("@PORT@", tostring(self.port)):gsub("@PREFIX@", self.prefix)
    :gsub("@REPO@", sandbox.root):gsub("@USER@", user)
  local cf = assert(io.open(self.prefix .. "/nginx.conf", "w"))
  cf:write(conf)
  cf:close()
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  local ok, out = sh(table.concat(env, " ") .. " nginx -p " .. q(self.prefix) .. " -c " .. q(self.prefix .. "/nginx.conf"))
  if not ok then
    local log = self:log()
    self:stop()
    error("nginx did not start: " .. out .. log, 2)
  end
  if proc.wait_port(self.port, 3) then return self end
  local log = self:log()
  self:stop()
  error("nginx does not answer on port " .. self.port .. ": " .. log, 2)
end

--- Send `requests` on as many connections at once, then read every answer:
-- { {status, body}, ... } in order. A request is a raw HTTP/1.0 request text
-- (sent to `port`) or `{ port = n, text = s }` (sent to its own port).
function M.concurrent(port, requests)
  local conns = {}
  for i, r in ipairs(requests) do
    if type(r) == "string" then r = { port = port, text = r } end
    local c = assert(socket.connect("127.0.0.1", r.port))
    c:settimeout(60)
    assert(c:send(r.text))
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

local HEADER = [[
load_module /usr/share/nginx/modules/ndk_http_module.so;
load_module /usr/share/nginx/modules/ngx_http_lua_module.so;
@USER@
worker_processes %d;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections %d; }
%s
http {
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    lua_package_path "@REPO@/lua/?.lua;@REPO@/lua/?/init.lua;@REPO@/spec/support/?.lua;;";
    lua_package_cpath "@REPO@/build/luajit/?.so;;";
%s
}
]]

local function count(opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 1 or v > 1024 or v % 1 ~= 0 then
    error("nginx.conf: opts." .. key .. " must be a whole number from 1 to 1024", 3)
  end
  return v
end

local function text(opts, key)
  local v = opts[key]
  if v == nil then return "" end
  if type(v) ~= "string" then error("nginx.conf: opts." .. key .. " must be a string", 3) end
  return v
end

--- The text of a spec's nginx.conf: the Lua module loaded, `@USER@`, the
-- logs and temp paths inside the prefix, simkit's lua/ and spec/support/ on
-- the package path and build/luajit on the cpath; then the spec's own part.
-- Give it to `start{ conf = ... }` (which fills @PORT@, @PREFIX@, @REPO@).
-- @tparam table opts `workers` (default 1), `connections` (per worker,
-- default 256), `main` (top-level directives), `http` (inside http {}:
-- shared dicts, init_worker, the server blocks)
-- @treturn string
function M.conf(opts)
  if type(opts) ~= "table" then error("nginx.conf: opts must be a table { workers =, connections =, main =, http = }", 2) end
  for k in pairs(opts) do
    if k ~= "workers" and k ~= "connections" and k ~= "main" and k ~= "http" then
      error("nginx.conf: unknown option " .. tostring(k) .. " (workers, connections, main, http)", 2)
    end
  end
  return HEADER:format(count(opts, "workers", 1), count(opts, "connections", 256), text(opts, "main"),
    text(opts, "http"))
end

return M
