# make coverage: the suite once with line counters in C (gcov, a build of its
# own in build/<runtime>-cov/) and in Lua (spec/support/coverage.lua: lua/
# and bin/omnihuman, in the suite's process and every child), then one line
# per file and a total for each (figures: docs/testing.md).
#   make coverage COVERAGE_ARGS=--exclude-tags=slow   the fast part only
COVERAGE_ARGS ?=

.PHONY: coverage
coverage: deps
	@LUA=$(LUA) COVERAGE_ARGS="$(COVERAGE_ARGS)" sh scripts/coverage.sh
