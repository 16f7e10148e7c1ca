#!/bin/bash
# Host tests: the module inside real Neovim, nginx + ngx_lua and LÖVE, each
# against spec/support/server.py on 127.0.0.1. Usage (from the repo root,
# after `make LUA=luajit`; the plugin's badcore case also wants `make LUA=lua5.4`):
# spec/hosts/run.sh [nvim] [nvim-plugin] [openresty] [love]
# Prints each test's output and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build/luajit}
HOSTS=${*:-nvim nvim-plugin openresty love}
TIMEOUT=${HOST_TIMEOUT:-90}        # seconds, per host test
KEY="sk-omh-hosttest-Q8v2Lm4Zt7Wc"

[ -f "$BUILD/omnihuman/core.so" ] || { echo "no $BUILD/omnihuman/core.so: run make LUA=luajit"; echo "0 passed, 1 failed"; exit 1; }

WORK=$(mktemp -d /tmp/omh-hosts.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  [ -f "$WORK/nginx/logs/nginx.pid" ] && kill "$(cat "$WORK/nginx/logs/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The fake API. It exits by itself when this shell is gone (--watch-pid).
python3 spec/support/server.py --key "$KEY" --lifetime 600 --watch-pid $$ \
  >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
SERVER_PID=$!
line=
for _ in $(seq 1 100); do                     # at most ~10 s
  line=$(head -n 1 "$WORK/server.out" 2>/dev/null)
  [ -n "$line" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
API=$(printf '%s' "$line" | sed -nE 's/.*"api": *"([^"]+)".*/\1/p')
if [ -z "$API" ]; then
  echo "test server did not start: $(cat "$WORK/server.err")"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "test server: $API (pid $SERVER_PID)"

# What every host test gets: where the module and its dependencies are.
export OMH_ROOT=$ROOT
export OMH_LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua"
export OMH_LUA_CPATH="$ROOT/$BUILD/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"
export AIMLAPI_KEY=$KEY
export OMH_API=$API
export OMH_WORK=$WORK

pass=0
fail=0
result() { # name rc
  if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "-- $1: PASS"
  else fail=$((fail + 1)); echo "-- $1: FAIL (exit $2)"; fi
}

run_nvim() {
  command -v nvim >/dev/null || { echo "nvim not installed"; return 1; }
  # -u NONE: no user config; the test quits with :qall! or :cquit N itself.
  timeout -k 5 "$TIMEOUT" nvim --headless -u NONE -i NONE -n \
    -c "luafile spec/hosts/nvim_test.lua" </dev/null 2>&1
}

# The plugin, installed for one scenario (see spec/hosts/nvim_plugin_test.lua):
# its own XDG folders, so no user configuration takes part.
run_nvim_plugin() {
  command -v nvim >/dev/null || { echo "nvim not installed"; return 1; }
  local scenario=$1 x="$WORK/nvim-plugin-$1" plugin=$ROOT
  mkdir -p "$x/config/nvim" "$x/data/nvim/site/pack/test/start" "$x/state" "$x/cache"
  local args=(--headless -i NONE -n)
  case $scenario in
    native|early)
      # Installed as a start package; the plugin file runs at startup.
      plugin="$x/data/nvim/site/pack/test/start/omnihuman"
      ln -s "$ROOT" "$plugin" ;;
    lazy) args+=(-u NONE) ;;
    example) args+=(-u "$ROOT/examples/nvim/init.lua") ;;
    badcore|nocore)
      # A copy of the plugin whose build is wrong or missing.
      plugin="$x/plugin-copy"
      mkdir -p "$plugin"
      cp -r "$ROOT/lua" "$ROOT/plugin" "$ROOT/doc" "$plugin/"
      if [ "$scenario" = badcore ]; then
        [ -f "$ROOT/build/lua5.4/omnihuman/core.so" ] || { echo "no build/lua5.4: run make LUA=lua5.4"; return 1; }
        mkdir -p "$plugin/build/luajit/omnihuman"
        cp "$ROOT/build/lua5.4/omnihuman/core.so" "$plugin/build/luajit/omnihuman/"
      fi
      args+=(-u NONE) ;;
  esac
  if [ "$scenario" = early ]; then
    cat >"$x/config/nvim/init.lua" <<'LUA'
