#!/usr/bin/env bash
# make demo: start the sandbox, run the auto top-up example against it, stop.
set -eu
cd "$(dirname "$0")/.."
out=$(sim/run start)
url=${out%% *}
dir=${out#* }
trap 'sim/run stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
echo "sandbox at $url"
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;'
export EIOTCLUB_BASE_URL="$url" EIOTCLUB_APPKEY=sandbox-appkey EIOTCLUB_SECRET=sandbox-secret
echo "== first run: orders a package for each card low on data"
lua5.4 examples/auto_topup.lua
echo "== second run the same day: the same order keys, nothing is bought twice"
lua5.4 examples/auto_topup.lua
echo "== pool alert: each active pool, an alert (exit 2) when its data is nearly used or it nearly expires"
lua5.4 examples/pool_alert.lua || [ $? -eq 2 ]
