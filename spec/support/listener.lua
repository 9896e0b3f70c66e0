--- A loopback listener run as its own process (libcurl in the spec blocks,
-- so the server cannot live in the spec's process): an HTTP sink or a tiny
-- SMTP server, for the webhook and mail actions of the rules engine.
--
--   lua5.4 spec/support/listener.lua http|smtp PORTFILE OUTFILE [STATUS]
--
-- Binds 127.0.0.1 on a free port and writes the port to PORTFILE. Every
-- request (HTTP: line, headers, body; SMTP: from, rcpt, data, auth) is
-- appended to OUTFILE as a Lua statement `R{ ... }`. HTTP answers STATUS
-- (default 200). Exits after 120 s at the latest. Start and stop it with
-- `start` / `stop` below (the spec side).
local M = {}

local function q(s) return string.format("%q", tostring(s)) end

local function record(out, fields)
  local parts = {}
  for k, v in pairs(fields) do
    if type(v) == "table" then
      local items = {}
      for kk, vv in pairs(v) do
        items[#items + 1] = (type(kk) == "number" and "" or ("[" .. q(kk) .. "]=")) .. q(vv)
      end
      parts[#parts + 1] = k .. "={" .. table.concat(items, ",") .. "}"
    else
      parts[#parts + 1] = k .. "=" .. q(v)
    end
  end
  local f = assert(io.open(out, "a"))
  f:write("R{", table.concat(parts, ","), "}\n")
  f:close()
end

local function serve_http(c, out, status)
  local req = require("spec.support.pushsink").read_request(c)
  if not req.line then return end
  record(out, req)
  c:send("HTTP/1.1 " .. status .. " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
end

local function serve_smtp(c, out)
  local rec = { rcpt = {}, auth = "" }
  c:send("220 127.0.0.1 ESMTP spec\r\n")
  while true do
    local l = c:receive("*l")
    if not l then return end
    local cmd = l:upper()
    if cmd:match("^EHLO") or cmd:match("^HELO") then
      c:send("250-127.0.0.1\r\n250-AUTH PLAIN\r\n250 OK\r\n")
    elseif cmd:match("^AUTH PLAIN") then
      rec.auth = l:sub(12)
      if rec.auth == "" then
        c:send("334 \r\n")
        rec.auth = c:receive("*l") or ""
      end
      c:send("235 2.7.0 ok\r\n")
    elseif cmd:match("^MAIL FROM:") then
      rec.from = l:match("<(.-)>")
      c:send("250 OK\r\n")
    elseif cmd:match("^RCPT TO:") then
      rec.rcpt[#rec.rcpt + 1] = l:match("<(.-)>")
      c:send("250 OK\r\n")
    elseif cmd == "DATA" then
      c:send("354 go\r\n")
      local data = {}
      while true do
        local d = c:receive("*l")
        if not d or d == "." then break end
        data[#data + 1] = d
      end
      rec.data = table.concat(data, "\n")
      record(out, rec)
      c:send("250 queued\r\n")
    elseif cmd == "QUIT" then
      c:send("221 bye\r\n")
      return
    else
      c:send("250 OK\r\n")
    end
  end
end

local function main(mode, portfile, out, status)
  local socket = require "socket"
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(0.2)
  local _, port = srv:getsockname()
  local f = assert(io.open(portfile .. ".tmp", "w"))
  f:write(port)
  f:close()
  os.rename(portfile .. ".tmp", portfile)
  local deadline = socket.gettime() + 120
  while socket.gettime() < deadline do
    local c = srv:accept()
    if c then
      c:settimeout(5)
      if mode == "smtp" then serve_smtp(c, out) else serve_http(c, out, status or "200") end
      c:close()
    end
  end
end

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Start a listener process: returns `{ port, pid, out }`.
function M.start(root, mode, status)
  local base = os.tmpname()
  local portfile, out = base .. ".port", base .. ".out"
  local cmd = "cd " .. sh(root) .. " && lua5.4 spec/support/listener.lua " .. mode .. " " .. sh(portfile) .. " " ..
    sh(out) .. " " .. (status or "200") .. " >/dev/null 2>&1 & echo $!"
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  local socket = require "socket"
  local port
  for _ = 1, 100 do
    local pf = io.open(portfile)
    if pf then port = tonumber(pf:read("*a")) pf:close() end
    if port then break end
    socket.sleep(0.05)
  end
  os.remove(base)
  assert(port, "the listener did not start")
  return { port = port, pid = pid, out = out, portfile = portfile }
end

--- The records received so far.
function M.records(l)
  local got = {}
  local f = io.open(l.out)
  if not f then return got end
  local text = f:read("*a")
  f:close()
  local chunk = assert(load(text, "records", "t", { R = function(r) got[#got + 1] = r end }))
  chunk()
  return got
end

--- Stop the listener (by its pid) and remove its files.
function M.stop(l)
  os.execute("kill " .. math.floor(l.pid) .. " 2>/dev/null")
  os.remove(l.out)
  os.remove(l.portfile)
end

if arg and arg[0] and arg[0]:match("listener%.lua$") and (arg[1] == "http" or arg[1] == "smtp") then
  -- the repository root (spec.support.pushsink), whatever LUA_PATH says
  package.path = (arg[0]:match("^(.*)/spec/support/listener%.lua$") or ".") .. "/?.lua;" .. package.path
  main(arg[1], arg[2], arg[3], arg[4])
end

return M
