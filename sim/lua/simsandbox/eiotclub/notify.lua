--- EIOTCLUB sandbox: signed asynchronous notifications.
--
-- A notification is a flat JSON object {timestamp, nonce, id, event, ...,
-- sign}; `data` (packages, product switches) travels as a JSON-encoded
-- STRING, as in every example of the vendor document, and is signed as that
-- string. The signature is the request algorithm without appkey: every field
-- but sign as "k=v&", the entries sorted, then "secret=<secret>", SHA-1,
-- upper-case hex.
--
-- Delivery: an ngx.timer posts the body (HTTP/1.1 over a cosocket) to
-- cfg.notify_url; a reply other than HTTP 200 + {"status":"SUCCESS"} is
-- retried (cfg.notify_attempts in all, cfg.notify_retry_delay apart). Every
-- notification is recorded in S.notifications with its attempts.
-- luacheck: globals ngx
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"

local floor = math.floor
local format, upper, find, match = string.format, string.upper, string.find, string.match
local concat, sort = table.concat, table.sort
local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber

local N = {}

local MAX_RECORDS = 2000

-- Java String.valueOf of a notification field
local function render(v)
  if type(v) == "number" then
    if v == floor(v) then return format("%.0f", v) end
    return tostring(v)
  end
  if type(v) == "boolean" then return v and "true" or "false" end
  return tostring(v)
end

