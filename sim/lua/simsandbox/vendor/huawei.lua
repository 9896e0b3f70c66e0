--- Huawei Cloud Global SIM Link (GSL), imitated for the simkit sandbox.
--
-- All 39 operations of the API reference (§4.1.1-4.11.2) under /v1/..., and
-- IAM's POST /v3/auth/tokens. Every GSL call is authenticated (IAM token in
-- X-Auth-Token, or AK/SK SDK-HMAC-SHA256), rate limited (5/s per account,
-- 1/s for list_sim_cards and list_sim_price_plans), and answered with the
-- document's bodies: an object, a top-level array or a bare `true`; errors
-- as {"error_code","error_msg"} or, on 4.11.1, {"code","message"}. Every
-- answer carries a fresh X-Request-Id. See sim/HUAWEI.md for the fixtures,
-- the knobs of /_sim/config {"huawei": {...}} and the choices made where the
-- document is ambiguous.
-- luacheck: globals ngx
local util = require "simsandbox.util"
local C = require "simsandbox.huawei.common"
local F = require "simsandbox.huawei.fixtures"
local A = require "simsandbox.huawei.auth"
local K = require "simsandbox.huawei.cards"
local W = require "simsandbox.huawei.workorders"
local G = require "simsandbox.huawei.groups"

local match, sub, format = string.match, string.sub, string.format
local type, ipairs, pairs, pcall, tostring = type, ipairs, pairs, pcall, tostring
local ceil = math.ceil

local M = { name = "huawei" }

----------------------------------------------------------------------------
-- routes: method, path pattern (captures = path ids), operation

local ROUTES = {
  { "GET", "^/v1/sim%-cards$", "list_sim_cards" },
  { "POST", "^/v1/sim%-cards/month%-usages$", "show_month_usages" },
  { "POST", "^/v1/sim%-cards/batch%-daily%-flow$", "list_sim_card_flow_per_day" },
  { "POST", "^/v1/sim%-cards/attributes/batch%-set$", "batch_set_attributes" },
  { "GET", "^/v1/sim%-cards/([^/]+)$", "show_sim_card" },
  { "POST", "^/v1/sim%-cards/([^/]+)/stop$", "stop_sim_card" },
  { "POST", "^/v1/sim%-cards/([^/]+)/reset$", "reset_sim_card" },
  { "POST", "^/v1/sim%-cards/([^/]+)/enable$", "enable_sim_card" },
  { "GET", "^/v1/sim%-cards/([^/]+)/real%-named$", "show_real_named" },
  { "POST", "^/v1/sim%-cards/([^/]+)/cut%-net$", "start_stop_net" },
  { "POST", "^/v1/sim%-cards/([^/]+)/exceed%-cut%-net$", "set_exceed_cut_net" },
  { "POST", "^/v1/sim%-cards/([^/]+)/bind%-device$", "register_imei" },
  { "POST", "^/v1/sim%-cards/([^/]+)/clear%-real%-name$", "delete_real_name" },
  { "POST", "^/v1/sim%-cards/([^/]+)/speed%-limit$", "set_speed_value" },
  { "POST", "^/v1/sim%-cards/([^/]+)/network%-switch%-policy/set$", "set_network_switch_policy" },
  { "GET", "^/v1/price%-plans$", "list_pro_price_plans" },
  { "GET", "^/v1/sim%-price%-plans$", "list_sim_price_plans" },
  { "POST", "^/v1/sim%-price%-plans/usage/batch%-query$", "list_flow_by_sim_cards" },
  { "GET", "^/v1/sim%-pools$", "list_sim_pools" },
  { "GET", "^/v1/sim%-pools/([^/]+)/members$", "list_sim_pool_members" },
  { "GET", "^/v1/back%-pools$", "list_back_pools" },
  { "GET", "^/v1/back%-pools/([^/]+)/members$", "list_back_pool_members" },
  { "GET", "^/v1/tags$", "list_tags" },
  { "POST", "^/v1/tags$", "create_tag" },
  { "DELETE", "^/v1/tags/([^/]+)$", "delete_tag" },
  { "POST", "^/v1/sim%-tags/batch%-set$", "batch_set_tags" },
  { "GET", "^/v1/attributes$", "list_attributes" },
  { "POST", "^/v1/attributes$", "create_attribute" },
  { "PUT", "^/v1/attributes/([^/]+)$", "update_attribute" },
  { "POST", "^/v1/attributes/([^/]+)/enable$", "enable_attribute" },
  { "POST", "^/v1/attributes/([^/]+)/disable$", "disable_attribute" },
  { "POST", "^/v1/sms%-send%-infos$", "send_sms" },
  { "GET", "^/v1/sms%-send%-infos/details$", "list_sms_details" },
  { "GET", "^/v1/work%-orders$", "list_work_orders" },
  { "GET", "^/v1/work%-orders/([^/]+)/details$", "list_work_order_details" },
  { "GET", "^/v1/sim%-cards%-multiply$", "list_sim_device_multiply" },
  { "POST", "^/v1/sim%-cards%-multiply/([^/]+)/switch%-network$", "switch_network" },
  { "GET", "^/v1/network%-switch%-policies$", "list_network_switch_policies" },
  { "POST", "^/v1/network%-switch%-policies$", "add_network_switch_policy" },
}
M.ROUTES = ROUTES

