-- Other video models of the service, through the same client: Veo 3.1 text
-- to video, Veo 3.1 first + last frame, a Kling Avatar lip-sync (a local
-- portrait and voice), Seedance 2.0 from reference images (local and
-- hosted), a PixVerse lip-sync of a local video. Local files go in any file
-- field (sent inline as data URIs); URLs are sent as they are. Each create is checked against its model's
-- documented fields before it is sent (omnihuman.model(id) shows them).
--   OMNIHUMAN_BASE_URL=... AIMLAPI_KEY=... lua5.4 examples/models.lua [outdir]
-- (against the offline sandbox: make sandbox, then
--  OMNIHUMAN_BASE_URL=http://127.0.0.1:8080/v2 AIMLAPI_KEY=any)
local omnihuman = require("omnihuman")

local outdir = arg[1] or "out"
os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'")
local sandbox = (os.getenv("OMNIHUMAN_BASE_URL") or "") ~= ""
local client = omnihuman.new{ poll_interval = sandbox and 0.2 or 10 }

local FACE = "examples/media/portrait.png"
local LAST = "https://cdn.example.com/face-smiling.png" -- a hosted file: sent as its URL
local CLIP = "examples/media/talk.mp4"
local VOICE = "examples/media/hello.wav"

local jobs = {
  { "veo-t2v", { model = "google/veo-3.1-t2v", prompt = "a lighthouse at dawn, waves below", duration = 8 } },
  { "veo-first-last", { model = "google/veo-3.1-first-last-image-to-video", prompt = "she turns and smiles",
                        image = FACE, last_image_url = LAST } },
  { "kling-avatar", { model = "klingai/avatar-standard", image = FACE, audio = VOICE } },
  { "seedance-refs", { model = "bytedance/seedance-2-0", prompt = "@Image1 walks towards @Image2",
                       image_urls = { FACE, LAST }, duration = 5 } },
  { "pixverse-lipsync", { model = "pixverse/lip-sync", video = CLIP, audio = VOICE } },
}

local done = 0
omnihuman.run(function()
  for _, j in ipairs(jobs) do
    omnihuman.spawn(function()
      local args = j[2]
      args.output = outdir .. "/" .. j[1] .. ".mp4"
      local res, err = client:generate(args)
      if res then done = done + 1 end
      print(("%-17s %-45s %s"):format(j[1], args.model, res and res.output or tostring(err)))
    end)
  end
end)
print(("%d of %d generations done"):format(done, #jobs))
os.exit(done == #jobs and 0 or 1)
