-- luacheck: globals love
-- Headless, as spec/hosts/love/conf.lua, with a save identity of its own.
dofile(os.getenv("OMH_ROOT") .. "/spec/hosts/love/conf.lua")
local headless = love.conf
function love.conf(t)
  headless(t)
  t.identity = "omnihuman-docs"
end
