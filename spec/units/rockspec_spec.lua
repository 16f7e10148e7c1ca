-- The rockspec installs what the checkout has: every C source in the core,
-- every Lua module of lua/ under its name (a file left out installs a
-- module that fails at require time). LuaCATS definition files (---@meta)
-- are never loaded, so they are not modules.
local fixtures = require("spec.support.fixtures")

local ROCKSPEC = "rockspec/omnihuman-scm-1.rockspec"

local lines = require("spec.support.sh").lines

local function load_rockspec()
  local env = {}
  local chunk = assert((loadstring or load)(fixtures.read(ROCKSPEC), "=rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end
  chunk()
  return env
end

describe("the rockspec", function()
  local spec = load_rockspec()
  local modules = spec.build.modules

  it("builds the core from every C file in src/", function()
    local listed = {}
    for _, f in ipairs(modules["omnihuman.core"].sources) do listed[f] = true end
    local files = lines("ls src/*.c")
    assert.is_true(#files > 0)
    for _, f in ipairs(files) do assert.is_true(listed[f], ROCKSPEC .. " does not build " .. f) end
    for f in pairs(listed) do assert.is_true(fixtures.exists(f), ROCKSPEC .. " lists a missing " .. f) end
  end)

  it("installs every Lua module of lua/ under its name", function()
    local files = lines("find lua -name '*.lua' | sort")
    assert.is_true(#files > 0)
    for _, f in ipairs(files) do
      local name = f:gsub("^lua/", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
      if fixtures.read(f):sub(1, 8) ~= "---@meta" then
        assert.equals(f, modules[name], ROCKSPEC .. " does not install " .. f .. " as " .. name)
      end
    end
  end)
end)
