#!/usr/bin/env lua5.4
--- The fleet report: every card of every vendor as CSV on stdout, one shape
-- for all (status, data used / limit / left in MB, expiry as UTC text).
-- Exit status 1 when a vendor could not be read. Vendors: see fleet_clients.lua.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local fleet = require("simkit").fleet(require "fleet_clients")

local function csv(v)
  v = v == nil and "" or tostring(v)
  return v:find('[",\n]') and '"' .. v:gsub('"', '""') .. '"' or v
end
local function row(...) print((table.concat({ ... }, ",", 1, select("#", ...)))) end
row("vendor", "iccid", "status", "vendor_status", "plan", "used_mb", "limit_mb", "left_mb", "expires")
for card, err in fleet:cards() do
  if not card then io.stderr:write(tostring(err), "\n") os.exit(1) end
  local u = card.usage
  row(card.vendor, card.iccid, card.status, csv(card.vendor_status), csv(card.plan), csv(u.used_mb),
    csv(u.limit_mb), csv(u.left_mb), card.expires and os.date("!%Y-%m-%dT%H:%M:%SZ", card.expires) or "")
end
