-- wrk script of bench/webhook_bench.sh: POSTs pre-signed EIOTCLUB
-- notifications (one JSON body per line of $WEBHOOK_BODIES), each thread
-- taking its own bodies from line FIRST on (wrk ... -- FIRST), so that every
-- request in a run carries a new notification id.
--
-- Paced (open) load when $WEBHOOK_RATE is set: all connections together
-- offer about that many requests a second ($WEBHOOK_CONNS connections, each
-- waiting a random 0.5x..1.5x its share of the period before each request:
-- wrk here has no -R). wrk times a request from when it is written, after
-- the delay, so the latency is the server's answer time at that load.
-- luacheck: globals wrk setup init request delay
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
  math.randomseed(os.time() * 16 + tid) -- threads pace independently
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

local rate, conns = tonumber(os.getenv("WEBHOOK_RATE")), tonumber(os.getenv("WEBHOOK_CONNS"))
if rate and conns then
  local mean = conns * 1000 / rate -- ms between two requests of one connection
  -- wrk truncates the delay to whole ms: rounded stochastically, so that the
  -- mean stays `mean` (12.8 ms at 5,000/s over 64 connections)
  function delay()
    return math.floor(mean * (0.5 + math.random()) + math.random())
  end
end
