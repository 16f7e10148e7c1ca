#!/bin/bash
# Every C file of src/, fuzz/, bench/ and tools/ is in the style of
# .clang-format (make format rewrites them). Prints "format: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory format-check
