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

-- make coverage: count the lines of lua/ run here and in every child.
local cov_dir = os.getenv("OMH_COVERAGE")
if cov_dir and cov_dir ~= "" then
  local cov = require("spec.support.coverage")
  cov.start(cov_dir)
  local here = io.popen("pwd"):read("*l")
  local init = ("dofile(%q).start(%q)"):format(here .. "/spec/support/coverage.lua", cov_dir)
  prefix = prefix .. "LUA_INIT=" .. q(init) .. "; export LUA_INIT; "
end
