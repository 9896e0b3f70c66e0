--- Non-blocking transport for OpenResty / lua-nginx-module: a small HTTP/1.1
-- client over cosockets (`ngx.socket.tcp`) with connect/send/read timeouts,
-- TLS with verification (`lua_ssl_trusted_certificate` must be set in
-- nginx.conf), keepalive pools, Content-Length and chunked bodies.
-- Needs a `resolver` directive in nginx.conf for host names.
--
--     local client = simkit.client("eiotclub", { appkey = ..., secret = ...,
--       transport = require("simkit.transport.ngx").new{ pool_size = 16 } })
--
-- Like the libcurl transport: `timeout` is a deadline for the whole attempt,
-- connect included (every socket operation gets only what is left of it, and
-- answers are read with `receiveany`, so a server trickling bytes cannot
-- stretch it); `connect_timeout` bounds the connect and TLS handshake
-- (default min(timeout, 3)); `max_body` (bytes, default 8 MB) caps the answer:
-- a larger Content-Length, or a chunked or connection-delimited body that
-- grows past it, fails with category "too_large" as soon as the cap is
-- passed. A failure before any request byte went out (refused, unreachable,
-- connect or handshake not finished in time) is category "connect": nothing
-- was sent. Answers are
-- `{status, headers (lower-case names, repeated ones joined by ", "), body,
-- elapsed, reused}`, failures `nil, "http: ... (category)", category`. A
-- request that died on a reused keepalive connection before any answer byte
-- is resent on another connection (a new one at the latest) when it is
-- idempotent (`req.idempotent`, default: not for POST and PATCH); a
-- non-idempotent one always goes on a fresh connection, closed after it, and
-- is never resent. Misuse (a method, header name or value that could split the
-- request, a body that is not a string) raises.
-- @module simkit.transport.ngx
local M = {}

local BODY_METHODS = { POST = true, PUT = true, PATCH = true }
local DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT = 10, 3
local DEFAULT_MAX_BODY = 8 * 1024 * 1024
local MAX_HEAD = 128 * 1024 -- status line, headers, a chunk-size line or trailers
local READ_SIZE = 65536
-- headers this transport writes itself from the body
local COMPUTED = { ["content-length"] = true, ["transfer-encoding"] = true }

local function now()
  ngx.update_time()
  return ngx.now()
end

-- a number option: nil (absent) or lo <= v <= hi; anything else is misuse
local function checked(name, v, lo, hi)
  if v ~= nil and (type(v) ~= "number" or not (v >= lo and v <= hi)) then
    error("simkit.transport.ngx: " .. name .. " must be a number from " .. lo .. " to " .. hi .. ", got "
      .. tostring(v), 3)
  end
  return v
end

local MAX_SECONDS = 86400 * 30
local MAX_BYTES = 2 ^ 53

local function parse_url(url)
  if type(url) ~= "string" then return nil end
  url = url:gsub("#.*$", "")
  local scheme, host, port, path = url:match("^(https?)://([^/:?#]+):?(%d*)(.*)$")
  if not scheme or not host:find("^[%w%.%-_]+$") then return nil end
  if path == "" then
    path = "/"
  elseif path:sub(1, 1) == "?" then
    path = "/" .. path
  elseif path:sub(1, 1) ~= "/" then
    return nil
  end
  if path:find("[%s%c]") then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil end
  return scheme, host, port, path
end

local function category(err)
  err = tostring(err)
  if err == "too_large" then return "too_large" end
  if err:find("timeout", 1, true) then return "timeout" end
  if err:find("refused", 1, true) or err:find("unreachable", 1, true) or err:find("no route", 1, true) then
    return "connect"
  end
  if err:find("resolve", 1, true) then return "resolve" end
  if err:find("handshake", 1, true) or err:find("certificate", 1, true) or err:find("ssl", 1, true) then
    return "tls"
  end
  if err:find("closed", 1, true) or err:find("reset", 1, true) or err:find("broken pipe", 1, true) then
    return "reset"
  end
  return "other"
end

-- the message format of the libcurl transport: "http: what (category)"
local function fail(what, cat)
  return nil, "http: " .. what .. " (" .. cat .. ")", cat
end

-- a comma-separated header value holds `token` (case-insensitive)
local function has_token(value, token)
  for t in (value or ""):lower():gmatch("[^,%s]+") do
    if t == token then return true end
  end
  return false
end

