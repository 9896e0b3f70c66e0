--- Non-blocking transport for OpenResty / lua-nginx-module: a small HTTP/1.1
-- client over cosockets (`ngx.socket.tcp`) with connect/send/read timeouts,
-- TLS with verification (`lua_ssl_trusted_certificate` must be set in
-- nginx.conf), keepalive pools, Content-Length and chunked bodies.
-- Needs a `resolver` directive in nginx.conf for host names.
--
--     local client = simkit.client("eiotclub", { appkey = ..., secret = ...,
--       transport = require("simkit.transport.ngx").new{ pool_size = 16 } })
-- @module simkit.transport.ngx
local M = {}

local function parse_url(url)
  local scheme, host, port, path = url:match("^(https?)://([^/:?#]+):?(%d*)([^#]*)$")
  if not scheme then return nil end
  if path == "" then path = "/" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, path
end

local function read_chunked(sock)
  local parts = {}
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local size = tonumber(line:match("^%s*(%x+)"), 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then
      repeat
        line, err = sock:receive("*l")
        if not line then return nil, err end
      until line == ""
      return table.concat(parts)
    end
    local data
    data, err = sock:receive(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    sock:receive("*l")
  end
end

local function category(err)
  err = tostring(err)
  if err:find("timeout", 1, true) then return "timeout" end
  if err:find("refused", 1, true) or err:find("unreachable", 1, true) then return "connect" end
  if err:find("resolve", 1, true) or err:find("resolver", 1, true) then return "resolve" end
  if err:find("handshake", 1, true) or err:find("certificate", 1, true) or err:find("ssl", 1, true) then
    return "tls"
  end
  if err:find("closed", 1, true) or err:find("reset", 1, true) then return "reset" end
  return "other"
end

--- Make a transport function.
-- @tparam[opt] table opts `pool_size` (keepalive pool, default 16),
--   `keepalive_timeout` (seconds, default 60), `insecure` (no TLS verify)
-- @treturn function `transport(req) -> res | nil, message, category`
function M.new(opts)
  opts = opts or {}
  local pool_size = opts.pool_size or 16
  local keepalive_ms = (opts.keepalive_timeout or 60) * 1000
  return function(req)
    local scheme, host, port, path = parse_url(req.url)
    if not scheme then return nil, "http: bad URL", "other" end
    local sock = ngx.socket.tcp()
    local timeout_ms = math.floor((req.timeout or 10) * 1000)
    sock:settimeouts(math.floor((req.connect_timeout or req.timeout or 10) * 1000), timeout_ms, timeout_ms)
    local ok, err = sock:connect(host, port, { pool = scheme .. ":" .. host .. ":" .. port })
    if not ok then return nil, "http: connect " .. host .. ":" .. port .. ": " .. tostring(err), category(err) end
    if scheme == "https" and sock:getreusedtimes() == 0 then
      ok, err = sock:sslhandshake(nil, host, not (opts.insecure or req.insecure))
      if not ok then
        sock:close()
        return nil, "http: TLS handshake: " .. tostring(err), "tls"
      end
    end
    local host_header = host .. ((port == 80 or port == 443) and "" or (":" .. port))
    local lines = { req.method .. " " .. path .. " HTTP/1.1" }
    local has = {}
    for k, v in pairs(req.headers or {}) do
      if type(k) == "number" then k, v = v[1], v[2] end
      has[k:lower()] = true
      lines[#lines + 1] = k .. ": " .. tostring(v) -- a signed Host header is sent as signed
    end
    if not has.host then lines[#lines + 1] = "Host: " .. host_header end
    if req.body then lines[#lines + 1] = "Content-Length: " .. #req.body end
    if not has["user-agent"] then lines[#lines + 1] = "User-Agent: simkit" end
    lines[#lines + 1] = "Connection: keep-alive"
    local t0 = ngx.now()
    local _, serr = sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (req.body or ""))
    if serr then
      sock:close()
      return nil, "http: send: " .. tostring(serr), category(serr)
    end
    local status_line, rerr = sock:receive("*l")
    if not status_line then
      sock:close()
      return nil, "http: no answer: " .. tostring(rerr), category(rerr)
    end
    local status = tonumber(status_line:match("^HTTP/%d%.%d (%d%d%d)"))
    if not status then
      sock:close()
      return nil, "http: bad status line", "other"
    end
    local headers = {}
    while true do
      local line, herr = sock:receive("*l")
      if not line then
        sock:close()
        return nil, "http: reading headers: " .. tostring(herr), category(herr)
      end
      if line == "" then break end
      local k, v = line:match("^([^:]+):%s*(.-)%s*$")
      if k then
        k = k:lower()
        headers[k] = headers[k] and (headers[k] .. ", " .. v) or v
      end
    end
    local body, berr
    if req.method == "HEAD" or status == 204 or status == 304 then
      body = ""
    elseif (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
      body, berr = read_chunked(sock)
    elseif headers["content-length"] then
      local n = tonumber(headers["content-length"])
      body, berr = sock:receive(n)
      if not body then berr = "partial body (" .. tostring(berr) .. ")" end
    else
      body, berr = sock:receive("*a")
      headers.connection = "close"
    end
    if not body then
      sock:close()
      local cat = tostring(berr):find("partial", 1, true) and "partial" or category(berr)
      return nil, "http: reading body: " .. tostring(berr), cat
    end
    if (headers.connection or ""):lower() == "close" then
      sock:close()
    else
      sock:setkeepalive(keepalive_ms, pool_size)
    end
    return { status = status, headers = headers, body = body, elapsed = ngx.now() - t0 }
  end
end

return M