local HANDLERS = {}
for _, r in ipairs(ROUTES) do
  local op = r[3]
  if W.OPS[op] then
    HANDLERS[op] = W.async(op)
  else
    HANDLERS[op] = K[op] or W[op] or G[op]
  end
  assert(HANDLERS[op], "no handler for " .. op)
end

-- endpoints whose errors use {"code","message"} (4.11.1 examples, L6053-6067)
local CODE_MESSAGE_OPS = { list_network_switch_policies = true }

-- tag / custom attribute endpoints: parameter errors are GSL.00020004 (L3733)
local GROUP_PARAM_CODE = {
  list_tags = "GSL.00020004", create_tag = "GSL.00020004", delete_tag = "GSL.00020004",
  list_attributes = "GSL.00020004", create_attribute = "GSL.00020004",
  update_attribute = "GSL.00020004", enable_attribute = "GSL.00020004",
  disable_attribute = "GSL.00020004",
}

-- queries that GSL.00011007 ("a query is already running") can hit
local QUERY_OPS = { show_month_usages = true, list_sim_card_flow_per_day = true,
                    list_flow_by_sim_cards = true }
for _, r in ipairs(ROUTES) do
  if r[1] == "GET" then QUERY_OPS[r[3]] = true end
end

-- per-operation rate limits (calls per second) on top of the 5/s of the account
local OP_LIMITS = { list_sim_cards = 1, list_sim_price_plans = 1 }
local ACCOUNT_LIMIT = 5

----------------------------------------------------------------------------
-- state and config

local S      -- vendor state (simsandbox.huawei.fixtures.build + counters)
local cfg    -- knobs (/_sim/config {"huawei": {...}})
local generation = 0

local function default_config()
  return {
    rate_limit = true,
    work_order_seconds = 60,
    fail_next_work_order = 0,
    query_in_progress = 0,
    query_in_progress_op = nil,
    repeat_guard_seconds = 300,
    token_ttl_seconds = 86400,
    token_invalid_status = 401,
    list_sim_cards_status = 200,
    error_shape = "auto",
    sdk_date_skew_seconds = 900,
  }
end

function M.reset(sandbox)
  generation = generation + 1
  S = F.build(sandbox and sandbox.fleet_cards or 0)
  S.account_id = F.ACCOUNT_ID
  S.token = nil
  S.old_tokens = {}
  S.token_requests = 0
  S.tokens_issued = 0
  S.auth = { token = 0, aksk = 0, failed = 0 }
  S.calls = {}
  S.rate_limited = 0
  S.last_auth_failure = nil
  S.last_aksk = nil
  cfg = default_config()
