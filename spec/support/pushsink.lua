--- A loopback HTTP sink for the sandbox's outgoing pushes (EIOTCLUB
-- notifications), driven from busted under Lua 5.4 and LuaJIT alike.
--
--   local pushsink = require "spec.support.pushsink"
--   local srv, url = pushsink.listen()        -- url = http://127.0.0.1:PORT/cb
--   local got = pushsink.collect(srv, want, seconds, replies)
--
-- collect accepts until `want` requests arrived or `seconds` passed and
-- returns { {line, headers (lower-case), body}, ... }. `replies` is a list
-- (the i-th request gets replies[i]) or a function(entry, i) -> body[, status];
-- the default reply is 200 {"status":"SUCCESS"}.
local socket = require "socket"

local M = {}

--- Read one HTTP/1.x request from an accepted connection: `{ line, headers
-- (lower-case names), body (Content-Length bytes) }`; `line` is nil when the
-- client sent nothing. Also used by the listener process (listener.lua).
function M.read_request(c)
  local line = c:receive("*l")
  local headers = {}
  if line then
    while true do
      local h = c:receive("*l")
      if not h or h == "" then break end
      local k, v = h:match("^([^:]+):%s*(.-)%s*$")
      if k then headers[k:lower()] = v end
    end
  end
  local body = line and c:receive(tonumber(headers["content-length"]) or 0) or ""
  return { line = line, headers = headers, body = body or "" }
end

function M.listen()
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(0.05)
  local _, port = srv:getsockname()
  return srv, "http://127.0.0.1:" .. port .. "/cb"
end

local REASON = { [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [500] = "Internal Server Error" }

function M.collect(srv, want, seconds, replies)
  local got = {}
  local deadline = socket.gettime() + seconds
  while #got < want and socket.gettime() < deadline do
    local c = srv:accept()
    if c then
      c:settimeout(2)
      local entry = M.read_request(c)
      got[#got + 1] = entry
      local reply, status
      if type(replies) == "function" then
        reply, status = replies(entry, #got)
      elseif replies then
        reply = replies[#got]
      end
      reply, status = reply or '{"status":"SUCCESS"}', status or 200
      c:send("HTTP/1.1 " .. status .. " " .. (REASON[status] or "Status") .. "\r\nContent-Type: application/json\r\n"
        .. "Content-Length: " .. #reply .. "\r\nConnection: close\r\n\r\n" .. reply)
      c:close()
    end
  end
  return got
end

return M
