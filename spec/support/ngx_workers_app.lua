--- Inside nginx workers, for spec/nginx_workers_spec.lua: one Huawei client
-- per worker (IAM token mode, against the sandbox), created at first use
-- and kept, as an application would. GET /call?op=&base=&shared=1|0&rl=1|0
-- answers {worker, pid, ok, err}.
--   shared=1: one simkit.store over lua_shared_dict "simkit" (token and windows)
--   shared=0: the defaults (a per-worker memory store)
-- The store here is a small shdict-backed simkit.store for this spec (the
-- full backend is simkit.store.shdict).
-- luacheck: globals ngx
local simkit = require "simkit"
local codec = require "simkit.store.codec"

local M = {}
local clients = {}

local function shdict_store(dict)
  local s = {}
  local function fail(err) return nil, codec.store_error("shdict", tostring(err)) end
  function s.get(_, k)
    local v = dict:get(k)
    if v == nil then return nil end
    return codec.decode(v)
  end
  function s.set(_, k, v, ttl)
    local ok, err = dict:set(k, assert(codec.encode(v)), ttl or 0)
    if not ok then return fail(err) end
    return true
  end
  function s.add(_, k, v, ttl)
    local ok, err = dict:add(k, assert(codec.encode(v)), ttl or 0)
    if ok then return true end
    if err == "exists" then return false end
    return fail(err)
  end
  function s.incr(self, k, n, ttl)
    -- not atomic: this spec's pipeline never counts with incr
    local cur = self:get(k) or 0
    local ok, err = self:set(k, cur + n, dict:get(k) == nil and ttl or nil)
    if not ok then return nil, err end
    return cur + n
  end
  function s.delete(_, k)
    dict:delete(k)
    return true
  end
  return s
end

local function client(args)
  local key = table.concat({ args.base, args.shared, args.rl }, "|")
  if clients[key] then return clients[key] end
  local opts = { username = "sandbox-user", password = "sandbox-password", domain = "sandbox-domain",
    project = "cn-north-4", endpoint = args.base, iam_endpoint = args.base, rate_limit = args.rl == "1" }
  if args.shared == "1" then
    -- simkit.store.shdict once the store backends are on this branch
    local stores = require "simkit.store"
    opts.store = stores.shdict and stores.shdict("simkit") or shdict_store(ngx.shared.simkit)
  else
    opts.store = require("simkit.store").memory()
  end
  clients[key] = simkit.client("huawei", opts)
  return clients[key]
end

function M.run()
  local args = ngx.req.get_uri_args()
  local data, err = client(args):call(args.op, {})
  ngx.header["Content-Type"] = "application/json"
  ngx.print(simkit.json.encode({ worker = ngx.worker.id(), pid = ngx.worker.pid(), ok = data ~= nil,
    err = err and tostring(err) or simkit.json.null }))
end

return M
