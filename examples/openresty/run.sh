#!/bin/sh
# Starts examples/openresty/nginx.conf in the foreground on 127.0.0.1:8089
# (PORT=... picks another port).
#   make LUA=luajit && examples/openresty/run.sh
# With the offline sandbox (`make sandbox` in another shell):
#   OMNIHUMAN_BASE_URL=http://127.0.0.1:8080/v2 AIMLAPI_KEY=x examples/openresty/run.sh
set -e
cd "$(dirname "$0")/../.."
ROOT=$PWD
PREFIX=$(mktemp -d /tmp/omnihuman-openresty.XXXXXX)
mkdir -p "$PREFIX/logs"
PORT=${PORT:-8089}
sed -e "s|@ROOT@|$ROOT|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@PORT@|$PORT|g" examples/openresty/nginx.conf >"$PREFIX/nginx.conf"
echo "nginx on http://127.0.0.1:$PORT (prefix $PREFIX); Ctrl-C stops it"
nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" &
pid=$!
# However this script ends, nginx (and its workers) end with it.
trap 'kill -QUIT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$PREFIX"' EXIT
trap 'exit 130' INT TERM
wait $pid