--- The signature of a notification (all fields but `sign`; no appkey).
function N.sign(fields, secret)
  local entries = {}
  for k, v in pairs(fields) do
    if k ~= "sign" and not C.empty(v) then entries[#entries + 1] = k .. "=" .. render(v) .. "&" end
  end
  sort(entries)
  return upper(util.sha1_hex(concat(entries) .. "secret=" .. secret))
end

--- Build the signed payload of `event` with `fields` (data tables are
-- JSON-encoded into a string). Returns the payload table and its JSON text.
function N.build(event, fields)
  local p = {}
  for k, v in pairs(fields or {}) do p[k] = v end
  if type(p.data) == "table" then p.data = assert(util.json_encode(p.data)) end
  p.event = event
  p.timestamp = p.timestamp or floor(util.now())
  p.nonce = p.nonce or math.random(10000, 99999)
  if p.id == nil then
    p.id = C.random_id(20) .. format("%04d", S.seq.notify % 10000)
    S.seq.notify = S.seq.notify + 1
  end
  p.sign = N.sign(p, S.SECRET)
  return p, assert(util.json_encode(p))
end

----------------------------------------------------------------------------
-- HTTP delivery (cosocket, from a timer)

local function parse_url(url)
  local scheme, host, port, target = match(url or "", "^(https?)://([^:/%?]+):?(%d*)(.*)$")
  if not scheme then return nil end
  if target == "" then target = "/" end
  return scheme, host, tonumber(port) or (scheme == "https" and 443 or 80), target
end

local function read_response(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, "receive: " .. tostring(err) end
  local status = tonumber(match(line, "^HTTP/%d%.%d (%d%d%d)"))
  if not status then return nil, "bad status line: " .. line end
  local length, chunked
  while true do
    local h
    h, err = sock:receive("*l")
    if not h then return nil, "receive headers: " .. tostring(err) end
    if h == "" then break end
    local name, value = match(h, "^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      if name == "content-length" then length = tonumber(value) end
      if name == "transfer-encoding" and find(value:lower(), "chunked", 1, true) then chunked = true end
    end
  end
  local body
  if chunked then
    local parts = {}
    while true do
      local size_line = sock:receive("*l")
      local size = size_line and tonumber(match(size_line, "^(%x+)"), 16)
      if not size then return nil, "bad chunk" end
      if size == 0 then sock:receive("*l"); break end
      local chunk = sock:receive(size)
      if not chunk then return nil, "short chunk" end
      parts[#parts + 1] = chunk
      sock:receive("*l")
    end
    body = concat(parts)
  elseif length then
    body = length > 0 and sock:receive(length) or ""
    if not body then return nil, "short body" end
  else
    body = sock:receive("*a") or ""
  end
  return status, body
end

local function post(url, body, timeout)
  local scheme, host, port, target = parse_url(url)
  if not scheme then return nil, "bad notify_url: " .. tostring(url) end
  local addr = host == "localhost" and "127.0.0.1" or host
  local sock = ngx.socket.tcp()
  sock:settimeout(floor(timeout * 1000))
  local ok, err = sock:connect(addr, port)
  if not ok then return nil, "connect: " .. tostring(err) end
  if scheme == "https" then
    ok, err = sock:sslhandshake(nil, host, false)
    if not ok then sock:close(); return nil, "tls: " .. tostring(err) end
  end
  local head = concat({
    "POST " .. target .. " HTTP/1.1",
    "Host: " .. host .. ":" .. port,
    "User-Agent: eiotclub-sandbox-notify/1",
    "Content-Type: application/json;charset=utf-8",
    "Content-Length: " .. #body,
    "Connection: close",
  }, "\r\n")
  ok, err = sock:send(head .. "\r\n\r\n" .. body)
  if not ok then sock:close(); return nil, "send: " .. tostring(err) end
  local status, resp = read_response(sock)
  sock:close()
  return status, resp
end

--- One delivery with retries; runs in a timer (or a request: `sync`).
function N.deliver(rec)
  local attempts = rec.max_attempts or 3
  for i = 1, attempts do
    local t0 = util.now()
    local status, body = post(rec.url, rec.body, S.cfg.notify_timeout or 2)
    local a = { n = i, time = t0 }
    local okreply = false
    if status then
      a.status, a.reply = status, body
      local decoded = util.json_decode(body or "")
      okreply = status == 200 and type(decoded) == "table" and decoded.status == "SUCCESS"
    else
      a.error = body
    end
    rec.attempts[#rec.attempts + 1] = a
    if okreply then
      rec.status = "delivered"
      return true
    end
    if i < attempts then
      rec.status = "retrying"
      ngx.sleep((rec.retry_delay or 0.5) * i)
    end
  end
  rec.status = "failed"
  return false
end

local function timer_cb(premature, rec)
  if premature then rec.status = "cancelled"; return end
  local ok, err = pcall(N.deliver, rec)
  if not ok then rec.status = "failed"; rec.error = tostring(err) end
end

--- Record a notification; deliver it when a notify_url is configured.
-- opts.sync: deliver within the current request (control route); opts.force:
-- deliver even when auto_notify is off. Returns the record.
function N.send(event, fields, opts)
  opts = opts or {}
  local payload, body = N.build(event, fields)
  local cfg = S.cfg
  local rec = {
    id = payload.id, event = event, payload = payload, body = body, url = cfg.notify_url,
    attempts = util.array(), created = util.now(), status = "pending",
    max_attempts = cfg.notify_attempts, retry_delay = cfg.notify_retry_delay,
  }
  local list = S.notifications
  list[#list + 1] = rec
  if #list > MAX_RECORDS then table.remove(list, 1) end
  if not cfg.notify_url then
    rec.status = "no_url"
    return rec
  end
  if not cfg.auto_notify and not opts.force then
    rec.status = "held"
    return rec
  end
  if opts.sync then
    N.deliver(rec)
    return rec
  end
  if not (ngx and ngx.timer) then rec.status = "no_timer"; return rec end
  local ok, err = ngx.timer.at(0, timer_cb, rec)
  if not ok then rec.status = "failed"; rec.error = "timer: " .. tostring(err) end
  return rec
end

--- What the state dump shows of a record.
function N.view(rec)
  return {
    id = rec.id, event = rec.event, url = rec.url, status = rec.status, body = rec.body,
    payload = rec.payload, attempts = rec.attempts, created = rec.created, error = rec.error,
  }
end

return N
