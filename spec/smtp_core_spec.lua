-- core.smtp_send's own paths that need no SMTP server (src/smtp.c): argument
-- checks, connection refused, a server that never greets, and options from a
-- table with an __index metamethod. No child processes, so `make check-asan`
-- runs it under ASan+UBSan; the full conversation is spec/smtp_wire_spec.lua.
local core = require "simkit.core"
local socket = require "socket"
local listeners = require "spec.support.listeners"

-- A loopback port with nothing listening: bound, then closed.
local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function job(over)
  local t = { url = "smtp://127.0.0.1:" .. closed_port(), from = "a@b.c", to = { "d@e.f" },
    message = "Subject: x\r\n\r\nbody\r\n", timeout = 5 }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

local function raises(pattern, t)
  local ok, err = pcall(core.smtp_send, t)
  assert.is_false(ok)
  assert.matches(pattern, err, 1, true)
end

describe("core.smtp_send argument checks (raise before anything is allocated)", function()
  it("the options must be a table", function()
    for _, bad in ipairs { "x", 1, true } do assert.has_error(function() core.smtp_send(bad) end) end
    assert.has_error(function() core.smtp_send() end)
  end)

  it("url: a string, smtp:// or smtps:// only", function()
    for _, bad in ipairs { "http://127.0.0.1/", "", "SMTP://x", "file:///etc/passwd" } do
      raises("field 'url' must be an smtp:// or smtps:// URL", job { url = bad })
    end
    raises("field 'url' must be a string", job { url = 25 })
    raises("field 'url' must be a string", job { url = {} })
    local t = job()
    t.url = nil
    raises("field 'url' must be an smtp:// or smtps:// URL", t)
  end)

  it("from: an address without CR/LF and at most 400 bytes", function()
    raises("field 'from' must be an address", job { from = "a@b.c\r\nRCPT TO:<x@y.z>" })
    raises("field 'from' must be an address", job { from = "a@b.c\n" })
    raises("field 'from' must be an address", job { from = string.rep("a", 401) })
    raises("field 'from' must be a string", job { from = 1 / 0 })
  end)

  it("to: a list of 1..100 string addresses without CR/LF", function()
    raises("field 'to' must be a list of addresses", job { to = "d@e.f" })
    raises("field 'to' must list 1 to 100 addresses", job { to = {} })
    local many = {}
    for i = 1, 101 do many[i] = "u" .. i .. "@e.f" end
    raises("field 'to' must list 1 to 100 addresses", job { to = many })
    raises("to[2] must be a string", job { to = { "d@e.f", 5 } })
    raises("to[1] must be an address (no CR/LF)", job { to = { "d@e.f\r\nDATA" } })
    raises("to[1] must be an address (no CR/LF)", job { to = { string.rep("x", 401) } })
  end)

  it("message a string; timeout seconds in (0, 3600]; optional strings typed", function()
    local t = job()
    t.message = nil
    raises("field 'message' must be a string", t)
    raises("field 'message' must be a string", job { message = {} })
    for _, bad in ipairs { 0, -1, 0 / 0, 1 / 0, 3601, 2 ^ 63, "5" } do
      raises("field 'timeout' must be seconds in (0, 3600]", job { timeout = bad })
    end
    raises("field 'username' must be a string", job { username = 1 })
    raises("field 'password' must be a string", job { password = false })
    raises("field 'cafile' must be a string", job { cafile = {} })
  end)
end)

describe("core.smtp_send failures (nil, message, category)", function()
  it("connection refused: category 'connect'; the password is in no message", function()
    local ok, msg, cat = core.smtp_send(job { username = "user", password = "s3cret-pw", to = { "a@b.c", "d@e.f" } })
    assert.is_nil(ok)
    assert.equal("connect", cat)
    assert.matches("^smtp: ", msg)
    assert.is_nil(msg:find("s3cret-pw", 1, true))
  end)

  it("a server that accepts but never greets: category 'timeout' after the timeout", function()
    local l = listeners.silent()
    local ok, msg, cat = core.smtp_send(job { url = "smtp://127.0.0.1:" .. l.port, timeout = 0.3 })
    l:close()
    assert.is_nil(ok)
    assert.equal("timeout", cat)
    assert.matches("^smtp: ", msg)
  end)

  it("repeated failures with big messages and 100 recipients free everything (ASan/valgrind check)", function()
    local many = {}
    for i = 1, 100 do many[i] = string.rep("u", 300) .. i .. "@e.f" end
    for _ = 1, 5 do
      local ok, _, cat = core.smtp_send(job { to = many, message = string.rep("line\r\n", 100000) })
      assert.is_nil(ok)
      assert.equal("connect", cat)
    end
    collectgarbage()
  end)

  it("options read through an __index metamethod stay alive while used (fresh strings, GC between reads)",
    function()
      -- strings longer than 40 bytes: Lua does not intern them, so each read
      -- makes a new object that only the C stack can keep alive (this was a
      -- heap-use-after-free under ASan when smtp.c popped them)
      local long = string.rep("x", 60)
      local base = job { from = long .. "@b.c", username = long, password = long, cafile = "/nonexistent/" .. long }
      base.url = base.url .. "/" .. long
      local proxy = setmetatable({}, { __index = function(_, k)
        collectgarbage() -- frees any string handed out earlier that nothing anchors
        local v = base[k]
        if type(v) == "string" then return (v .. "#"):sub(1, -2) end -- a new string each time
        return v
      end })
      for _ = 1, 3 do
        local ok, msg, cat = core.smtp_send(proxy)
        assert.is_nil(ok)
        assert.equal("connect", cat)
        assert.matches("^smtp: ", msg)
      end
    end)
end)
