package = "omnihuman"
version = "scm-1"
source = { url = "git+https://example.invalid/lua-omnihuman.git" }
description = {
  summary = "Portrait + speech -> lip-synced talking video through the AI/ML API (ByteDance OmniHuman)",
  detailed = [[
A Lua extension module written in C (libcurl multi + lua-cjson) with a
coroutine scheduler: thousands of concurrent generation jobs on one loop,
never a duplicated paid create, never a leaked key.
]],
  license = "MIT",
}
dependencies = { "lua >= 5.1", "lua-cjson" }
-- libcurl's headers come from the system (Debian: libcurl4-openssl-dev,
-- installed under a multiarch include path the compiler already searches).
build = {
  type = "builtin",
  modules = {
    ["omnihuman.core"] = {
      sources = {
        "src/base64.c", "src/body.c", "src/client.c", "src/config.c", "src/core.c", "src/errors.c",
        "src/input_file.c", "src/input_lua.c", "src/json.c", "src/json_read_fast.c", "src/json_write.c", "src/loop.c", "src/loop_lua.c", "src/loop_perform.c", "src/loop_pool.c",
        "src/loop_sockets.c", "src/loop_uploads.c",
        "src/media.c", "src/media_containers.c", "src/media_mpeg.c", "src/media_window.c",
        "src/op.c", "src/op_create.c", "src/op_download.c", "src/op_events.c",
        "src/op_lua.c", "src/op_run.c", "src/op_sleep.c", "src/op_status.c", "src/options.c", "src/outcome.c", "src/redact.c",
        "src/retry_after.c", "src/timers.c", "src/transfer.c", "src/test_hooks.c",
      },
      libraries = { "curl" },
      defines = { "_DEFAULT_SOURCE", "_POSIX_C_SOURCE=200809L" },
      -- the headers live beside the sources
      incdirs = { "src" },
    },
    -- The job ledger's SQLite binding (Debian: libsqlite3-dev); the core never needs it.
    ["omnihuman.ledger_db"] = {
      sources = { "src/ledger/ledger_db.c", "src/ledger/sha256.c", "src/ledger/signals.c", "src/ledger/faultvfs.c" },
      libraries = { "sqlite3" },
      defines = { "_DEFAULT_SOURCE", "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src", "src/ledger" },
    },
    -- The command line's file-system helpers (flock, fsync of a folder, append).
    ["omnihuman.fs"] = {
      sources = { "src/fs/fs.c" },
      defines = { "_DEFAULT_SOURCE", "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src" },
    },
    ["omnihuman"] = "lua/omnihuman/init.lua",
    ["omnihuman.ledger"] = "lua/omnihuman/ledger.lua",
    ["omnihuman.ledger_canon"] = "lua/omnihuman/ledger_canon.lua",
    ["omnihuman.ledger_client"] = "lua/omnihuman/ledger_client.lua",
    ["omnihuman.scheduler"] = "lua/omnihuman/scheduler.lua",
    ["omnihuman.usage"] = "lua/omnihuman/usage.lua",
    ["omnihuman.catalogue"] = "lua/omnihuman/catalogue.lua",
    ["omnihuman.cli.models"] = "lua/omnihuman/cli/models.lua",
    ["omnihuman.models_data"] = "lua/omnihuman/models_data.lua",
    ["omnihuman.waiters"] = "lua/omnihuman/waiters.lua",
    ["omnihuman.hosts.detect"] = "lua/omnihuman/hosts/detect.lua",
    ["omnihuman.hosts.plain"] = "lua/omnihuman/hosts/plain.lua",
    ["omnihuman.hosts.nvim"] = "lua/omnihuman/hosts/nvim.lua",
    ["omnihuman.hosts.openresty"] = "lua/omnihuman/hosts/openresty.lua",
    ["omnihuman.hosts.love"] = "lua/omnihuman/hosts/love.lua",
    ["omnihuman.hosts.cqueues"] = "lua/omnihuman/hosts/cqueues.lua",
    ["omnihuman.hosts.luv"] = "lua/omnihuman/hosts/luv.lua",
    ["omnihuman.hosts.foreign"] = "lua/omnihuman/hosts/foreign.lua",
    ["omnihuman.hosts.coroutines"] = "lua/omnihuman/hosts/coroutines.lua",
    ["omnihuman.hosts.uv_driver"] = "lua/omnihuman/hosts/uv_driver.lua",
    ["omnihuman.health"] = "lua/omnihuman/health.lua",
    ["omnihuman.nvim"] = "lua/omnihuman/nvim.lua",
    ["omnihuman.cli"] = "lua/omnihuman/cli/init.lua",
    ["omnihuman.cli.args"] = "lua/omnihuman/cli/args.lua",
    ["omnihuman.cli.batch"] = "lua/omnihuman/cli/batch.lua",
    ["omnihuman.cli.batch_report"] = "lua/omnihuman/cli/batch_report.lua",
    ["omnihuman.cli.batch_run"] = "lua/omnihuman/cli/batch_run.lua",
    ["omnihuman.cli.commands"] = "lua/omnihuman/cli/commands.lua",
    ["omnihuman.cli.context"] = "lua/omnihuman/cli/context.lua",
    ["omnihuman.cli.exit"] = "lua/omnihuman/cli/exit.lua",
    ["omnihuman.cli.fs"] = "lua/omnihuman/cli/fs.lua",
    ["omnihuman.cli.journal"] = "lua/omnihuman/cli/journal.lua",
    ["omnihuman.cli.manifest"] = "lua/omnihuman/cli/manifest.lua",
    ["omnihuman.cli.ledger_cmds"] = "lua/omnihuman/cli/ledger_cmds.lua",
    ["omnihuman.cli.output_locks"] = "lua/omnihuman/cli/output_locks.lua",
    ["omnihuman.cli.batch_ledger"] = "lua/omnihuman/cli/batch_ledger.lua",
    ["omnihuman.cli.pacer"] = "lua/omnihuman/cli/pacer.lua",
    ["omnihuman.cli.preflight"] = "lua/omnihuman/cli/preflight.lua",
    ["omnihuman.cli.progress"] = "lua/omnihuman/cli/progress.lua",
    ["omnihuman.cli.rows"] = "lua/omnihuman/cli/rows.lua",
    ["omnihuman.cli.util"] = "lua/omnihuman/cli/util.lua",
  },
  install = { bin = { omnihuman = "bin/omnihuman" } },
}
