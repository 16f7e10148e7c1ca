-- Foreign schedulers, recognised at each await while no adapter was chosen
-- (omnihuman.use) and no host was detected: inside a coroutine that a
-- cqueues controller runs, the cqueues adapter; inside a callback of a
-- running luv loop, the luv adapter; otherwise none (the plain adapter).
-- Only modules the program has already loaded are looked at.
local M = {}

--- The adapter for the scheduler running this code, or nil.
---@return omnihuman.Adapter?
function M.pick()
  local cq = package.loaded.cqueues
  if type(cq) == "table" and type(cq.running) == "function" and select(2, cq.running()) == true then
    return require("omnihuman.hosts.cqueues")
  end
  local uv = package.loaded.luv
  if type(uv) == "table" and type(uv.loop_mode) == "function" and uv.loop_mode() ~= nil then
    return require("omnihuman.hosts.luv")
  end
  return nil
end

return M
