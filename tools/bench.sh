#!/usr/bin/env bash
# Benchmarks: each prints ratios against a baseline run in the same process.
set -u
cd "$(dirname "$0")/.."
export LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;./?/init.lua;;'
for lua in lua5.4 luajit; do
  echo "== $lua"
  for b in bench/*_bench.lua; do
    echo "-- $b"
    LUA_CPATH="build/$lua/?.so;;" "$lua" "$b" || echo "(failed: $b)"
  done
done
# benchmarks that drive servers (wrk against nginx): run once
for b in bench/*_bench.sh; do
  echo "-- $b"
  bash "$b" || echo "(failed: $b)"
done
