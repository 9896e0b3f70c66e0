#!/usr/bin/env bash
# EIOTCLUB webhook in nginx (#11): the shipped example
# (examples/nginx/eiotclub_notify.conf, started by its one-liner run.sh)
# against the same nginx answering a static 200 (its /healthz) to the same
# POSTs, in the same run. Every receiver request is a new signed notification
# (ids never repeat within the bench: the handler runs each time, the
# shared-dict store records each). Prints figure, baseline, ratio, goal.
# Goal: >= 0.6x the static 200 and p99 < 2 ms at 64 connections.
#
# Two kinds of load, each with 1 worker (worker_processes 1, the example's
# default) and then WORKERS=auto (one per core):
# - saturated: wrk closed loop at 16 and 64 connections. Its p99 is queueing
#   (64 connections / throughput: even the static 200 misses 2 ms at 64);
# - paced: the same 64 connections offering $WEBHOOK_RATE requests/s in all
#   (default 5000, well inside what one worker serves): the answer time at a
#   fixed load, p50 and p99, receiver and static side by side.
# cpu: the workers' CPU time per request (less sensitive to other load on the
# machine than req/s). Needs: wrk, nginx + lua module, `make && make LUA=luajit`.
set -eu
cd "$(dirname "$0")/.."
DURATION=${WEBHOOK_DURATION:-4}
THREADS=2
RATE=${WEBHOOK_RATE:-5000}
N=${WEBHOOK_N:-1500000} # bodies for all receiver runs (each run takes the next ones; up to ~300,000 a run)
PER_RUN=${WEBHOOK_PER_RUN:-400000} # bodies offered to one run: more than it sends in $DURATION s
export WEBHOOK_THREADS=$THREADS
secret=bench-secret
port=$(LUA_PATH='./?.lua;;' lua5.4 -e 'print(require("spec.support.sandbox").closed_port())')
tmp=$(mktemp -d "${TMPDIR:-/tmp}/simkit-webhook-bench.XXXXXX")
export SIMKIT_NGINX_PREFIX="$tmp/nginx"
cleanup() {
  examples/nginx/run.sh stop "$port" >/dev/null 2>&1 || true
  sleep 0.3
  rm -rf "$tmp"
}
trap cleanup EXIT

# the bodies: N CardStopped notifications signed now (max_age holds)
export WEBHOOK_BODIES="$tmp/bodies.jsonl"
LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 - "$N" "$secret" "$WEBHOOK_BODIES" <<'LUA'
local n, secret, path = tonumber(arg[1]), arg[2], arg[3]
local notify = require "simkit.notify"
local f = assert(io.open(path, "wb"))
local now = os.time()
for i = 1, n do
  f:write(notify.sign_eiotclub({ id = string.format("bench%019d", i), event = "CardStopped", timestamp = now,
    nonce = 10000 + i % 90000, iccid = string.format("8985201234567%07d", i % 10000000) }, secret), "\n")
end
f:close()
LUA

base="http://127.0.0.1:$port"
cursor=1 # the first body not used yet

# the previous nginx's errors, if any (a full dict, a crash...): said, not hidden
errors_so_far() {
  if [ -f "$tmp/nginx/logs/error.log" ] && grep -q '\[error\]' "$tmp/nginx/logs/error.log"; then
    echo "errors in nginx's log:"; grep '\[error\]' "$tmp/nginx/logs/error.log" | head -3
  fi
}

