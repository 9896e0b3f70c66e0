--- Fleet specs' shared setup: the three sandbox clients and a fleet over
-- them. The clients' sleeps (Huawei's limiter, TIBIOT's batch polling) move
-- the sandbox clock instead of waiting, so pacing holds at no real cost.
--
--   local F = require "spec.support.fleet"
--   local clients = F.clients(sb)             -- { eiot, hw, tib, fake }
--   local fleet = F.fleet(sb, { iccids = ... }) -- extra fleet options merged
local simkit = require "simkit"

local M = {}

M.TIB_ICCID_PREFIX = "8986112233445566"

--- A fake monotonic clock. With `sb`, its sleep also advances the sandbox
-- clock (the Huawei limiter's waits: the sandbox enforces the same limits);
-- without, it only moves the fake clock (the fleet's own pacing of vendors
-- the sandbox does not limit: moving the sandbox clock by minutes would
-- put the signed timestamps of EIOTCLUB and TIBIOT out of range).
-- With `real`, the clock is the real monotonic clock plus the sleeps
-- counted so far (time passes during calls, as it does for a real pacer).
function M.clock(sb, real)
  local c = { t = 1000000, slept = 0 }
  local now = require("simkit.util").monotonic
  c.clock = function() return real and (now() + c.slept) or c.t end
  c.sleep = function(s)
    c.t, c.slept = c.t + s, c.slept + s
    if sb and s > 0 then assert(sb:control("POST", "/_sim/advance", { seconds = s }) == 200) end
  end
  return c
end

function M.clients(sb, fc)
  fc = fc or M.clock(sb)
  local eiot = simkit.client("eiotclub", { appkey = "sandbox-appkey", secret = "sandbox-secret",
    base_url = sb.url, retries = 0 })
  local hw = simkit.client("huawei", { ak = "SANDBOXAKEXAMPLE0001", sk = "sandbox-sk-secret",
    project_id = "0123456789abcdef0123456789abcdef", endpoint = sb.url, retries = 0,
    clock = fc.clock, sleep = fc.sleep,
    -- its own store (rate windows, expiring on the same fake clock): no window left by another spec
    store = require("simkit.store").memory { clock = fc.clock } })
  local tib = simkit.client("tibiot", { base_url = sb.url, app_key = "sandbox-tib-key",
    secret = "sandbox-tib-secret", signer = "hmac-sha256", retries = 0, sleep = fc.sleep })
  return { eiot = eiot, hw = hw, tib = tib, fake = fc, pace = M.clock() }
end

--- The seeded TIBIOT ICCIDs 1..n.
function M.tib_iccids(n)
  local out = {}
  for i = 1, n do out[i] = string.format("%s%04d", M.TIB_ICCID_PREFIX, i) end
  return out
end

function M.fleet(sb, extra, cl)
  cl = cl or M.clients(sb)
  local opts = { cl.eiot, cl.hw, cl.tib, clock = cl.pace.clock, sleep = cl.pace.sleep }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return simkit.fleet(opts), cl
end

return M
