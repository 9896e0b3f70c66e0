--- The default transport: libcurl through the C core, one reused easy handle
-- (keep-alive) per client. Blocking: for plain Lua, cron jobs and CLIs —
-- never inside an nginx request handler (use `simkit.transport.ngx` there).
-- @module simkit.transport.curl
local core = require "simkit.core"

local getmetatable = getmetatable

local M = {}

-- The fields of a request that count; the TLS and proxy settings are the
-- client's alone (a request cannot change where its bytes go).
local FIELDS = { "method", "url", "headers", "body", "timeout", "connect_timeout", "max_body", "idempotent" }

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
  -- the client's settings, read once
  local defaults = {
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, max_body = opts.max_body,
    cafile = opts.cafile, capath = opts.capath, proxy = opts.proxy, noproxy = opts.noproxy,
    insecure = opts.insecure,
  }
  local function transport(req)
    -- A plain table goes to the core as it is: the core reads only FIELDS
    -- from it (raw, during the call; `pinned` = true: the TLS and proxy
    -- settings from `defaults` alone) and keeps nothing of it. A table
    -- with a metatable is read through it into a fresh plain one.
    if getmetatable(req) ~= nil then
      local plain = {}
      for i = 1, #FIELDS do plain[FIELDS[i]] = req[FIELDS[i]] end
      req = plain
    end
    -- three values: the core's fourth (libcurl's error code) is no `sent`
    -- flag, which the pipeline would read there; "sent" follows from the
    -- category ("connect" = no request byte went out)
    local res, message, category = handle:request(req, defaults, true)
    return res, message, category
  end
  return transport, handle
end

return M
