--- The default transport of a client: non-blocking cosockets
-- (`simkit.transport.ngx`) when a request runs inside an nginx phase that
-- allows them (rewrite, access, content, timer, ...), libcurl
-- (`simkit.transport.curl`) everywhere else — plain Lua, cron jobs, and the
-- nginx phases without cosockets (init, init_worker, log, header/body
-- filters). The choice is made per request, so a client created at module
-- load time in nginx and used from a content handler never blocks the worker.
--
-- Inside nginx the cosocket transport takes its CA certificates from
-- `lua_ssl_trusted_certificate` (not `cafile`), and has no proxy support:
-- with `proxy` set, such a request fails with a message saying how to use
-- libcurl explicitly.
-- @module simkit.transport.auto
local M = {}

local COSOCKET_PHASES = { rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true }
--- The nginx phases in which cosockets may be used (shared with simkit.store.redis).
M.COSOCKET_PHASES = COSOCKET_PHASES

--- Make the default transport for client options `opts`.
-- @tparam table opts the client's options
-- @treturn function `transport(req) -> res | nil, message, category`
function M.new(opts)
  local ngx = rawget(_G, "ngx")
  if not (type(ngx) == "table" and type(ngx.get_phase) == "function" and ngx.socket) then
    return (require("simkit.transport.curl").new(opts))
  end
  local curl_t, ngx_t
  return function(req)
    if not COSOCKET_PHASES[ngx.get_phase()] then
      if not curl_t then curl_t = require("simkit.transport.curl").new(opts) end
      return curl_t(req)
    end
    if opts.proxy then
      -- category "proxy": nothing was sent
      return nil, "http: option 'proxy' is not supported by the cosocket transport used inside nginx; pass " ..
        "transport = require(\"simkit.transport.curl\").new{ proxy = ... } to use libcurl, which blocks " ..
        "the worker (proxy)", "proxy"
    end
    if not ngx_t then ngx_t = require("simkit.transport.ngx").new { insecure = opts.insecure } end
    return ngx_t(req)
  end
end

return M
