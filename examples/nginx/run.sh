#!/bin/sh
# Run examples/nginx/eiotclub_notify.conf as is, from anywhere:
#
#   EIOTCLUB_SECRET=your-secret examples/nginx/run.sh [PORT]    # start (PORT: argument, else $PORT, else 8089)
#   examples/nginx/run.sh stop [PORT]                           # stop it
#
# The nginx prefix is $SIMKIT_NGINX_PREFIX, else ${TMPDIR:-/tmp}/simkit-eiotclub-notify-PORT:
# this script creates it with its logs/ and temp/ directories, links the
# repository's lua/, build/ and examples/ into it, writes nginx.conf there
# with the port, and starts nginx (as a daemon; logs in PREFIX/logs/).
# Needs `make LUA=luajit` first (the LuaJIT build of the C core).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
action=start
if [ "${1:-}" = stop ]; then action=stop; shift; fi
port=${1:-${PORT:-8089}}
case $port in
  ''|*[!0-9]*) echo "run.sh: the port must be a number from 1 to 65535, got '$port'" >&2; exit 2 ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "run.sh: the port must be a number from 1 to 65535, got '$port'" >&2; exit 2
fi
prefix=${SIMKIT_NGINX_PREFIX:-${TMPDIR:-/tmp}/simkit-eiotclub-notify-$port}

if [ "$action" = stop ]; then
  exec nginx -p "$prefix" -c "$prefix/nginx.conf" -s quit
fi

if [ ! -f "$repo/build/luajit/simkit/core.so" ]; then
  echo "run.sh: build/luajit/simkit/core.so is missing: run 'make LUA=luajit' in $repo" >&2; exit 1
fi
if [ -z "${EIOTCLUB_SECRET:-}" ]; then
  echo "run.sh: set EIOTCLUB_SECRET (the account's secret) in the environment" >&2; exit 2
fi
mkdir -p "$prefix/logs" "$prefix/temp"
chmod 755 "$prefix"
for d in lua build examples; do ln -sfn "$repo/$d" "$prefix/$d"; done
sed "s/listen 127\.0\.0\.1:8089;/listen 127.0.0.1:$port;/" "$here/eiotclub_notify.conf" > "$prefix/nginx.conf"
# started as root, nginx's workers would run as nobody: keep the invoking user
user=""
if [ "$(id -u)" = 0 ]; then user="user root root;"; fi
nginx -p "$prefix" -c "$prefix/nginx.conf" ${user:+-g "$user"}
echo "EIOTCLUB notifications: http://127.0.0.1:$port/eiotclub/notify (logs in $prefix/logs; stop: $0 stop $port)"
