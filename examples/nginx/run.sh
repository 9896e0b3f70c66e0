#!/bin/sh
# Run examples/nginx/eiotclub_notify.conf as is, from anywhere:
#
#   EIOTCLUB_SECRET=your-secret examples/nginx/run.sh [PORT]    # start (PORT: argument, else $PORT, else 8089)
#   examples/nginx/run.sh stop [PORT]                           # stop it
#
# $WORKERS sets worker_processes (a number from 1 to 64, or auto: one per
# core; default 1 as in eiotclub_notify.conf). Every worker shares the
# de-duplication (the lua_shared_dict), so a notification is handled once
# whichever worker receives it.
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

workers=${WORKERS:-1}
case $workers in
  auto) ;;
  ''|*[!0-9]*) echo "run.sh: WORKERS must be a number from 1 to 64 or 'auto', got '$workers'" >&2; exit 2 ;;
  *) if [ "$workers" -lt 1 ] || [ "$workers" -gt 64 ]; then
       echo "run.sh: WORKERS must be a number from 1 to 64 or 'auto', got '$workers'" >&2; exit 2
     fi ;;
esac
if [ ! -f "$repo/build/luajit/simkit/core.so" ]; then
  echo "run.sh: build/luajit/simkit/core.so is missing: run 'make LUA=luajit' in $repo" >&2; exit 1
fi
if [ -z "${EIOTCLUB_SECRET:-}" ]; then
  echo "run.sh: set EIOTCLUB_SECRET (the account's secret) in the environment" >&2; exit 2
fi
mkdir -p "$prefix/logs" "$prefix/temp"
chmod 755 "$prefix"
for d in lua build examples; do ln -sfn "$repo/$d" "$prefix/$d"; done
sed -e "s/listen 127\.0\.0\.1:8089;/listen 127.0.0.1:$port;/" -e "s/^worker_processes 1;/worker_processes $workers;/" \
  "$here/eiotclub_notify.conf" > "$prefix/nginx.conf"
# started as root, nginx's workers would run as nobody: keep the invoking user
user=""
if [ "$(id -u)" = 0 ]; then user="user root root;"; fi
nginx -p "$prefix" -c "$prefix/nginx.conf" ${user:+-g "$user"}
echo "EIOTCLUB notifications: http://127.0.0.1:$port/eiotclub/notify (logs in $prefix/logs; stop: $0 stop $port)"
