-- Three generations at once inside a cqueues controller (Debian: lua-cqueues).
-- Nothing to set up: a wait inside a cqueues-managed coroutine uses the
-- cqueues adapter by itself (see docs/embedding.md).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" lua5.4 examples/cqueues.lua [out_dir]
-- Key and service: $AIMLAPI_KEY, $OMNIHUMAN_BASE_URL (`make sandbox` for an offline one).
local cqueues = require("cqueues")
local omnihuman = require("omnihuman")

local out = arg[1] or "out"
os.execute("mkdir -p '" .. (out:gsub("'", "'\\''")) .. "'") -- the videos' folder (out/ is not in the repository)
local client = omnihuman.new{ poll_interval = (os.getenv("OMNIHUMAN_BASE_URL") or "") ~= "" and 1 or 10 }

local cq = cqueues.new()
local done = 0
for i = 1, 3 do
  cq:wrap(function()
    local res, err = client:generate{
      image = "examples/media/portrait.png", audio = "examples/media/hello.wav",
      output = ("%s/cqueues-%d.mp4"):format(out, i),
    }
    print(i, res and res.output or tostring(err))
    if res then done = done + 1 end
  end)
end
-- Something else the controller runs meanwhile.
cq:wrap(function()
  while done < 3 do
    cqueues.sleep(1)
  end
end)
assert(cq:loop())
print(("%d of 3 generations done"):format(done))
os.exit(done == 3 and 0 or 1)
