--- Non-blocking transport for OpenResty / lua-nginx-module: a small HTTP/1.1
-- client over cosockets (`ngx.socket.tcp`) with connect/send/read timeouts,
-- TLS with verification (`lua_ssl_trusted_certificate` must be set in
-- nginx.conf), keepalive pools, Content-Length and chunked bodies.
-- Needs a `resolver` directive in nginx.conf for host names.
--
--     local client = simkit.client("eiotclub", { appkey = ..., secret = ...,
--       transport = require("simkit.transport.ngx").new{ pool_size = 16 } })
--
-- Like the libcurl transport: `timeout` bounds the whole exchange (each
-- socket operation gets what is left of it), answers are
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
-- headers this transport writes itself from the body
local COMPUTED = { ["content-length"] = true, ["transfer-encoding"] = true }

local function now()
  ngx.update_time()
  return ngx.now()
end

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

local function read_chunked(sock, arm)
  local parts = {}
  while true do
    if not arm() then return nil, "timeout" end
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)%s*$") or line:match("^%s*(%x+)%s*;")
    if not hex or #hex > 8 then return nil, "bad chunk size" end
    local size = tonumber(hex, 16)
    if size == 0 then
      repeat -- trailers
        if not arm() then return nil, "timeout" end
        line, err = sock:receive("*l")
        if not line then return nil, err end
      until line == ""
      return table.concat(parts)
    end
    if not arm() then return nil, "timeout" end
    local data
    data, err = sock:receive(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = sock:receive("*l")
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
local function read_head(sock, arm)
  while true do
    if not arm() then return fail("no answer: timeout", "timeout") end
    local status_line, err, partial = sock:receive("*l")
    if not status_line then
      local _, msg, cat = fail("no answer: " .. tostring(err), category(err))
      return nil, msg, cat, partial == nil or partial == ""
    end
    local version, status = status_line:match("^HTTP/(%d%.%d) (%d%d%d)")
    status = tonumber(status)
    if not status then return fail("bad status line", "other") end
    local headers = {}
    while true do
      if not arm() then return fail("reading headers: timeout", "timeout") end
      local line, herr = sock:receive("*l")
      if not line then return fail("reading headers: " .. tostring(herr), category(herr)) end
      if line == "" then break end
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
--   `timeout` / `connect_timeout` (seconds, when a request has none; default 10)
-- @treturn function `transport(req) -> res | nil, message, category`
function M.new(opts)
  opts = opts or {}
  local pool_size = opts.pool_size or 16
  local keepalive_ms = (opts.keepalive_timeout or 60) * 1000

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
    local cms = arm_ms(req.connect_timeout or opts.connect_timeout)
    if not cms then return fail("connect " .. u.host .. ":" .. u.port .. ": timeout", "timeout") end
    sock:settimeout(cms)
    -- TLS settings are part of the pool: an unverified connection is never
    -- handed to a client that verifies
    local pool = u.scheme .. ":" .. u.host .. ":" .. u.port .. (u.scheme == "https" and not verify and ":insecure" or "")
      .. (u.fresh and ":fresh" or "") -- never kept alive: always a new connection
    local ok, err = sock:connect(u.host, u.port, { pool = pool, pool_size = pool_size })
    if not ok then return fail("connect " .. u.host .. ":" .. u.port .. ": " .. tostring(err), category(err)) end
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
      if not arm() then return give_up(fail("TLS handshake: timeout", "timeout")) end
      ok, err = sock:sslhandshake(nil, u.host, verify)
      if not ok then
        return give_up(fail("TLS handshake: " .. tostring(err), category(err) == "timeout" and "timeout" or "tls"))
      end
    end
    if not arm() then return give_up(fail("send: timeout", "timeout")) end
    local _, serr = sock:send(head .. (req.body or ""))
    if serr then
      local _, msg, cat = fail("send: " .. tostring(serr), category(serr))
      return give_up(nil, msg, cat, reused and cat ~= "timeout")
    end
    local status, headers, version, nothing_read = read_head(sock, arm)
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
      body, berr = read_chunked(sock, arm)
    elseif headers["content-length"] then
      local n = content_length(headers["content-length"])
      if not n then return give_up(fail("bad Content-Length: " .. headers["content-length"], "other")) end
      if n == 0 then
        body = ""
      elseif not arm() then
        berr = "timeout"
      else
        body, berr = sock:receive(n)
      end
    else -- the body ends with the connection
      close_after = true
      if not arm() then
        berr = "timeout"
      else
        body, berr = sock:receive("*a")
      end
    end
    if not body then
      local cat = body_category(berr)
      if berr == "closed" then berr = "connection closed before the end of the body" end
      return give_up(fail("reading body: " .. tostring(berr), cat))
    end
    local keep
    if version == "1.0" then
      keep = has_token(headers.connection, "keep-alive")
    else
      keep = not has_token(headers.connection, "close")
    end
    if keep and not close_after then
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
    local u = { scheme = scheme, host = host, port = port, fresh = not idempotent }
    if not idempotent then close_after = true end
    local t0 = now()
    local deadline = t0 + (req.timeout or opts.timeout or 10)
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
