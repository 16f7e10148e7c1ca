#!/bin/bash
# The whole busted suite once per flavor of the test server (the current API
# reference, and the earlier one: 200 or 201 creates, credits_used or
# tokens_used, queued/generating or mixed-case waiting/active), so that every
# spec meets both; about twice the time of `make test`. Ends with one
# "N passed, N failed" line per flavor.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory test-flavors
