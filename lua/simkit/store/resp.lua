--- A minimal Redis (RESP2) connection over LuaSocket, for the Redis store
-- outside nginx (inside nginx the store uses resty.redis over cosockets).
--
--   local c, err = resp.connect{ host =, port =, timeout = seconds }
--   c:call("SET", "k", "v", "PX", "1000") -> reply | nil, message, server_error
--   c:close()
--
-- Replies: status and bulk strings are strings, integers numbers, a nil
-- bulk/array is `resp.null`, arrays are tables. An error reply gives
-- `nil, message, true`; a broken connection `nil, message` (and the
-- connection is closed: make a new one).
-- @module simkit.store.resp
local socket = require "socket"

local M = {}

--- The nil reply (a missing key).
M.null = setmetatable({}, { __tostring = function() return "redis null" end })

local Conn = {}
Conn.__index = Conn

--- Connect. Returns the connection or nil, message.
-- @tparam table opts `host`, `port`, `timeout` (seconds, connect and each read/write)
function M.connect(opts)
  local sock = socket.tcp()
  sock:settimeout(opts.timeout)
  local ok, err = sock:connect(opts.host, opts.port)
  if not ok then
    sock:close()
    return nil, "connect " .. opts.host .. ":" .. opts.port .. ": " .. tostring(err)
  end
  sock:setoption("tcp-nodelay", true)
  return setmetatable({ sock = sock }, Conn)
end

local function broken(self, what, err)
  self:close()
  return nil, what .. ": " .. tostring(err)
end

local function read_reply(self)
  local line, err = self.sock:receive("*l")
  if not line then return broken(self, "read", err) end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest end
  if kind == "-" then return nil, rest, true end
  if kind == ":" then return math.tointeger and math.tointeger(tonumber(rest)) or tonumber(rest) end
  if kind == "$" then
    local n = tonumber(rest)
    if not n then return broken(self, "read", "bad bulk length") end
    if n < 0 then return M.null end
    local data, rerr = self.sock:receive(n + 2)
    if not data then return broken(self, "read", rerr) end
    return data:sub(1, n)
  end
  if kind == "*" then
    local n = tonumber(rest)
    if not n then return broken(self, "read", "bad array length") end
    if n < 0 then return M.null end
    local out = {}
    for i = 1, n do
      local v, e, server = read_reply(self)
      if v == nil and not server then return nil, e end
      out[i] = v == nil and { error = e } or v
    end
    return out
  end
  return broken(self, "read", "unknown reply type")
end

--- Send one command and read its reply.
-- @param ... the command and its arguments (strings or numbers)
function Conn:call(...)
  if not self.sock then return nil, "closed" end
  local n = select("#", ...)
  local parts = { "*" .. n .. "\r\n" }
  for i = 1, n do
    local a = select(i, ...)
    a = type(a) == "number" and string.format(math.type and math.type(a) == "integer" and "%d" or "%.17g", a)
      or tostring(a)
    parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  local ok, err = self.sock:send(table.concat(parts))
  if not ok then return broken(self, "write", err) end
  return read_reply(self)
end

--- Close (idempotent).
function Conn:close()
  if self.sock then self.sock:close() end
  self.sock = nil
end

return M
