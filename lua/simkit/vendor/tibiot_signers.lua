--- Built-in GENERIC request signers for the TIBIOT adapter (internal).
--
-- TIBIOT's own signing scheme is published only in the vendor's SDK, not in
-- its API document. These schemes are NOT the vendor's: they are generic
-- schemes simkit offers (and its sandbox verifies) so that a deployment in
-- front of which a gateway checks an HMAC, or a test setup, works out of the
-- box. Against the real TIBIOT API, pass your own `signer` function.
--
-- A signer is `signer(req) -> extra_headers|nil`, where `req` is
-- `{ method, url, path, query, headers, body, op, app_key, secret }`; it may
-- change `req.headers` / `req.query` in place.
-- @module simkit.vendor.tibiot_signers
local core = require "simkit.core"
local util = require "simkit.util"

local M = {}

--- RFC 3986 encoding: A-Za-z0-9-._~ kept, every other byte %XX upper-case.
M.encode = util.urlencode

--- Canonical query string of a `{ key = value }` table (a value may also be
-- a list of values): pairs sorted by key then value (byte order), each side
-- RFC 3986-encoded, `k=v` joined with "&"; "" when empty.
function M.canonical_query(query)
  local pairs_list = {}
  for k, v in pairs(query or {}) do
    if type(v) == "table" then
      for _, x in ipairs(v) do pairs_list[#pairs_list + 1] = { tostring(k), tostring(x) } end
    else
      pairs_list[#pairs_list + 1] = { tostring(k), tostring(v) }
    end
  end
  table.sort(pairs_list, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, p in ipairs(pairs_list) do out[i] = M.encode(p[1]) .. "=" .. M.encode(p[2]) end
  return table.concat(out, "&")
end

--- The string the generic hmac-sha256 scheme signs.
function M.string_to_sign(method, path, query, app_key, timestamp, nonce, body)
  return table.concat({
    tostring(method):upper(), path, M.canonical_query(query), app_key, timestamp, nonce,
    core.sha256(body or "", "hex"),
  }, "\n")
end

local DEFAULT_HEADERS = {
  app_key = "X-App-Key", timestamp = "X-Timestamp", nonce = "X-Nonce", signature = "X-Signature",
}

local function check_options(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return nil, "signer_options must be a table" end
  local unit = opts.timestamp_unit or "s"
  if unit ~= "s" and unit ~= "ms" then
    return nil, "signer_options.timestamp_unit must be \"s\" or \"ms\""
  end
  local names = {}
  for k, v in pairs(DEFAULT_HEADERS) do names[k] = v end
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then return nil, "signer_options.headers must be a table" end
    for k, v in pairs(opts.headers) do
      if not DEFAULT_HEADERS[k] then
        return nil, "signer_options.headers: unknown key '" .. tostring(k) ..
          "' (app_key, timestamp, nonce, signature)"
      end
      if type(v) ~= "string" or not v:match("^[%w%-]+$") then
        return nil, "signer_options.headers." .. k .. " must be a header name ([A-Za-z0-9-])"
      end
      names[k] = v
    end
  end
  if opts.clock_offset ~= nil and type(opts.clock_offset) ~= "number" then
    return nil, "signer_options.clock_offset must be a number of seconds"
  end
  return { unit = unit, names = names, clock_offset = opts.clock_offset or 0, now = opts.now }
end

--- Make the generic "hmac-sha256" signer.
-- Headers (names configurable with `opts.headers`): X-App-Key, X-Timestamp
-- (unix seconds, or ms with `timestamp_unit = "ms"`), X-Nonce (32 lower-case
-- hex), X-Signature = lower-case hex HMAC-SHA256(secret, string_to_sign).
-- @tparam[opt] table opts signer_options
-- @return signer function, or nil and a message
function M.hmac_sha256(opts)
  local o, err = check_options(opts)
  if not o then return nil, err end
  return function(req)
    if type(req.app_key) ~= "string" or req.app_key == "" or type(req.secret) ~= "string" or req.secret == "" then
      error("hmac-sha256 signer: app_key and secret are required", 0)
    end
    local now = (o.now and o.now() or util.now()) + o.clock_offset
    local ts
    if o.unit == "ms" then ts = string.format("%.0f", math.floor(now * 1000))
    else ts = string.format("%.0f", math.floor(now)) end
    local nonce = util.random_hex(16)
    local sts = M.string_to_sign(req.method, req.path, req.query, req.app_key, ts, nonce, req.body)
    return {
      [o.names.app_key] = req.app_key,
      [o.names.timestamp] = ts,
      [o.names.nonce] = nonce,
      [o.names.signature] = core.hmac_sha256(req.secret, sts, "hex"),
    }
  end
end

--- The "none" scheme: adds nothing.
function M.none()
  return function() return nil end
end

M.schemes = { ["hmac-sha256"] = M.hmac_sha256, none = M.none }

return M
