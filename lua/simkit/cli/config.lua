--- Profiles of the `simkit` command: where the config file is, refusing one
-- that group or others can read, loading it, choosing a profile, and the
-- default paths of the state (store, sandbox state file).
--
-- The file is a Lua chunk returning `{ NAME = profile, ... }` where a profile is
-- `{ eiotclub = opts, huawei = opts, tibiot = opts, store = "path.db",
--    audit = "audit.jsonl", sandbox = true | "http://127.0.0.1:PORT",
--    fleet = { iccids = { tibiot = { ... } }, pools = { tibiot = { ... } } },
--    rules = { timezone = "+08:00", ... } }` (`fleet` and `rules`: more options of
-- `simkit.fleet` and `simkit.rules.engine`)
-- (each key optional; `opts` as for `simkit.client`). Secrets may be read
-- there with `os.getenv`.
-- @module simkit.cli.config
local errors = require "simkit.errors"

local M = {}

M.VENDORS = { "eiotclub", "huawei", "tibiot" }
local VENDOR_SET = { eiotclub = true, huawei = true, tibiot = true }
local PROFILE_KEYS = { eiotclub = "table", huawei = "table", tibiot = "table", store = "string",
  audit = "string", sandbox = "boolean|string", fleet = "table", rules = "table" }

