# omnihuman.fs (src/fs/): the command line's file-system helpers (fsync of a
# folder, flock, all-or-nothing append, realpath, mkdir -p), a module of its
# own so the HTTP core carries none of them.
FS_SO   := $(BUILD)/omnihuman/fs.so
FS_OBJS := $(BUILD)/obj/fs/fs.o

all: $(FS_SO)

$(BUILD)/obj/fs/%.o: src/fs/%.c src/compat.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(FS_SO): $(FS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SANFLAGS) $(if $(COV),--coverage) -o $@ $(FS_OBJS) $(LDFLAGS)
