# lua-omnihuman. `make test` and `make demo` install what is missing first.
LUA      ?= lua5.4
SAN      ?=
COV      ?=
BUILD    := build/$(LUA)$(if $(SAN),-san)$(if $(COV),-cov)
LUA_INC  ?= $(shell pkg-config --cflags $(LUA) 2>/dev/null || echo -I/usr/include/$(if $(filter luajit,$(LUA)),luajit-2.1,$(LUA)))
OPT      ?= $(if $(COV),-O0 -g --coverage,-O2 -g)
SANFLAGS_ON := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS := $(if $(SAN),$(SANFLAGS_ON))
# COV=1: gcov counters (make coverage), unoptimised so lines map one to one.
OPT      := $(if $(COV),-O0 -g --coverage,$(OPT))
LDFLAGS  += $(if $(COV),--coverage)
# OMH_TEST_HOOKS: the checkout's builds are test builds (core._* hooks,
# src/test_hooks.c); the rockspec's build leaves them out.
CFLAGS   += -DOMH_TEST_HOOKS -std=c99 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden -Wall -Wextra -Wmissing-prototypes -Werror $(OPT) $(SANFLAGS) $(LUA_INC)
LDLIBS   := -lcurl -lm
SRCS     := $(wildcard src/*.c)
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
CORE     := $(BUILD)/omnihuman/core.so

.PHONY: all deps test test-fast test-san test-valgrind sandbox demo clean
all: $(CORE)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Never link liblua: the host process provides its symbols.
$(CORE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SANFLAGS) $(if $(COV),--coverage) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS)

deps:
	@sh scripts/deps.sh $(LUA)

test: deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) BUILD=$(BUILD) sh scripts/run-tests.sh

# The suite without the specs tagged #slow (docs/testing.md): under a minute.
test-fast: deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) BUILD=$(BUILD) sh scripts/run-tests.sh --exclude-tags=slow

# The interpreter for sanitizer runs: Lua's static library + ASan/UBSan linked in.
SANLUA := build/$(LUA)-san/sanlua
$(SANLUA): tools/sanlua.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SANFLAGS_ON) $(LUA_INC) -o $@ $< -Wl,-E -l:lib$(LUA).a -lm -ldl

test-san: deps
	@$(MAKE) --no-print-directory all SAN=1
	@$(MAKE) --no-print-directory $(SANLUA)
	@LUA=$(LUA) BUILD=$(BUILD)-san SAN=1 SANLUA=$(SANLUA) sh scripts/run-tests.sh

# The suite under valgrind memcheck, as CI runs it.
test-valgrind: deps
	@LUA=$(LUA) bash .ci/steps/50-valgrind.sh

sandbox:
	@sh scripts/deps.sh $(LUA) ffmpeg
	python3 spec/support/server.py --sandbox --port $${PORT:-8080} --cdn-port $${CDN_PORT:-8081} \
	  $(if $(FLAVOR),--flavor $(FLAVOR))

# ffmpeg lets the sandbox render your image + audio into the MP4 it returns.
demo:
	@sh scripts/deps.sh $(LUA) ffmpeg
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) BUILD=$(BUILD) sh scripts/demo.sh

clean:
	rm -rf build

# Further targets (bench, fuzz, soak, hosts, cli) live in mk/, one file each.
-include mk/*.mk
