#!/usr/bin/env bash
# The whole suite: luacheck, generated tables up to date, busted
# under Lua 5.4 and LuaJIT. Prints one closing line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

step() { # name, command...
  local name=$1; shift
  if "$@" >"$log/$name.out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; tail -n 40 "$log/$name.out"
  fi
}

step luacheck luacheck --quiet --no-color lua spec sim bench examples tools bin/simkit
# the catalogs: ../shared/spec when present (and then the in-repo copies must
# match it), else the copies in spec/catalog
if [ -d ../shared/spec ]; then
  step catalog-copies sh -c 'for f in spec/catalog/*.json; do cmp "$f" "../shared/spec/${f##*/}" || exit 1; done'
fi
step vendor-tables lua5.4 tools/gen_vendor.lua --check spec/catalog lua/simkit/vendor
step reference env LUA_CPATH='build/lua5.4/?.so;;' lua5.4 tools/gen_reference.lua --check spec/catalog docs/reference

# A decimal-comma locale for the JSON spec's LC_NUMERIC check.
LOCPATH=$(tools/locale.sh)
export LOCPATH

# busted: count individual tests from its summary line.
run_busted() { # lua, cpath
  local lua=$1 out="$log/busted-$1.out"
  LUA_CPATH="build/$lua/?.so;;" busted --lua="$lua" -o utfTerminal --no-auto-insulate >"$out" 2>&1
  local rc=$?
  local line
  line=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$out" | tail -n 1)
  local s f e
  s=$(echo "$line" | sed -E 's/^[^0-9]*([0-9]+) success.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
  if [ -z "$line" ]; then s=0; f=0; e=1; fi
  passed=$((passed + s)); failed=$((failed + f + e))
  echo "busted $lua: $s passed, $f failed, $e errors"
  if [ "$rc" -ne 0 ] || [ $((f + e)) -ne 0 ]; then
    grep -vE '^\s*$' "$out" | grep -E -A 12 'Failure|Error' | head -n 150
    [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ] && { failed=$((failed + 1)); tail -n 20 "$out"; }
  fi
}
run_busted lua5.4
run_busted luajit

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
