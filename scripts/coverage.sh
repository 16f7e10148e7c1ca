#!/bin/sh
# make coverage (see mk/coverage.mk): builds the core with --coverage, runs
# the suite with the Lua line counter on, prints per-file and total figures
# for C (gcov) and Lua. The suite's own "N passed, N failed" line is printed
# too; a failed spec does not stop the report (the figures are still of what ran).
LUA=${LUA:-lua5.4}
BUILD=build/$LUA-cov
make --no-print-directory all COV=1 LUA="$LUA" >/dev/null || exit 1
find "$BUILD/obj" -name '*.gcda' -delete
dir="$PWD/build/coverage/lua"
rm -rf "$dir" && mkdir -p "$dir" build/coverage
log=build/coverage/suite.log # the suite's own output, kept for reading
# shellcheck disable=SC2086 # COVERAGE_ARGS: busted options, split on purpose
OMH_COVERAGE="$dir" LUA="$LUA" BUILD="$BUILD" sh scripts/run-tests.sh $COVERAGE_ARGS >"$log" 2>&1
rc=$?
tail -n 1 "$log"
echo "== Lua (lua/, bin/omnihuman)"
"$LUA" spec/support/coverage.lua report "$dir" "luac${LUA#lua}"
echo "== C (src/*.c; headers left out)"
out="$PWD/build/coverage/gcov" && rm -rf "$out" && mkdir -p "$out"
(cd "$out" && for c in ../../../src/*.c ../../../src/ledger/*.c; do
  rel=${c#../../../src/}
  gcno=../../../$BUILD/obj/${rel%.c}.gcno # sources of today only, not a stale object's
  [ -f "$gcno" ] && gcov -n -o "$(dirname "$gcno")" "$gcno" 2>/dev/null
done) | awk '
  /^File / { file = $2; gsub(/\047/, "", file) }
  /^Lines executed:/ && file ~ /^src\/.*\.c$/ && !(file in seen) {
    seen[file] = 1; split($2, a, ":"); pct = a[2] + 0; n = $4 + 0
    run += pct * n / 100; all += n; printf "%6.1f%%  %5d/%-5d %s\n", pct, pct * n / 100 + 0.5, n, file }
  END { printf "C coverage: %.1f%% of %d lines (%d run)\n", all ? 100 * run / all : 0, all, run + 0.5 }'
exit $rc
