#!/bin/bash
# luacheck over lua/, spec/, bench/, examples/, plugin/ and soak/ (.luacheckrc).
# Ends with "lint: N passed, N failed" (files).
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory lint
