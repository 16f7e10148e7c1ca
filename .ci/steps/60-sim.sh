#!/bin/bash
# The batch crash simulation, bounded: every crash point of a 3-row manifest
# (48 schedules) and 20 random schedules, about two minutes. Prints
# "sim: N passed, N failed" (schedules) for the CI total.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory sim SIM_ROWS=3 SIM_CONC=2 SIM_SCHEDULES=20 SIM_MAX_SECONDS="${SIM_MAX_SECONDS:-400}"
