#!/bin/bash
# Every C file of src/, fuzz/, bench/ and tools/ is in the style of
# .clang-format (make format rewrites them), and the layers of src/ hold (no
# link or include cycle, only luaopen_* exported, no file over 500 lines),
# and the generated option and error-kind tables are up to date (make
# docs-check). Prints "format: ...", "layers: ..." and "docs: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
make --no-print-directory format-check || rc=1
make --no-print-directory check-layers || rc=1
make --no-print-directory docs-check || rc=1
exit "$rc"
