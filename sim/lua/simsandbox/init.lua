--- simkit sandbox: the router inside nginx (see sim/README.md).
--
-- One worker, so the module-level tables below are the whole state:
-- vendors (loaded with pcall: a missing module is skipped), faults, the
-- request log, the clock offset (in util) and outgoing pushes.
--
-- The table returned here is the `sandbox` argument vendor modules receive:
--   sandbox.util                 the shared helpers (simsandbox.util)
--   sandbox.now()                the sandbox clock (seconds, float)
--   sandbox.vendors[name]        the loaded vendor modules
--   sandbox.push(url, body, headers, delay) -> record
--       POST body to url from a timer (HTTP/1.1, Connection: close); the
--       record {url, body, headers, time, status | error} is listed by
--       GET /_sim/pushes once done.
--
-- Vendor modules may also define advance(seconds, sandbox), called by
-- POST /_sim/advance after the clock moved. req.path is the path as sent
-- (not percent-decoded); req.uri is nginx's decoded, normalised one.
--
-- Beyond sim/README.md the control API has:
--   GET /_sim/status           {ok, vendors, load_errors, now, clock_offset, requests, faults}
--   GET /_sim/fault            {faults = [{id, path, kind, when, count, remaining, hits, ...}]}
--   GET /_sim/requests?vendor=&path=&method=   a filtered log
--   GET /_sim/clock            {now, clock_offset}
--   GET|DELETE /_sim/pushes    outgoing pushes and their answers
--   POST /_sim/config {chunked = true}   answers without Content-Length
--   POST /_sim/config {cards = N}   N generated cards per vendor on top of the
--       seed (0..20000; kept across /_sim/reset; applied at once by a reset);
--       `sim/run start --cards N` sets it at start. sandbox.fleet_cards holds it.
--   fault fields: message (with kind="vendor"); length = "full" (with
--   kind="truncate": announce the full Content-Length, send half, close:
--   the client sees a partial transfer instead of a short body).
-- A fault with kind="delay" and when="before" sleeps and then processes the
-- request even if the client gave up meanwhile.
-- luacheck: globals ngx
local util = require "simsandbox.util"

local M = {
  util = util,
  vendors = {},       -- name -> module
  vendor_list = {},   -- in match order
  load_errors = {},   -- module name -> message
  faults = {},
  log = {},
  pushes = {},
  chunked = false,    -- /_sim/config {chunked=true}: answers without Content-Length
  fleet_cards = 0,    -- generated cards per vendor (/_sim/config {cards=N}, sim/run --cards N)
  initialized = false,
}

local BUILTIN = { "eiotclub", "huawei", "tibiot" }
M.MAX_FLEET_CARDS = 20000
local LOG_MAX = 20000
local FAULT_KINDS = { ["5xx"] = true, html = true, truncate = true, delay = true,
                      reset = true, vendor = true }

local floor, concat = math.floor, table.concat

function M.now()
  return util.now()
end

local function nlog(level, ...)
  if ngx and ngx.log then ngx.log(level, ...) end
end

----------------------------------------------------------------------------
-- loading and reset

