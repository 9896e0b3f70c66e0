--- EIOTCLUB open API (v3), imitated for the simkit sandbox.
--
-- All 58 endpoints: POST /api/v3/..., a flat JSON body carrying appkey,
-- timestamp, nonce and sign next to the business parameters; the answer is
-- HTTP 200 with {code, message, data} (see sim/EIOTCLUB.md for fixtures,
-- behaviour and error codes). The pieces live in simsandbox/eiotclub/:
-- state (seed), model (package lifecycle, views), cards, packages, cloud,
-- pools, cdr, notify.
--
-- Control routes (sandbox only): POST /_sim/eiotclub/notify | usage | cdr |
-- imei_lock, GET/DELETE /_sim/eiotclub/notifications; knobs through
-- /_sim/config {"eiotclub": {...}}.
-- luacheck: globals ngx
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"
local model = require "simsandbox.eiotclub.model"
local N = require "simsandbox.eiotclub.notify"
local cdr = require "simsandbox.eiotclub.cdr"

local floor, abs = math.floor, math.abs
local find, sub, upper, format = string.find, string.sub, string.upper, string.format
local concat, sort = table.concat, table.sort
local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall

local V = { name = "eiotclub" }

local ROUTES = {}
for _, modname in ipairs({ "cards", "packages", "cloud", "pools", "cdr" }) do
  for path, spec in pairs(require("simsandbox.eiotclub." .. modname)) do
    if type(spec) == "table" and spec.fn and sub(path, 1, 1) == "/" then ROUTES[path] = spec end
  end
end
V.ROUTES = ROUTES

local ACTIONS -- control actions, also reachable as /_sim/config knobs

local JSON_HEADERS = { ["Content-Type"] = "application/json;charset=UTF-8" }

local function json(status, t)
  return status, assert(util.json_encode(t)), JSON_HEADERS
end

----------------------------------------------------------------------------
-- envelopes

local function code_value(spec, code)
  if spec and spec.code_type == "int" then return tonumber(code) or code end
  return tostring(code)
end

local function ok_envelope(spec, data, extra)
  local t = { code = code_value(spec, "200") }
  if not spec.no_message then t.message = C.OK_MESSAGE end
  if not spec.no_data then
    if data == nil then data = util.object() end
    t.data = data
  end
  for k, v in pairs(extra or {}) do t[k] = v end
  return json(200, t)
end

local function error_envelope(spec, code, message)
  return json(200, { code = code_value(spec, code), message = message, data = util.null })
end

function V.envelope_error(code, message)
  code = code ~= nil and tostring(code) or "500"
  return error_envelope(nil, code, message or C.MESSAGES[code] or "Operation failed, try again later.")
end

----------------------------------------------------------------------------
-- authentication

