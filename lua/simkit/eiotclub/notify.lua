--- Verify and decode EIOTCLUB asynchronous notifications.
--
--     local simkit = require "simkit"
--     local ev, err = simkit.notify.eiotclub(body, secret, { max_age = 600 })
--     if not ev then ngx.status = err.kind == "auth" and 401 or 400 end
--
-- The vendor signs a notification like a request but WITHOUT `appkey`:
-- every non-empty top-level field except `sign` (and `appkey`, if one is
-- present), sorted, `secret=` appended, SHA1, hex. `data` is signed as the
-- JSON **string** exactly as received; a notification whose `data` arrives
-- as a JSON object/array cannot be verified and is refused.
--
-- For a full webhook endpoint (dispatch on `event`, de-duplication on `id`,
-- the `{"status":"SUCCESS"}` reply) see `simkit.eiotclub.receiver` (also
-- reachable as `simkit.notify.receiver` and `simkit.receiver`).
--
-- Also reachable as `simkit.notify` and `require "simkit.notify"` (aliases).
-- @module simkit.eiotclub.notify
local errors = require "simkit.errors"
local json = require "simkit.json"
local sign = require "simkit.sign"
local util = require "simkit.util"
local core = require "simkit.core"

local equal_nocase, is_hex, find, gmatch, floor = core.equal_nocase, core.is_hex, string.find, string.gmatch,
  math.floor
local mtype = math.type -- nil on LuaJIT
local NULL = json.null

local M = {}

--- Event name -> required fields (see `simkit.vendor.eiotclub_events`).
M.EVENTS = require "simkit.vendor.eiotclub_events"

local ENVELOPE = { id = true, event = true, timestamp = true, nonce = true, sign = true,
  appkey = true, data = true }

local function fail(kind, message, extra)
  local f = { kind = kind, vendor = "eiotclub", op = "notify", message = message, retryable = false }
  for k, v in pairs(extra or {}) do f[k] = v end
  return nil, errors.new(f)
end

