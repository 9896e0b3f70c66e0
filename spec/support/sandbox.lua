--- Start and drive the simkit sandbox (sim/) from busted specs, under Lua 5.4
-- and LuaJIT alike. Registers nothing global.
--
--   local sandbox = require "spec.support.sandbox"
--   local sb = sandbox.start()          -- or sandbox.start{ test_vendor = true }
--   sb.url, sb.dir, sb.port
--   sb:control("POST", "/_sim/fault", { path = "*", kind = "5xx" }) -> status, decoded
--   sb:request(method, path, body, headers) -> status, body, headers (raw HTTP)
--   sb:reset(); sb:fault{...}; sb:requests(filter) -> list; sb:clear_requests()
--   sb:state(vendor) -> the vendor's decoded state
--   sb:stop()
--
-- JSON answers are decoded by the sandbox's own decoder (sandbox.json =
-- simsandbox.util): 64-bit ids stay exact (util.bignum beyond 2^53), null is
-- sandbox.json.null.
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local proc = require "spec.support.proc"

local M = {}

local function repo_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/support/[^/]+$") or "."
  if dir:sub(1, 1) ~= "/" then
    local pwd = os.getenv("PWD")
    if not pwd then
      local p = io.popen("pwd")
      pwd = p:read("*l")
      p:close()
    end
    dir = dir == "." and pwd or (pwd .. "/" .. dir)
  end
  return dir
end

M.root = repo_root()
-- the sandbox's JSON and helpers, loaded by path: no package.path change
M.json = assert(loadfile(M.root .. "/sim/lua/simsandbox/util.lua"))()

local shell_quote, run = proc.q, proc.sh

local Sandbox = {}
Sandbox.__index = Sandbox

--- Raw HTTP request to the sandbox. Returns status, body, headers, or nil, err.
function Sandbox:request(method, path, body, headers)
  local out = {}
  local hdrs = {}
  for k, v in pairs(headers or {}) do hdrs[k:lower()] = v end
  if body then hdrs["content-length"] = tostring(#body) end
  local ok, status, rheaders = http.request({
    url = self.url .. path,
    method = method,
    headers = hdrs,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(out),
  })
  if not ok then return nil, status end
  return status, table.concat(out), rheaders
end

--- A control call: JSON in, JSON out. Returns status, decoded (or the raw
-- body when it is not JSON).
function Sandbox:control(method, path, tbl)
  local body
  if tbl ~= nil then body = assert(M.json.json_encode(tbl)) end
  local status, text = self:request(method, path, body,
                                    body and { ["content-type"] = "application/json" } or nil)
  if not status then error("sandbox control " .. method .. " " .. path .. ": " .. tostring(text), 2) end
  local decoded = M.json.json_decode(text)
  if decoded == nil then decoded = text end
  return status, decoded
end

--- A vendor's state (GET /_sim/state/<vendor>), decoded; raises unless 200.
function Sandbox:state(vendor)
  local st, res = self:control("GET", "/_sim/state/" .. vendor)
  if st ~= 200 then error("sandbox state of " .. vendor .. ": HTTP " .. tostring(st), 2) end
  return res
end

--- The EIOTCLUB orders the rules engine placed (order keys "sr...": the
-- sandbox has seeded orders of its own), in order; only `iccid`'s if given.
function Sandbox:engine_orders(iccid)
  local out = {}
  for _, o in ipairs(self:state("eiotclub").orders) do
    if type(o.outTradeNo) == "string" and o.outTradeNo:match("^sr") and (iccid == nil or o.iccid == iccid) then
      out[#out + 1] = o
    end
  end
  return out
end

function Sandbox:reset()
  local st, res = self:control("POST", "/_sim/reset")
  assert(st == 200, "sandbox reset failed")
  return res
end

function Sandbox:fault(tbl)
  local st, res = self:control("POST", "/_sim/fault", tbl)
  assert(st == 200, "sandbox fault refused: " .. tostring(type(res) == "table" and res.error or res))
  return res.fault
end

--- The request log, optionally filtered: { vendor =, path =, method = }.
function Sandbox:requests(filter)
  local q = {}
  for k, v in pairs(filter or {}) do q[#q + 1] = k .. "=" .. M.json.urlencode(v) end
  local path = "/_sim/requests" .. (#q > 0 and ("?" .. table.concat(q, "&")) or "")
  local st, res = self:control("GET", path)
  assert(st == 200, "sandbox request log failed")
  return res.requests
end

function Sandbox:clear_requests()
  return self:control("DELETE", "/_sim/requests")
end

--- Stop nginx and remove the directory start() created.
function Sandbox:stop()
  if self.stopped then return end
  self.stopped = true
  run(shell_quote(M.root .. "/sim/run") .. " stop " .. shell_quote(self.dir))
  if self.own_dir then run("rm -rf " .. shell_quote(self.dir)) end
end

--- Start a sandbox on a free port in a fresh temp dir.
-- opts.test_vendor: also load spec/support/sim_testvendor.lua (paths /test/...)
-- opts.vendors / opts.lua_path: extra vendor module names / lua_package_path entries
-- opts.lua_cpath: lua_package_cpath entries put before nginx's default ones
-- opts.keep_dir: do not remove the directory on stop (its logs help debugging)
function M.start(opts)
  opts = opts or {}
  local args = { shell_quote(M.root .. "/sim/run"), "start" }
  local vendors, paths = {}, {}
  for _, v in ipairs(opts.vendors or {}) do vendors[#vendors + 1] = v end
  if opts.lua_path then paths[#paths + 1] = opts.lua_path end
  if opts.test_vendor then
    vendors[#vendors + 1] = "sim_testvendor"
    paths[#paths + 1] = M.root .. "/spec/support/?.lua;"
  end
  if #paths > 0 then
    args[#args + 1] = "--lua-path " .. shell_quote(table.concat(paths))
  end
  if opts.lua_cpath then
    args[#args + 1] = "--lua-cpath " .. shell_quote(opts.lua_cpath)
  end
  for _, v in ipairs(vendors) do args[#args + 1] = "--vendor " .. shell_quote(v) end
  local ok, out = run(table.concat(args, " "))
  local url, dir = out:match("(http://127%.0%.0%.1:%d+) (%S+)%s*$")
  if not ok or not url then
    error("sim/run start failed:\n" .. out, 2)
  end
  local self = setmetatable({ url = url, dir = dir, port = tonumber(url:match(":(%d+)$")),
                              own_dir = not opts.keep_dir }, Sandbox)
  -- sim/run waits for an answer already; make sure from here too
  local deadline = socket.gettime() + 5
  while true do
    local st = self:request("GET", "/_sim/status")
    if st == 200 then break end
    if socket.gettime() > deadline then
      self:stop()
      error("sandbox at " .. url .. " does not answer", 2)
    end
    socket.sleep(0.05)
  end
  return self
end

--- A loopback port nothing listens on (for "connection refused").
function M.closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return M
