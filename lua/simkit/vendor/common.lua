--- Pieces every vendor adapter shares (internal): option checks, HTTP
-- status errors, JSON body decoding.
-- @module simkit.vendor.common
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"

local M = {}

--- Raise a configuration error (a programming error: raised, not returned).
function M.config_error(vendor, msg)
  error("simkit.client(\"" .. vendor .. "\"): " .. msg, 4)
end

--- Require a non-empty string option.
function M.need_string(vendor, opts, key)
  local v = opts[key]
  if type(v) ~= "string" or v == "" then
    M.config_error(vendor, "option '" .. key .. "' is required (a non-empty string)")
  end
  return v
end

--- Check an http(s) base URL and strip its trailing slash.
function M.base_url(vendor, v, key)
  if type(v) ~= "string" or not v:match("^https?://[^/]+") then
    M.config_error(vendor, "option '" .. key .. "' must be an http(s) URL")
  end
  return (v:gsub("/+$", ""))
end

--- A short, printable excerpt of a response body (HTML error pages...).
function M.snippet(body)
  body = tostring(body or "")
  body = body:gsub("%s+", " ")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return body
end

--- A response header by name, whatever its case in `headers`.
-- @tparam table headers
-- @tparam string name lower-case name
function M.header(headers, name)
  if type(headers) ~= "table" then return nil end
  local v = headers[name]
  if v ~= nil then return v end
  for k, x in pairs(headers) do
    if type(k) == "string" and k:lower() == name then return x end
  end
  return nil
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

--- Parse a Retry-After header: delay-seconds, or an HTTP-date
-- ("Wed, 21 Oct 2015 07:28:00 GMT") turned into the seconds from now.
-- @treturn number|nil seconds (>= 0)
function M.retry_after(headers)
  local v = M.header(headers, "retry-after")
  if type(v) ~= "string" and type(v) ~= "number" then return nil end
  v = tostring(v)
  local n = tonumber(v)
  if n then return n >= 0 and n or nil end
  local d, mon, y, h, mi, s = v:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local t = util.days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400 + tonumber(h) * 3600
    + tonumber(mi) * 60 + tonumber(s)
  return math.max(0, t - math.floor(util.now()))
end

--- Error for a non-2xx HTTP answer that carries no vendor error body.
function M.http_error(ctx, res, extra)
  local status = res.status
  local f = {
    kind = status == 429 and "rate_limited" or ((status == 401 or status == 403) and "auth" or "http"),
    vendor = ctx.vendor, op = ctx.op, status = status,
    message = "unexpected HTTP status " .. tostring(status) .. ": " .. M.snippet(res.body),
    retryable = (status == 429 or status == 502 or status == 503 or status == 504 or status == 500) and true or false,
    retry_after = M.retry_after(res.headers),
  }
  for k, v in pairs(extra or {}) do f[k] = v end
  return errors.new(f)
end

--- Decode a JSON body; a failure is a `decode` error (a truncated or HTML
-- body). Retryable for reads only.
function M.decode_body(ctx, res)
  local body, err = json.decode(res.body or "")
  if body == nil then
    return nil, errors.new {
      kind = "decode", vendor = ctx.vendor, op = ctx.op, status = res.status,
      message = "response is not valid JSON (" .. tostring(err) .. "): " .. M.snippet(res.body),
      retryable = ctx.read,
    }
  end
  return body
end

return M
