-- Try the Neovim plugin from this checkout without installing it:
--
--   make LUA=luajit                       -- the core for Neovim's LuaJIT
--   nvim -u examples/nvim/init.lua
--   :OmniHuman examples/media/portrait.png examples/media/hello.wav out/talk.mp4
--   :OmniHumanMany 3                      -- three at once, on one connection pool
--
-- Key: $AIMLAPI_KEY. For the offline sandbox: `make sandbox` in a shell, then
-- OMNIHUMAN_BASE_URL=http://127.0.0.1:8080/v2 AIMLAPI_KEY=x nvim -u examples/nvim/init.lua
-- Installed with a plugin manager, only the setup call below is yours to
-- write (and it is optional); see :help omnihuman.

-- This file -> the repository root, which is the plugin.
local root = debug.getinfo(1, "S").source:sub(2):match("^(.*)/examples/nvim/[^/]*$") or "."
vim.opt.runtimepath:append(root)
vim.cmd("runtime plugin/omnihuman.lua") -- what Neovim does at startup for an installed plugin

require("omnihuman").setup{ poll_interval = 5, output_dir = root .. "/out" }
vim.fn.mkdir(root .. "/out", "p")

-- Several generations at once: each is a coroutine on the editor's loop.
vim.api.nvim_create_user_command("OmniHumanMany", function(opts)
  local plugin = require("omnihuman.nvim")
  local n = tonumber(opts.args) or 3
  local left = n
  for i = 1, n do
    plugin.generate(root .. "/examples/media/portrait.png", root .. "/examples/media/hello.wav",
      ("%s/out/many-%d.mp4"):format(root, i), function(res)
        left = left - 1
        if left == 0 then
          vim.notify(("omnihuman: %d generations finished (last: %s)"):format(n, res and res.output or "failed"))
        end
      end)
  end
end, { nargs = "?" })