end

local function count(v)
  if v == true then return 1 end
  if v == false or v == nil or v == util.null then return 0 end
  if type(v) == "number" and v >= 0 then return math.floor(v) end
  error("expected a boolean or a count", 0)
end

local KNOBS = {
  rate_limit = function(v)
    if type(v) ~= "boolean" then error("rate_limit: boolean", 0) end
    cfg.rate_limit = v
  end,
  work_order_seconds = function(v)
    if type(v) ~= "number" or v < 0 then error("work_order_seconds: seconds >= 0", 0) end
    cfg.work_order_seconds = v
  end,
  fail_next_work_order = function(v) cfg.fail_next_work_order = count(v) end,
  query_in_progress = function(v) cfg.query_in_progress = count(v) end,
  query_in_progress_op = function(v)
    if v == util.null then v = nil end
    if v ~= nil and not HANDLERS[v] then error("query_in_progress_op: unknown operation", 0) end
    cfg.query_in_progress_op = v
  end,
  repeat_guard_seconds = function(v)
    if type(v) ~= "number" or v < 0 then error("repeat_guard_seconds: seconds >= 0", 0) end
    cfg.repeat_guard_seconds = v
  end,
  token_ttl_seconds = function(v)
    if type(v) ~= "number" or v <= 0 then error("token_ttl_seconds: seconds > 0", 0) end
    cfg.token_ttl_seconds = v
  end,
  token_invalid_status = function(v)
    if v ~= 401 and v ~= 403 and v ~= 400 then error("token_invalid_status: 400, 401 or 403", 0) end
    cfg.token_invalid_status = v
  end,
  list_sim_cards_status = function(v)
    if v ~= 200 and v ~= 201 then error("list_sim_cards_status: 200 or 201", 0) end
    cfg.list_sim_cards_status = v
  end,
  error_shape = function(v)
    if v ~= "auto" and v ~= "error_code" and v ~= "code" then
      error("error_shape: auto, error_code or code", 0)
    end
    cfg.error_shape = v
  end,
  sdk_date_skew_seconds = function(v)
    if type(v) ~= "number" or v < 0 then error("sdk_date_skew_seconds: seconds >= 0", 0) end
    cfg.sdk_date_skew_seconds = v
  end,
  expire_token = function(v)
    -- test helper: make the current token expire now
    if v == true and S.token then S.token.expires = util.now() end
  end,
}

function M.config(tbl)
  if not S then M.reset() end
  if type(tbl) ~= "table" then error("expected an object of knobs", 0) end
  for k, v in pairs(tbl) do
    local f = KNOBS[k]
    if not f then error("unknown knob '" .. tostring(k) .. "'", 0) end
    f(v)
  end
end

function M.advance()
  if S then W.tick(S, util.now()) end
end

----------------------------------------------------------------------------
-- answers

local function json(v)
  local text, err = util.json_encode(v)
  if not text then
    return util.json_encode({ error_code = "GSL.00010003", error_msg = "sandbox: " .. tostring(err) })
  end
  return text
end

local function headers(rid, extra)
  local h = { ["X-Request-Id"] = rid, ["Content-Type"] = "application/json;charset=UTF-8" }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

local function gsl_error(op, rid, status, code, msg)
  local shape = cfg.error_shape
  if shape == "auto" then shape = CODE_MESSAGE_OPS[op] and "code" or "error_code" end
  local body
  if shape == "code" then
    body = { code = code, message = msg }
  else
    body = { error_code = code, error_msg = msg }
  end
  return status, json(body), headers(rid)
end

-- API gateway errors (authentication, throttling, unknown API): APIGW.* codes
local function gateway_error(rid, status, code, msg, extra)
  return status, json({ error_code = code, error_msg = msg, request_id = rid }), headers(rid, extra)
end

function M.envelope_error(code, message)
  code = code or "GSL.00010003"
  local status = C.STATUS[tostring(code)] or 400
  local rid = C.request_id()
  return status, json({ error_code = tostring(code), error_msg = message or C.MSG[code] or "参数异常" }),
    headers(rid)
