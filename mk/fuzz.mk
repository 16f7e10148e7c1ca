# libFuzzer targets (fuzz/*_fuzz.c) built with clang + ASan + UBSan.
#   make fuzz                 build, then run each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=20 (what CI runs: .ci/steps/10-fuzz.sh)
#   make fuzz-build           build only;  make fuzz-TARGET  one target (e.g. fuzz-media)
# Seeds live in fuzz/corpus/<target>/ and are never written to; what a run
# finds goes to build/fuzz/corpus/<target>/, crashes to build/fuzz/artifacts/.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_DIR      := build/fuzz
FUZZ_TARGETS  := answer media retry_after base64 json
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=c99 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 -Wall $(FUZZ_SAN) \
                 $(LUA_INC) -Isrc
FUZZ_SRC_OBJS := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(wildcard src/*.c))

.PHONY: fuzz fuzz-build $(FUZZ_TARGETS:%=fuzz-%)

$(FUZZ_DIR)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/answer_fuzz: fuzz/answer_fuzz.c $(FUZZ_SRC_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ fuzz/answer_fuzz.c $(FUZZ_SRC_OBJS) \
	  -Wl,-E -l:lib$(LUA).a -lcurl -lm -ldl

# The fast JSON reader against lua-cjson: Lua linked in, the system's cjson.so loaded by it.
$(FUZZ_DIR)/json_fuzz: fuzz/json_fuzz.c $(patsubst %,$(FUZZ_DIR)/obj/%.o,json json_read_fast redact)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -Wl,-E -l:lib$(LUA).a -lm -ldl

$(FUZZ_DIR)/media_fuzz: fuzz/media_fuzz.c $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(wildcard src/media*.c))
$(FUZZ_DIR)/retry_after_fuzz: fuzz/retry_after_fuzz.c $(FUZZ_DIR)/obj/retry_after.o
$(FUZZ_DIR)/base64_fuzz: fuzz/base64_fuzz.c $(FUZZ_DIR)/obj/base64.o
$(FUZZ_DIR)/media_fuzz $(FUZZ_DIR)/retry_after_fuzz $(FUZZ_DIR)/base64_fuzz:
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lm

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || sh scripts/deps.sh $(LUA) clang libclang-rt-14-dev
	@$(MAKE) -s --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%_fuzz)

# One target for FUZZ_SECONDS; prints "fuzz <t>: N runs in S s, corpus C" and
# fails (leaving the crashing input in build/fuzz/artifacts/) on any report.
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: fuzz-build
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts
	@log=$(FUZZ_DIR)/$*.log; \
	ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/$*_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/artifacts/$*- $(FUZZ_DIR)/corpus/$* fuzz/corpus/$* >$$log 2>&1; \
	rc=$$?; \
	runs=$$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' $$log | tail -n1 | sed -E 's/Done ([0-9]+) runs in ([0-9]+) second/\1 runs in \2 s/'); \
	corp=$$(ls $(FUZZ_DIR)/corpus/$* | wc -l); \
	if [ $$rc -ne 0 ]; then tail -n 60 $$log; echo "fuzz $*: FAILED (exit $$rc), see $$log"; exit 1; fi; \
	echo "fuzz $*: $${runs:-? runs}, corpus $$corp new + $$(ls fuzz/corpus/$* | wc -l) seeds"

fuzz:
	@$(MAKE) --no-print-directory fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  $(MAKE) --no-print-directory fuzz-$$t FUZZ_SECONDS=$(FUZZ_SECONDS) || fail=1; \
	done; exit $$fail

# answer_fuzz again, with Lua (built with LUA_USE_APICHECK) and lua-cjson
# compiled in with the sanitizers: out-of-bounds writes inside Lua or cjson
# and Lua C-API misuse (pushing past the guaranteed stack) become reports.
# Needs their sources: make fuzz-answer-deep LUA_SRC=~/lua-5.4.4 CJSON_SRC=~/lua-cjson
# (Lua's tree with l*.c at its top, as in github.com/lua/lua at tag v5.4.4).
LUA_SRC   ?=
CJSON_SRC ?=
FUZZ_DEEP := $(FUZZ_DIR)/deep
.PHONY: fuzz-answer-deep
fuzz-answer-deep:
	@test -n "$(LUA_SRC)" -a -n "$(CJSON_SRC)" || { echo "set LUA_SRC and CJSON_SRC"; exit 2; }
	@mkdir -p $(FUZZ_DEEP)/lua $(FUZZ_DEEP)/src $(FUZZ_DIR)/corpus/answer-deep $(FUZZ_DIR)/artifacts
	@for f in $$(ls $(LUA_SRC)/l*.c | grep -vE '/(lua|luac|ltests)\.c$$'); do \
	  $(FUZZ_CC) $(FUZZ_SAN) -g -O1 -fsanitize=fuzzer-no-link -DLUA_USE_LINUX -DLUA_USE_APICHECK \
	    -c -o $(FUZZ_DEEP)/lua/$$(basename $$f .c).o $$f || exit 1; done
	@for f in lua_cjson strbuf fpconv; do \
	  $(FUZZ_CC) $(FUZZ_SAN) -g -O1 -fsanitize=fuzzer-no-link -I$(LUA_SRC) \
	    -c -o $(FUZZ_DEEP)/lua/cj_$$f.o $(CJSON_SRC)/$$f.c || exit 1; done
	@for f in $(wildcard src/*.c); do \
	  $(FUZZ_CC) $(subst $(LUA_INC),,$(FUZZ_CFLAGS)) -I$(LUA_SRC) -fsanitize=fuzzer-no-link \
	    -c -o $(FUZZ_DEEP)/src/$$(basename $$f .c).o $$f || exit 1; done
	$(FUZZ_CC) $(subst $(LUA_INC),,$(FUZZ_CFLAGS)) -I$(LUA_SRC) -DOMH_STATIC_CJSON -fsanitize=fuzzer \
	  -o $(FUZZ_DEEP)/answer_deep_fuzz fuzz/answer_fuzz.c $(FUZZ_DEEP)/src/*.o $(FUZZ_DEEP)/lua/*.o -lcurl -lm -ldl
	@$(FUZZ_DEEP)/answer_deep_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/answer-deep- \
	  $(FUZZ_DIR)/corpus/answer-deep fuzz/corpus/answer >$(FUZZ_DIR)/answer-deep.log 2>&1; rc=$$?; \
	  grep -E '^(Done|SUMMARY)|Assertion|ERROR' $(FUZZ_DIR)/answer-deep.log | head -n 20; \
	  echo "fuzz answer-deep: exit $$rc, log $(FUZZ_DIR)/answer-deep.log"; exit $$rc
