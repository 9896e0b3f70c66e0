-- wrk script of bench/webhook_bench.sh: POSTs pre-signed EIOTCLUB
-- notifications (one JSON body per line of $WEBHOOK_BODIES), each thread
-- taking its own bodies from line FIRST on (wrk ... -- FIRST), so that every
-- request in a run carries a new notification id.
-- luacheck: globals wrk setup init request
local bodies = {}
local threads, next_id = {}, 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local tid, nthreads, i, n
function init(args)
  for line in io.lines(os.getenv("WEBHOOK_BODIES")) do bodies[#bodies + 1] = line end
  n = #bodies
  tid = wrk.thread:get("tid")
  nthreads = tonumber(os.getenv("WEBHOOK_THREADS")) or 2
  i = (tonumber(args[1]) or 1) - 1 + tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[i % n + 1]
  i = i + nthreads
  return wrk.format(nil, nil, nil, body)
end
