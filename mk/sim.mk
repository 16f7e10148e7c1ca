# make sim: the batch crash simulation (sim/run.lua). Every crash point of
# SIM_ROWS-row manifests (ledger commits and SQLite syncs on the ledger,
# journal writes with --no-ledger), then SIM_SCHEDULES random schedules
# (three in four on the ledger); SIM_SEED
# replays a run, SIM_ONLY=I one schedule of it.
SIM_SCHEDULES ?= 20
SIM_ROWS ?= 3
SIM_CONC ?= 2

.PHONY: sim
sim: deps
	@$(MAKE) --no-print-directory all
	@LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" LUA=$(LUA) BUILD=$(BUILD) \
	  SIM_SCHEDULES="$(SIM_SCHEDULES)" SIM_ROWS="$(SIM_ROWS)" SIM_CONC="$(SIM_CONC)" \
	  $(LUA) sim/run.lua
