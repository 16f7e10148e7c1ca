#!/bin/sh
# Installs, from Debian's archive, whatever the build, tests and demo need and
# this machine lacks. Usage: scripts/deps.sh [lua5.4|lua5.1|lua5.3|luajit] [extra packages]
set -e
LUA=${1:-lua5.4}
[ $# -gt 0 ] && shift
case "$LUA" in
  luajit) runtime="luajit2 libluajit2-5.1-dev" ;;
  lua5.1) runtime="lua5.1 liblua5.1-0-dev" ;;
  *) runtime="$LUA lib$LUA-dev" ;;
esac
want="$runtime gcc make pkg-config libcurl4-openssl-dev libsqlite3-dev lua-cjson lua-busted python3 openssl curl tmux $*"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
