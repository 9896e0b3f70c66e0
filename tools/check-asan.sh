#!/usr/bin/env bash
# The C core under AddressSanitizer + UndefinedBehaviorSanitizer (the Lua
# interpreter is not instrumented, so libasan is preloaded), then the specs
# that drive libcurl and the sandbox under valgrind. Exits non-zero on any
# report.
set -u
cd "$(dirname "$0")/.."
status=0
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
make -s LUA=lua5.4 BUILD_TAG=asan EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
  EXTRA_LDFLAGS="-fsanitize=address,undefined" asan || exit 1
# A decimal-comma locale for the JSON spec's LC_NUMERIC check.
LOCPATH=$(tools/locale.sh)
export LOCPATH
# Specs that need no child processes (nginx must not inherit the preload).
# sqlite_core / smtp_core: the SQLite binding and SMTP's argument and error
# paths (the full SMTP conversation needs a child listener: valgrind below).
PURE="spec/json_spec.lua spec/sign_spec.lua spec/crypto_spec.lua spec/client_spec.lua spec/cdr_spec.lua
  spec/notify_spec.lua spec/sqlite_core_spec.lua spec/smtp_core_spec.lua"
echo "== ASan+UBSan: $PURE"
if ! LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
    LSAN_OPTIONS=suppressions=tools/lsan.supp:print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;./?.lua;./?/init.lua;;' LUA_CPATH='build/asan-lua5.4/?.so;;' \
    lua5.4 tools/busted5.4.lua -o utfTerminal $PURE; then
  echo "ASan/UBSan run FAILED"; status=1
fi
# The core under random and mutated input (JSON, crypto, signers, http
# arguments, the CDR parser): tools/fuzz.lua, fixed seed, about 45 s. A multibyte-decimal-point locale too (ps_AF: U+066B) when localedef can.
[ -d "$LOCPATH/ps_AF.UTF-8" ] || localedef -i ps_AF -f UTF-8 "$LOCPATH/ps_AF.UTF-8" >/dev/null 2>&1
echo "== ASan+UBSan: tools/fuzz.lua 20000 iterations, seed 1"
fuzzlog=$(mktemp)
if ! LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
    LSAN_OPTIONS=suppressions=tools/lsan.supp:print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/asan-lua5.4/?.so;;' \
    timeout 300 lua5.4 tools/fuzz.lua 20000 1 >"$fuzzlog" 2>&1 \
  || grep -qE 'Sanitizer|runtime error' "$fuzzlog"; then
  cat "$fuzzlog"; echo "fuzz run FAILED"; status=1
else
  grep '^fuzz:' "$fuzzlog"
fi
rm -f "$fuzzlog"
# valgrind does not follow children: the SMTP listener process of
# smtp_wire_spec runs uninstrumented.
VALGRIND="spec/http_spec.lua spec/json_spec.lua spec/sqlite_core_spec.lua spec/smtp_core_spec.lua spec/smtp_wire_spec.lua"
echo "== valgrind (memcheck): $VALGRIND"
if ! LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;./?.lua;./?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
    valgrind -q --keep-debuginfo=yes --suppressions=tools/valgrind.supp --error-exitcode=87 --leak-check=full --errors-for-leak-kinds=definite \
    lua5.4 tools/busted5.4.lua -o utfTerminal $VALGRIND; then
  echo "valgrind run FAILED"; status=1
fi
[ $status -eq 0 ] && echo "check-asan: clean"
exit $status
