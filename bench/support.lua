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

return M
