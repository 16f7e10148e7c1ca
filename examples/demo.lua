-- The main job: one portrait + one speech clip -> a lip-synced MP4.
-- Uses AIMLAPI_KEY and OMNIHUMAN_BASE_URL from the environment (`make demo`
-- points them at the offline sandbox unless you have a real key set).
--   lua5.4 examples/demo.lua [image] [audio] [output]
local omnihuman = require("omnihuman")

local image = arg[1] or "examples/media/portrait.png"
local audio = arg[2] or "examples/media/hello.wav"
local output = arg[3] or "out/demo.mp4"
local folder = output:match("^(.*)/[^/]*$")
if folder then -- the video's folder (out/ is not in the repository)
  os.execute("mkdir -p '" .. (folder:gsub("'", "'\\''")) .. "'")
end
local sandbox = (os.getenv("OMNIHUMAN_BASE_URL") or "") ~= ""

local client = omnihuman.new{
  poll_interval = sandbox and 1 or 10,
  on_event = function(ev)
    if ev.type == "retry" then
      io.write(("  retrying in %.1f s (%s)\n"):format(ev.delay, ev.error))
    end
  end,
}

local t0 = omnihuman.core.now()
local function elapsed() return ("%5.1fs"):format(omnihuman.core.now() - t0) end

print(("generating a talking video from %s + %s"):format(image, audio))
local res, err = client:generate{
  image = image, audio = audio, output = output,
  on_status = function(st) print(elapsed() .. "  job " .. st.status) end,
  on_progress = function(got, total)
    if total then io.write(("\r%s  downloading %d / %d bytes"):format(elapsed(), got, total)) end
  end,
}
io.write("\n")
if not res then
  io.stderr:write(tostring(err), err.job_id and ("\n(job " .. err.job_id .. ")") or "", "\n")
  os.exit(1)
end
print(elapsed() .. "  job completed: " .. res.id)
print("video written to " .. res.output)
