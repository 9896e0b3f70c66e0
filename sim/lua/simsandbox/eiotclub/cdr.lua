--- EIOTCLUB sandbox: CDR traffic query and CDR CSV files.
--
-- Both read S.cdrs: the seeded January 2026 history plus every data session
-- added with POST /_sim/eiotclub/usage. Days and months are UTC, like the
-- CDR times.
local util = require "simsandbox.util"
local C = require "simsandbox.eiotclub.common"
local S = require "simsandbox.eiotclub.state"

local format = string.format
local concat = table.concat
local ipairs = ipairs
local fail = C.fail

local H = {}

H["/api/v3/cdr/traffic/query"] = { op = "cdr_traffic_query", code_type = "string", fn = function(ctx)
  local dt = C.str(ctx, "dateType")
  if dt ~= "daily" and dt ~= "monthly" then fail("43332", "dateType must be daily or monthly") end
  local iccids = C.list(ctx, "iccids")
  if not iccids then fail("41001") end
  local from, to
  if dt == "daily" then
    from = C.parse_day(C.str(ctx, "startDate") or nil, 0)
    if not from then fail("41004") end
    local e = C.parse_day(C.str(ctx, "endDate") or nil, 0)
    if not e then fail("41005") end
    if e < from then fail("41006", "endDate before startDate") end
    to = e + C.DAY
  else
    from, to = C.parse_month(C.str(ctx, "month") or nil)
    if not from then fail("41006", "month") end
  end
  local want, order = {}, {}
  for _, i in ipairs(iccids) do
    if not want[i] then want[i] = 0; order[#order + 1] = i end
  end
  for _, r in ipairs(S.cdrs) do
    if want[r.iccid] and r.stop >= from and r.stop < to then
      want[r.iccid] = want[r.iccid] + r.bytes
    end
  end
  local out = util.array()
  for _, i in ipairs(order) do
    if want[i] > 0 then out[#out + 1] = { iccid = i, traffic = format("%.0f", want[i]) } end
  end
  return out
end }

--- Write the CDR file of the records that ENDED in [start, end) (UTC).
-- args: dir, start, end ("yyyyMMddHHmmss"), generated (default end + 30 min),
-- header (boolean, default false). Returns {path, rows} or nil, message.
function H.write_file(args)
  local dir = args.dir
  if type(dir) ~= "string" or dir == "" then return nil, "cdr: 'dir' is required" end
  local t0, t1 = C.parse_compact(args.start), C.parse_compact(args["end"])
  if not t0 or not t1 or t1 <= t0 then
    return nil, "cdr: 'start' and 'end' must be yyyyMMddHHmmss with start < end"
  end
  local gen = args.generated and C.parse_compact(args.generated) or t1 + 1800
  if not gen then return nil, "cdr: 'generated' must be yyyyMMddHHmmss" end
  local name = format("cdr_%d_%s_%s_%s.csv", S.account_id, C.utc_compact(t0), C.utc_compact(t1),
    C.utc_compact(gen))
  local lines = {}
  if args.header then
    lines[1] = "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc"
  end
  local rows = 0
  for _, r in ipairs(S.cdrs) do
    if r.stop >= t0 and r.stop < t1 then
      rows = rows + 1
      lines[#lines + 1] = concat({ format("%.0f", r.id), C.utc(r.start), C.utc(r.stop), r.iccid, r.imsi,
        format("%.0f", r.bytes), r.imei, r.mccmnc }, ",")
    end
  end
  local path = dir:gsub("/+$", "") .. "/" .. name
  local f = io.open(path, "wb")
  if not f then
    os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
    f = io.open(path, "wb")
  end
  if not f then return nil, "cdr: cannot write " .. path end
  f:write(concat(lines, "\n"), #lines > 0 and "\n" or "")
  f:close()
  return { path = path, name = name, rows = rows }
end

return H
