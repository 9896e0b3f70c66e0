--- Authentication of the Huawei GSL sandbox: IAM tokens (password method,
-- newest token wins) and AK/SK "SDK-HMAC-SHA256" as the Huawei Cloud SDK
-- core signer computes it.
local util = require "simsandbox.util"
local C = require "simsandbox.huawei.common"
local F = require "simsandbox.huawei.fixtures"

local find, match, lower, format, gsub, byte, sub =
  string.find, string.match, string.lower, string.format, string.gsub, string.byte, string.sub
local concat, sort = table.concat, table.sort
local type, ipairs, tonumber = type, ipairs, tonumber

local A = {}

----------------------------------------------------------------------------
-- IAM tokens

--- Answer POST /v3/auth/tokens. `S` is the vendor state, `cfg` its config.
-- Returns status, body table, extra headers.
function A.issue_token(S, cfg, req)
  S.token_requests = S.token_requests + 1
  local function iam_error(status, code, msg)
    return status, { error = { code = code, message = msg, title = status == 401 and "Unauthorized"
      or "Bad Request" } }
  end
  if req.method ~= "POST" then
    return iam_error(405, 405, "The method is not allowed for the requested URL.")
  end
  local b = util.json_decode(req.body or "")
  if type(b) ~= "table" or type(b.auth) ~= "table" or type(b.auth.identity) ~= "table" then
    return iam_error(400, 400, "The request you have made requires authentication.")
  end
  local ident = b.auth.identity
  local has_password = false
  if type(ident.methods) == "table" then
    for _, m in ipairs(ident.methods) do
      if m == "password" then has_password = true end
    end
  end
  local pw = type(ident.password) == "table" and ident.password or nil
  local user = pw and type(pw.user) == "table" and pw.user or nil
  if not has_password or not user then
    return iam_error(400, 400, "Invalid identity: methods must contain \"password\".")
  end
  local domain = type(user.domain) == "table" and user.domain or {}
  if user.name ~= F.IAM_USER or user.password ~= F.IAM_PASSWORD
      or (domain.name ~= F.IAM_DOMAIN and domain.id ~= F.IAM_DOMAIN) then
    return iam_error(401, 401, "The username or password is wrong.")
  end
  local scope = type(b.auth.scope) == "table" and b.auth.scope or nil
  local project = scope and type(scope.project) == "table" and scope.project or nil
  if not project or (project.name ~= F.IAM_PROJECT and project.id ~= F.PROJECT_ID) then
    return iam_error(400, 400, "Invalid scope: project " .. tostring(project and
      (project.name or project.id)) .. " not found (sandbox project is " .. F.IAM_PROJECT .. ").")
  end
  local now = req.now
  -- unique per run (serial, clock) and unpredictable enough for a sandbox
  local seed = format("%d:%.6f:%s", S.tokens_issued + 1, now, util.random_hex(32))
  local token = "MIIsandbox" .. util.sha256_hex(seed) .. util.sha256_hex(seed .. "#2")
  local tok = { value = token, issued = now, expires = now + cfg.token_ttl_seconds,
                user = F.IAM_USER, serial = S.tokens_issued + 1 }
  -- the newest token wins: the previous one of this user stops working
  A.retire(S)
  S.token = tok
  S.tokens_issued = S.tokens_issued + 1
  local function iam_time(t)
    return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. format(".%06dZ", math.floor((t % 1) * 1e6))
  end
  local body = { token = {
    expires_at = iam_time(tok.expires),
    issued_at = iam_time(tok.issued),
    methods = util.array({ "password" }),
    user = { name = F.IAM_USER, id = "sandboxuserid0000000000000000001",
             domain = { name = F.IAM_DOMAIN, id = "sandboxdomainid00000000000000001" } },
    project = { name = F.IAM_PROJECT, id = F.PROJECT_ID,
                domain = { name = F.IAM_DOMAIN, id = "sandboxdomainid00000000000000001" } },
    catalog = util.array(),
    roles = util.array({ { name = "gsl_adm", id = "0" } }),
  } }
  return 201, body, { ["X-Subject-Token"] = token }
end

--- Check an X-Auth-Token. Returns true or false, reason.
function A.check_token(S, token, now)
  local cur = S.token
  if not cur or cur.value ~= token then
    for _, old in ipairs(S.old_tokens) do
      if old == token then return false, "superseded" end
    end
    return false, "unknown"
  end
  if now >= cur.expires then return false, "expired" end
  return true
end

