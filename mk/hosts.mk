# Portability: the suite under every runtime, and the module inside
# real hosts (see spec/hosts/run.sh and docs/embedding.md).
#   make test-runtimes              make test under lua5.1 lua5.2 lua5.3 lua5.4 luajit
#   make test-runtimes RUNTIMES="lua5.1 luajit"
#   make test-hosts                 Neovim (adapter and plugin), nginx + ngx_lua, LÖVE (headless)
#   make test-hosts HOSTS=nvim      one of nvim, nvim-plugin, openresty, love
# Every runtime builds into build/<runtime>/omnihuman/core.so; the hosts all
# run LuaJIT and load build/luajit (the plugin test also loads a lua5.4 build
# into Neovim, to see :checkhealth report it).
HOST_PACKAGES := neovim nginx libnginx-mod-http-lua love lua5.4 liblua5.4-dev
HOSTS ?=
RUNTIMES ?= lua5.1 lua5.2 lua5.3 lua5.4 luajit

.PHONY: test-hosts test-runtimes

test-hosts:
	@sh scripts/deps.sh luajit $(HOST_PACKAGES)
	@$(MAKE) --no-print-directory all LUA=luajit
	@$(MAKE) --no-print-directory all LUA=lua5.4
	@BUILD=build/luajit bash spec/hosts/run.sh $(HOSTS)

test-runtimes:
	@RUNTIMES="$(RUNTIMES)" bash .ci/steps/20-runtimes.sh
