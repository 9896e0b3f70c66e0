--- Run bin/simkit as a separate process, under the same VM as busted
-- (lua5.4 or luajit), with a private config / state directory.
--
--   local cli = require "spec.support.cli"
--   local home = cli.home()                 -- a temp HOME with XDG dirs; home:config(text, mode)
--   local r = home:run({ "call", "eiotclub", "agent_balance" }, { ENV = "x" })
--   r.rc, r.out, r.err
--   home:run_tty(args, env) -- under script(1): stderr is a terminal; r.out holds both streams
--   home:remove()
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local M = {}

M.root = sandbox.root
M.vm = rawget(_G, "jit") and "luajit" or "lua5.4"

local q, slurp = proc.q, proc.read
M.quote, M.slurp = q, slurp

local Home = {}
Home.__index = Home

--- A fresh temp home: HOME, XDG_CONFIG_HOME, XDG_STATE_HOME under it.
function M.home()
  local dir = proc.tempdir("simkit-cli")
  return setmetatable({ dir = dir, config_path = dir .. "/config.lua" }, Home)
end

--- Write the config file (mode "600" unless given).
function Home:config(text, mode)
  local f = assert(io.open(self.config_path, "w"))
  f:write(text)
  f:close()
  os.execute("chmod " .. (mode or "600") .. " " .. q(self.config_path))
end

-- "env ... VAR=value" for a command run from the repository root
function Home:env_only(env)
  local parts = { "env -u SIMKIT_PROFILE -u SIMKIT_SIM",
    "HOME=" .. q(self.dir), "XDG_STATE_HOME=" .. q(self.dir .. "/state"),
    "XDG_CONFIG_HOME=" .. q(self.dir .. "/xdgconfig"), "SIMKIT_CONFIG=" .. q(self.config_path) }
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  return table.concat(parts, " ")
end

function Home:env_prefix(env)
  return "cd " .. q(M.root) .. " && " .. self:env_only(env)
end

local function command(args)
  local w = { M.vm, "bin/simkit" }
  for _, a in ipairs(args) do w[#w + 1] = q(a) end
  return table.concat(w, " ")
end

--- Run; stdout and stderr apart. `wrap`: a command put before it (e.g. `timeout ...`).
function Home:run(args, env, wrap)
  local out, err = self.dir .. "/stdout", self.dir .. "/stderr"
  local p = assert(io.popen(self:env_prefix(env) .. " " .. (wrap and (wrap .. " ") or "") .. command(args) .. " >" .. q(out) .. " 2>" .. q(err) ..
    " </dev/null; echo $?"))
  local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  return { rc = rc, out = slurp(out), err = slurp(err) }
end

--- Start in the background; returns a handle: `h:pid()`, `h:wait(seconds) -> r` (nil while it runs).
function Home:spawn(args, env)
  local d = self.dir
  os.remove(d .. "/rc")
  os.remove(d .. "/pid")
  os.execute("( cd " .. q(M.root) .. " && { " .. self:env_only(env) .. " " .. command(args) .. " >" .. q(d .. "/stdout") .. " 2>" ..
    q(d .. "/stderr") .. " </dev/null & echo $! >" .. q(d .. "/pid") .. "; wait $!; echo $? >" .. q(d .. "/rc.tmp") ..
    "; mv " .. q(d .. "/rc.tmp") .. " " .. q(d .. "/rc") .. "; } ) >/dev/null 2>&1 &")
  local socket = require "socket"
  local h = {}
  function h.pid()
    for _ = 1, 400 do
      local pid = slurp(d .. "/pid"):match("%d+")
      if pid then return pid end
      socket.sleep(0.05)
    end
    error("the command did not start")
  end
  function h.wait(limit)
    for _ = 1, math.floor(limit / 0.05) do
      local rc = slurp(d .. "/rc"):match("%d+")
      if rc then return { rc = tonumber(rc), out = slurp(d .. "/stdout"), err = slurp(d .. "/stderr") } end
      socket.sleep(0.05)
    end
  end
  return h
end

--- Run under script(1): stdout and stderr are a terminal (both land in r.out).
function Home:run_tty(args, env)
  local log = self.dir .. "/tty"
  local p = assert(io.popen(self:env_prefix(env) .. " script -qec " .. q(command(args)) .. " /dev/null >" .. q(log) ..
    " 2>&1 </dev/null; echo $?"))
  local rc = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  return { rc = rc, out = slurp(log) }
end

function Home:remove()
  os.execute("rm -rf " .. q(self.dir))
end

--- Parse CSV per RFC 4180 (quoted fields, doubled quotes, CRLF records).
function M.parse_csv(text)
  local rows, row, field, i, n = {}, {}, {}, 1, #text
  local quoted = false
  while i <= n do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else quoted = false end
      else
        field[#field + 1] = c
      end
    elseif c == '"' then
      quoted = true
    elseif c == "," then
      row[#row + 1] = table.concat(field); field = {}
    elseif c == "\r" and text:sub(i + 1, i + 1) == "\n" then
      row[#row + 1] = table.concat(field); field = {}
      rows[#rows + 1] = row; row = {}
      i = i + 1
    else
      field[#field + 1] = c
    end
    i = i + 1
  end
  assert(not quoted, "unterminated quoted field")
  if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); rows[#rows + 1] = row end
  return rows
end

return M