end

----------------------------------------------------------------------------
-- dispatch

function M.match(_, path)
  return sub(path, 1, 4) == "/v1/" or path == "/v3/auth/tokens" or path == "/v3/auth/tokens/"
end

local function route(method, path)
  local path_matched = false
  for _, r in ipairs(ROUTES) do
    local caps = { match(path, r[2]) }
    if caps[1] ~= nil then
      if r[1] == method then return r[3], caps end
      path_matched = true
    end
  end
  return nil, path_matched
end

local function authenticate(req, op, rid, raw_path, raw_query)
  local h = req.headers
  local authz = h["authorization"]
  if authz and match(authz, "^SDK%-HMAC%-SHA256") then
    local info = {}
    local ok, why = A.check_aksk(cfg, req, raw_path, raw_query, info)
    S.last_aksk = { ok = ok, reason = why, canonical_request = info.canonical_request,
                    string_to_sign = info.string_to_sign, time = req.now }
    if not ok then
      S.auth.failed = S.auth.failed + 1
      S.last_auth_failure = { mode = "aksk", reason = why, time = req.now }
      return gateway_error(rid, 401, "APIGW.0301", "Incorrect IAM authentication information: " .. why)
    end
    S.auth.aksk = S.auth.aksk + 1
    return nil
  end
  local token = h["x-auth-token"]
  if token and token ~= "" then
    local ok, why = A.check_token(S, token, req.now)
    if not ok then
      S.auth.failed = S.auth.failed + 1
      S.last_auth_failure = { mode = "token", reason = why, time = req.now }
      return gsl_error(op, rid, cfg.token_invalid_status, "GSL.00010001",
        C.MSG["GSL.00010001"] .. " (" .. why .. ")")
    end
    S.auth.token = S.auth.token + 1
    return nil
  end
  S.auth.failed = S.auth.failed + 1
  S.last_auth_failure = { mode = "none", reason = "no credentials", time = req.now }
  return gateway_error(rid, 401, "APIGW.0301",
    "Incorrect IAM authentication information: X-Auth-Token or SDK-HMAC-SHA256 Authorization is missing")
end

local function throttle(op, rid, now)
  if not cfg.rate_limit then return nil end
  local prefix = "huawei:" .. generation .. ":"
  local per = OP_LIMITS[op]
  local ok, wait, limit = true, nil, nil
  if per then
    ok, wait = util.ratelimit(prefix .. op, per, now)
    limit = per
  end
  if ok then
    ok, wait = util.ratelimit(prefix .. "account", ACCOUNT_LIMIT, now)
    limit = ACCOUNT_LIMIT
  end
  if ok then return nil end
  S.rate_limited = S.rate_limited + 1
  local retry = ceil(wait or 1)
  if retry < 1 then retry = 1 end
  return gateway_error(rid, 429, "APIGW.0308", format(
    "The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:1 second",
    limit), { ["Retry-After"] = tostring(retry) })
end

