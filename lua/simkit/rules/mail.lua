--- Mail for the rules engine: one plain-text message over SMTP through
-- libcurl (`simkit.core.smtp_send`). Blocking: in nginx, send mail from a
-- timer with a short `timeout`, or use a webhook.
-- @module simkit.rules.mail
local core = require "simkit.core"
local json = require "simkit.json"
local errors = require "simkit.errors"

local M = {}

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

--- Build the RFC 5322 text of a message (CRLF line ends).
-- @tparam string from
-- @tparam table to list of addresses
-- @tparam string subject
-- @tparam string body
-- @tparam number now epoch seconds (the Date header)
-- @treturn string
function M.message(from, to, subject, body, now)
  local lines = {
    "From: <" .. one_line(from) .. ">",
    "To: " .. one_line(table.concat(to, ", ")),
    "Subject: " .. one_line(subject),
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000", math.floor(now)),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
  }
  local text = body:gsub("\r\n", "\n"):gsub("\n", "\r\n")
  return table.concat(lines, "\r\n") .. "\r\n" .. text .. "\r\n"
end

--- Send the mail of a `mail{}` action for `payload` (the rule's decision).
-- @return `{ sent = n }` or nil, err (kind "transport" or "auth")
function M.send(a, payload)
  local subject = a.subject or ("simkit: rule " .. tostring(payload.rule) .. " fired for " ..
    tostring(payload.iccid))
  local body = assert(json.encode(payload))
  local smtp = a.smtp
  local text = M.message(smtp.from, a.to, subject, "Rule " .. tostring(payload.rule) .. " fired.\n\n" .. body,
    payload.time or os.time())
  local ok, msg, category = core.smtp_send { url = smtp.url, from = smtp.from, to = a.to, message = text,
    username = smtp.username, password = smtp.password, timeout = smtp.timeout or 30, cafile = smtp.cafile,
    insecure = smtp.insecure }
  if not ok then
    return nil, errors.new { kind = category == "auth" and "auth" or "transport", op = "mail",
      message = tostring(msg), category = category }
  end
  return { sent = #a.to }
end

return M
