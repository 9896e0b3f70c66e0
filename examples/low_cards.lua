#!/usr/bin/env lua5.4
--- Flag the active cards of every vendor with less than LOW_MB (default 100)
-- MB of data left, and say whether the vendor can top them up.
-- Exit status: 0 none low, 2 some low, 1 a vendor could not be read.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local fleet = require("simkit").fleet(require "fleet_clients")
local low_mb = tonumber(os.getenv("LOW_MB") or "100")

local n = 0
for card, err in fleet:cards { status = "active", left_below_mb = low_mb } do
  if not card then io.stderr:write(tostring(err), "\n") os.exit(1) end
  n = n + 1
  print(("LOW %s %s: %.2f MB left%s"):format(card.vendor, card.iccid, card.usage.left_mb,
    fleet:capabilities(card.vendor).topup and "" or " (no top-up at this vendor)"))
end
print(n .. " low card(s)")
os.exit(n > 0 and 2 or 0)