# start <workers>: the example on $port, a fresh nginx (and so an empty shared
# dict: a receiver run never fills it, every notification is recorded)
start() {
  examples/nginx/run.sh stop "$port" >/dev/null 2>&1 && sleep 0.5 || true
  errors_so_far
  rm -rf "$SIMKIT_NGINX_PREFIX"
  WORKERS=$1 EIOTCLUB_SECRET=$secret examples/nginx/run.sh "$port" >/dev/null
  for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
  # check once: a body is accepted, and a tampered one refused
  local first status
  first=$(sed -n "${cursor}p" "$WEBHOOK_BODIES")
  cursor=$((cursor + 1))
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$first" "$base/eiotclub/notify")
  [ "$status" = 200 ] || { echo "receiver answered $status to a valid body"; cat "$tmp/nginx/logs/error.log"; exit 1; }
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "${first/CardStopped/CardStoppeD}" "$base/eiotclub/notify")
  [ "$status" = 401 ] || { echo "receiver answered $status to a tampered body"; exit 1; }
  workers=$(pgrep -P "$(cat "$tmp/nginx/logs/nginx.pid")" | tr '\n' ' ')
}

# the workers' CPU time, in clock ticks
ticks() { local t=0 w; for w in $workers; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$w/stat"))); done; echo $t; }
hz=$(getconf CLK_TCK)

# ms <wrk latency> -> milliseconds
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) }
  else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; printf "%.2f", v }'; }

