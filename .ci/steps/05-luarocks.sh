#!/bin/bash
# The rockspec builds and installs a module that loads, without the test
# hooks (core._*: only the Makefile's builds define OMH_TEST_HOOKS).
set -euo pipefail
sh scripts/deps.sh lua5.4 luarocks
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
# lua-cjson comes from Debian here; LuaRocks would otherwise fetch it.
luarocks --lua-version=5.4 make rockspec/omnihuman-scm-1.rockspec --tree "$tree" --deps-mode=none >/dev/null
(cd /tmp && LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
  LUA_CPATH="$tree/lib/lua/5.4/?.so;;" lua5.4 -e '
    local o = require("omnihuman")
    assert(o.core.version == o._VERSION)
    assert(o.core._b64 == nil, "test hooks in the installed module")
    assert(require("omnihuman.fs").flock and o.core.flock == nil, "the file helpers are omnihuman.fs")
    print("luarocks make: installed omnihuman " .. o._VERSION .. " (" .. o.core.curl_version .. ")")')
