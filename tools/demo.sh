#!/usr/bin/env bash
# make demo: start the sandbox, run the automation examples (rules files)
# and the simkit command (cards, report) against it, stop.
set -eu
cd "$(dirname "$0")/.."
out=$(sim/run start)
url=${out%% *}
dir=${out#* }
trap 'sim/run stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
echo "sandbox at $url"
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;'
export EIOTCLUB_BASE_URL="$url" EIOTCLUB_APPKEY=sandbox-appkey EIOTCLUB_SECRET=sandbox-secret
echo "== auto top-up, dry run: what would be done (nothing is written anywhere)"
lua5.4 examples/rules/run.lua --plan examples/auto_topup.lua
echo "== auto top-up, two cycles: one order for the low card, then 'not armed' (never bought twice)"
lua5.4 examples/rules/run.lua --cycles 2 examples/auto_topup.lua
echo "== pool alert: an alert per card of a pool at 80 % of its data (none yet in the seeded sandbox)"
lua5.4 examples/rules/run.lua examples/pool_alert.lua
echo "== month ladder over the Huawei cards: alert, throttle (restored next month), suspend (resumed next month)"
HUAWEI_ENDPOINT="$url" HUAWEI_AK=SANDBOXAKEXAMPLE0001 HUAWEI_SK=sandbox-sk-secret \
  HUAWEI_PROJECT_ID=0123456789abcdef0123456789abcdef \
  lua5.4 examples/rules/run.lua --cycles 2 examples/rules/ladder.lua
echo "== the simkit command over the demo fleet (a sandbox profile in a private config file)"
printf 'return { demo = { sandbox = "%s" } }\n' "$url" >"$dir/simkit.lua"
chmod 600 "$dir/simkit.lua"
export SIMKIT_CONFIG="$dir/simkit.lua" SIMKIT_PROFILE=demo XDG_STATE_HOME="$dir/state"
bin/simkit cards --status active
echo "== simkit rules run through the CLI (its SQLite store and audit log): the top-up the example"
echo "   already placed has the same intent, so the vendor's duplicate answer settles it: still one order"
bin/simkit rules run examples/auto_topup.lua
bin/simkit rules run examples/pool_alert.lua
echo "== simkit report: one self-contained HTML page"
mkdir -p build
bin/simkit report --out build/report.html
echo "report written to build/report.html (open it in a browser)"
