# make bench: benchmarks against local servers on 127.0.0.1 only (see docs/bench.md).
# Not part of `make test`. Needs nginx (apt-get install -y nginx-light), curl, python3.
BENCH_BIN := build/bench

.PHONY: bench bench-tools bench-baseline bench-turns bench-frames
bench-tools: $(BENCH_BIN)/http_clients $(BENCH_BIN)/waiting_floor $(BENCH_BIN)/base64_bench bench-baseline

# The upload benchmarks' baseline: the module (core and Lua facade) as it
# was before create bodies were streamed (whole body built in memory at
# create), from git. Skipped, with a note, when that revision is not in the clone.
# Built with every symbol visible: its sources do not mark luaopen_* as exported.
BENCH_BASELINE_REV ?= d646adc
BENCH_BASELINE := $(BENCH_BIN)/baseline
bench-baseline:
	@if [ ! -f $(BENCH_BASELINE)/omnihuman/core.so ]; then \
	  rm -rf $(BENCH_BASELINE) && mkdir -p $(BENCH_BASELINE)/omnihuman && \
	  if git archive $(BENCH_BASELINE_REV) src lua 2>/dev/null | tar -x -C $(BENCH_BASELINE); then \
	    $(CC) $(filter-out -Werror -fvisibility=hidden,$(CFLAGS)) -shared -o $(BENCH_BASELINE)/omnihuman/core.so \
	      $(BENCH_BASELINE)/src/*.c $(LDLIBS); \
	  else echo "bench: no git revision $(BENCH_BASELINE_REV): upload baselines skipped"; fi; \
	fi

$(BENCH_BIN)/http_clients: bench/http_clients.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -o $@ $< -lcurl

$(BENCH_BIN)/waiting_floor: bench/waiting_floor.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -o $@ $< -lcurl

$(BENCH_BIN)/base64_bench: bench/base64_bench.c src/base64.c src/base64.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -o $@ bench/base64_bench.c src/base64.c

bench: all bench-tools
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
	  { apt-get install -y nginx-light >/dev/null 2>&1 || apt-get install -y nginx >/dev/null; }
	@LUA=$(LUA) BUILD=$(BUILD) PATH="$$PATH:/usr/sbin" python3 bench/run.py
	@$(MAKE) --no-print-directory bench-openresty
	@$(MAKE) --no-print-directory bench-turns
	@$(MAKE) --no-print-directory bench-frames

# Benchmark 5: an OpenResty worker while N requests wait (bench/openresty.py).
.PHONY: bench-openresty
bench-openresty:
	@case ",$${BENCH_ONLY:-5}," in *,5,*) ;; *) exit 0 ;; esac; \
	  sh scripts/deps.sh luajit nginx libnginx-mod-http-lua && \
	  $(MAKE) --no-print-directory all LUA=luajit && \
	  PATH="$$PATH:/usr/sbin" python3 bench/openresty.py

# How long one turn of the loop takes during 50 inline uploads over TLS,
# with the turn budget and without it (same run): what a host's frame pays.
bench-turns: all
	LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$(LUA)/?.so;;" $(LUA) bench/turns.lua

# A LÖVE game's frames (one update() each, then 16 ms idle) during 50 inline
# uploads of ~200 KB images over TLS: what one frame pays.
bench-frames: all
	LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/$(LUA)/?.so;;" $(LUA) bench/frames.lua
