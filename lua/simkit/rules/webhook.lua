--- Signed webhooks of the rules engine.
--
-- `POST url` with a JSON body and the headers `Content-Type:
-- application/json`, `X-Simkit-Timestamp: <epoch seconds>` and, when a
-- secret is given, `X-Simkit-Signature: sha256=<hex HMAC-SHA256(secret,
-- timestamp .. "." .. body)>`. A receiver recomputes the HMAC over the raw
-- body it read and refuses an old timestamp (replay). Sent through simkit's
-- transport (libcurl, or cosockets inside nginx), once: never retried.
-- @module simkit.rules.webhook
local core = require "simkit.core"
local json = require "simkit.json"
local errors = require "simkit.errors"

local M = {}

--- The signature header value for `body` sent at `timestamp` (a string).
-- @tparam string secret
-- @tparam string timestamp epoch seconds as sent in X-Simkit-Timestamp
-- @tparam string body the exact body bytes
-- @treturn string "sha256=<hex>"
function M.signature(secret, timestamp, body)
  if type(secret) ~= "string" or type(timestamp) ~= "string" or type(body) ~= "string" then
    error("simkit.rules.webhook.signature(secret, timestamp, body): three strings expected", 2)
  end
  return "sha256=" .. core.hmac_sha256(secret, timestamp .. "." .. body, "hex")
end

--- POST `payload` as JSON to `a.url`. Returns `{ status = n }` on a 2xx
-- answer, else nil, err (kind "http" or "transport" or "input").
-- @tparam table a the action's arguments: url, secret, timeout, transport
-- @tparam table payload what the body says
-- @tparam number now epoch seconds
function M.post(a, payload, now)
  local body, jerr = json.encode(payload)
  if not body then return nil, errors.input("webhook: the payload cannot be encoded: " .. tostring(jerr)) end
  local ts = string.format("%d", math.floor(now))
  local headers = { ["Content-Type"] = "application/json", ["X-Simkit-Timestamp"] = ts,
    ["User-Agent"] = "simkit-rules" }
  if a.secret then headers["X-Simkit-Signature"] = M.signature(a.secret, ts, body) end
  local timeout = a.timeout or 10
  local transport = a.transport or require("simkit.transport.auto").new { timeout = timeout }
  local res, msg, category = transport { method = "POST", url = a.url, headers = headers, body = body,
    timeout = timeout, idempotent = false }
  if not res then
    return nil, errors.new { kind = "transport", op = "webhook", message = tostring(msg), category = category }
  end
  if type(res.status) ~= "number" or res.status < 200 or res.status > 299 then
    return nil, errors.new { kind = "http", op = "webhook", status = res.status,
      message = "webhook answered HTTP " .. tostring(res.status) }
  end
  return { status = res.status }
end

return M
