#!/usr/bin/env bash
# Builds a decimal-comma locale (de_DE.UTF-8) under build/locale once and
# prints the directory to use as LOCPATH (the JSON spec checks that number
# parsing ignores LC_NUMERIC).
set -u
cd "$(dirname "$0")/.."
if [ ! -d build/locale/de_DE.UTF-8 ]; then
  mkdir -p build/locale && localedef -i de_DE -f UTF-8 build/locale/de_DE.UTF-8 >/dev/null 2>&1
fi
echo "$PWD/build/locale"