function M.handle(req)
  if not S then M.reset() end
  local now = req.now or util.now()
  req.now = now
  W.tick(S, now)
  local rid = C.request_id()
  local raw_path, raw_query = req.path, req.raw_query or ""
  local path = raw_path
  if #path > 1 and sub(path, -1) == "/" then path = sub(path, 1, -2) end

  if path == "/v3/auth/tokens" then
    local status, body, extra = A.issue_token(S, cfg, req)
    return status, json(body), headers(rid, extra)
  end

  local op, caps = route(req.method, path)
  if not op then
    if caps == true then
      return gateway_error(rid, 405, "APIGW.0101", "The API does not support the method "
        .. req.method)
    end
    return gateway_error(rid, 404, "APIGW.0101",
      "The API does not exist or has not been published in the environment")
  end
  S.calls[op] = (S.calls[op] or 0) + 1

  local st, body, hdrs = authenticate(req, op, rid, raw_path, raw_query)
  if st then return st, body, hdrs end
  st, body, hdrs = throttle(op, rid, now)
  if st then return st, body, hdrs end

  if cfg.query_in_progress > 0 and QUERY_OPS[op]
      and (cfg.query_in_progress_op == nil or cfg.query_in_progress_op == op) then
    cfg.query_in_progress = cfg.query_in_progress - 1
    return gsl_error(op, rid, 403, "GSL.00011007", C.MSG["GSL.00011007"])
  end

  C.param_code = GROUP_PARAM_CODE[op] or "GSL.00010004"
  local b = {}
  if req.body and req.body ~= "" and req.method ~= "GET" then
    local decoded = util.json_decode(req.body)
    if type(decoded) ~= "table" or util.is_bignum(decoded) or decoded == util.null then
      return gsl_error(op, rid, 400, C.param_code, "参数异常: request body is not a JSON object")
    end
    b = decoded
  end
  local ctx = { S = S, cfg = cfg, req = req, q = req.query or util.parse_query(raw_query),
                b = b, p = caps, now = now }
  local ok, status, value = pcall(HANDLERS[op], ctx)
  if not ok then
    local e = status
    if C.is_fail(e) then
      return gsl_error(op, rid, e.status, e.code, e.msg)
    end
    if ngx and ngx.log then ngx.log(ngx.ERR, "huawei sandbox: ", op, ": ", tostring(e)) end
    local code = C.param_code == "GSL.00020004" and "GSL.00020003" or "GSL.00010003"
    return gsl_error(op, rid, 500, code, C.MSG[code] .. " (sandbox: " .. tostring(e) .. ")")
  end
  return status, json(value), headers(rid)
end

----------------------------------------------------------------------------
-- /_sim/state/huawei

function M.state()
  if not S then M.reset() end
  W.tick(S, util.now())
  local cards = util.array()
  for i, c in ipairs(S.card_list) do
    local v = K.card_view(S, c)
    v.carrier = c.carrier
    cards[i] = v
  end
  local wos = util.array()
  for i, wo in ipairs(S.work_orders) do
    local v = W.wo_view(wo)
    v.op = wo.op
    v.card_id = C.jid(wo.card and wo.card.id or wo.card_id)
    v.due = wo.due
    wos[i] = v
  end
  local tags = util.array()
  for i, t in ipairs(S.tags) do tags[i] = { id = C.jid(t.id), tag_name = t.tag_name } end
  local attrs = util.array()
  for i, a in ipairs(S.attributes) do
    attrs[i] = { id = C.jid(a.id), slot = a.slot, cust_attr_name = a.cust_attr_name, status = a.status }
  end
  local pols = util.array()
  for i, p in ipairs(S.policies) do
    pols[i] = { id = C.jid(p.id), policy_name = p.policy_name, version = p.version, used = p.used }
  end
  local multi = util.array()
  for i, m in ipairs(S.multiply) do
    multi[i] = { sim_card_id = C.jid(m.id), cid = m.cid, online_carrier = m.online_carrier,
                 network_switch_policy_id = C.jid(m.policy_id) }
  end
  local sms = util.array()
  for i, s in ipairs(S.sms) do
    sms[i] = { cid = s.cid, sms_content = s.sms_content, sms_status = s.sms_status,
               sent_time = C.iso(s.sent_time) }
  end
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  return {
    token_requests = S.token_requests,
    tokens_issued = S.tokens_issued,
    token = S.token and { serial = S.token.serial, issued_at = S.token.issued,
                          expires_at = S.token.expires } or util.null,
    auth = S.auth,
    last_auth_failure = S.last_auth_failure or util.null,
    last_aksk = S.last_aksk or util.null,
    calls = util.object(S.calls),
    rate_limited = S.rate_limited,
    config = c,
    cards = cards,
    work_orders = wos,
    tags = tags,
    attributes = attrs,
    network_switch_policies = pols,
    multiply_cards = multi,
    sms = sms,
    now = util.now(),
  }
end

return M
