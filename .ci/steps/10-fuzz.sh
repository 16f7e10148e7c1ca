#!/bin/bash
# Each libFuzzer target (fuzz/) for FUZZ_SECONDS (default here: 20 s) under
# ASan+UBSan, from the seed corpora in fuzz/corpus/. Fails on any report;
# prints each target's exec count.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
