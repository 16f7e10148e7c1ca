#!/bin/bash
# The module inside real hosts, all LuaJIT: headless Neovim, nginx with
# ngx_lua (libnginx-mod-http-lua + luajit2), headless LÖVE. Each runs
# generations against spec/support/server.py on 127.0.0.1; see
# spec/hosts/run.sh. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory test-hosts
