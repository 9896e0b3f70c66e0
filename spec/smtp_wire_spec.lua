-- core.smtp_send through a whole SMTP conversation (src/smtp.c), against the
-- loopback SMTP listener child process (spec/support/listener.lua): libcurl
-- blocks, so the server cannot live in this process. `make check-asan` runs
-- this under valgrind (which does not follow the child), not under the ASan
-- preload (the child would inherit it).
local core = require "simkit.core"
local listener = require "spec.support.listener"
local sandbox = require "spec.support.sandbox"

describe("core.smtp_send over a real SMTP conversation", function()
  local l
  setup(function() l = listener.start(sandbox.root, "smtp") end)
  teardown(function() if l then listener.stop(l) end end)

  it("delivers a 1 MB message with a lone-dot line to three recipients, with AUTH PLAIN", function()
    local body = {}
    for i = 1, 16384 do body[i] = string.format("%05d %s", i, string.rep("m", 58)) end
    body[100] = "." -- must be dot-stuffed, not end the DATA early
    local message = "Subject: wire\r\n\r\n" .. table.concat(body, "\r\n") .. "\r\n"
    local ok, msg, cat = core.smtp_send { url = "smtp://127.0.0.1:" .. l.port, from = "simkit@example.com",
      to = { "a@example.com", "b@example.com", "c@example.com" }, message = message,
      username = "user", password = "pw-secret", timeout = 20 }
    assert.is_true(ok, tostring(msg) .. " " .. tostring(cat))
    local got = listener.records(l)
    assert.equal(1, #got)
    assert.equal("simkit@example.com", got[1].from)
    assert.same({ "a@example.com", "b@example.com", "c@example.com" }, got[1].rcpt)
    assert.equal("\0user\0pw-secret", core.base64_decode(got[1].auth))
    local lines = {}
    for line in (got[1].data .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end
    assert.equal("Subject: wire", lines[1])
    assert.equal(16384 + 2, #lines)
    assert.equal("..", lines[2 + 100]) -- the listener does not undo the stuffing
    assert.equal(body[16384], lines[#lines])
  end)

  it("sends again on a fresh handle, without credentials", function()
    local ok = core.smtp_send { url = "smtp://127.0.0.1:" .. l.port, from = "x@y.z", to = { "d@e.f" },
      message = "Subject: again\r\n\r\nshort\r\n", timeout = 20 }
    assert.is_true(ok)
    local got = listener.records(l)
    assert.equal(2, #got)
    assert.same({ "d@e.f" }, got[2].rcpt)
    assert.equal("", got[2].auth)
  end)
end)
