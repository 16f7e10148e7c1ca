# luacheck (Debian: lua-check) over every Lua file of the project, with
# .luacheckrc. Ends with "lint: N passed, N failed" (files clean / files with
# warnings or errors). CI: .ci/steps/15-lint.sh.
LINT_DIRS := lua spec bench examples plugin soak

.PHONY: lint
lint:
	@command -v luacheck >/dev/null 2>&1 || sh scripts/deps.sh $(LUA) lua-check
	@out=$$(luacheck --no-color --formatter plain --codes $(LINT_DIRS) 2>&1); rc=$$?; \
	  [ -z "$$out" ] || echo "$$out"; \
	  clean=$$(luacheck --no-color --formatter TAP $(LINT_DIRS) 2>/dev/null | grep -Ec '^ok '); \
	  bad=$$(echo "$$out" | grep -E '^[^:]+:[0-9]+:[0-9]+' | cut -d: -f1 | sort -u | grep -c .); \
	  echo "lint: $$clean passed, $$bad failed"; exit $$rc
