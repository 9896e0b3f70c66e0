--- A tiny vendor module for the sandbox framework's own specs (paths under
-- /test/). Loaded only when a spec starts the sandbox with test_vendor = true;
-- never installed under sim/lua/simsandbox/vendor/.
local util = require "simsandbox.util"

local V = { name = "testvendor" }
local state

function V.match(_, path)
  return path:sub(1, 6) == "/test/"
end

function V.reset()
  state = { counter = 0, config = {}, big = util.bignum("9223372036854775807") }
end

function V.handle(req, sandbox)
  local path = req.path
  if path == "/test/echo" then
    return 200, util.json_encode({
      method = req.method, path = req.path, query = req.query, raw_query = req.raw_query,
      headers = req.headers, body = req.body, now = req.now,
    }), { ["X-Test"] = "yes", ["Set-Cookie"] = { "a=1", "b=2" } }
  elseif path == "/test/binary" then
    return 200, req.body, { ["Content-Type"] = "application/octet-stream" }
  elseif path == "/test/count" then
    state.counter = state.counter + 1
    return 200, util.json_encode({ code = 0, counter = state.counter })
  elseif path:match("^/test/status/%d+$") then
    local st = tonumber(path:match("%d+$"))
    return st, util.json_encode({ status = st })
  elseif path == "/test/big" then
    local n = tonumber(req.query.n) or 100000
    return 200, string.rep("x", n), { ["Content-Type"] = "text/plain" }
  elseif path == "/test/bignum" then
    return 200, util.json_encode({ id = state.big, small = 42 })
  elseif path == "/test/push" then
    local rec = sandbox.push(req.query.url, req.body, { ["X-Push"] = "1" })
    return 200, util.json_encode({ queued = rec.url })
  elseif path == "/test/error" then
    error("boom")
  elseif path == "/_sim/testvendor/ping" then -- a vendor control route
    return 200, util.json_encode({ own = true, method = req.method, body = req.body })
  end
  return 404, util.json_encode({ code = 404, msg = "no such test path" })
end

function V.config(t)
  state.config = t
end

function V.state()
  return state
end

function V.envelope_error(code, message)
  return 200, util.json_encode({ code = code or 500, msg = message or "sandbox vendor fault" })
end

return V
