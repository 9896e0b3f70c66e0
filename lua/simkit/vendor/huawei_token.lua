--- IAM token handling for the Huawei GSL adapter (internal): the pipeline's
-- `authenticate` step in token mode.
--
-- A new IAM token invalidates the previous one of the same user, so simkit
-- keeps ONE token per account (iam_endpoint, domain, username, project and
-- a tag of the password) in the client's `store`: every client, process,
-- nginx worker or node sharing that store shares the token. Only one of
-- them fetches it: the fetcher holds a lock taken with `store:add` and a TTL
-- (`LOCK_TTL`), the others wait for the token to appear. The token is kept
-- with a TTL ending `MARGIN` before IAM's expiry; no clock is compared
-- across nodes. The fetch is an ordinary request through the client's
-- transport (`ctx:request`): same deadlines, size cap and error kinds as any
-- call. What IAM sends is checked before it is stored: a token holding
-- anything but printable ASCII is refused (kind "decode") and never cached.
-- @module simkit.vendor.huawei_token
local core = require "simkit.core"
local errors = require "simkit.errors"
local json = require "simkit.json"
local common = require "simkit.vendor.common"

local M = {}

--- Refresh margin: at most one hour before expiry (seconds).
M.MARGIN = 3600
--- Validity assumed when IAM does not say (24 h).
M.VALIDITY = 24 * 3600
--- A fetch lock older than this is considered abandoned (seconds).
M.LOCK_TTL = 30
--- Largest token accepted (bytes); IAM tokens are a few KB.
M.MAX_TOKEN = 64 * 1024

--- The store keys of an account: token and lock.
-- @tparam string token_key the account's cache key
-- @treturn string,string
function M.keys(token_key)
  local id = core.sha256(token_key, "hex"):sub(1, 32)
  return "simkit:hw:token:" .. id, "simkit:hw:token-lock:" .. id
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
  local util = require "simkit.util"
  local days = util.days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - offset
  if frac ~= "" then t = t + tonumber("0." .. frac) end
  return t
end

--- Is `token` something simkit may store and send in a header?
-- (non-empty printable ASCII, no space, at most `MAX_TOKEN` bytes)
function M.valid(token)
  return type(token) == "string" and token ~= "" and #token <= M.MAX_TOKEN and not token:find("[^\33-\126]")
end

local header = common.header

-- One POST /v3/auth/tokens through the client's transport.
-- Returns token, seconds it may be used, or nil, err.
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
  local res, terr = ctx:request({
    method = "POST", url = cfg.iam_endpoint .. "/v3/auth/tokens", body = body, op = "iam_token",
    headers = { ["Content-Type"] = "application/json;charset=utf8", ["Accept"] = "application/json" },
    -- fetching a token changes nothing a retry could double
    idempotent = true,
  })
  if not res then
    terr.message = "IAM token request failed: " .. tostring(terr.message)
    terr.retryable = true
    return nil, terr
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
    return nil, errors.new { kind = kind, vendor = "huawei", op = ctx.op, status = res.status,
      code = code ~= nil and code ~= json.null and tostring(code) or nil,
      message = "IAM token request refused" .. (type(msg) == "string" and (": " .. common.snippet(msg)) or ""),
      trace_id = type(trace) == "string" and trace or nil, retryable = res.status >= 500 or res.status == 429 }
  end
  local token = header(res.headers, "x-subject-token")
  if type(token) ~= "string" or token == "" then
    return nil, errors.new { kind = "auth", vendor = "huawei", op = ctx.op, status = res.status,
      message = "IAM answer carries no X-Subject-Token header", trace_id = trace }
  end
  if not M.valid(token) then
    -- never cached, never sent, never shown (it may be a real token with junk)
    return nil, errors.new { kind = "decode", vendor = "huawei", op = ctx.op, status = res.status,
      message = "IAM answer's X-Subject-Token is not a usable token (control bytes, spaces, non-ASCII or over " ..
        M.MAX_TOKEN .. " bytes): refused, not cached", trace_id = trace }
  end
  local now = cfg.now()
  local expires
  local decoded = json.decode(res.body or "")
  if type(decoded) == "table" and type(decoded.token) == "table" then
    expires = M.parse_time(decoded.token.expires_at)
  end
  if not expires or expires <= now or expires - now > 10 * M.VALIDITY then expires = now + M.VALIDITY end
  local life = expires - now
  return token, life - math.min(M.MARGIN, life / 10)
end

local function usable(token, bad)
  return type(token) == "string" and token ~= bad and M.valid(token)
end

--- The token to send: from the store, or fetched (one fetcher at a time).
-- @tparam table ctx the call context (cfg, secrets, store, request, sleep, clock)
-- @tparam[opt] string bad a token known to be refused (forces a new one
--   unless another caller already replaced it)
-- @treturn string|nil the token, or nil and an error
function M.get(ctx, bad)
  local cfg, store = ctx.cfg, ctx.store
  local key, lock = M.keys(cfg.token_key)
  local token, err = store:get(key)
  if err then return nil, err end
  if usable(token, bad) then return token end
  local deadline = ctx.clock() + cfg.timeout + 5
  while true do
    local got, lerr = store:add(lock, 1, M.LOCK_TTL)
    if got == nil then return nil, lerr end
    if got then break end
    ctx.sleep(0.05)
    token, err = store:get(key)
    if err then return nil, err end
    if usable(token, bad) then return token end
    if ctx.clock() > deadline then
      return nil, errors.new { kind = "auth", vendor = "huawei", op = ctx.op, retryable = true,
        message = "timed out waiting for another caller's IAM token request" }
    end
  end
  -- somebody may have refreshed it while we waited for the lock
  token = store:get(key)
  if usable(token, bad) then
    store:delete(lock)
    return token
  end
  local t, life = fetch(ctx)
  local stored, serr = true, nil
  if t then stored, serr = store:set(key, t, life) end
  store:delete(lock)
  if not t then return nil, life end
  if not stored then return nil, serr end
  return t
end

return M