--- Remember a superseded token (so the state can tell why it failed).
function A.retire(S)
  if S.token then
    local t = S.old_tokens
    t[#t + 1] = S.token.value
    if #t > 50 then table.remove(t, 1) end
  end
end

----------------------------------------------------------------------------
-- AK/SK SDK-HMAC-SHA256

-- Percent-encode everything except A-Z a-z 0-9 - _ . ~ (upper-case hex).
local function enc(s)
  return (gsub(s, "[^%w%-_%.~]", function(c) return format("%%%02X", byte(c)) end))
end
A.encode = enc

--- Canonical URI: decoded path split on "/", each segment encoded, "/" appended.
function A.canonical_uri(raw_path)
  local path = util.urldecode(raw_path)
  local parts, start = {}, 1
  while true do
    local i = find(path, "/", start, true)
    if not i then
      parts[#parts + 1] = enc(sub(path, start))
      break
    end
    parts[#parts + 1] = enc(sub(path, start, i - 1))
    start = i + 1
  end
  local uri = concat(parts, "/")
  if sub(uri, -1) ~= "/" then uri = uri .. "/" end
  return uri
end

--- Canonical query: pairs decoded from the raw query, sorted by key then
-- value, re-encoded, joined with "&". '+' decodes as a space.
function A.canonical_query(raw_query)
  local pairs_ = {}
  if raw_query and raw_query ~= "" then
    for piece in string.gmatch(raw_query, "[^&]+") do
      local k, v = match(piece, "^([^=]*)=(.*)$")
      if not k then k, v = piece, "" end
      pairs_[#pairs_ + 1] = { util.urldecode(k, true), util.urldecode(v, true) }
    end
  end
  sort(pairs_, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, p in ipairs(pairs_) do out[i] = enc(p[1]) .. "=" .. enc(p[2]) end
  return concat(out, "&")
end

local function trim(s)
  return (gsub(gsub(s, "^%s+", ""), "%s+$", ""))
end

--- Parse "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...".
function A.parse_authorization(v)
  local rest = match(v or "", "^SDK%-HMAC%-SHA256%s+(.+)$")
  if not rest then return nil end
  local t = {}
  for item in string.gmatch(rest, "[^,]+") do
    local k, val = match(trim(item), "^(%w+)=(.*)$")
    if k then t[k] = trim(val) end
  end
  if not (t.Access and t.SignedHeaders and t.Signature) then return nil end
  return t
end

--- Epoch seconds of an X-Sdk-Date "YYYYMMDDTHHMMSSZ", or nil.
function A.parse_sdk_date(v)
  local y, mo, d, h, mi, s = match(v or "", "^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil end
  return C.utc_epoch(y, mo, d, h, mi, s)
end

local function header(headers, name)
  local v = headers[name]
  if type(v) == "table" then v = v[1] end
  return v
end

--- Build the canonical request the way the SDK signer does.
function A.canonical_request(method, raw_path, raw_query, headers, signed, body)
  local ch = {}
  for _, name in ipairs(signed) do
    ch[#ch + 1] = name .. ":" .. trim(header(headers, name) or "") .. "\n"
  end
  local payload = header(headers, "x-sdk-content-sha256")
  local body_hash = payload == "UNSIGNED-PAYLOAD" and payload or util.sha256_hex(body or "")
  return concat({
    method:upper(), A.canonical_uri(raw_path), A.canonical_query(raw_query),
    concat(ch), concat(signed, ";"), body_hash,
  }, "\n")
end

--- Verify an AK/SK signed request. Returns true, or false and a message
-- (the text after "Incorrect IAM authentication information: ").
-- `info` collects the canonical request and string to sign for the state.
function A.check_aksk(cfg, req, raw_path, raw_query, info)
  local h = req.headers
  local auth = A.parse_authorization(header(h, "authorization"))
  if not auth then return false, "Authorization header is not SDK-HMAC-SHA256" end
  if auth.Access ~= F.AK then return false, "ak " .. auth.Access .. " not exist" end
  local date = header(h, "x-sdk-date")
  if not date then return false, "x-sdk-date header missing" end
  local t = A.parse_sdk_date(date)
  if not t then return false, "x-sdk-date format invalid: " .. date end
  if math.abs(t - req.now) > cfg.sdk_date_skew_seconds then
    return false, "x-sdk-date expired: " .. date .. " is more than "
      .. cfg.sdk_date_skew_seconds .. " s away from the server time "
      .. os.date("!%Y%m%dT%H%M%SZ", math.floor(req.now))
  end
  local signed, seen = {}, {}
  for name in string.gmatch(auth.SignedHeaders, "[^;]+") do
    signed[#signed + 1] = name
    seen[name] = true
  end
  if not seen.host or not seen["x-sdk-date"] then
    return false, "SignedHeaders must include host and x-sdk-date"
  end
  for _, name in ipairs(signed) do
    if name ~= lower(name) then return false, "SignedHeaders must be lower-case" end
  end
  local project = header(h, "x-project-id")
  if project and project ~= F.PROJECT_ID then
    return false, "project id " .. project .. " does not match the credential's project"
  end
  local creq = A.canonical_request(req.method, raw_path, raw_query, h, signed, req.body)
  local sts = "SDK-HMAC-SHA256\n" .. date .. "\n" .. util.sha256_hex(creq)
  local expected = util.hmac_sha256_hex(F.SK, sts)
  if info then
    info.canonical_request = creq
    info.string_to_sign = sts
  end
  if lower(auth.Signature) ~= expected then
    return false, "verify aksk signature fail"
  end
  return true
end

return A
