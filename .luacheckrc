-- luacheck (Debian: lua-check) over the whole tree: `make lint`.
-- The library runs on Lua 5.1-5.4 and LuaJIT: the union of their globals.
std = "max"
max_line_length = 140
self = false -- methods keep their self even when they do not use it
exclude_files = { "build/**", ".luarocks/**", "lua_modules/**" }

-- Definitions for lua-language-server: empty function bodies by design.
files["lua/omnihuman/core_meta.lua"] = { unused = false }

-- Host globals: read where the library looks for its host; owned by the
-- host programs (tests and examples set fields on them).
files["lua/omnihuman/hosts/detect.lua"] = { read_globals = { "ngx", "vim", "love" } }
files["lua/omnihuman/hosts/openresty.lua"] = { read_globals = { "ngx" } }
files["lua/omnihuman/hosts/nvim.lua"] = { read_globals = { "vim" } }
files["lua/omnihuman/nvim.lua"] = { read_globals = { "vim" } }
files["lua/omnihuman/health.lua"] = { read_globals = { "vim" } }
files["plugin"] = { globals = { "vim" } }
files["spec"] = { std = "+busted" }
files["spec/hosts"] = { std = "max" }
files["spec/hosts/*_spec.lua"] = { std = "max+busted" } -- busted specs of host event loops
files["spec/hosts/nvim_test.lua"] = { globals = { "vim" } }
files["spec/support/nvim_ledger.lua"] = { globals = { "vim" } }
files["spec/hosts/nvim_harness.lua"] = { globals = { "vim" } }
files["spec/hosts/nvim_plugin_test.lua"] = { globals = { "vim" } }
files["spec/hosts/nginx"] = { globals = { "ngx" } }
files["spec/hosts/love"] = { globals = { "love" } }
files["examples/nvim"] = { globals = { "vim" } }
files["examples/openresty"] = { globals = { "ngx" } }
files["examples/love"] = { globals = { "love" } }

-- Generated data (make models): enum lists stay on one line.
files["lua/omnihuman/models_data.lua"] = { max_line_length = false }