-- Fixed credentials of the sandbox (sim/README.md): public test values.
M.SANDBOX = {
  eiotclub = { appkey = "sandbox-appkey", secret = "sandbox-secret" },
  huawei = { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret", project_id = "0123456789abcdef0123456789abcdef" },
  tibiot = { app_key = "sandbox-tib-key", secret = "sandbox-tib-secret", signer = "hmac-sha256" },
}
local URL_OPTION = { eiotclub = "base_url", huawei = "endpoint", tibiot = "base_url" }

-- Option names that hold secrets (redacted from every output).
local SECRET_KEY = { secret = true, sk = true, password = true, token = true }

local function fail(msg) return nil, errors.input(msg) end

local function home()
  return os.getenv("HOME") or "."
end

--- The config file's path: `$SIMKIT_CONFIG`, else
-- `$XDG_CONFIG_HOME/simkit/config.lua`, else `~/.config/simkit/config.lua`.
-- @treturn string
function M.path()
  local p = os.getenv("SIMKIT_CONFIG")
  if p and p ~= "" then return p end
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if xdg and xdg ~= "" then return xdg .. "/simkit/config.lua" end
  return home() .. "/.config/simkit/config.lua"
end

--- The state directory: `$XDG_STATE_HOME/simkit`, else `~/.local/state/simkit`.
-- @treturn string
function M.state_dir()
  local xdg = os.getenv("XDG_STATE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/simkit" end
  return home() .. "/.local/state/simkit"
end

--- The default store path (`<state dir>/simkit.db`).
-- @treturn string
function M.default_store()
  return M.state_dir() .. "/simkit.db"
end

--- The default audit log beside the store: `simkit rules run` appends to it
-- and `simkit report` reads it, with no setting needed.
-- @treturn string path
function M.default_audit()
  return M.state_dir() .. "/audit.jsonl"
end

--- Is the file private to its owner? Refuses a file group or others can read
-- (or write), saying why and the `chmod 600` that fixes it.
-- @tparam string path
-- @treturn true|nil true, or nil and an input error
function M.check_private(path)
  local lfs = require "lfs"
  local attr = lfs.attributes(path)
  if not attr then return fail("config file " .. path .. " not found (create it, or set SIMKIT_CONFIG)") end
  if attr.mode ~= "file" then return fail("config file " .. path .. " is not a regular file") end
  local perm = attr.permissions or ""
  if perm:sub(4, 9) ~= "------" then
    return fail("config file " .. path .. " is readable or writable by group or others (mode " .. perm ..
      "); it may hold secrets: run `chmod 600 " .. path .. "`")
  end
  return true
end

-- Load a chunk with a fresh environment (globals it sets stay in it).
local function load_chunk(path)
  local env = setmetatable({}, { __index = _G })
  local fn, err
  if _VERSION == "Lua 5.1" then
    fn, err = loadfile(path)
    if fn then setfenv(fn, env) end -- luacheck: ignore 113 (LuaJIT / 5.1)
  else
    fn, err = loadfile(path, "t", env)
  end
  if not fn then return nil, err end
  local ok, res = pcall(fn)
  if not ok then return nil, res end
  return res
end

local function check_profile(name, p)
  if type(p) ~= "table" then return fail("profile '" .. name .. "' must be a table") end
  for k, v in pairs(p) do
    local want = PROFILE_KEYS[k]
    if not want then
      local keys = {}
      for key in pairs(PROFILE_KEYS) do keys[#keys + 1] = key end
      table.sort(keys)
      return fail("profile '" .. name .. "': unknown key '" .. tostring(k) .. "' (known: " .. table.concat(keys, ", ") .. ")")
    end
    if not want:find(type(v), 1, true) then
      return fail("profile '" .. name .. "': '" .. k .. "' must be a " .. want:gsub("|", " or "))
    end
  end
  if type(p.sandbox) == "string" and not p.sandbox:match("^https?://[%w%.%-%[%]:]+/?$") then
    return fail("profile '" .. name .. "': 'sandbox' must be true or a URL such as http://127.0.0.1:8080")
  end
  return true
end

--- Load the profile to use.
-- @tparam[opt] string name `--profile`; default `$SIMKIT_PROFILE`, else "default"
-- @tparam[opt] table opts `sandbox_url` (function returning the running
--   sandbox's URL or nil, err; used for `sandbox = true`)
-- @treturn table|nil the profile `{ name, path, vendors = { vendor = opts }, store, audit, secrets }`,
--   or nil and an input error (missing or unsafe file, unknown profile, bad shape)
function M.load(name, opts)
  opts = opts or {}
  if name ~= nil and (type(name) ~= "string" or name == "") then return fail("--profile needs a name") end
  name = name or os.getenv("SIMKIT_PROFILE")
  if name == "" then name = nil end
  name = name or "default"
  local path = M.path()
  local ok, err = M.check_private(path)
  if not ok then return nil, err end
  local cfg, lerr = load_chunk(path)
  if cfg == nil and lerr then return fail("config file " .. path .. ": " .. tostring(lerr)) end
  if type(cfg) ~= "table" then return fail("config file " .. path .. " must return a table of profiles") end
  local p = cfg[name]
  if p == nil then
    local names = {}
    for k in pairs(cfg) do names[#names + 1] = tostring(k) end
    table.sort(names)
    return fail("no profile '" .. name .. "' in " .. path .. " (profiles: " ..
      (#names > 0 and table.concat(names, ", ") or "none") .. ")")
  end
  ok, err = check_profile(name, p)
  if not ok then return nil, err end
  local prof = { name = name, path = path, vendors = {}, store = p.store or M.default_store(),
    audit = p.audit or M.default_audit(), audit_default = p.audit == nil,
    fleet = p.fleet, rules = p.rules, secrets = {} }
  if p.sandbox then
    local url = p.sandbox
    if url == true then
      if not opts.sandbox_url then return fail("profile '" .. name .. "' uses the sandbox, which is not available") end
      local serr
      url, serr = opts.sandbox_url()
      if not url then return nil, serr end
    end
    url = url:gsub("/$", "")
    for _, v in ipairs(M.VENDORS) do
      local o = {}
      for k, x in pairs(M.SANDBOX[v]) do o[k] = x end
      o[URL_OPTION[v]] = url
      prof.vendors[v] = o
    end
  end
  for _, v in ipairs(M.VENDORS) do
    if p[v] then
      local o = prof.vendors[v] or {}
      for k, x in pairs(p[v]) do o[k] = x end
      prof.vendors[v] = o
    end
  end
  for _, o in pairs(prof.vendors) do
    for k, x in pairs(o) do
      if SECRET_KEY[k] and type(x) == "string" then prof.secrets[#prof.secrets + 1] = x end
    end
  end
  return prof
end

--- Is `name` a vendor a profile can configure?
-- @tparam string name
-- @treturn boolean
function M.is_vendor(name)
  return VENDOR_SET[name] == true
end

return M
