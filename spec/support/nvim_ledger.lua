-- Run inside `nvim --headless` by spec/hosts/nvim_ledger_spec.lua (loaded with
-- --cmd, before the plugin's VimEnter). OMH_MODE=generate starts one
-- :OmniHuman generation and waits to be killed; OMH_MODE=resume records
-- every notification to $OMH_NOTES, lists the jobs and resumes them all.
local mode, notes_path = os.getenv("OMH_MODE"), os.getenv("OMH_NOTES")
local notes = {}
vim.notify = function(msg)
  notes[#notes + 1] = tostring(msg)
  local f = io.open(notes_path, "a")
  if f then f:write(tostring(msg):gsub("\n", " | "), "\n") f:close() end
end
vim.api.nvim_create_autocmd("VimEnter", { once = true, callback = function()
  vim.defer_fn(function()
    local plugin = require("omnihuman.nvim")
    if mode == "generate" then
      plugin.setup{ poll_interval = 0.05 }
      vim.cmd("OmniHuman " .. os.getenv("OMH_IMAGE") .. " " .. os.getenv("OMH_AUDIO") .. " " .. os.getenv("OMH_OUT"))
      return -- the spec kills this editor while the job renders
    end
    plugin.setup{ poll_interval = 0.05 }
    vim.cmd("OmniHuman jobs")
    vim.cmd("OmniHuman resume all")
    vim.wait(30000, function()
      for _, n in ipairs(notes) do if n:find("resumed", 1, true) or n:find("rror") then return true end end
      return false
    end, 20)
    vim.cmd("qa!")
  end, 200)
end })