local function load_vendor(modname)
  local ok, v = pcall(require, modname)
  if not ok then
    local msg = tostring(v)
    M.load_errors[modname] = msg
    local missing = msg:find("module '" .. modname .. "' not found", 1, true)
    nlog(missing and ngx.NOTICE or ngx.ERR, "simsandbox: vendor ", modname, " not loaded: ", msg)
    return
  end
  if type(v) ~= "table" or type(v.name) ~= "string" or type(v.match) ~= "function"
    or type(v.handle) ~= "function" then
    M.load_errors[modname] = "not a vendor module (needs name, match, handle)"
    nlog(ngx.ERR, "simsandbox: ", modname, " is not a vendor module")
    return
  end
  if M.vendors[v.name] then return end
  M.vendors[v.name] = v
  M.vendor_list[#M.vendor_list + 1] = v
end

--- Back to the seeded state: every vendor's reset, no faults, empty log,
-- fresh rate limits, clock offset 0.
function M.reset()
  M.faults = {}
  M.log = {}
  M.pushes = {}
  M.chunked = false
  util.reset_ratelimits()
  util.set_clock_offset(0)
  local errors = {}
  for _, v in ipairs(M.vendor_list) do
    if type(v.reset) == "function" then
      local ok, err = pcall(v.reset, M)
      if not ok then
        errors[v.name] = tostring(err)
        nlog(ngx.ERR, "simsandbox: ", v.name, ".reset failed: ", tostring(err))
      end
    end
  end
  return errors
end

--- Load the vendor modules and seed them. opts.extra_vendors: module names
-- tried before the built-in ones (tests use these).
function M.init(opts)
  M.vendors, M.vendor_list, M.load_errors = {}, {}, {}
  M.fleet_cards = opts and tonumber(opts.cards) or 0
  for _, modname in ipairs(opts and opts.extra_vendors or {}) do
    load_vendor(modname)
  end
  for _, name in ipairs(BUILTIN) do
    load_vendor("simsandbox.vendor." .. name)
  end
  M.initialized = true
  M.reset()
end

----------------------------------------------------------------------------
-- answering

local function set_headers(headers)
  local has_ct = false
  if headers then
    for k, v in pairs(headers) do
      if type(k) == "string" then
        if k:lower() == "content-type" then has_ct = true end
        ngx.header[k] = v
      end
    end
  end
  if not has_ct then ngx.header["Content-Type"] = "application/json;charset=UTF-8" end
end

local function send(entry, status, body, headers)
  if type(body) == "table" then body = assert(util.json_encode(body)) end
  body = body or ""
  if entry then entry.status = status end
  ngx.status = status
  set_headers(headers)
  if M.chunked and #body > 1 then
    local half = floor(#body / 2)
    ngx.print(body:sub(1, half))
    ngx.flush(true)
    ngx.print(body:sub(half + 1))
  else
    ngx.header["Content-Length"] = #body
    ngx.print(body)
  end
end

local function reply(status, tbl)
  send(nil, status, assert(util.json_encode(tbl)))
end

local function bad(msg, status)
  reply(status or 400, { ok = false, error = msg })
end

----------------------------------------------------------------------------
-- faults

local function take_fault(path)
  for _, f in ipairs(M.faults) do
    if f.remaining > 0 and (f.path == path or f.path == "*") then
      f.remaining = f.remaining - 1
      f.hits = f.hits + 1
      return f
    end
  end
end

local HTML = [[<!DOCTYPE html>
<html><head><title>%d Bad Gateway</title></head>
<body><center><h1>%d Bad Gateway</h1></center>
<hr><center>sandbox-gateway</center></body></html>
]]

local function close_connection(entry, status)
  entry.status = status
  return ngx.exit(444) -- nginx closes the connection without (more) answer
end

-- Send the fault; `answer` = {status, body, headers} of the processed request
-- (when="after") or nil (when="before").
local function apply_fault(entry, vendor, fault, answer)
  local kind = fault.kind
  if kind == "reset" then
    return close_connection(entry, 0)
  elseif kind == "5xx" then
    local st = fault.status or 502
    return send(entry, st, ("sandbox fault: HTTP %d\n"):format(st),
                { ["Content-Type"] = "text/plain" })
  elseif kind == "html" then
    local st = fault.status or 502
    return send(entry, st, HTML:format(st, st), { ["Content-Type"] = "text/html" })
  elseif kind == "vendor" then
    if type(vendor.envelope_error) ~= "function" then
      return send(entry, 500, { sandbox_error = vendor.name .. " has no envelope_error" })
    end
    local ok, st, body, headers = pcall(vendor.envelope_error, fault.vendor_code, fault.message, M)
    if not ok then
      return send(entry, 500, { sandbox_error = tostring(st) })
    end
    return send(entry, st or 200, body, headers)
  elseif kind == "truncate" then
    local st, body, headers
    if answer then
      st, body, headers = answer[1], answer[2], answer[3]
    else
      st, headers = 200, nil
      body = util.json_encode({ sandbox = "a valid answer, cut in half by a truncate fault",
                                code = 0, data = { n = 1 } })
    end
    if type(body) == "table" then body = assert(util.json_encode(body)) end
    body = body or ""
    local cut = body:sub(1, floor(#body / 2))
    if fault.length ~= "full" then
      return send(entry, st, cut, headers)
    end
    -- announce the full length, send half, close: a "partial" transfer
    entry.status = st
    ngx.status = st
    set_headers(headers)
    ngx.header["Content-Length"] = #body
    ngx.print(cut)
    ngx.flush(true)
    return ngx.exit(444)
  end
end

----------------------------------------------------------------------------
-- vendor requests

local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local file = ngx.req.get_body_file()
  if file then
    local f = io.open(file, "rb")
    if f then
      body = f:read("*a")
      f:close()
      return body
    end
  end
  return ""
end

local function request_headers()
  local h = {}
  for k, v in pairs(ngx.req.get_headers(500)) do
    h[k] = type(v) == "table" and concat(v, ", ") or v
  end
  return h
end

local function append_log(entry)
  local log = M.log
  log[#log + 1] = entry
  if #log > LOG_MAX then
    -- drop the oldest quarter at once (one shift per LOG_MAX/4 requests, not one per request)
    local keep = {}
    for i = floor(LOG_MAX / 4) + 1, #log do keep[#keep + 1] = log[i] end
    M.log = keep
  end
end

local function call_vendor(vendor, req)
  local ok, st, body, headers = pcall(vendor.handle, req, M)
  if not ok then
    nlog(ngx.ERR, "simsandbox: ", vendor.name, ".handle failed: ", tostring(st))
    return 500, { sandbox_error = tostring(st) }, nil
  end
  if type(st) ~= "number" then
    return 500, { sandbox_error = vendor.name .. ".handle returned no status" }, nil
  end
  return st, body, headers
end

local control -- defined below

--- The content handler: content_by_lua_block { require("simsandbox").handle() }
function M.handle()
  if not M.initialized then M.init() end
  local method = ngx.req.get_method()
  local path, raw_query = ngx.var.request_uri:match("^([^?]*)%??(.*)$")
  local own -- /_sim/<vendor>/...: that vendor's own control routes (not logged, no faults)
  if path == "/_sim" or path:sub(1, 6) == "/_sim/" then
    own = M.vendors[path:match("^/_sim/([%w_%-]+)/") or ""]
    if not own then return control(method, path, raw_query) end
  end
  local req = {
    method = method,
    path = path,                 -- as sent (not percent-decoded)
    uri = ngx.var.uri,           -- decoded and normalised by nginx
    raw_query = raw_query,
    query = util.parse_query(raw_query),
    headers = request_headers(),
    body = read_body(),
    now = util.now(),
  }
  if own then
    return send(nil, call_vendor(own, req))
  end
  local vendor
  for _, v in ipairs(M.vendor_list) do
    local ok, yes = pcall(v.match, method, path)
    if ok and yes then vendor = v; break end
  end
  local entry = {
    vendor = vendor and vendor.name or "none",
    method = method, path = path, query = req.query, raw_query = raw_query,
    headers = req.headers, body = req.body, time = req.now,
  }
  append_log(entry)
  if not vendor then
    return send(entry, 404, { error = "no sandbox vendor serves " .. method .. " " .. path })
  end

  local fault = take_fault(path)
  if fault then entry.fault = fault.kind end
  if fault and fault.when == "before" then
    if fault.kind ~= "delay" then
      return apply_fault(entry, vendor, fault, nil)
    end
    ngx.sleep(fault.delay)
    fault = nil
  end
  local st, body, headers = call_vendor(vendor, req)
  if fault then -- when = "after": processed, then the answer is replaced
    entry.handled_status = st
    if fault.kind == "delay" then
      ngx.sleep(fault.delay)
    else
      return apply_fault(entry, vendor, fault, { st, body, headers })
    end
  end
  return send(entry, st, body, headers)
end

----------------------------------------------------------------------------
-- outgoing pushes (e.g. EIOTCLUB notifications)

local function do_push(premature, rec)
  if premature then
    rec.error = "nginx exiting"
    return
  end
  local scheme, host, port, target = rec.url:match("^(https?)://([^:/]+):?(%d*)(.*)$")
  if not scheme then rec.error = "bad url"; return end
  if host == "localhost" then host = "127.0.0.1" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if target == "" then target = "/" end
  local sock = ngx.socket.tcp()
  sock:settimeout(3000)
  local ok, err = sock:connect(host, port)
  if not ok then rec.error = "connect: " .. tostring(err); return end
  if scheme == "https" then
    ok, err = sock:sslhandshake(nil, host, false)
    if not ok then rec.error = "tls: " .. tostring(err); sock:close(); return end
  end
  local lines = { "POST " .. target .. " HTTP/1.1", "Host: " .. host .. ":" .. port,
                  "Connection: close", "Content-Length: " .. #rec.body }
  local has_ct = false
  for k, v in pairs(rec.headers or {}) do
    if k:lower() == "content-type" then has_ct = true end
    lines[#lines + 1] = k .. ": " .. tostring(v)
  end
  if not has_ct then lines[#lines + 1] = "Content-Type: application/json" end
  ok, err = sock:send(concat(lines, "\r\n") .. "\r\n\r\n" .. rec.body)
  if not ok then rec.error = "send: " .. tostring(err); sock:close(); return end
  local line
  line, err = sock:receive("*l")
  if not line then rec.error = "receive: " .. tostring(err); sock:close(); return end
  rec.status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  local resp = sock:receive("*a")
  rec.response = resp and resp:match("\r\n\r\n(.*)$") or nil
  sock:close()
end

function M.push(url, body, headers, delay)
  local rec = { url = url, body = body or "", headers = headers, time = util.now() }
  M.pushes[#M.pushes + 1] = rec
  local ok, err = ngx.timer.at(delay or 0, do_push, rec)
  if not ok then rec.error = "timer: " .. tostring(err) end
  return rec
end

----------------------------------------------------------------------------
-- control API

local function is_int(v, min, max)
  return type(v) == "number" and v == floor(v) and v >= min and v <= max
end

local function control_fault(args)
  local f = {
    path = args.path, kind = args.kind, when = args.when or "before",
    remaining = args.count or 1, count = args.count or 1,
    delay = args.delay or 1, status = args.status, vendor_code = args.vendor_code,
    message = args.message, length = args.length, hits = 0,
  }
  if type(f.path) ~= "string" or f.path == "" then return bad("fault: 'path' must be a path or \"*\"") end
  if not FAULT_KINDS[f.kind] then
    return bad("fault: 'kind' must be one of 5xx, html, truncate, delay, reset, vendor")
  end
  if f.when ~= "before" and f.when ~= "after" then return bad("fault: 'when' must be before or after") end
  if not is_int(f.count, 1, 1e9) then return bad("fault: 'count' must be a positive integer") end
  if type(f.delay) ~= "number" or f.delay < 0 or f.delay > 3600 then
    return bad("fault: 'delay' must be seconds (0..3600)")
  end
  if f.status ~= nil and not is_int(f.status, 100, 599) then return bad("fault: 'status' must be 100..599") end
  if f.length ~= nil and f.length ~= "full" and f.length ~= "cut" then
    return bad("fault: 'length' must be \"cut\" or \"full\"")
  end
  if f.message ~= nil and type(f.message) ~= "string" then return bad("fault: 'message' must be a string") end
  if f.vendor_code == util.null then f.vendor_code = nil end
  M.faults[#M.faults + 1] = f
  f.id = #M.faults
  return reply(200, { ok = true, fault = f })
end

local function control_config(args)
  for k, v in pairs(args) do
    if k == "clock_offset" then
      if type(v) ~= "number" then return bad("config: clock_offset must be seconds") end
      util.set_clock_offset(v)
    elseif k == "chunked" then
      M.chunked = v == true
    elseif k == "cards" then
      if not is_int(v, 0, M.MAX_FLEET_CARDS) then
        return bad("config: cards must be an integer in 0.." .. M.MAX_FLEET_CARDS)
      end
      M.fleet_cards = v
      M.reset()
    elseif M.vendors[k] then
      local vendor = M.vendors[k]
      if type(vendor.config) ~= "function" then return bad("config: " .. k .. " has no knobs") end
      local ok, err = pcall(vendor.config, v, M)
      if not ok then return bad("config: " .. k .. ": " .. tostring(err)) end
    else
      return bad("config: unknown key '" .. tostring(k) .. "'")
    end
  end
  return reply(200, { ok = true })
end

local function filtered_log(q)
  local out = util.array()
  for _, e in ipairs(M.log) do
    if (not q.vendor or e.vendor == q.vendor) and (not q.path or e.path == q.path)
      and (not q.method or e.method == q.method) then
      out[#out + 1] = e
    end
  end
  return out
end

local function status_info()
  local names = util.array()
  for _, v in ipairs(M.vendor_list) do names[#names + 1] = v.name end
  local active = 0
  for _, f in ipairs(M.faults) do if f.remaining > 0 then active = active + 1 end end
  return { ok = true, vendors = names, load_errors = util.object(M.load_errors),
           now = util.now(), clock_offset = util.clock_offset,
           requests = #M.log, faults = active }
end

control = function(method, path, raw_query)
  local body = read_body()
  local args = {}
  if body ~= "" then
    local err
    args, err = util.json_decode(body)
    if args == nil then return bad("control: " .. err) end
    if type(args) ~= "table" or util.is_bignum(args) or args == util.null then
      return bad("control: expected a JSON object")
    end
  end
  local route = method .. " " .. path
  if route == "GET /_sim/status" or route == "GET /_sim" then
    return reply(200, status_info())
  elseif route == "POST /_sim/reset" then
    local errors = M.reset()
    return reply(200, { ok = next(errors) == nil, errors = util.object(errors) })
  elseif route == "POST /_sim/fault" then
    return control_fault(args)
  elseif route == "GET /_sim/fault" then
    return reply(200, { faults = util.array(M.faults) })
  elseif route == "DELETE /_sim/fault" then
    M.faults = {}
    return reply(200, { ok = true })
  elseif route == "GET /_sim/requests" then
    return reply(200, { requests = filtered_log(util.parse_query(raw_query)) })
  elseif route == "DELETE /_sim/requests" then
    M.log = {}
    return reply(200, { ok = true })
  elseif route == "POST /_sim/config" then
    return control_config(args)
  elseif route == "POST /_sim/advance" then
    local s = args.seconds
    if type(s) ~= "number" or s ~= s or s == math.huge or s == -math.huge then
      return bad("advance: 'seconds' must be a number")
    end
    util.advance(s)
    for _, v in ipairs(M.vendor_list) do
      if type(v.advance) == "function" then
        local ok, err = pcall(v.advance, s, M)
        if not ok then nlog(ngx.ERR, "simsandbox: ", v.name, ".advance failed: ", tostring(err)) end
      end
    end
    return reply(200, { ok = true, now = util.now(), clock_offset = util.clock_offset })
  elseif route == "GET /_sim/clock" then
    return reply(200, { now = util.now(), clock_offset = util.clock_offset })
  elseif route == "GET /_sim/pushes" then
    return reply(200, { pushes = util.array(M.pushes) })
  elseif route == "DELETE /_sim/pushes" then
    M.pushes = {}
    return reply(200, { ok = true })
  elseif method == "GET" and path:match("^/_sim/state/[%w_%-]+$") then
    local name = path:match("^/_sim/state/(.+)$")
    local vendor = M.vendors[name]
    if not vendor then return bad("state: no vendor '" .. name .. "'", 404) end
    if type(vendor.state) ~= "function" then return bad("state: " .. name .. " has no state", 404) end
    local ok, st = pcall(vendor.state, M)
    if not ok then return bad("state: " .. tostring(st), 500) end
    local text, err = util.json_encode(st)
    if not text then return bad("state: " .. err, 500) end
    return send(nil, 200, text)
  end
  return bad("control: no route " .. route, 404)
end

return M