# run <conns> <path> [rate]: sets RES to "rps p50_ms p99_ms cpu_us_per_request non2xx"; a
# receiver run moves the cursor past the bodies it used (/healthz gets the same POSTs and
# discards them). Not in a $(...): the cursor must move in this shell.
run() {
  local out t0 t1 rps p50 p99 n errs cpu
  # this run's bodies, the unused ones from the cursor on, in a file of their
  # own made before the clock starts (wrk reads it line by line as it sends)
  tail -n +"$cursor" "$WEBHOOK_BODIES" | head -n "$PER_RUN" > "$tmp/run.jsonl"
  t0=$(ticks)
  out=$(WEBHOOK_BODIES="$tmp/run.jsonl" WEBHOOK_RATE=${3:-} WEBHOOK_CONNS=$1 timeout $((DURATION + 30)) \
    wrk -t"$THREADS" -c"$1" -d"${DURATION}s" --latency -s bench/webhook_bench.wrk.lua "$base$2" 2>&1) \
    || out="$out (wrk exit status $?)"
  t1=$(ticks)
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  if [ -z "$rps" ] || [ -z "$n" ] || [ "$n" = 0 ]; then echo "wrk failed on $2:"; echo "$out"; exit 1; fi
  p50=$(ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
  p99=$(ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
  cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
  errs=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  [ "$2" = /healthz ] || cursor=$((cursor + n + 64))
  [ "$cursor" -lt "$N" ] || { echo "out of bodies: raise WEBHOOK_N (now $N)"; exit 1; }
  RES="$rps $p50 $p99 $cpu ${errs:-0}"
}

echo "# EIOTCLUB webhook in nginx (examples/nginx), wrk -t$THREADS, ${DURATION} s per run, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for w in 1 auto; do
  start "$w"
  echo "## worker_processes $w ($(echo $workers | wc -w))"
  for conns in 16 64; do
    start "$w"
    run "$conns" /healthz; read -r s_rps _ s_p99 s_cpu _ <<<"$RES"
    run "$conns" /eiotclub/notify; read -r r_rps _ r_p99 r_cpu r_err <<<"$RES"
    ratio=$(awk -v a="$r_rps" -v b="$s_rps" 'BEGIN { printf "%.2f", a / b }')
    cratio=$(awk -v a="$r_cpu" -v b="$s_cpu" 'BEGIN { printf "%.2f", b / a }')
    goal="goal >= 0.60x"
    [ "$conns" = 64 ] && goal="$goal, p99 < 2 ms"
    printf "saturated %2d conns  receiver %7.0f req/s p99 %6.2f ms cpu %5.1f us   baseline static 200 %7.0f req/s p99 %6.2f ms cpu %5.1f us   ratio %sx (cpu %sx)   %s%s\n" \
      "$conns" "$r_rps" "$r_p99" "$r_cpu" "$s_rps" "$s_p99" "$s_cpu" "$ratio" "$cratio" "$goal" \
      "$([ "$r_err" != 0 ] && echo "   (non-2xx: $r_err)")"
  done
  start "$w"
  run 64 /healthz "$RATE"; read -r s_rps s_p50 s_p99 s_cpu _ <<<"$RES"
  run 64 /eiotclub/notify "$RATE"; read -r r_rps r_p50 r_p99 r_cpu r_err <<<"$RES"
  printf "paced     64 conns  receiver %7.0f req/s p50 %5.2f ms p99 %5.2f ms cpu %5.1f us   static 200 %7.0f req/s p50 %5.2f ms p99 %5.2f ms cpu %5.1f us   (offered %s/s)   goal p99 < 2 ms%s\n" \
    "$r_rps" "$r_p50" "$r_p99" "$r_cpu" "$s_rps" "$s_p50" "$s_p99" "$s_cpu" "$RATE" \
    "$([ "$r_err" != 0 ] && echo "   (non-2xx: $r_err)")"
done

# User-space instructions per request (callgrind: the same figure whatever
# else runs on the machine, unlike the rows above): one nginx process
# (master_process off, the same nginx.conf) serving COUNT POSTs over one
# keep-alive connection, for the receiver and for the static 200; the
# difference between COUNT=200 and COUNT=1200 runs, per request. The kernel's
# share (the same syscalls on both sides) is not in it.
if [ "${SIMKIT_BENCH_IR:-1}" != 0 ] && command -v valgrind >/dev/null; then
  examples/nginx/run.sh stop "$port" >/dev/null 2>&1 && sleep 0.5 || true
  user=""; [ "$(id -u)" = 0 ] && user="user root root;"
  cat > "$tmp/post.lua" <<'LUA'
-- post.lua URL COUNT BODIES: COUNT POSTs of the first lines of BODIES, one keep-alive connection
local core = require "simkit.core"
local url, count, path = arg[1], tonumber(arg[2]), arg[3]
local h = core.http_new()
local i = 0
for line in io.lines(path) do
  i = i + 1
  local res, err = h:request({ method = "POST", url = url, body = line, idempotent = true,
    headers = { ["Content-Type"] = "application/json" } })
  if not res or res.status ~= 200 then
    io.stderr:write("post.lua: ", url, " answered ", tostring(res and res.status or err), "\n")
    os.exit(1)
  end
  if i == count then break end
end
LUA
  # ir <path> <count>: the instructions of an nginx that served <count> POSTs to <path>
  ir() {
    rm -f "$SIMKIT_NGINX_PREFIX/logs/nginx.pid"
    EIOTCLUB_SECRET=$secret valgrind --tool=callgrind --callgrind-out-file=/dev/null nginx -p "$SIMKIT_NGINX_PREFIX" \
      -c "$SIMKIT_NGINX_PREFIX/nginx.conf" -g "daemon off; master_process off; $user" 2>"$tmp/vg.err" &
    local vg=$! i
    for i in $(seq 300); do [ -s "$SIMKIT_NGINX_PREFIX/logs/nginx.pid" ] && curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
    LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 "$tmp/post.lua" "$base$1" "$2" "$WEBHOOK_BODIES" \
      || { kill "$vg"; exit 1; }
    kill -QUIT "$(cat "$SIMKIT_NGINX_PREFIX/logs/nginx.pid")"; wait "$vg" || true
    sed -n 's/.*Collected : //p' "$tmp/vg.err" | tr -d ,
  }
  per_request() { local a b; a=$(ir "$1" 200); b=$(ir "$1" 1200); echo $(( (b - a) / 1000 )); }
  s_ir=$(per_request /healthz)
  r_ir=$(per_request /eiotclub/notify)
  printf "user-space instructions per request (callgrind, 1 process)  receiver %6.1f k   baseline static 200 %6.1f k   ratio %.2fx   (immune to load; lower is better)\n" \
    "$(awk -v v="$r_ir" 'BEGIN { print v / 1000 }')" "$(awk -v v="$s_ir" 'BEGIN { print v / 1000 }')" \
    "$(awk -v a="$r_ir" -v b="$s_ir" 'BEGIN { print b / a }')"
fi
errors_so_far
exit 0
