#!/bin/sh
# make demo: against the offline sandbox (spec/support/server.py --sandbox),
# or against the real service when AIMLAPI_KEY is set and OMNIHUMAN_BASE_URL is not.
set -e
LUA=${LUA:-lua5.4}
export BUILD=${BUILD:-build/$LUA}
eval "$("$LUA" spec/support/paths.lua)" # LUA_PATH, LUA_CPATH
mkdir -p out
if [ -n "$AIMLAPI_KEY" ] && [ -z "$OMNIHUMAN_BASE_URL" ]; then
  echo "using the real service (AIMLAPI_KEY is set)"
  exec "$LUA" examples/demo.lua "$@"
fi
log=$(mktemp)
python3 spec/support/server.py --sandbox --watch-pid $$ >"$log" 2>"$log.err" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log" "$log.err"' EXIT INT TERM
i=0
until [ -s "$log" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
api=$(sed -n 's/.*"api": *"\([^"]*\)".*/\1/p' "$log")
[ -n "$api" ] || { cat "$log.err"; echo "sandbox did not start"; exit 1; }
echo "offline sandbox at $api (no lip-sync: it returns your still image with your audio)"
export OMNIHUMAN_BASE_URL="$api/v2" AIMLAPI_KEY=sandbox-key
"$LUA" examples/demo.lua "$@"
