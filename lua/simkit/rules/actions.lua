--- Actions of the rules engine: constructors (checked here, refused with
-- the rule's name by `engine:rule`) and their execution.
--
-- An action is a table `{ action = name, args = {...}, at = spec }`. The
-- fleet actions (`suspend`, `resume`, `network`, `speed`, `topup`, `sms`,
-- `tag`, `imei_lock`, `usage_cap`) go through `fleet:act(card, name, args)`;
-- `webhook`, `mail`, `alert`, `log` and `call` run in the engine.
-- @module simkit.rules.actions
local period = require "simkit.rules.period"
local errors = require "simkit.errors"

local M = {}

local huge = math.huge
local function finite(v) return type(v) == "number" and v == v and v > -huge and v < huge end

--- The actions that go through `fleet:act`.
M.FLEET = { suspend = true, resume = true, network = true, speed = true, topup = true, sms = true, tag = true,
  imei_lock = true, usage_cap = true }

local AT = { now = true }

-- check an argument table; `check(a)` returns args or nil, why
local function define(name, check)
  return function(a)
    if a == nil then a = {} end
    local act = { action = name }
    if type(a) ~= "table" then
      act.invalid = name .. ": expected a table of arguments, got " .. type(a)
      return act
    end
    if a.at ~= nil then
      local spec, why = period.parse_when(a.at, AT)
      if not spec then
        act.invalid = name .. ": at: " .. why .. " (now, next_day, next_month, after:SECONDS)"
        return act
      end
      if spec.kind ~= "now" then act.at, act.at_spec = a.at, spec end
    end
    local args, why = check(a)
    if not args then act.invalid = name .. ": " .. why else act.args = args end
    return act
  end
end

local function none() return {} end

--- `suspend{}`
M.suspend = define("suspend", none)
--- `resume{}`
M.resume = define("resume", none)

--- `network{ on = bool }`
M.network = define("network", function(a)
  if type(a.on) ~= "boolean" then return nil, "on must be true or false" end
  return { on = a.on }
end)

--- `speed{ kbps = n | "default" }`
M.speed = define("speed", function(a)
  if a.kbps == "default" then return { kbps = "default" } end
  if not finite(a.kbps) or a.kbps <= 0 or a.kbps > 1e7 then
    return nil, "kbps must be a number 1..10000000 or \"default\""
  end
  return { kbps = a.kbps }
end)

--- `topup{ package = code | "cheapest" | function(card, packages) -> code }`
M.topup = define("topup", function(a)
  local p = a.package
  if type(p) == "function" then return { package = p } end
  if type(p) ~= "string" or p == "" or #p > 64 then
    return nil, "package must be a package code, \"cheapest\" or a function(card, packages)"
  end
  return { package = p }
end)

--- `sms{ text }`
M.sms = define("sms", function(a)
  local text = a.text or a[1]
  if type(text) ~= "string" or text == "" or #text > 1000 then return nil, "text must be a string of 1..1000 bytes" end
  return { text = text }
end)

--- `tag{ tags = { ... } }` (or one string)
M.tag = define("tag", function(a)
  local tags = a.tags or a[1]
  if type(tags) == "string" then tags = { tags } end
  if type(tags) ~= "table" or #tags == 0 then return nil, "tags must be a string or a list of strings" end
  for _, t in ipairs(tags) do
    if type(t) ~= "string" or t == "" or #t > 256 then return nil, "each tag must be a string of 1..256 bytes" end
  end
  return { tags = tags }
end)

--- `imei_lock{ imei }` (without `imei`: the card's current IMEI)
M.imei_lock = define("imei_lock", function(a)
  if a.imei ~= nil and (type(a.imei) ~= "string" or not a.imei:match("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d?%d?$")) then
    return nil, "imei must be a string of 14 to 16 digits"
  end
  return { imei = a.imei }
end)

--- `usage_cap{ mb }`: a vendor-side hard cut-off.
M.usage_cap = define("usage_cap", function(a)
  if not finite(a.mb) or a.mb <= 0 or a.mb > 1e12 then return nil, "missing threshold: mb must be a number > 0" end
  return { mb = a.mb }
end)

--- `webhook{ url, secret, timeout }`: POST JSON, signed when `secret` is given.
M.webhook = define("webhook", function(a)
  if type(a.url) ~= "string" or not a.url:match("^https?://[^%s]+$") or #a.url > 2048 then
    return nil, "url must be an http:// or https:// URL"
  end
  if a.secret ~= nil and (type(a.secret) ~= "string" or a.secret == "") then
    return nil, "secret must be a non-empty string"
  end
  if a.timeout ~= nil and (not finite(a.timeout) or a.timeout <= 0 or a.timeout > 300) then
    return nil, "timeout must be 0..300 seconds"
  end
  return { url = a.url, secret = a.secret, timeout = a.timeout, transport = a.transport }
end)

--- `mail{ to, smtp = { url, from, username, password }, subject }` over libcurl SMTP.
M.mail = define("mail", function(a)
  local to = a.to
  if type(to) == "string" then to = { to } end
  if type(to) ~= "table" or #to == 0 then return nil, "to must be an address or a list of addresses" end
  for _, addr in ipairs(to) do
    if type(addr) ~= "string" or not addr:match("^[^%s<>@]+@[^%s<>@]+$") then
      return nil, "to: not an e-mail address"
    end
  end
  local smtp = a.smtp
  if type(smtp) ~= "table" or type(smtp.url) ~= "string" or not smtp.url:match("^smtps?://[^%s]+$") then
    return nil, "smtp must be { url = \"smtp://host:port\", from = ..., username, password }"
  end
  if type(smtp.from) ~= "string" or not smtp.from:match("^[^%s<>@]+@[^%s<>@]+$") then
    return nil, "smtp.from must be an e-mail address"
  end
  if a.subject ~= nil and type(a.subject) ~= "string" then return nil, "subject must be a string" end
  return { to = to, smtp = smtp, subject = a.subject }
end)

local function message_args(a)
  if a.message ~= nil and type(a.message) ~= "string" then return nil, "message must be a string" end
  return { message = a.message }
end

--- `alert{ message }`: the engine's logger at level "warn", and the audit.
M.alert = define("alert", message_args)
--- `log{ message }`: the engine's logger at level "info", and the audit.
M.log = define("log", message_args)

--- `call{ fn }`: user Lua, `fn(card, info) -> result | nil, err`.
M.call = define("call", function(a)
  local fn = a.fn or a[1]
  if type(fn) ~= "function" then return nil, "fn must be a function(card, info)" end
  return { fn = fn }
end)

--- Is `v` an action made by this module?
function M.is(v)
  return type(v) == "table" and type(v.action) == "string" and (M[v.action] ~= nil) and v.args ~= nil or
    (type(v) == "table" and v.invalid ~= nil and type(v.action) == "string")
end

local function fail(message, extra)
  local f = { kind = "input", message = message }
  for k, v in pairs(extra or {}) do f[k] = v end
  return nil, errors.new(f)
end

local function cheapest(packages)
  local best
  for _, p in ipairs(packages or {}) do
    local price = tonumber(p.price)
    if price and (best == nil or price < tonumber(best.price)) then best = p end
  end
  return best and best.code
end

-- resolve the top-up package code for `card`
local function package_for(act, card, env)
  local p = act.args.package
  if type(p) == "string" and p ~= "cheapest" then return p end
  local list, err = env.packages(card)
  if not list then return nil, err end
  local code
  if p == "cheapest" then
    code = cheapest(list)
  else
    local ok, res = pcall(p, card, list)
    if not ok then return fail("topup: the package function raised: " .. tostring(res)) end
    code = type(res) == "table" and res.code or res
  end
  if type(code) ~= "string" or code == "" then return fail("topup: no package to order for this card") end
  local chosen
  for _, q in ipairs(list) do
    if q.code == code then chosen = q break end
  end
  return code, nil, chosen
end

--- Run one action now. `env` = { fleet, order_key, payload, logger, now,
-- packages = function(card) -> list | nil, err, order_info = {} (a top-up
-- fills in `package` and, when the package list gave it, `cost`) }.
-- @return result or nil, err (a simkit error)
function M.run(act, card, env)
  local name, a = act.action, act.args
  if M.FLEET[name] then
    local args = {}
    for k, v in pairs(a) do args[k] = v end
    if name == "topup" then
      local code, err, chosen = package_for(act, card, env)
      if not code then return nil, err end
      args.package, args.key = code, env.order_key
      -- what was ordered and its price, for the ledger, the audit and the report
      if env.order_info then
        env.order_info.package = code
        env.order_info.cost = chosen and tonumber(chosen.price) or nil
      end
    elseif name == "imei_lock" and args.imei == nil then
      if not card.imei then return fail("imei_lock: the card has no IMEI to lock to") end
      args.imei = card.imei
    end
    return env.fleet:act(card, name, args)
  elseif name == "webhook" then
    return require("simkit.rules.webhook").post(a, env.payload, env.now)
  elseif name == "mail" then
    return require("simkit.rules.mail").send(a, env.payload)
  elseif name == "alert" or name == "log" then
    local p = env.payload
    local msg = a.message or ("rule " .. p.rule .. " fired for " .. tostring(p.iccid) .. " (" ..
      tostring(p.value) .. " vs " .. tostring(p.threshold) .. ")")
    env.logger(name == "alert" and "warn" or "info", msg, p)
    return { message = msg }
  elseif name == "call" then
    local ok, res, err = pcall(a.fn, card, env.payload)
    if not ok then return fail("call: the function raised: " .. tostring(res)) end
    if res == nil and err ~= nil then
      if type(err) == "table" and err.kind then return nil, err end
      return fail("call: " .. tostring(err))
    end
    if res == nil then res = true end
    return res
  end
  return fail("unknown action " .. tostring(name))
end

return M
