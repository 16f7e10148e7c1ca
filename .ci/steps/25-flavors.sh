#!/bin/bash
# The whole busted suite once per flavor of the test server (the current API
# reference, and the earlier one: 200 or 201 creates, credits_used or
# tokens_used, queued/generating or mixed-case waiting/active), so that every
# spec meets both; about twice the time of `make test`. Ends with one
# "N passed, N failed" line per flavor.
# Under CI the runtimes step has already given every spec both flavors
# (it swaps them from one runtime to the next), so this step is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${CI:-}" ]; then echo "flavors: run by the runtimes step (OMH_TEST_FLAVOR_SWAP)"; exit 0; fi
make --no-print-directory test-flavors
