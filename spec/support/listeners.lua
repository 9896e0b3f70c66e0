--- Loopback listeners that never answer, for "was the request sent?" specs.
-- Both live in the spec's own process (the kernel does the TCP handshake),
-- on free 127.0.0.1 ports; nothing outside 127.0.0.0/8 is ever contacted.
--
--   local listeners = require "spec.support.listeners"
--   local l = listeners.blackhole() -- connects never complete: every SYN is dropped
--   local l = listeners.silent()    -- connects complete, nothing is ever read or answered
--   l.port, l.url, l:close()
local socket = require "socket"

local M = {}

local Listener = {}
Listener.__index = Listener

function Listener:close()
  for _, c in ipairs(self.fillers) do c:close() end
  self.server:close()
end

local function listen(backlog)
  local server = assert(socket.tcp())
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen(backlog))
  local _, port = server:getsockname()
  port = tonumber(port)
  return setmetatable({ server = server, port = port, url = "http://127.0.0.1:" .. port, fillers = {} }, Listener)
end

--- A listener whose accept queue is full and never drained: Linux drops
-- every further SYN, so a connect to it hangs until the client gives up —
-- the loopback stand-in for an unreachable host.
function M.blackhole()
  local l = listen(0)
  -- a backlog of 0 holds one finished connection; a few more make sure
  for i = 1, 3 do
    local c = assert(socket.tcp())
    c:settimeout(0)
    c:connect("127.0.0.1", l.port)
    l.fillers[i] = c
  end
  -- wait until the first filler is established (it is, on loopback, at once)
  socket.select(nil, { l.fillers[1] }, 2)
  return l
end

--- A listener that completes connections (in the kernel) but never accepts,
-- reads or answers them: the request goes out, no answer ever comes back.
function M.silent()
  return listen(64)
end

return M