-- Before plugins are loaded: setup through the plugin's own module.
require("omnihuman.nvim").setup{ base_url = os.getenv("OMH_API") .. "/n/plugin-early/v2", timeout = 10 }
_G.omh_early_loaded = package.loaded.omnihuman ~= nil and package.loaded["omnihuman.core"] ~= nil
LUA
  fi
  (cd "$x" && XDG_CONFIG_HOME="$x/config" XDG_DATA_HOME="$x/data" XDG_STATE_HOME="$x/state" \
    XDG_CACHE_HOME="$x/cache" OMH_SCENARIO=$scenario OMH_PLUGIN_ROOT=$plugin VIMINIT= \
    OMNIHUMAN_BASE_URL="$API/n/plugin-$scenario/v2" \
    timeout -k 5 "$TIMEOUT" nvim "${args[@]}" -c "luafile $ROOT/spec/hosts/nvim_plugin_test.lua" </dev/null 2>&1)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

run_openresty() {
  command -v nginx >/dev/null || { echo "nginx not installed"; return 1; }
  local prefix="$WORK/nginx" port rc=0
  port=$(free_port)
  mkdir -p "$prefix/logs" "$prefix/conf" "$prefix/tmp"
  # As root, workers would run as nobody, who may not read the checkout.
  local user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  sed -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$port|g" -e "s|@PREFIX@|$prefix|g" -e "s|@USER@|$user_line|" \
      -e "s|@LUA_PATH@|$OMH_LUA_PATH|g" -e "s|@LUA_CPATH@|$OMH_LUA_CPATH|g" \
      spec/hosts/nginx/nginx.conf.in >"$prefix/conf/nginx.conf"
  if ! nginx -p "$prefix" -c "$prefix/conf/nginx.conf" -t -q 2>&1; then return 1; fi
  nginx -p "$prefix" -c "$prefix/conf/nginx.conf" 2>&1 || return 1
  OMH_PORT=$port OMH_PREFIX=$prefix timeout -k 5 "$TIMEOUT" bash spec/hosts/nginx/check.sh || rc=$?
  kill -QUIT "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null
  for _ in $(seq 1 50); do                      # at most ~5 s for a graceful stop
    [ -f "$prefix/logs/nginx.pid" ] || break
    sleep 0.1
  done
  if grep -qE '\[(error|alert|crit|emerg)\]' "$prefix/logs/error.log"; then
    echo "nginx error.log:"; grep -E '\[(error|alert|crit|emerg)\]' "$prefix/logs/error.log" | head -20
    rc=1
  fi
  return $rc
}

run_love() {
  command -v love >/dev/null || { echo "love not installed"; return 1; }
  # No window and no audio (see spec/hosts/love/conf.lua): no display needed.
  # Should this LÖVE still want one, use a virtual X server.
  local cmd=(love spec/hosts/love)
  if [ -z "${DISPLAY:-}" ] && [ -n "${LOVE_XVFB:-}" ] && command -v xvfb-run >/dev/null; then
    cmd=(xvfb-run -a love spec/hosts/love)
  fi
  SDL_AUDIODRIVER=dummy timeout -k 5 "$TIMEOUT" "${cmd[@]}" </dev/null 2>&1
}

for h in $HOSTS; do
  echo "== host: $h"
  case $h in
    nvim) run_nvim; rc=$? ;;
    nvim-plugin)
      for sc in native early lazy badcore nocore example; do
        echo "== nvim-plugin: $sc"
        run_nvim_plugin "$sc"
        result "nvim-plugin-$sc" $?
      done
      continue ;;
    openresty|nginx) run_openresty; rc=$? ;;
    love) run_love; rc=$? ;;
    *) echo "unknown host $h"; rc=2 ;;
  esac
  result "$h" "$rc"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
