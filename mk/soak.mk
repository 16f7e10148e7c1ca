# Soak: create/poll/wait cycles against the test server in one process;
# fails if RSS grows > 5% after warm-up or descriptors do not stay flat.
#   make soak                  100,000 cycles (SOAK_CYCLES, SOAK_CONCURRENCY)
#   make soak-short            24,000 cycles, for CI (.ci/steps/40-soak.sh), growth
#                              measured from cycle 12,000 (past the second client's
#                              start), at most 3%: RSS is flat from there (+0.0-0.3%);
#                              a leak of 100 bytes a cycle fails it
# SOAK_TLS=1 runs it over HTTPS (slower: the Python server's TLS is the cost).
SOAK_CYCLES      ?= 100000
SOAK_SHORT       ?= 24000
SOAK_SHORT_WARM  ?= 12000
SOAK_SHORT_LIMIT ?= 3
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
