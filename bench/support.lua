--- Helpers shared by the benches (not a bench itself: tools/bench.sh runs
-- bench/*_bench.lua only).
local M = {}

--- Calls per second of `f`, measured over about `min_time` seconds of CPU
-- time (default 0.5) after one warm-up call, in doubling batches.
function M.rate(f, min_time)
  min_time = min_time or 0.5
  f() -- warm up
  local n, t0, batch = 0, os.clock(), 10
  while true do
    for _ = 1, batch do f() end
    n = n + batch
    local dt = os.clock() - t0
    if dt >= min_time then return n / dt end
    batch = batch * 2
  end
end

--- A page like EIOTCLUB get_all_card_info as JSON text: `n` cards, ~15
-- fields each, with 20-digit ICCIDs (strings), 64-bit ids, floats, nulls and
-- nested values.
function M.card_page(n)
  local cards = {}
  for i = 1, n do
    cards[i] = string.format(
      '{"iccid":"898520123456%08d","imsi":"4600%011d","msisdn":"86%011d",' ..
      '"cardId":%d,"packageId":%d,"status":"%s","activeTime":"2024-%02d-%02d 08:%02d:00",' ..
      '"expireTime":%s,"flowUsed":%.3f,"flowTotal":%.1f,"flowLeft":%.4f,"autoRenew":%s,' ..
      '"remark":null,"apn":"iot.example","tags":["pool-%d","region-eu"],' ..
      '"location":{"lat":%.6f,"lng":%.6f,"cell":%d},"history":[%d,%d,null]}',
      i, i * 7, 13800000000 + i,
      1700000000000000000 + i * 977, 10000 + i % 37, i % 5 == 0 and "suspended" or "active",
      i % 12 + 1, i % 28 + 1, i % 60,
      i % 3 == 0 and "null" or '"2025-12-31 23:59:59"',
      i * 1.25 + 0.125, 1024.0 + i % 4 * 512, 1024 - i * 1.0625 / 3,
      i % 2 == 0 and "true" or "false",
      i % 8, 22.3 + i / 1000, 114.05 + i / 997, 40000 + i, i, i * 2)
  end
  return '{"code":"200","message":"ok","data":{"total":' .. n .. ',"pageNo":1,"pageSize":' .. n ..
    ',"cardInfoList":[' .. table.concat(cards, ",") .. "]}}"
end

--- The median of a list of numbers.
function M.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

return M
