--- IAM token handling for the Huawei GSL adapter (internal, but the cache
-- interface is public).
--
-- A new IAM token invalidates the previous one of the same user, so simkit
-- keeps ONE token per account key (iam_endpoint, domain, username, project)
-- in a cache shared by every client of the process, fetches it under a lock
-- (one fetcher at a time) and re-uses it until shortly before it expires.
--
-- A cache is a table `{ get(key) -> token, expires_at; set(key, token,
-- expires_at); lock(key) -> bool; unlock(key) }` where `expires_at` (Unix
-- seconds) is the time after which simkit stops using the token (the IAM
-- expiry minus a safety margin). The default cache is a module-level table:
-- shared by the clients of one Lua state (one nginx worker). With several
-- nginx workers use `shared_dict_cache(ngx.shared.DICT)`, or each worker's
-- token would invalidate the others'.
-- @module simkit.vendor.huawei_token
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"
local common = require "simkit.vendor.common"

local M = {}

--- Refresh margin: at most one hour before expiry.
M.MARGIN = 3600
--- Validity assumed when IAM does not say (24 h).
M.VALIDITY = 24 * 3600
--- A lock older than this is considered abandoned (seconds).
M.LOCK_TTL = 60

local STORE, LOCKS = {}, {}

--- The default in-memory cache (module-level, shared by all clients).
M.memory_cache = {
  get = function(key)
    local e = STORE[key]
    if e then return e.token, e.expires_at end
    return nil
  end,
  set = function(key, token, expires_at)
    if token then STORE[key] = { token = token, expires_at = expires_at } else STORE[key] = nil end
  end,
  lock = function(key)
    local now = util.now()
    local l = LOCKS[key]
    if l and l > now then return false end
    LOCKS[key] = now + M.LOCK_TTL
    return true
  end,
  unlock = function(key)
    LOCKS[key] = nil
  end,
}

--- Forget every cached token and lock of the default cache (specs).
function M.reset()
  STORE, LOCKS = {}, {}
end

--- A cache backed by an nginx `lua_shared_dict` (shared by all workers).
-- @param dict an `ngx.shared.DICT`
-- @treturn table a cache for the `token_cache` option
function M.shared_dict_cache(dict)
  return {
    get = function(key)
      local token = dict:get("tok:" .. key)
      local exp = dict:get("exp:" .. key)
      if token and exp then return token, exp end
      return nil
    end,
    set = function(key, token, expires_at)
      local ttl = math.max(1, expires_at - util.now())
      dict:set("tok:" .. key, token, ttl)
      dict:set("exp:" .. key, expires_at, ttl)
    end,
    lock = function(key)
      local ok = dict:add("lock:" .. key, true, M.LOCK_TTL)
      return ok and true or false
    end,
    unlock = function(key)
      dict:delete("lock:" .. key)
    end,
  }
end

--- Check a user-supplied cache (raises: a programming error).
function M.check_cache(c)
  if type(c) ~= "table" then return false end
  for _, f in ipairs({ "get", "set", "lock", "unlock" }) do
    if type(c[f]) ~= "function" then return false end
  end
  return true
end

