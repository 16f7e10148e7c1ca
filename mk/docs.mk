# The option and error-kind tables of docs/api.md, doc/omnihuman.txt and the
# LuaCATS files, made from src/options_table.h and src/error_kinds.h
# (tools/gen_docs.lua, between marker lines).
#   make docs-gen    rewrite them
#   make docs-check  fail when one is stale, or an error kind in the code is
#                    not declared (CI: .ci/steps/01-format.sh)
.PHONY: docs-gen docs-check
docs-gen: all
	@LUA_CPATH="$(BUILD)/?.so;;" $(LUA) tools/gen_docs.lua

docs-check: all
	@LUA_CPATH="$(BUILD)/?.so;;" $(LUA) tools/gen_docs.lua --check
