-- Run by busted before any spec (.busted: helper). Child processes the
-- specs start (the CLI, scripts run by the suite's interpreter) load the
-- same module as the specs: every shell started through io.popen or
-- os.execute gets the suite's own package.path and package.cpath as
-- LUA_PATH and LUA_CPATH, so no caller has to pass them on.
local function q(s)
  return "'" .. (s:gsub("'", "'\\''")) .. "'"
end

local prefix = "LUA_PATH=" .. q(package.path) .. "; LUA_CPATH=" .. q(package.cpath)
  .. "; export LUA_PATH LUA_CPATH; "

local popen, execute = io.popen, os.execute
io.popen = function(cmd, ...) -- luacheck: ignore 122 (the suite's own shells)
  return popen(prefix .. cmd, ...)
end
os.execute = function(cmd, ...) -- luacheck: ignore 122
  if cmd == nil then return execute() end -- "is there a shell?"
  return execute(prefix .. cmd, ...)
end
