-- Neovim plugin entry (sourced at startup, or when a plugin manager loads
-- the plugin). Cheap: the core is not loaded until a command or setup needs it.
if vim.g.loaded_omnihuman then return end
vim.g.loaded_omnihuman = 1

local plugin = require("omnihuman.nvim")
plugin.add_paths() -- <plugin root>/build/luajit/?.so first on package.cpath

vim.api.nvim_create_user_command("OmniHuman", plugin.command, {
  nargs = "+",
  complete = "file",
  desc = "omnihuman: {image} {audio} [{output}] -> a talking video; jobs; resume {id|row|all}",
})

-- Jobs a killed Neovim left unfinished are named (not resumed) once started.
vim.api.nvim_create_autocmd("VimEnter", { once = true, callback = function()
  vim.schedule(function() pcall(plugin.announce_pending) end)
end })

-- require("omnihuman").setup{...}: the library gains setup() inside Neovim
-- only. Already loaded: add it now; otherwise when it is first required.
local function add_setup(lib)
  if type(lib) == "table" and lib.setup == nil then lib.setup = plugin.setup end
  return lib
end
if package.loaded.omnihuman then
  add_setup(package.loaded.omnihuman)
elseif not package.preload.omnihuman then
  package.preload.omnihuman = function(name)
    package.preload.omnihuman = nil -- from now on the ordinary searchers find it
    local tried = {}
    for _, searcher in ipairs(package.loaders or package.searchers) do
      local loader, extra = searcher(name)
      if type(loader) == "function" then return add_setup(loader(name, extra)) end
      if type(loader) == "string" then tried[#tried + 1] = loader end
    end
    error(("module '%s' not found:%s"):format(name, table.concat(tried)), 2)
  end
end