--- Comparison of two hex signatures, case-insensitive, whose time does not
-- depend on where they differ (`core.equal_nocase`: every byte is looked
-- at, letters folded without a branch; no string is made).
-- @tparam string a
-- @tparam string b
-- @treturn boolean
function M.equal_hex(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  return equal_nocase(a, b)
end

local function present(v)
  return v ~= nil and v ~= json.null
end

local function is_array(t)
  return type(t) == "table" and (getmetatable(t) == json.array_mt or (next(t) ~= nil and t[1] ~= nil))
end

local function missing_in(t, names, out, prefix)
  for _, name in ipairs(names or {}) do
    if not present(t[name]) then out[#out + 1] = prefix .. name end
  end
end

--- Largest notification `timestamp` accepted, either sign (2^53: exact
-- as a double, far beyond any date in seconds or milliseconds).
M.MAX_TIMESTAMP = 2 ^ 53
--- Longest notification `id` accepted (bytes; the vendor's are 24).
M.MAX_ID = 256

-- The timestamp as a number, nil unless an integer within +-MAX_TIMESTAMP
-- (a huge one used to raise from string.format with max_age set: #10.10).
local function timestamp_of(v)
  -- the common case without text: an integer (5.4: of integer subtype, as decoded)
  if type(v) == "number" and (mtype and mtype(v) == "integer" or not mtype and v == floor(v)) and
      v <= M.MAX_TIMESTAMP and v >= -M.MAX_TIMESTAMP then
    return v
  end
  local s = util.integer_text(v)
  if not s then return nil end
  local digits = s:gsub("^%-?0*", "")
  -- compared as text: a double would round 2^53+1 down to 2^53
  if #digits > 16 or (#digits == 16 and digits > "9007199254740992") then return nil end
  return tonumber(s)
end

--- Check the options of `eiotclub` (used by the receiver when it is
-- created): raises, naming the option, on a bad one.
-- @tparam string who the caller's name for the message
-- @tparam table opts the options
-- @tparam[opt=2] number level error level
function M.check_opts(who, opts, level)
  level = (level or 2) + 1
  local max_age = opts.max_age
  if max_age ~= nil and (type(max_age) ~= "number" or max_age ~= max_age or max_age < 0 or max_age == math.huge) then
    error(who .. ": option 'max_age' must be a finite number of seconds >= 0, got " .. tostring(max_age), level)
  end
  local now = opts.now
  if now ~= nil and type(now) ~= "function" and
      (type(now) ~= "number" or now ~= now or now == math.huge or now == -math.huge) then
    error(who .. ": option 'now' must be a finite number or a function returning one, got " .. tostring(now), level)
  end
end

-- Is `name` a field of the envelope or of this event (def) that the body
-- lacks or sends empty (so that a value carrying "&name=" may be it, moved)?
local function moved_here(params, def, name)
  local v = params[name]
  if v ~= nil and v ~= "" and v ~= NULL then return false end
  if ENVELOPE[name] then return true end
  for _, list in ipairs({ def and def.fields or {}, def and def.soft or {} }) do
    for _, f in ipairs(list) do if f == name then return true end end
  end
  return false
end

local verify -- below: the body of `eiotclub`, its arguments checked

--- Verify and decode one EIOTCLUB notification.
-- @param body the raw POST body (JSON text) or an already-decoded table
-- @tparam string secret the account's secret
-- @tparam[opt] table opts `max_age` (seconds; reject a notification whose
--   `timestamp` is further than this from now, either way; default: no
--   check), `now` (a number, or a function returning one; default
--   `util.now`)
-- @treturn table the event `{ event=, id=, timestamp=, nonce=, data=, raw=,
--   missing=, known= }` plus every business top-level field (`iccid`, `eid`,
--   `alert_type`, ...) copied as is. `data` is the decoded `data` (a table)
--   or nil; `raw` is the decoded notification as received; `missing` lists
--   the documented fields the vendor left out that simkit does not enforce
--   (e.g. Refund `orderAmount`); `known` is false for an event name that is
--   not in the catalog (accepted when signed correctly).
-- @return or nil and an error: kind "auth" (unsigned, bad or stale
--   signature, data not a string), "decode" (not JSON, `data` not JSON),
--   "input" (a required field is missing or of the wrong shape); `message`
--   says why.
function M.eiotclub(body, secret, opts)
  if type(secret) ~= "string" or secret == "" then
    error("simkit.notify.eiotclub: secret must be a non-empty string", 2)
  end
  if opts == nil then opts = {}
  elseif type(opts) ~= "table" then error("simkit.notify.eiotclub: opts must be a table or nil", 2) end
  M.check_opts("simkit.notify.eiotclub", opts, 2)
  local ev, err = verify(body, secret, opts)
  return ev, err
end

--- `eiotclub` without its argument checks (the receiver checked them once,
-- when it was created), for `simkit.eiotclub.receiver` only.
-- @param body as `eiotclub`
-- @tparam string secret a non-empty string
-- @tparam table opts options already checked by `check_opts`
-- @return as `eiotclub`, plus a third value on success: true when a value of
--   the body carries "&id=", i.e. when another body could sign the same text
--   with another id (then the receiver de-duplicates on the signature too;
--   see the module doc of `simkit.eiotclub.receiver`)
-- @local
function M.verify_checked(body, secret, opts)
  return verify(body, secret, opts)
end

verify = function(body, secret, opts)
  local raw = body
  if type(body) == "string" then
    local derr
    raw, derr = json.decode(body)
    if raw == nil then return fail("decode", "notification body is not valid JSON: " .. tostring(derr)) end
  end
  if type(raw) ~= "table" or is_array(raw) then
    return fail("decode", "notification body is not a JSON object")
  end
  local given = raw.sign
  if not present(given) or given == "" then return fail("auth", "notification is not signed (no 'sign')") end
  if type(given) ~= "string" or #given ~= 40 or not is_hex(given) then
    return fail("auth", "notification 'sign' is not a 40-digit hex SHA1")
  end
  -- One pass over the fields, before the signature is computed: what cannot
  -- be signed is refused, and so are re-shaped bodies. The signed text is
  -- "k=v&" entries joined, empty values left out: moving one field into its
  -- neighbour ({a="1&b=2"} for {a="1", b="2"}) or into a key keeps the
  -- signature. Such bodies are refused, so a valid notification cannot be
  -- re-shaped into another (e.g. a new id): a name with '&' or '=', or a
  -- value carrying "&name=" where `name` is a field of the envelope or of
  -- this event that the body lacks (or sends empty). A value such as an
  -- outTradeNo "A&x=1" is genuine when x is no such field.
  local def = type(raw.event) == "string" and M.EVENTS[raw.event] or nil
  local has_appkey, id_inside = false, false
  for k, v in pairs(raw) do
    if type(k) ~= "string" or find(k, "&", 1, true) or find(k, "=", 1, true) then
      return fail("auth", "notification field name '" .. tostring(k) .. "' contains '&' or '=': refused " ..
        "(it could carry another signed field)")
    end
    local tv = type(v)
    if k == "appkey" then
      has_appkey = true
    elseif k == "sign" then -- luacheck: ignore 542 (not signed, checked above)
    elseif tv == "string" then
      if find(v, "&", 1, true) then -- plain find first: the rare case
        if k == "id" then
          return fail("auth", "notification 'id' contains '&': refused (it could carry other signed fields)",
            { param = "id" })
        end
        -- "&id=" inside a value (data too): another body could sign the same text with another id
        if find(v, "&id=", 1, true) then id_inside = true end
        if k ~= "data" then
          for name in gmatch(v, "&([^&=]*)=") do
            if moved_here(raw, def, name) then
              return fail("auth", "notification field '" .. k .. "' carries '&" .. name .. "=' while '" .. name ..
                "' is missing: refused (a field moved under the same signature)", { param = k })
            end
          end
        end
      end
    elseif tv == "table" then
      return fail("auth", "field '" .. k .. "' arrived as a JSON " ..
        (is_array(v) and "array" or "object") .. "; EIOTCLUB signs it as the JSON string it sends, " ..
        "so the signature cannot be verified")
    elseif tv == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      return fail("decode", "field '" .. k .. "' is not a finite number", { param = k })
    end
  end
  -- `sign` is never signed; `appkey` (absent from notifications) is not either
  local params = raw
  if has_appkey then
    params = {}
    for k, v in pairs(raw) do if k ~= "appkey" then params[k] = v end end
  end
  local expected = sign.eiotclub(params, secret)
  if not M.equal_hex(expected, given) then
    return fail("auth", "notification signature does not match (forged, tampered or wrong secret)")
  end

  -- Signed: now check the content.
  local event, id = raw.event, raw.id
  if type(event) ~= "string" or event == "" then
    return fail("input", "notification has no 'event'", { param = "event" })
  end
  if type(id) == "number" then id = util.integer_text(id) end
  if type(id) ~= "string" or id == "" then return fail("input", "notification has no 'id'", { param = "id" }) end
  if #id > M.MAX_ID then
    return fail("input", "notification 'id' is longer than " .. M.MAX_ID .. " bytes", { param = "id" })
  end
  local ts = timestamp_of(raw.timestamp)
  if not ts then
    return fail("input", "notification 'timestamp' is not an integer within +-2^53", { param = "timestamp" })
  end
  if not present(raw.nonce) or raw.nonce == "" then
    return fail("input", "notification has no 'nonce'", { param = "nonce" })
  end
  if opts.max_age then
    local now = opts.now
    if type(now) == "function" then now = now() end
    now = now or util.now()
    if type(now) ~= "number" or now ~= now or now == math.huge or now == -math.huge then
      error("simkit.notify.eiotclub: option 'now' returned " .. tostring(now) .. ", not a finite number", 2)
    end
    local age = now - ts
    if age > opts.max_age or -age > opts.max_age then
      return fail("auth", string.format("notification timestamp %.0f is %.0f s away from now (max_age %s)",
        ts, age, tostring(opts.max_age)), { param = "timestamp" })
    end
  end

  def = M.EVENTS[event]
  local ev = { event = event, id = id, timestamp = ts, nonce = raw.nonce, raw = raw, missing = {},
    known = def ~= nil }
  for k, v in pairs(raw) do
    if not ENVELOPE[k] then ev[k] = v end
  end
  local data = raw.data
  if present(data) and data ~= "" then
    -- always JSON (the vendor encodes it): text after the JSON value, such
    -- as a neighbouring field moved into it, is refused
    local decoded, derr
    if type(data) == "string" then decoded, derr = json.decode(data) end
    if decoded == nil then
      return fail("decode", "notification 'data' is not a JSON text: " .. tostring(derr or type(data)),
        { param = "data" })
    end
    ev.data = decoded
  end
  if not def then return ev, nil, id_inside end

  local missing = {}
  missing_in(raw, def.fields, missing, "")
  if def.data then
    local d = ev.data
    if d == nil then
      missing[#missing + 1] = "data"
    elseif def.data == "array" then
      if type(d) ~= "table" or not (is_array(d) or next(d) == nil) then
        return fail("input", event .. ": 'data' must be a JSON array", { param = "data" })
      end
      for i, item in ipairs(d) do
        if type(item) ~= "table" then
          return fail("input", event .. ": data[" .. i .. "] is not an object", { param = "data" })
        end
        missing_in(item, def.data_fields, missing, "data[" .. i .. "].")
        missing_in(item, def.data_soft, ev.missing, "data[" .. i .. "].")
      end
    else
      if type(d) ~= "table" or is_array(d) then
        return fail("input", event .. ": 'data' must be a JSON object", { param = "data" })
      end
      missing_in(d, def.data_fields, missing, "data.")
      missing_in(d, def.data_soft, ev.missing, "data.")
    end
  end
  if #missing > 0 then
    return fail("input", event .. ": missing required field(s): " .. table.concat(missing, ", "),
      { param = missing[1] })
  end
  missing_in(raw, def.soft, ev.missing, "")
  return ev, nil, id_inside
end

--- Build a signed notification (for tests and sandboxes): signs `fields`
-- (a table; `data`, if a table, is JSON-encoded first) without appkey.
-- @tparam table fields
-- @tparam string secret
-- @treturn string the JSON body
function M.sign_eiotclub(fields, secret)
  local t = util.copy(fields)
  if type(t.data) == "table" then t.data = assert(json.encode(t.data)) end
  t.sign = nil
  local p = util.copy(t)
  p.appkey = nil
  t.sign = sign.eiotclub(p, secret)
  return assert(json.encode(t))
end

--- Create a webhook receiver; see `simkit.eiotclub.receiver.new`.
-- @tparam table opts
-- @treturn table receiver
function M.receiver(opts)
  return require("simkit.eiotclub.receiver").new(opts)
end

return M
