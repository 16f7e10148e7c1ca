-- Foreign schedulers, recognised at each await while no adapter was chosen
-- (omnihuman.use) and no host was detected: inside a coroutine that a
-- cqueues controller runs, the cqueues adapter; inside a callback of a
-- running luv loop, the luv adapter; otherwise none (the plain adapter).
-- Only modules the program has already loaded are looked at.
local M = {}

-- require's own table (package.loaded names it): looked up once, not at
-- every await; a module not loaded costs one missed key.
local loaded = package.loaded

--- The adapter for the scheduler running this code, or nil.
---@return omnihuman.Adapter?
function M.pick()
  local cq = loaded.cqueues
  if cq ~= nil and type(cq) == "table" and type(cq.running) == "function" and select(2, cq.running()) == true then
    return require("omnihuman.hosts.cqueues")
  end
  local uv = loaded.luv
  if uv ~= nil and type(uv) == "table" and type(uv.loop_mode) == "function" and uv.loop_mode() ~= nil then
    return require("omnihuman.hosts.luv")
  end
  return nil
end

return M
