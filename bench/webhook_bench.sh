#!/usr/bin/env bash
# EIOTCLUB webhook in nginx (#11): the shipped example
# (examples/nginx/eiotclub_notify.conf, started by its one-liner run.sh) under
# wrk at 16 and 64 connections, against the same nginx answering a static 200
# (its /healthz) in the same run. Every receiver request is a new signed
# notification (ids never repeat within a run: the handler runs each time,
# the shared-dict store records each). Prints figure, baseline, ratio, goal.
# Goal: >= 0.6x the static 200 and p99 < 2 ms at 64 connections.
# Needs: wrk, nginx + lua module, `make LUA=lua5.4 && make LUA=luajit`.
set -eu
cd "$(dirname "$0")/.."
DURATION=${WEBHOOK_DURATION:-4}
THREADS=2
N=${WEBHOOK_N:-150000}   # bodies: 2 receiver runs; enough for 18 k requests/s over 4 s each
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

EIOTCLUB_SECRET=$secret examples/nginx/run.sh "$port" >/dev/null
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
# check once: a body is accepted, and a tampered one refused
first=$(head -n 1 "$WEBHOOK_BODIES")
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$first" "$base/eiotclub/notify")
[ "$status" = 200 ] || { echo "receiver answered $status to a valid body"; cat "$tmp/nginx/logs/error.log"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "${first/CardStopped/CardStoppeD}" "$base/eiotclub/notify")
[ "$status" = 401 ] || { echo "receiver answered $status to a tampered body"; exit 1; }

# nginx's worker (worker_processes 1) and its CPU time in clock ticks
worker=$(pgrep -P "$(cat "$tmp/nginx/logs/nginx.pid")" | head -n 1)
ticks() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }
hz=$(getconf CLK_TCK)

# run <conns> <path> <first body>: prints "rps p99_ms cpu_us_per_request non2xx"
# (both paths get the same POSTs of the same bodies: /healthz discards them)
run() {
  local out t0 t1
  t0=$(ticks)
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$1" -d"${DURATION}s" --latency -s bench/webhook_bench.wrk.lua "$base$2" -- "$3")
  t1=$(ticks)
  local rps p99 n errs cpu
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  p99=$(echo "$out" | awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; print v }')
  cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
  errs=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  echo "$rps $p99 $cpu ${errs:-0}"
}

echo "# EIOTCLUB webhook in nginx (examples/nginx, 1 worker), wrk -t$THREADS, ${DURATION} s per run, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# (cpu: the worker's CPU time per request, less sensitive to other load on the machine than req/s)"
half=$((N / 2))
for conns in 16 64; do
  first=$([ "$conns" = 16 ] && echo 2 || echo $((half + 1)))
  read -r s_rps s_p99 s_cpu _ <<<"$(run "$conns" /healthz "$first")"
  read -r r_rps r_p99 r_cpu r_err <<<"$(run "$conns" /eiotclub/notify "$first")"
  ratio=$(awk -v a="$r_rps" -v b="$s_rps" 'BEGIN { printf "%.2f", a / b }')
  cratio=$(awk -v a="$r_cpu" -v b="$s_cpu" 'BEGIN { printf "%.2f", b / a }')
  goal="goal >= 0.60x"
  [ "$conns" = 64 ] && goal="$goal, p99 < 2 ms"
  printf "webhook %2d conns  receiver %7.0f req/s p99 %6.2f ms cpu %5.1f us   baseline static 200 %7.0f req/s p99 %6.2f ms cpu %5.1f us   ratio %sx (cpu %sx)   %s%s\n" \
    "$conns" "$r_rps" "$r_p99" "$r_cpu" "$s_rps" "$s_p99" "$s_cpu" "$ratio" "$cratio" "$goal" \
    "$([ "$r_err" != 0 ] && echo "   (non-2xx: $r_err)")"
  used=$(awk -v r="$r_rps" -v d="$DURATION" 'BEGIN { printf "%d", r * d }')
  [ "$used" -gt "$half" ] && echo "  (note: $used requests > $half bodies: some were duplicates; raise WEBHOOK_N)"
done
grep -c '\[error\]' "$tmp/nginx/logs/error.log" >/dev/null && { echo "errors in nginx's log:"; grep '\[error\]' "$tmp/nginx/logs/error.log" | head -5; }
exit 0
