#!/bin/bash
# The whole busted suite under every supported runtime: each builds into its
# own build/<runtime>/ and `make test LUA=<runtime>` installs what it lacks
# (scripts/deps.sh). Debian's lua-busted serves every version (5.2-5.4 link
# to its 5.1 files; LuaJIT uses the 5.1 C modules). Ends with one summary
# line per runtime; fails if any runtime failed. Under CI, lua5.4 is left
# out: .ci/run has just run the suite under it (make test). Every other
# runtime swaps the test server's flavors (OMH_TEST_FLAVOR_SWAP: each server
# start gets the flavor the run before gave the one after it), so that
# every spec meets both flavors within this step and `make test`.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${CI:-}" ]; then default="lua5.1 lua5.2 lua5.3 luajit"; else default="lua5.1 lua5.2 lua5.3 lua5.4 luajit"; fi
RUNTIMES=${RUNTIMES:-$default}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
bad=0
swap=1
for L in $RUNTIMES; do
  echo "== runtime $L (flavors swapped: $swap)"
  OMH_TEST_FLAVOR_SWAP=$swap make --no-print-directory test LUA="$L" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  ver=$("$L" -v 2>&1 | head -n 1)
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  [ -n "$line" ] || line="no summary"
  [ "$rc" -eq 0 ] || bad=$((bad + 1))
  swap=$((1 - swap))
  summary+=("$(printf '%-7s %-28s %s%s' "$L" "($ver)" "$line" "$([ "$rc" -eq 0 ] || echo "  (exit $rc)")")")
done
echo "== runtimes"
printf '%s\n' "${summary[@]}"
[ "$bad" -eq 0 ]