--- The vendor's string to sign: every non-empty parameter but sign as
-- "k=v&" (Java String.valueOf rendering), the entries sorted, "secret=".
function V.string_to_sign(params, raw, secret)
  local entries = {}
  for k, v in pairs(params) do
    if k ~= "sign" and not C.empty(v) then
      entries[#entries + 1] = k .. "=" .. C.render(v, raw and type(v) ~= "string" and raw[k] or nil) .. "&"
    end
  end
  sort(entries)
  return concat(entries) .. "secret=" .. secret
end

local function prune_nonces(now)
  local keep = 2 * S.cfg.skew
  for k, t in pairs(S.nonces) do
    if now - t > keep then S.nonces[k] = nil end
  end
end

local nonce_inserts = 0

local function authenticate(ctx)
  local p, raw, now = ctx.p, ctx.raw, ctx.now
  local appkey = p.appkey
  if C.empty(appkey) then C.fail("42101") end
  if appkey ~= S.APPKEY then C.fail("42102") end
  local secret = S.SECRET
  -- timestamp: 10-digit unix seconds
  if C.empty(p.timestamp) then C.fail("42201") end
  local ts_text = type(p.timestamp) == "string" and p.timestamp or (type(p.timestamp) == "number" and raw.timestamp)
  if not ts_text or not find(ts_text, "^%d+$") or #ts_text > 15 then C.fail("42204") end
  local ts = tonumber(ts_text)
  if abs(ts - now) > S.cfg.skew then
    C.fail("42203", format("sandbox time %d", floor(now)))
  end
  -- nonce: 5-digit integer (a numeric string is accepted)
  if C.empty(p.nonce) then C.fail("42301") end
  local nonce_text = type(p.nonce) == "string" and p.nonce or (type(p.nonce) == "number" and raw.nonce)
  local nn = nonce_text and find(nonce_text, "^%d+$") and tonumber(nonce_text)
  if not nn or nn < 10000 or nn > 99999 then C.fail("43332", "nonce must be a 5-digit integer") end
  -- sign
  if C.empty(p.sign) then C.fail("42401") end
  local sts = V.string_to_sign(p, raw, secret)
  local expected = upper(util.sha1_hex(sts))
  if p.sign ~= expected then
    S.last_auth_failure = {
      path = ctx.path, time = now, received = tostring(p.sign), expected = expected,
      string_to_sign = sub(sts, 1, #sts - #secret) .. "<secret>",
    }
    C.fail("42402")
  end
  -- replay: the same signed request again within the window
  local key = appkey .. "\0" .. ts_text .. "\0" .. nonce_text .. "\0" .. expected
  if S.nonces[key] then C.fail("43332", "nonce already used") end
  S.nonces[key] = now
  nonce_inserts = nonce_inserts + 1
  if nonce_inserts % 1000 == 0 then prune_nonces(now) end
end

----------------------------------------------------------------------------
-- control routes (/_sim/eiotclub/...)

local function find_subject(args)
  if type(args.iccid) == "string" then
    local card = S.cards[args.iccid]
    if not card then return nil, "no card " .. args.iccid end
    return card, "card"
  end
  if type(args.eid) == "string" then
    local ce = S.clouds[args.eid]
    if not ce then return nil, "no cloud eSIM " .. args.eid end
    return ce, "cloud"
  end
  return nil, "give iccid or eid"
end

local PKG_EVENTS = { SubPkgList = "list", PkgEffective = "one", PkgQuantityList = "list" }
local CLOUD_PKG_EVENTS = { CloudESimSubPkgList = "list", CloudESimPkgActivate = "one",
  CloudESimPkgDeactivate = "list" }
local KNOWN_EVENTS = {
  FlowAlert = true, SubPkgList = true, PkgEffective = true, Refund = true, PkgQuantityList = true,
  CardStopped = true, SwitchProduct = true, CardIMEILocked = true, IMEIUnLock = true,
  CardMovedOutIMEIPool = true, CardMovedInIMEIPool = true, CloudESimLocked = true,
  CloudESimUnLock = true, CloudESimFlowAlert = true, CloudESimSubPkgList = true,
  CloudESimPkgActivate = true, CloudESimRefund = true, CloudESimPkgDeactivate = true,
  CloudESimCardStopped = true, CloudESimSwitchProduct = true,
}

--- Build the fields of an on-demand notification from the state.
local function notification_fields(event, args)
  local cloud = sub(event, 1, 9) == "CloudESim"
  local subject, why
  if cloud then
    subject, why = find_subject({ eid = args.eid or S.cloud_list[1].eid })
  else
    subject, why = find_subject({ iccid = args.iccid or S.card_list[1].iccid })
  end
  if not subject then return nil, why end
  local f = {}
  if PKG_EVENTS[event] or CLOUD_PKG_EVENTS[event] then
    local o
    if cloud then
      o = args.eshopOrderId and S.cloud_orders[args.eshopOrderId] or model.cloud_current(subject)
        or model.cloud_pending(subject)[1]
    else
      o = args.orderId and S.orders[args.orderId] or model.current(subject) or model.pending(subject)[1]
    end
    if not o then return nil, "no package order to describe" end
    local item = cloud and model.cloud_item(o, event == "CloudESimPkgActivate")
      or model.pkg_item(o, event == "PkgEffective")
    f.data = ((PKG_EVENTS[event] or CLOUD_PKG_EVENTS[event]) == "list") and util.array({ item }) or item
  elseif event == "Refund" or event == "CloudESimRefund" then
    local o
    if cloud then
      o = args.eshopOrderId and S.cloud_orders[args.eshopOrderId] or model.cloud_current(subject)
    else
      o = args.orderId and S.orders[args.orderId] or model.current(subject)
    end
    if not o then return nil, "no order to describe" end
    if cloud then f.eid, f.eshopOrderId = o.eid, o.eshopOrderId else f.iccid, f.orderId = o.iccid, o.orderId end
    f.outTradeNo = o.outTradeNo or ""
    f.orderAmount = C.money(o.price_cents)
    f.refundAmount = C.money(o.refund_cents > 0 and o.refund_cents or o.price_cents)
  elseif event == "SwitchProduct" or event == "CloudESimSwitchProduct" then
    local key = cloud and "eid" or "iccid"
    f.data = util.array({ { [key] = cloud and subject.eid or subject.iccid,
      productCode = args.productCode or subject.productCode } })
  else
    if cloud then f.eid = subject.eid else f.iccid = subject.iccid end
    if event == "FlowAlert" or event == "CloudESimFlowAlert" then
      local t = tonumber(args.alert_type) or 1
      f.alert_type = t
      f.alert_value = args.alert_value and tostring(args.alert_value) or ({ "100", "10", "7" })[t] or "100"
    elseif event == "CardMovedOutIMEIPool" or event == "CardMovedInIMEIPool" then
      f.plockGroupId = tonumber(args.plockGroupId) or subject.plockGroupId or 3001
      f.nonce = tostring(math.random(10000, 99999)) -- typed string in these two schemas
    end
  end
  if type(args.fields) == "table" then
    for k, v in pairs(args.fields) do f[k] = v end
  end
  return f
end

local function control_notify(args)
  local event = args.event
  if type(event) ~= "string" or not KNOWN_EVENTS[event] then
    return json(400, { ok = false, error = "notify: 'event' must be one of the 20 EIOTCLUB events" })
  end
  local fields, why = notification_fields(event, args)
  if not fields then return json(400, { ok = false, error = "notify: " .. why }) end
  if type(args.url) == "string" then S.cfg.notify_url = args.url end
  local rec = N.send(event, fields, { sync = args.sync == true, force = true })
  return json(200, { ok = true, notification = N.view(rec) })
end

local function control_usage(args, now)
  local subject, kind = find_subject(args)
  if not subject then return json(400, { ok = false, error = "usage: " .. kind }) end
  local bytes = tonumber(args.bytes) or (tonumber(args.mb) and floor(tonumber(args.mb) * C.MB))
  if not bytes or bytes <= 0 then return json(400, { ok = false, error = "usage: give bytes or mb > 0" }) end
  local ok, why
  if kind == "card" then
    ok, why = model.consume(subject, floor(bytes), now, args.imei, args.mccmnc)
  else
    ok, why = model.cloud_consume(subject, floor(bytes), now, args.imei, args.mccmnc)
  end
  if not ok then return json(409, { ok = false, error = "usage: " .. why }) end
  local view = kind == "card" and model.card_view(subject, true) or model.cloud_view(subject)
  return json(200, { ok = true, card = view })
end

local function control_imei_lock(args)
  local subject, kind = find_subject(args)
  if not subject then return json(400, { ok = false, error = "imei_lock: " .. kind }) end
  if kind == "card" then
    subject.plockGroupId = subject.plockGroupId or 3001
    subject.imeiPoolStatus = 1
    N.send("CardIMEILocked", { iccid = subject.iccid })
  else
    subject.locked = true
    N.send("CloudESimLocked", { eid = subject.eid })
  end
  return json(200, { ok = true })
end

local function control_cdr(args)
  local res, err = cdr.write_file(args)
  if not res then return json(400, { ok = false, error = err }) end
  res.ok = true
  return json(200, res)
end

ACTIONS = {
  notify = function(args) return control_notify(args) end,
  usage = function(args, now) return control_usage(args, now) end,
  imei_lock = function(args) return control_imei_lock(args) end,
  cdr = function(args) return control_cdr(args) end,
}

local function control(req)
  local args = {}
  if req.body and req.body ~= "" then
    local err
    args, err = util.json_decode(req.body)
    if type(args) ~= "table" then return json(400, { ok = false, error = "control: " .. tostring(err or "expected an object") }) end
  end
  local route = req.method .. " " .. req.path
  if route == "POST /_sim/eiotclub/notify" then return control_notify(args) end
  if route == "POST /_sim/eiotclub/usage" then return control_usage(args, req.now) end
  if route == "POST /_sim/eiotclub/imei_lock" then return control_imei_lock(args) end
  if route == "POST /_sim/eiotclub/cdr" then return control_cdr(args) end
  if route == "GET /_sim/eiotclub/notifications" then
    local list = util.array()
    for _, r in ipairs(S.notifications) do list[#list + 1] = N.view(r) end
    return json(200, { notifications = list })
  end
  if route == "DELETE /_sim/eiotclub/notifications" then
    for i = #S.notifications, 1, -1 do S.notifications[i] = nil end
    return json(200, { ok = true })
  end
  return json(404, { ok = false, error = "no eiotclub control route " .. route })
end
V.control = control

----------------------------------------------------------------------------
-- the module contract

function V.match(_, path)
  return sub(path, 1, 8) == "/api/v3/" or sub(path, 1, 15) == "/_sim/eiotclub/"
end

function V.reset(sandbox)
  math.randomseed(floor(util.now() * 1000) % 2147483647)
  S.reset(util.now(), sandbox and sandbox.fleet_cards or 0)
end

function V.advance()
  model.tick(util.now())
end

local function not_found(req)
  return json(404, { timestamp = format("%.0f", req.now * 1000), status = 404, error = "Not Found", path = req.path })
end

function V.handle(req)
  local path = req.path
  if sub(path, 1, 15) == "/_sim/eiotclub/" then return control(req) end
  local spec = ROUTES[path]
  if not spec then return not_found(req) end
  if req.method ~= "POST" then
    return json(405, { timestamp = format("%.0f", req.now * 1000), status = 405,
      error = "Method Not Allowed", message = "Request method '" .. req.method .. "' not supported", path = path })
  end
  local ctype = (req.headers or {})["content-type"] or ""
  if not find(ctype:lower(), "application/json", 1, true) then
    return json(415, { timestamp = format("%.0f", req.now * 1000), status = 415,
      error = "Unsupported Media Type", message = "Content type '" .. ctype .. "' not supported", path = path })
  end
  local params = util.json_decode(req.body or "")
  if type(params) ~= "table" or util.is_bignum(params) or params == util.null or params[1] ~= nil then
    return error_envelope(spec, "43332", C.MESSAGES["43332"] .. " (body must be a JSON object)")
  end
  local ctx = { p = params, raw = C.scan_raw(req.body), now = req.now, path = path, req = req }
  -- rate limit per appkey
  local limit = S.cfg.rate_limit
  if limit then
    local key = type(params.appkey) == "string" and params.appkey or "-"
    if not util.ratelimit("eiotclub:" .. key, limit, req.now) then
      return error_envelope(spec, "501", C.MESSAGES["501"])
    end
  end
  model.tick(req.now)
  local ok, data, extra = pcall(function()
    authenticate(ctx)
    return spec.fn(ctx)
  end)
  if not ok then
    if C.is_error(data) then return error_envelope(spec, data.code, data.message) end
    if ngx and ngx.log then ngx.log(ngx.ERR, "eiotclub ", spec.op, ": ", tostring(data)) end
    return error_envelope(spec, "43331", C.MESSAGES["43331"])
  end
  return ok_envelope(spec, data, extra)
end

----------------------------------------------------------------------------
-- knobs

local function parse_money(v)
  if type(v) == "number" then return floor(v * 100 + 0.5) end
  if type(v) == "string" and find(v, "^%d+%.?%d?%d?$") then return floor(tonumber(v) * 100 + 0.5) end
  error("balance must be a decimal string like \"12.34\"")
end

function V.config(t)
  if type(t) ~= "table" then error("expected an object") end
  local cfg = S.cfg
  for k, v in pairs(t) do
    if v == util.null then v = false end
    if k == "notify_url" then
      if v and type(v) ~= "string" then error("notify_url must be a URL or null") end
      cfg.notify_url = v or nil
    elseif k == "rate_limit" then
      if v ~= false and (type(v) ~= "number" or v <= 0) then error("rate_limit must be > 0 or false") end
      cfg.rate_limit = v
    elseif k == "notify_attempts" or k == "notify_retry_delay" or k == "notify_timeout"
      or k == "skew" or k == "guard_seconds" or k == "unlock_limit" then
      if type(v) ~= "number" or v < 0 then error(k .. " must be a number >= 0") end
      cfg[k] = v
    elseif k == "auto_notify" then
      cfg.auto_notify = v and true or false
    elseif k == "balance" then
      S.balance = parse_money(v)
    elseif k == "esim_stock" then
      if type(v) ~= "table" then error("esim_stock must be {code: n}") end
      for code, n in pairs(v) do
        for _, g in ipairs(S.esim_goods) do
          if g.code == code then g.stock = tonumber(n) or g.stock end
        end
      end
    elseif ACTIONS[k] then
      -- the control routes as config actions (for a router that keeps
      -- /_sim/... to itself): the answer is kept as state.last_control
      local status, body = ACTIONS[k](type(v) == "table" and v or {}, util.now())
      S.last_control = { action = k, status = status, result = util.json_decode(body) }
      if status ~= 200 then error(k .. ": " .. tostring(S.last_control.result and S.last_control.result.error)) end
    else
      error("unknown eiotclub knob '" .. tostring(k) .. "'")
    end
  end
end

----------------------------------------------------------------------------
-- state dump (/_sim/state/eiotclub)

local function flags(t)
  local out = util.array()
  for k, v in pairs(t or {}) do if v then out[#out + 1] = k end end
  sort(out)
  return out
end

local function order_state(o)
  return {
    orderId = o.orderId, orderNumber = o.orderNumber, outTradeNo = o.outTradeNo or "",
    iccid = o.iccid, packageCode = o.packageCode, state = o.state, status = o.status,
    isRefund = o.isRefund, price_cents = o.price_cents, refund_cents = o.refund_cents,
    currency = o.currency, createDate = C.dt(o.createDate), startDate = C.dt(o.startDate),
    endDate = C.dt(o.endDate), flow_total_bytes = o.flow_total_bytes, used_bytes = o.used_bytes,
    salesChannel = o.salesChannel, fromIccid = o.fromIccid, fromOrderId = o.fromOrderId,
    alerts = flags(o.alerts),
  }
end

local function cloud_order_state(o)
  return {
    eshopOrderId = o.eshopOrderId, orderId = o.orderId, outTradeNo = o.outTradeNo or "",
    eid = o.eid, packageCode = o.packageCode, state = o.state, status = o.status,
    isRefund = o.isRefund, price_cents = o.price_cents, refund_cents = o.refund_cents,
    createDate = C.dt(o.createDate), startDate = C.dt(o.startDate), endDate = C.dt(o.endDate),
    flow_total_bytes = o.flow_total_bytes, used_bytes = o.used_bytes, salesChannel = o.salesChannel,
    alerts = flags(o.alerts),
  }
end

function V.state()
  model.tick(util.now())
  local st = {
    account_id = S.account_id, currency = S.currency, balance = C.money(S.balance),
    balance_cents = S.balance, appkey = S.APPKEY,
    cards = util.array(), orders = util.array(), esim_orders = util.array(),
    cloud_esims = util.array(), cloud_orders = util.array(), pools = util.array(),
    pool_records = util.array(), imei_pools = util.array(), tasks = util.array(),
    sms = util.array(), notifications = util.array(), transfers = util.array(),
    cdr_records = #S.cdrs, esim_goods = util.array(),
    config = {
      notify_url = S.cfg.notify_url or util.null, rate_limit = S.cfg.rate_limit,
      notify_attempts = S.cfg.notify_attempts, notify_retry_delay = S.cfg.notify_retry_delay,
      notify_timeout = S.cfg.notify_timeout, auto_notify = S.cfg.auto_notify, skew = S.cfg.skew,
      guard_seconds = S.cfg.guard_seconds, unlock_limit = S.cfg.unlock_limit,
    },
    last_auth_failure = S.last_auth_failure or util.null,
    last_control = S.last_control or util.null,
  }
  for _, c in ipairs(S.card_list) do
    local v = model.card_view(c, true)
    v.eid, v.remark, v.msisdn, v.pool_object_id = c.eid, c.remark, c.msisdn, c.pool_id or 0
    v.plockGroupId = c.plockGroupId or 0
    st.cards[#st.cards + 1] = v
  end
  for _, o in ipairs(S.order_list) do st.orders[#st.orders + 1] = order_state(o) end
  for _, e in ipairs(S.esim_order_list) do
    st.esim_orders[#st.esim_orders + 1] = { orderId = e.orderId, outTradeNo = e.outTradeNo,
      goodsCode = e.goodsCode, iccid = e.iccid, activationCode = e.activationCode, status = e.status,
      price_cents = e.price_cents, refund_cents = e.refund_cents or 0, packageOrderId = e.packageOrderId }
  end
  for _, g in ipairs(S.esim_goods) do
    st.esim_goods[#st.esim_goods + 1] = { code = g.code, price = g.price, stock = g.stock, packageCode = g.packageCode }
  end
  for _, ce in ipairs(S.cloud_list) do st.cloud_esims[#st.cloud_esims + 1] = model.cloud_view(ce) end
  for _, o in ipairs(S.cloud_order_list) do st.cloud_orders[#st.cloud_orders + 1] = cloud_order_state(o) end
  for _, p in ipairs(S.pool_list) do
    local v = model.pool_view(p)
    v.pool_type_code = p.pool_type_code
    v.iccids = util.array()
    for i, iccid in ipairs(p.card_order) do v.iccids[i] = iccid end
    st.pools[#st.pools + 1] = v
  end
  for _, r in ipairs(S.pool_records) do
    st.pool_records[#st.pool_records + 1] = { pool_record_id = r.pool_record_id,
      pool_object_id = r.pool_object_id, order_no = r.order_no, out_trade_no = r.out_trade_no,
      pool_type_code = r.pool_type_code, status_code = r.status_code, total = r.total, used = r.used,
      active_timestamp = r.active_timestamp, expire_timestamp = r.expire_timestamp,
      create_at = r.create_at, price_cents = r.price }
  end
  local ids = {}
  for id in pairs(S.imei_pools) do ids[#ids + 1] = id end
  sort(ids)
  for _, id in ipairs(ids) do
    local imeis = util.array()
    for i, x in ipairs(S.imei_pools[id].imeis) do imeis[i] = x end
    st.imei_pools[#st.imei_pools + 1] = { plockGroupId = id, imeis = imeis }
  end
  local cards_mod = require "simsandbox.eiotclub.cards"
  for _, t in ipairs(S.task_list) do
    local iccids = util.array()
    for i, x in ipairs(t.iccids or {}) do iccids[i] = x end
    st.tasks[#st.tasks + 1] = { id = t.id, status = cards_mod.task_status(t, util.now()),
      result = t.result, iccids = iccids }
  end
  for _, m in ipairs(S.sms) do st.sms[#st.sms + 1] = m end
  for _, r in ipairs(S.notifications) do st.notifications[#st.notifications + 1] = N.view(r) end
  for _, x in ipairs(S.transfers) do st.transfers[#st.transfers + 1] = x end
  return st
end

return V
