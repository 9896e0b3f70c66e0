-- wrk script of bench/webhook_bench.sh: POSTs pre-signed EIOTCLUB
-- notifications, one JSON body per line of $WEBHOOK_BODIES (the bench writes
-- each run its own file of unused bodies), thread k of n taking lines k+1,
-- k+1+n, ..., so that every request in a run carries a new notification id.
-- The lines are read as they are needed, not loaded at start: wrk's clock
-- runs while its threads' init runs, and loading 700,000 bodies there took
-- a second or two of CPU in each thread, on a 2-core machine shared with
-- nginx, inside the measured seconds.
--
-- Paced (open) load when $WEBHOOK_RATE is set: all connections together
-- offer about that many requests a second ($WEBHOOK_CONNS connections, each
-- waiting a random 0.5x..1.5x its share of the period before each request:
-- wrk here has no -R). wrk times a request from when it is written, after
-- the delay, so the latency is the server's answer time at that load.
-- luacheck: globals wrk setup init request delay
local threads, next_id = {}, 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local path, fh, tid, nthreads

-- (re)open the bodies at this thread's first line (line tid + 1)
local function rewind()
  if fh then fh:close() end
  fh = assert(io.open(path, "rb"))
  for _ = 1, tid do fh:read("*l") end
end

-- the next body of this thread (after the end of the file: from its start again)
local function next_body()
  local body = fh:read("*l")
  if not body then
    rewind()
    body = assert(fh:read("*l"), "no bodies in " .. path)
  end
  for _ = 2, nthreads do fh:read("*l") end -- the other threads' lines
  return body
end

function init()
  path = os.getenv("WEBHOOK_BODIES")
  tid = wrk.thread:get("tid")
  math.randomseed(os.time() * 16 + tid) -- threads pace independently
  nthreads = tonumber(os.getenv("WEBHOOK_THREADS")) or 2
  rewind()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format(nil, nil, nil, next_body())
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
