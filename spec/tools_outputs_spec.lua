-- tools/lib/outputs.lua: the generators' shared "write, or --check and name
-- the stale files" command line, directly and through tools/gen_vendor.lua
-- (tools/gen_reference.lua is run the same way in describe_spec.lua).
local outputs = require "tools.lib.outputs"
local proc = require "spec.support.proc"
local sandbox = require "spec.support.sandbox"

local q = proc.q

describe("tools/lib/outputs.lua", function()
  local dir
  before_each(function() dir = proc.tempdir("simkit-outputs") end)
  after_each(function() proc.sh("rm -rf " .. q(dir)) end)

  local function put(name, text)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(text)
    f:close()
  end

  it("stale names the files that differ or are missing, in the order given", function()
    put("same", "a\n")
    put("other", "b\n")
    local files = { { path = dir .. "/missing", text = "" }, { path = dir .. "/same", text = "a\n" },
      { path = dir .. "/other", text = "b" } }
    local stale = outputs.stale(files)
    assert.same({ files[1], files[3] }, stale)
    assert.same({}, outputs.stale({}))
  end)

  it("main refuses a call without the files function, saying what to pass", function()
    local msg = "outputs.main(arg, { spec_dir =, out_dir =, regenerate =, files = function }) expected"
    assert.has_error(function() outputs.main(nil, {}) end, msg)
    assert.has_error(function() outputs.main({}, nil) end, msg)
    assert.has_error(function() outputs.main({}, { files = "x" }) end, msg)
  end)

  it("gen_vendor --check fails naming only the stale file; writing regenerates it", function()
    local root = sandbox.root
    local gen = "cd " .. q(root) .. " && lua5.4 tools/gen_vendor.lua "
    local ok, out = proc.sh(gen .. "--check spec/catalog lua/simkit/vendor")
    assert.is_true(ok, out)
    assert.equal("", out)
    assert.is_true((proc.sh("cp " .. q(root) .. "/lua/simkit/vendor/*_ops.lua " ..
      q(root) .. "/lua/simkit/vendor/*_errors.lua " .. q(dir))))
    put("huawei_ops.lua", proc.read(dir .. "/huawei_ops.lua") .. "-- edited by hand\n")
    local code
    ok, out, code = proc.sh(gen .. "--check spec/catalog " .. q(dir))
    assert.is_false(ok)
    assert.equal(1, code)
    assert.equal("stale: " .. dir .. "/huawei_ops.lua (regenerate: lua5.4 tools/gen_vendor.lua spec/catalog " ..
      "lua/simkit/vendor)\n", out)
    -- run from elsewhere: the tool finds its lib by its own path
    ok, out = proc.sh("cd " .. q(dir) .. " && lua5.4 " .. q(root .. "/tools/gen_vendor.lua") .. " " ..
      q(root .. "/spec/catalog") .. " " .. q(dir))
    assert.is_true(ok, out)
    assert.matches("wrote " .. dir:gsub("%p", "%%%0") .. "/huawei_ops.lua", out)
    assert.equal(proc.read(root .. "/lua/simkit/vendor/huawei_ops.lua"), proc.read(dir .. "/huawei_ops.lua"))
    ok, out = proc.sh(gen .. "--check spec/catalog " .. q(dir))
    assert.is_true(ok, out)
  end)
end)
