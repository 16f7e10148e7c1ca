# One C style (.clang-format) for src/, fuzz/, bench/ and tools/.
#   make format        rewrite the files in place
#   make format-check  list the files that differ and fail (CI: .ci/steps/01-format.sh)
FORMAT_FILES = $(wildcard src/*.c src/*.h fuzz/*.c bench/*.c tools/*.c)
CLANG_FORMAT ?= clang-format

.PHONY: format format-check
format:
	@command -v $(CLANG_FORMAT) >/dev/null || sh scripts/deps.sh $(LUA) clang-format
	@$(CLANG_FORMAT) -i --style=file $(FORMAT_FILES)

format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || sh scripts/deps.sh $(LUA) clang-format
	@bad=0; n=0; for f in $(FORMAT_FILES); do n=$$((n + 1)); \
	  if ! $(CLANG_FORMAT) --style=file "$$f" | cmp -s - "$$f"; then echo "not formatted: $$f"; bad=$$((bad + 1)); fi; \
	done; echo "format: $$((n - bad)) passed, $$bad failed"; [ $$bad -eq 0 ]

# The layers of src/ (docs/architecture.md): no link or include cycle, only
# luaopen_* exported, no file over 500 lines (CI: .ci/steps/01-format.sh).
.PHONY: check-layers
check-layers: all
	@python3 tools/check_layers.py $(BUILD)
