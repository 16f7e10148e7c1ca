-- Where the suite finds the module: lua/ for the Lua facade, and the core
-- built for the interpreter running the suite ($BUILD when set, as make
-- sets it; else build/<runtime>/, what `make LUA=<runtime>` writes). Read by
-- .busted (busted's own path settings) and spec/support/helper.lua (every
-- shell the suite starts); run as a script it prints the two variables for
-- a shell to eval:  eval "$(lua5.4 spec/support/paths.lua)"
local runtime = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local build = os.getenv("BUILD") or ("build/" .. runtime)

local paths = {
  lpath = "lua/?.lua;lua/?/init.lua;./?.lua",
  cpath = build .. "/?.so",
}

if arg and arg[0] and arg[0]:match("paths%.lua$") then
  print("export LUA_PATH='" .. paths.lpath .. ";;'")
  print("export LUA_CPATH='" .. paths.cpath .. ";;'")
end
return paths
