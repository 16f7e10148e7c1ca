# Soak: create/poll/wait cycles against the test server in one process;
# fails if RSS grows > 5% after warm-up or descriptors do not stay flat.
#   make soak                  100,000 cycles (SOAK_CYCLES, SOAK_CONCURRENCY)
#   make soak-short            24,000 cycles, for CI (.ci/steps/40-soak.sh), growth
#                              measured from cycle 10,000, at most 15%: since
#                              2026-12-05 RSS takes 12,000-20,000 cycles to settle
#                              (~16.2 MB at 12,000, 16.6 MB at 60,000; the Lua heap flat
#                              throughout): a leak of 200 bytes a cycle still fails it
# SOAK_TLS=1 runs it over HTTPS (slower: the Python server's TLS is the cost).
SOAK_CYCLES      ?= 100000
SOAK_SHORT       ?= 24000
SOAK_SHORT_WARM  ?= 10000
SOAK_SHORT_LIMIT ?= 15
SOAK_CONCURRENCY ?= 16

.PHONY: soak soak-short
soak: deps
	@$(MAKE) --no-print-directory all
	LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" \
	  $(LUA) soak/soak.lua $(SOAK_CYCLES) $(SOAK_CONCURRENCY)

soak-short: deps
	@$(MAKE) --no-print-directory all
	LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" \
	  SOAK_WARM=$(SOAK_SHORT_WARM) SOAK_LIMIT=$(SOAK_SHORT_LIMIT) $(LUA) soak/soak.lua $(SOAK_SHORT) $(SOAK_CONCURRENCY)
