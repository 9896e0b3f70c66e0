--- A misbehaving "Redis server" for spec/store_spec.lua: listens on PORT,
-- and for each of COUNT connections reads one command line and answers
-- with REPLY (hex-encoded bytes) then closes, or (REPLY "-") answers nothing
-- and holds the connection for one second. Prints "ready" once listening.
--   lua5.4 spec/support/fake_redis.lua PORT COUNT REPLYHEX
local socket = require "socket"

local port, count, hex = tonumber(arg[1]), tonumber(arg[2]), arg[3]
local reply = hex ~= "-" and hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end) or nil
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(10)
io.write("ready\n")
io.flush()
for _ = 1, count do
  local c = server:accept()
  if not c then break end
  c:settimeout(2)
  c:receive("*l")
  if reply then
    c:send(reply)
  else
    socket.sleep(1)
  end
  c:close()
end
server:close()
