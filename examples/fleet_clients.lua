--- The fleet of the examples: one client per vendor whose credentials are
-- in the environment (each vendor optional), as `simkit.fleet` options.
--   EIOTCLUB_BASE_URL, EIOTCLUB_APPKEY, EIOTCLUB_SECRET
--   HUAWEI_ENDPOINT, HUAWEI_AK, HUAWEI_SK, HUAWEI_PROJECT_ID
--   TIBIOT_BASE_URL, TIBIOT_APP_KEY, TIBIOT_SECRET, TIBIOT_SIGNER (default
--   "hmac-sha256"), TIBIOT_ICCIDS (comma-separated: TIBIOT cannot list its cards)
local simkit = require "simkit"
local env = os.getenv

local opts = { iccids = { tibiot = {} } }
if env("EIOTCLUB_APPKEY") then
  opts[#opts + 1] = simkit.client("eiotclub", { appkey = env("EIOTCLUB_APPKEY"), secret = env("EIOTCLUB_SECRET"),
    base_url = env("EIOTCLUB_BASE_URL") or "https://oapi.eiotclub.com" })
end
if env("HUAWEI_AK") then
  opts[#opts + 1] = simkit.client("huawei", { ak = env("HUAWEI_AK"), sk = env("HUAWEI_SK"),
    project_id = env("HUAWEI_PROJECT_ID"), endpoint = env("HUAWEI_ENDPOINT") })
end
if env("TIBIOT_APP_KEY") then
  opts[#opts + 1] = simkit.client("tibiot", { base_url = env("TIBIOT_BASE_URL"), app_key = env("TIBIOT_APP_KEY"),
    secret = env("TIBIOT_SECRET"), signer = env("TIBIOT_SIGNER") or "hmac-sha256" })
  for iccid in (env("TIBIOT_ICCIDS") or ""):gmatch("[^,%s]+") do opts.iccids.tibiot[#opts.iccids.tibiot + 1] = iccid end
end
return opts
