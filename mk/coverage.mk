# make coverage: the suite once more, counting which lines ran: Lua through a
# line hook (spec/support/coverage.lua), C through gcov (a --coverage build
# in build/$(LUA)-cov). Prints the figures (recorded in docs/testing.md).
# Not part of `make test`; a spec that fails under the hook's slowness is
# reported but does not stop the figures.
LUAC ?= $(subst lua,luac,$(LUA))

.PHONY: coverage
coverage: deps
	@$(MAKE) --no-print-directory all COV=1
	@rm -f build/$(LUA)-cov/obj/*.gcda build/coverage-lua.txt
	-@GCOV_ERROR_FILE=/dev/null LUA=$(LUA) BUILD=build/$(LUA)-cov OMH_COVERAGE=$(CURDIR)/build/coverage-lua.txt \
	  sh scripts/run-tests.sh --helper=spec/support/coverage.lua
	@python3 tools/coverage_report.py $(LUAC) build/coverage-lua.txt build/$(LUA)-cov/obj
