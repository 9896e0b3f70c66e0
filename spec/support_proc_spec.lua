-- The shared spec helpers themselves: spec/support/proc.lua (shell, quoting,
-- files, temp dirs, ports) and nginx.conf (the one nginx.conf header the
-- nginx specs share). Other specs lean on them, so they must be right under
-- both VMs — the exit status under LuaJIT too.
local proc = require "spec.support.proc"
local nginx = require "spec.support.nginx"
local socket = require "socket"

describe("spec.support.proc", function()
  it("sh gives ok, output (stderr folded in) and the exit status", function()
    local ok, out, code = proc.sh("echo out; echo err >&2")
    assert.is_true(ok)
    assert.equal("out\nerr\n", out)
    assert.equal(0, code)
    ok, out, code = proc.sh("echo nope; exit 3")
    assert.is_false(ok)
    assert.equal("nope\n", out)
    assert.equal(3, code)
    assert.is_false((proc.sh("kill -0 999999999")))
    -- output that ends without a newline, and output that looks like the marker
    ok, out = proc.sh("printf 'exit=7'")
    assert.is_true(ok)
    assert.equal("exit=7", out)
  end)

  it("sh refuses a command that is not a string", function()
    for _, bad in ipairs({ 1, true, {}, 0 / 0 }) do
      assert.has_error(function() proc.sh(bad) end, "proc.sh: cmd must be a string")
    end
  end)

  it("q quotes anything so the shell gives it back unchanged", function()
    for _, s in ipairs({ "plain", "it's", "a b\tc", "$HOME `id` \\ \"x\" ;|&", "'", "", 12.5 }) do
      local ok, out = proc.sh("printf %s " .. proc.q(s))
      assert.is_true(ok)
      assert.equal(tostring(s), out)
    end
  end)

  it("tempdir makes a fresh directory; read gives a file's bytes or '' when missing", function()
    local a, b = proc.tempdir("simkit-proc"), proc.tempdir("simkit-proc")
    assert.are_not.equal(a, b)
    assert.matches("/simkit%-proc%.%w+$", a)
    local f = assert(io.open(a .. "/x", "wb"))
    f:write("one\0two\n")
    f:close()
    assert.equal("one\0two\n", proc.read(a .. "/x"))
    assert.equal("", proc.read(a .. "/missing"))
    assert.equal("", proc.read(a)) -- a directory reads as nothing
    assert.is_true((proc.sh("rm -rf " .. proc.q(a) .. " " .. proc.q(b))))
    for _, bad in ipairs({ "", "a/b", "../x", "a b", 1, false }) do
      assert.has_error(function() proc.tempdir(bad) end, "proc.tempdir: tag must be a name of letters, digits, _ . -")
    end
  end)

  it("wait_port: true once something listens, false for a closed port", function()
    local srv = assert(socket.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    assert.is_true(proc.wait_port(tonumber(port), 1))
    srv:close()
    assert.is_false(proc.wait_port(tonumber(port), 0.1))
  end)
end)

describe("spec.support.nginx.conf", function()
  it("writes the common header once, with the spec's part inside http {}", function()
    local text = nginx.conf { workers = 3, connections = 64, main = "env FOO;", http = "    server { listen 1; }" }
    assert.truthy(text:find("load_module /usr/share/nginx/modules/ngx_http_lua_module.so;", 1, true))
    assert.truthy(text:find("\n@USER@\nworker_processes 3;\n", 1, true))
    assert.truthy(text:find("events { worker_connections 64; }\nenv FOO;\nhttp {", 1, true))
    assert.truthy(text:find("client_body_temp_path temp/body;", 1, true))
    local tail = 'lua_package_cpath "@REPO@/build/luajit/?.so;;";\n    server { listen 1; }\n}\n'
    assert.equal(tail, text:sub(-#tail))
    local plain = nginx.conf {}
    assert.truthy(plain:find("worker_processes 1;", 1, true))
    assert.truthy(plain:find("worker_connections 256;", 1, true))
    -- % in the spec's part is kept as is
    assert.truthy(nginx.conf { http = "# 100%s" }:find("# 100%s", 1, true))
  end)

  it("refuses what it cannot mean, saying what to pass", function()
    assert.has_error(function() nginx.conf() end,
      "nginx.conf: opts must be a table { workers =, connections =, main =, http = }")
    assert.has_error(function() nginx.conf("worker_processes 2;") end,
      "nginx.conf: opts must be a table { workers =, connections =, main =, http = }")
    assert.has_error(function() nginx.conf { worker = 2 } end,
      "nginx.conf: unknown option worker (workers, connections, main, http)")
    for _, bad in ipairs({ 0, -1, 1.5, 0 / 0, math.huge, 1025, 2 ^ 53, "2", true }) do
      assert.has_error(function() nginx.conf { workers = bad } end,
        "nginx.conf: opts.workers must be a whole number from 1 to 1024")
      assert.has_error(function() nginx.conf { connections = bad } end,
        "nginx.conf: opts.connections must be a whole number from 1 to 1024")
    end
    for _, bad in ipairs({ 1, {}, false }) do
      assert.has_error(function() nginx.conf { http = bad } end, "nginx.conf: opts.http must be a string")
      assert.has_error(function() nginx.conf { main = bad } end, "nginx.conf: opts.main must be a string")
    end
  end)

  it("starts a real nginx from the template, answering on its port", function()
    local ng = nginx.start { conf = nginx.conf { http = [[
    server {
        listen 127.0.0.1:@PORT@;
        location = /x { content_by_lua_block { ngx.say("lua ", ngx.worker.count()) } }
    }]] } }
    local ok, err = pcall(function()
      local out = nginx.concurrent(ng.port, { "GET /x HTTP/1.0\r\nHost: x\r\n\r\n" })[1]
      assert.equal(200, out.status, ng:log())
      assert.equal("lua 1\n", out.body)
    end)
    local prefix = ng.prefix
    ng:stop()
    assert.is_false((proc.sh("test -e " .. proc.q(prefix))))
    assert(ok, err)
  end)
end)
