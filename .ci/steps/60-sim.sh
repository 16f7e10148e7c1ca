#!/bin/bash
# The batch crash simulation, bounded: every crash point of a 3-row manifest
# (48 journal writes and 60 ledger commits, each broken four ways, and 15
# SIGKILLs inside SQLite's syncs) and 20 random schedules, about three
# minutes (no schedule started past 400 s). Prints
# "sim: N passed, N failed" (schedules) for the CI total.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory sim SIM_ROWS=3 SIM_CONC=2 SIM_SCHEDULES=20 SIM_MAX_SECONDS="${SIM_MAX_SECONDS:-400}"
