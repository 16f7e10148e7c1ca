#!/bin/sh
# Runs the busted suite against the module built in $BUILD and ends with a
# plain "N passed, N failed" line. SAN=1: under ASan+UBSan (valgrind: make
# test-valgrind, .ci/steps/50-valgrind.sh).
# Arguments go to busted (make test-fast: --exclude-tags=slow). Where the
# module is found: .busted and spec/support/paths.lua ($BUILD).
LUA=${LUA:-lua5.4}
export BUILD=${BUILD:-build/$LUA}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "$SAN" ]; then
  # An interpreter with the sanitizers linked in (see tools/sanlua.c).
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  "$SANLUA" /usr/bin/busted --ignore-lua "$@" spec 2>&1 | tee "$out"
else
  busted --lua="$LUA" "$@" spec 2>&1 | tee "$out"
fi
status=$?
# busted prints "N successes / N failures / N errors / N pending : T seconds"
line=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$out" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
pass=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 \2/' | awk '{print $1 + $2}')
[ -n "$line" ] || { pass=0; fail=1; }
if grep -q 'LeakSanitizer has encountered a fatal error' "$out"; then
  # Its tracer failed (it can under some sandboxes): no leak was reported,
  # and none was checked in this run; valgrind's run checks them.
  echo "note: LeakSanitizer could not run its leak check at exit in this run"
fi
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out"; then
  echo "sanitizer reported a problem"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ] || exit 1
