-- The rockspec installs everything the `simkit` command needs: every Lua
-- module, every C source, the bin script; installed in a temporary tree,
-- the command runs from there.
local cli = require "spec.support.cli"

local root = cli.root
local q = cli.quote

local function rockspec()
  local env = {}
  local chunk = assert(loadfile(root .. "/simkit-scm-1.rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore 113 (LuaJIT / 5.1)
  chunk()
  return env
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("rc=(%d+)%s*$")), out
end

describe("simkit-scm-1.rockspec", function()
  it("lists every Lua module, every C source and installs bin/simkit", function()
    local spec = rockspec()
    local mods = spec.build.modules
    local p = assert(io.popen("cd " .. q(root) .. " && find lua/simkit -name '*.lua' | sort"))
    local n = 0
    for path in p:lines() do
      n = n + 1
      local mod = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(path, mods[mod], mod .. " is not in the rockspec")
    end
    p:close()
    assert.is_true(n > 40)
    local sources = {}
    for _, s in ipairs(mods["simkit.core"].sources) do sources[s] = true end
    p = assert(io.popen("cd " .. q(root) .. " && ls src/*.c"))
    for path in p:lines() do assert.is_true(sources[path], path .. " is not in the rockspec's sources") end
    p:close()
    assert.are.equal("bin/simkit", spec.build.install.bin.simkit)
  end)

  it("installs into a tree where the command runs", function()
    local home = cli.home()
    local src, tree = home.dir .. "/src", home.dir .. "/tree"
    local rc, out = sh("mkdir -p " .. q(src) .. " && cd " .. q(root) .. " && cp -r src lua bin simkit-scm-1.rockspec " ..
      q(src) .. " && cd " .. q(src) .. " && luarocks --lua-version=5.4 make --deps-mode=none --tree " .. q(tree) ..
      " simkit-scm-1.rockspec")
    assert.are.equal(0, rc, out)
    local env = "eval \"$(luarocks --lua-version=5.4 --tree " .. q(tree) .. " path)\" && cd " .. q(home.dir) ..
      " && env -u SIMKIT_SIM HOME=" .. q(home.dir) .. " XDG_STATE_HOME=" .. q(home.dir .. "/state") .. " " ..
      q(tree .. "/bin/simkit")
    for _, args in ipairs({ "--help", "call eiotclub --help", "call huawei list_sim_cards --help", "rules --help",
      "cards --help", "report --help" }) do
      rc, out = sh(env .. " " .. args)
      assert.are.equal(0, rc, args .. ": " .. out)
      assert.matches("Usage: simkit", out)
    end
    rc, out = sh(env .. " sim start")
    assert.are.equal(2, rc, out)
    assert.matches("SIMKIT_SIM", out)
    home:remove()
  end)
end)
