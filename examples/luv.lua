-- Three generations at once on a luv (libuv) loop (Debian: lua-luv).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" lua5.4 examples/luv.lua [out_dir]
-- Key and service: $AIMLAPI_KEY, $OMNIHUMAN_BASE_URL (`make sandbox` for an offline one).
local uv = require("luv")
local omnihuman = require("omnihuman")
local lv = omnihuman.use("luv")

local out = arg[1] or "out"
os.execute("mkdir -p '" .. (out:gsub("'", "'\\''")) .. "'") -- the videos' folder (out/ is not in the repository)
local client = omnihuman.new{ poll_interval = (os.getenv("OMNIHUMAN_BASE_URL") or "") ~= "" and 1 or 10 }

local done = 0
for i = 1, 3 do
  lv.spawn(function()
    local res, err = client:generate{
      image = "examples/media/portrait.png", audio = "examples/media/hello.wav",
      output = ("%s/luv-%d.mp4"):format(out, i),
    }
    print(i, res and res.output or tostring(err))
    if res then done = done + 1 end
  end)
end
-- Something else the loop runs meanwhile: it stops once the work is done.
local ticker = uv.new_timer()
ticker:start(1000, 1000, function()
  if done == 3 then ticker:close() end
end)
uv.run() -- returns once nothing is left: the generations and the ticker
print(("%d of 3 generations done"):format(done))
os.exit(done == 3 and 0 or 1)
