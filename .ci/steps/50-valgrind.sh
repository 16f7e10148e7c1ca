#!/bin/bash
# The busted suite under valgrind memcheck (make test-valgrind runs this):
# --error-exitcode, definite leaks counted as errors, valgrind's own output
# in a log of its own so its summary can be printed. Fails when valgrind
# reports anything or a spec fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
LUA=${LUA:-lua5.4}
command -v valgrind >/dev/null || sh scripts/deps.sh "$LUA" valgrind
make --no-print-directory all >/dev/null || exit 1
vlog=$(mktemp) out=$(mktemp)
trap 'rm -f "$vlog" "$out"' EXIT
export BUILD="build/$LUA" # the module the suite loads (.busted)
# Specs that assert wall-clock timings cannot hold in a process 20-50x
# slower: the fault matrix (1 s timeouts) is skipped, and so are these
# (busted --filter-out patterns; override with VALGRIND_FILTER_OUT, ';'-separated).
export OMH_SKIP_FAULT_MATRIX=1
filters=()
IFS=';' read -r -a pats <<<"${VALGRIND_FILTER_OUT-in well under;on a real terminal}"
for p in "${pats[@]}"; do [ -n "$p" ] && filters+=("--filter-out=$p"); done
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --trace-children=no --num-callers=30 --log-file="$vlog" \
  "$LUA" /usr/bin/busted --ignore-lua "${filters[@]}" spec 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
echo "== valgrind log (errors and summary)"
grep -vE '^==[0-9]+== *$' "$vlog" | grep -E 'Invalid|uninit|Conditional|Syscall|Mismatched|lost|at 0x|by 0x|ERROR SUMMARY' | head -n 200
summary=$(grep -E 'ERROR SUMMARY' "$vlog" | tail -n 1)
echo "valgrind: ${summary:-no summary (valgrind did not finish)}; exit $rc"
line=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$out" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
echo "busted: ${line:-no result line}"
[ "$rc" -eq 0 ] && echo "$summary" | grep -q 'ERROR SUMMARY: 0 errors'