--- Parse an ISO-8601 time ("2026-11-24T05:54:20.123000Z", "...+08:00") to Unix seconds.
-- @treturn number|nil
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local frac = rest:match("^%.(%d+)") or ""
  rest = rest:sub(#frac + (frac ~= "" and 2 or 1))
  local offset = 0
  if rest ~= "Z" and rest ~= "" then
    local sign, oh, om = rest:match("^([%+%-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  local days = util.days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - offset
  if frac ~= "" then t = t + tonumber("0." .. frac) end
  return t
end

local header = common.header

-- One POST /v3/auth/tokens. Returns token, use_until or nil, err.
local function fetch(ctx)
  local cfg, secrets = ctx.cfg, ctx.secrets
  local body = assert(json.encode {
    auth = {
      identity = {
        methods = json.array { "password" },
        password = { user = { name = cfg.username, password = secrets.password,
                              domain = { name = cfg.domain } } },
      },
      scope = { project = { name = cfg.project } },
    },
  })
  local req = {
    method = "POST", url = cfg.iam_endpoint .. "/v3/auth/tokens", body = body,
    headers = { ["Content-Type"] = "application/json;charset=utf8", ["Accept"] = "application/json" },
    timeout = cfg.timeout, connect_timeout = cfg.connect_timeout, op = "iam_token", vendor = "huawei",
  }
  local res, terr, category = cfg.transport(req)
  local base = { vendor = "huawei", op = ctx.op }
  if not res then
    return nil, errors.new { kind = "transport", vendor = base.vendor, op = base.op, category = category,
      message = "IAM token request failed: " .. tostring(terr), retryable = true }
  end
  local trace = header(res.headers, "x-request-id")
  if res.status < 200 or res.status >= 300 then
    local decoded = json.decode(res.body or "")
    local code, msg
    if type(decoded) == "table" then
      local e = type(decoded.error) == "table" and decoded.error or decoded
      code = e.code or e.error_code
      msg = e.message or e.error_msg
    end
    local kind = (res.status == 400 or res.status == 401 or res.status == 403) and "auth"
      or (res.status == 429 and "rate_limited" or "http")
    return nil, errors.new { kind = kind, vendor = base.vendor, op = base.op, status = res.status,
      code = code ~= nil and code ~= json.null and tostring(code) or nil,
      message = "IAM token request refused" .. (type(msg) == "string" and (": " .. msg) or ""),
      trace_id = trace, retryable = res.status >= 500 or res.status == 429 }
  end
  local token = header(res.headers, "x-subject-token")
  if type(token) ~= "string" or token == "" then
    return nil, errors.new { kind = "auth", vendor = base.vendor, op = base.op, status = res.status,
      message = "IAM answer carries no X-Subject-Token header", trace_id = trace }
  end
  local now = cfg.now()
  local expires
  local decoded = json.decode(res.body or "")
  if type(decoded) == "table" and type(decoded.token) == "table" then
    expires = M.parse_time(decoded.token.expires_at)
  end
  if not expires or expires <= now then expires = now + M.VALIDITY end
  local margin = math.min(M.MARGIN, (expires - now) / 10)
  return token, expires - margin
end

local function usable(token, use_until, bad, now)
  return type(token) == "string" and token ~= bad and type(use_until) == "number" and now < use_until
end

--- The token to send: from the cache, or fetched (one fetcher at a time).
-- @tparam table ctx the call context (cfg, secrets)
-- @tparam[opt] string bad a token known to be refused (forces a new one
--   unless another caller already replaced it)
-- @treturn string|nil the token, or nil and an error
function M.get(ctx, bad)
  local cfg = ctx.cfg
  local cache, key = cfg.token_cache, cfg.token_key
  local token, use_until = cache.get(key)
  if usable(token, use_until, bad, cfg.now()) then return token end
  local deadline = cfg.clock() + cfg.timeout + 5
  while not cache.lock(key) do
    cfg.sleep(0.05)
    token, use_until = cache.get(key)
    if usable(token, use_until, bad, cfg.now()) then return token end
    if cfg.clock() > deadline then
      return nil, errors.new { kind = "auth", vendor = "huawei", op = ctx.op, retryable = true,
        message = "timed out waiting for another caller's IAM token request" }
    end
  end
  -- somebody may have refreshed it while we waited for the lock
  token, use_until = cache.get(key)
  if usable(token, use_until, bad, cfg.now()) then
    cache.unlock(key)
    return token
  end
  local ok, t, u = pcall(fetch, ctx)
  if ok and t then cache.set(key, t, u) end
  cache.unlock(key)
  if not ok then error(t, 0) end
  if t then return t end
  return nil, u
end

return M
