# omnihuman.ledger_db (src/ledger/): the job ledger's SQLite binding, a module
# of its own so core.so never needs libsqlite3. Built by `make` when Debian's
# libsqlite3-dev is installed (scripts/deps.sh installs it); skipped otherwise.
LEDGER_SO   := $(BUILD)/omnihuman/ledger_db.so
LEDGER_SRCS := $(wildcard src/ledger/*.c)
LEDGER_OBJS := $(LEDGER_SRCS:src/ledger/%.c=$(BUILD)/obj/ledger/%.o)

ifneq ($(wildcard /usr/include/sqlite3.h),)
all: $(LEDGER_SO)
endif

$(BUILD)/obj/ledger/%.o: src/ledger/%.c $(wildcard src/ledger/*.h) src/compat.h src/udata.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LEDGER_SO): $(LEDGER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SANFLAGS) -o $@ $(LEDGER_OBJS) $(LDFLAGS) -lsqlite3
