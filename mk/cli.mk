# bin/omnihuman, the command-line tool: its specs alone, and its one optional
# test dependency (tmux: the terminal test falls back to a pty without it).
CLI_SPECS := $(wildcard spec/cli/*_spec.lua)

.PHONY: cli-test cli-deps
cli-test: deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) BUILD=$(BUILD) busted --lua=$(LUA) $(CLI_SPECS)

cli-deps:
	@command -v tmux >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq tmux; }
