#!/bin/bash
# The short soak (make soak-short): 24,000 create/poll/wait cycles in one
# process; fails on RSS growth over 3% after 12,000 cycles of warm-up,
# descriptor growth, or any failed cycle.
set -euo pipefail
cd "$(dirname "$0")/../.."
SOAK_MAX_SECONDS="${SOAK_MAX_SECONDS:-300}" make --no-print-directory soak-short