local function header_value(k, v)
  if type(k) ~= "string" or not k:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
    error("simkit.transport.ngx: bad header name " .. tostring(k), 3)
  end
  if type(v) ~= "string" and type(v) ~= "number" then
    error("simkit.transport.ngx: header " .. k .. " must be a string or a number", 3)
  end
  v = tostring(v)
  if v:find("[%z\r\n]") then
    error("simkit.transport.ngx: invalid value for header " .. k, 3)
  end
  return v
end

-- The request head; `close` when the caller asked for Connection: close.
local function request_head(method, path, host, port, req)
  local lines = { method .. " " .. path .. " HTTP/1.1" }
  local has = {}
  for k, v in pairs(req.headers or {}) do
    if type(k) == "number" then
      if type(v) ~= "table" then error("simkit.transport.ngx: headers must be name = value or {name, value}", 3) end
      k, v = v[1], v[2]
    end
    v = header_value(k, v)
    local lk = k:lower()
    if not COMPUTED[lk] then
      has[lk] = v
      lines[#lines + 1] = k .. ": " .. v -- a signed Host header is sent as signed
    end
  end
  if not has.host then
    lines[#lines + 1] = "Host: " .. host .. ((port == 80 or port == 443) and "" or (":" .. port))
  end
  if req.body then
    lines[#lines + 1] = "Content-Length: " .. #req.body
  elseif BODY_METHODS[method] then
    lines[#lines + 1] = "Content-Length: 0"
  end
  if not has["user-agent"] then lines[#lines + 1] = "User-Agent: simkit" end
  if not has.connection then lines[#lines + 1] = "Connection: keep-alive" end
  return table.concat(lines, "\r\n") .. "\r\n\r\n", has_token(has.connection, "close")
end

-- err of a failed body read -> category: a connection closed before the
-- announced end is a "partial" answer
local function body_category(err)
  if err == "closed" then return "partial" end
  return category(err)
end

-- A reader of one connection's answer. Every receive is a `receiveany`
-- bounded by what is left of the deadline (`arm`), so a peer trickling bytes
-- cannot restart the clock; what is buffered is bounded by MAX_HEAD (lines)
-- or by the caller's cap (bodies). `got` counts the bytes received.
local Reader = {}
Reader.__index = Reader

local function new_reader(sock, arm)
  return setmetatable({ sock = sock, arm = arm, buf = "", pos = 1, got = 0 }, Reader)
end

-- receive whatever comes next, at most `max` bytes
function Reader:more(max)
  if not self.arm() then return nil, "timeout" end
  local data, err = self.sock:receiveany(max)
  if not data then return nil, err end
  self.got = self.got + #data
  return data
end

-- one line without its CR LF; nil, err
function Reader:line()
  while true do
    local buf, pos = self.buf, self.pos
    local i = buf:find("\n", pos, true)
    if i then
      self.pos = i + 1
      if i > pos and buf:byte(i - 1) == 13 then return buf:sub(pos, i - 2) end
      return buf:sub(pos, i - 1)
    end
    if #buf - pos + 1 > MAX_HEAD then return nil, "too_large" end
    local data, err = self:more(READ_SIZE)
    if not data then return nil, err end
    self.buf, self.pos = buf:sub(pos) .. data, 1
  end
end

-- exactly n bytes; never reads past them
function Reader:take(n)
  local buf, pos = self.buf, self.pos
  local avail = #buf - pos + 1
  if avail >= n then
    self.pos = pos + n
    return buf:sub(pos, pos + n - 1)
  end
  local parts, have = { buf:sub(pos) }, avail
  self.buf, self.pos = "", 1
  while have < n do
    local data, err = self:more(math.min(READ_SIZE, n - have))
    if not data then return nil, err end
    parts[#parts + 1] = data
    have = have + #data
  end
  return table.concat(parts)
end

-- everything until the peer closes, `max` bytes at most
function Reader:rest(max)
  local parts = { self.buf:sub(self.pos) }
  local have = #parts[1]
  self.buf, self.pos = "", 1
  while have <= max do
    local data, err = self:more(READ_SIZE)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    parts[#parts + 1] = data
    have = have + #data
  end
  return nil, "too_large"
end

function Reader:chunked(max)
  local parts, have, head = {}, 0, 0
  while true do
    local line, err = self:line()
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)%s*$") or line:match("^%s*(%x+)%s*;")
    if not hex or #hex > 8 then return nil, "bad chunk size" end
    local size = tonumber(hex, 16)
    if size == 0 then
      repeat -- trailers
        line, err = self:line()
        if not line then return nil, err end
        head = head + #line
        if head > MAX_HEAD then return nil, "too_large" end
      until line == ""
      return table.concat(parts)
    end
    have = have + size
    if have > max then return nil, "too_large" end
    local data
    data, err = self:take(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = self:line()
    if not line then return nil, err end
    if line ~= "" then return nil, "bad chunk end" end
  end
end

-- Content-Length, also when repeated with one value ("5, 5")
local function content_length(value)
  local n
  for d in value:gmatch("[^,]+") do
    d = d:match("^%s*(%d+)%s*$")
    if not d or (n and n ~= d) then return nil end
    n = d
  end
  if not n or #n > 15 then return nil end
  return tonumber(n)
end

-- Status line and headers; 1xx interim answers are skipped.
-- Returns status, headers, version or nil, message, category, nothing_read.
local function read_head(r)
  local size = 0
  while true do
    local status_line, err = r:line()
    if not status_line then
      local _, msg, cat = fail("no answer: " .. tostring(err), category(err))
      return nil, msg, cat, r.got == 0
    end
    local version, status = status_line:match("^HTTP/(%d%.%d) (%d%d%d)")
    status = tonumber(status)
    if not status then return fail("bad status line", "other") end
    local headers = {}
    while true do
      local line, herr = r:line()
      if not line then return fail("reading headers: " .. tostring(herr), category(herr)) end
      if line == "" then break end
      size = size + #line
      if size > MAX_HEAD then return fail("reading headers: too_large", "too_large") end
      local k, v = line:match("^([^:%s]+):%s*(.-)%s*$")
      if k then
        k = k:lower()
        headers[k] = headers[k] and (headers[k] .. ", " .. v) or v
      end
    end
    if status >= 200 or status == 101 then return status, headers, version end
  end
end

--- Make a transport function.
-- @tparam[opt] table opts `pool_size` (keepalive pool, default 16),
--   `keepalive_timeout` (seconds, default 60), `insecure` (no TLS verify),
--   `timeout` / `connect_timeout` / `max_body` (when a request has none;
--   defaults 10 s, min(timeout, 3) s, 8 MB)
-- @treturn function `transport(req) -> res | nil, message, category`
function M.new(opts)
  opts = opts or {}
  local pool_size = opts.pool_size or 16
  local keepalive_ms = (opts.keepalive_timeout or 60) * 1000
  local opts_timeout = checked("timeout", opts.timeout, 0.001, MAX_SECONDS) or DEFAULT_TIMEOUT
  local opts_connect_timeout = checked("connect_timeout", opts.connect_timeout, 0.001, MAX_SECONDS)
  local opts_max_body = checked("max_body", opts.max_body, 1, MAX_BYTES) or DEFAULT_MAX_BODY

  -- One exchange on one connection. The 4th result is true when a reused
  -- connection failed before any answer byte (the request may be resent).
  local function exchange(req, u, head, close_after, deadline)
    local function arm_ms(limit)
      local left = deadline - now()
      if left <= 0 then return nil end
      return math.max(1, math.floor(math.min(left, limit or left) * 1000))
    end
    local sock = ngx.socket.tcp()
    local verify = not (opts.insecure or req.insecure)
    -- the connect and the TLS handshake share connect_timeout
    local connect_deadline = math.min(deadline, now() + u.connect_timeout)
    local cms = arm_ms(u.connect_timeout)
    if not cms then return fail("connect " .. u.host .. ":" .. u.port .. ": timeout", "connect") end
    sock:settimeout(cms)
    -- TLS settings are part of the pool: an unverified connection is never
    -- handed to a client that verifies
    local pool = u.scheme .. ":" .. u.host .. ":" .. u.port .. (u.scheme == "https" and not verify and ":insecure" or "")
      .. (u.fresh and ":fresh" or "") -- never kept alive: always a new connection
    local ok, err = sock:connect(u.host, u.port, { pool = pool, pool_size = pool_size })
    if not ok then
      -- nothing went out: "connect", unless the name did not resolve
      local cat = category(err) == "resolve" and "resolve" or "connect"
      return fail("connect " .. u.host .. ":" .. u.port .. ": " .. tostring(err), cat)
    end
    local reused = (sock:getreusedtimes() or 0) > 0
    local function arm()
      local ms = arm_ms()
      if not ms then return false end
      sock:settimeout(ms)
      return true
    end
    local function give_up(...)
      sock:close()
      return ...
    end
    if u.scheme == "https" and not reused then
      local left = connect_deadline - now()
      if left <= 0 then return give_up(fail("TLS handshake: timeout", "connect")) end
      sock:settimeout(math.max(1, math.floor(left * 1000)))
      ok, err = sock:sslhandshake(nil, u.host, verify)
      if not ok then
        -- a handshake that did not finish in time sent nothing: "connect"
        return give_up(fail("TLS handshake: " .. tostring(err), category(err) == "timeout" and "connect" or "tls"))
      end
    end
    if not arm() then return give_up(fail("timed out before the request was sent", "connect")) end
    local _, serr = sock:send(head .. (req.body or ""))
    if serr then
      local _, msg, cat = fail("send: " .. tostring(serr), category(serr))
      return give_up(nil, msg, cat, reused and cat ~= "timeout")
    end
    local r = new_reader(sock, arm)
    local max_body = u.max_body
    local status, headers, version, nothing_read = read_head(r)
    if not status then
      local msg, cat = headers, version
      return give_up(nil, msg, cat, reused and nothing_read and cat == "reset")
    end
    local body, berr
    local method = req.method or "GET"
    if method == "HEAD" or status == 204 or status == 304 or status == 101 then
      body = ""
      if status == 101 then close_after = true end
    elseif has_token(headers["transfer-encoding"], "chunked") then
      body, berr = r:chunked(max_body)
    elseif headers["content-length"] then
      local n = content_length(headers["content-length"])
      if not n then return give_up(fail("bad Content-Length: " .. headers["content-length"], "other")) end
      if n > max_body then
        berr = "too_large"
      else
        body, berr = r:take(n)
      end
    else -- the body ends with the connection
      close_after = true
      body, berr = r:rest(max_body)
    end
    if not body then
      local cat = body_category(berr)
      if berr == "closed" then berr = "connection closed before the end of the body" end
      if berr == "too_large" then berr = "the answer is larger than max_body" end
      return give_up(fail("reading body: " .. tostring(berr), cat))
    end
    local keep
    if version == "1.0" then
      keep = has_token(headers.connection, "keep-alive")
    else
      keep = not has_token(headers.connection, "close")
    end
    -- bytes past the end of the answer: the connection is out of step
    if keep and not close_after and r.pos > #r.buf then
      if not sock:setkeepalive(keepalive_ms, pool_size) then sock:close() end
    else
      sock:close()
    end
    return { status = status, headers = headers, body = body, reused = reused }
  end

  return function(req)
    local method = req.method or "GET"
    if type(method) ~= "string" or not method:find("^[A-Z]+$") then
      error("simkit.transport.ngx: bad method " .. tostring(method), 2)
    end
    local scheme, host, port, path = parse_url(req.url)
    if not scheme then return fail("bad URL", "other") end
    if req.body ~= nil and type(req.body) ~= "string" then
      error("simkit.transport.ngx: body must be a string", 2)
    end
    local head, close_after = request_head(method, path, host, port, req)
    local idempotent = req.idempotent
    if idempotent == nil then idempotent = method ~= "POST" and method ~= "PATCH" end
    -- a write goes on a fresh connection (closed after): a kept-alive one the
    -- server closes just as the request goes out would make an unprocessed
    -- write look possibly processed
    local timeout = checked("timeout", req.timeout, 0.001, MAX_SECONDS) or opts_timeout
    local u = {
      scheme = scheme, host = host, port = port, fresh = not idempotent,
      connect_timeout = checked("connect_timeout", req.connect_timeout, 0.001, MAX_SECONDS) or opts_connect_timeout
        or math.min(timeout, DEFAULT_CONNECT_TIMEOUT),
      max_body = math.floor(checked("max_body", req.max_body, 1, MAX_BYTES) or opts_max_body),
    }
    if not idempotent then close_after = true end
    local t0 = now()
    local deadline = t0 + timeout
    for _ = 1, pool_size + 1 do
      local res, msg, cat, resendable = exchange(req, u, head, close_after, deadline)
      if res then
        res.elapsed = now() - t0
        return res
      end
      -- only a reused connection can be resendable, and writes never use one
      if not resendable then return nil, msg, cat end
    end
    return fail("every pooled connection failed", "reset")
  end
end

return M
