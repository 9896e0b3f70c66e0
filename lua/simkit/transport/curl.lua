--- The default transport: libcurl through the C core, one reused easy handle
-- (keep-alive) per client. Blocking: for plain Lua, cron jobs and CLIs —
-- never inside an nginx request handler (use `simkit.transport.ngx` there).
-- @module simkit.transport.curl
local core = require "simkit.core"

local M = {}

--- Make a transport function bound to one libcurl handle.
-- A request's `timeout` is a deadline for the whole attempt, connect
-- included; `connect_timeout` bounds the connect alone (default
-- min(timeout, 3)); `max_body` (bytes, default 8 MB) caps the answer
-- (category "too_large" beyond it). A connection that failed before the
-- request went out is category "connect": nothing was sent.
-- @tparam table opts client options (`timeout`, `connect_timeout`, `max_body`,
--   `cafile`, `capath`, `proxy`, `noproxy`, `insecure`); a request's own
--   `timeout`, `connect_timeout` and `max_body` win
-- @treturn function `transport(req) -> res | nil, message, category`
-- @treturn userdata the handle (closed by `__gc`)
function M.new(opts)
  local handle = core.http_new()
  -- the client's settings, read once; the TLS and proxy ones are the
  -- client's alone (a request cannot change where its bytes go)
  local defaults = {
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, max_body = opts.max_body,
    cafile = opts.cafile, capath = opts.capath, proxy = opts.proxy, noproxy = opts.noproxy,
    insecure = opts.insecure,
  }
  local request = {}
  local function transport(req)
    -- one reused request table: the core reads it during the call only
    request.method, request.url, request.headers, request.body = req.method, req.url, req.headers, req.body
    request.timeout, request.connect_timeout, request.max_body = req.timeout, req.connect_timeout, req.max_body
    request.idempotent = req.idempotent
    -- three values: the core's fourth (libcurl's error code) is no `sent`
    -- flag, which the pipeline would read there; "sent" follows from the
    -- category ("connect" = no request byte went out)
    local res, message, category = handle:request(request, defaults)
    request.headers, request.body = nil, nil -- hold no caller data between calls
    return res, message, category
  end
  return transport, handle
end

return M
