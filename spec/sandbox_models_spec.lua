-- The offline sandbox (server.py --sandbox) serves every model of the table:
-- each create is checked against its model's rules (a bad one answered 400,
-- naming the field, as the service answers it) and each job's video is a
-- real MP4 made by ffmpeg from the create's image, else its video, else a
-- test pattern, with its audio, else silence, as long as the create asks.
-- The asserts on what is in the MP4 need ffmpeg and ffprobe; without them
-- they are left pending (the sandbox then serves its fixture clip).
local fixtures = require("spec.support.fixtures")
local testserver = require("spec.support.testserver")
local sh = require("spec.support.sh")
local cjson = require("cjson")

local function has(prog) return (sh.exec("command -v " .. prog .. " >/dev/null 2>&1")) end
local MEDIA = has("ffmpeg") and has("ffprobe")
local NO_MEDIA = "ffmpeg/ffprobe not on PATH: the sandbox serves its fixture clip, nothing to measure"

-- What ffprobe reads in a file: duration (s), width, height, audio (has a stream).
local function probe(path)
  local _, out = sh.run("ffprobe -v error -show_entries format=duration:stream=codec_type,width,height"
    .. " -of default=nw=1 " .. sh.q(path) .. " 2>&1")
  return {
    duration = tonumber(out:match("duration=([%d.]+)")),
    width = tonumber(out:match("width=(%d+)")),
    height = tonumber(out:match("height=(%d+)")),
    audio = out:match("codec_type=audio") ~= nil,
  }
end

local function data_uri(path, mime)
  local ok, b64 = sh.run("base64 -w0 " .. sh.q(path))
  assert(ok and #b64 > 0, "base64 of " .. path)
  return "data:" .. mime .. ";base64," .. b64
end

-- One create sent as written (no library checks in the way).
local function post(srv, ns, body)
  local f = os.tmpname()
  fixtures.write(f, body)
  local cmd = "curl -sS --max-time 30 -w '\\n%{http_code}' -X POST -H 'Content-Type: application/json'"
      .. " -H " .. sh.q("Authorization: Bearer " .. fixtures.KEY) .. " --data-binary @" .. sh.q(f)
      .. (srv.ca_file and " --cacert " .. sh.q(srv.ca_file) or "")
      .. " " .. sh.q(srv:base_url(ns) .. "/video/generations") .. " 2>&1"
  local _, out = sh.run(cmd)
  os.remove(f)
  local text, code = out:match("^(.*)\n(%d%d%d)$")
  return tonumber(code), text and cjson.decode(text)
end

describe("the offline sandbox serves every model of the table", function()
  local srv, c, dir
  local jobs = {}
  local creates = {
    veo = { model = "google/veo-3.1-t2v", prompt = "a lighthouse at dusk", duration = 4 },
    avatar = { model = "klingai/avatar-pro", image = fixtures.PNG, audio = fixtures.WAV },
    lipsync = { model = "pixverse/lip-sync", audio = fixtures.WAV },
    extend = { model = "google/veo3-1-extend-video", prompt = "the camera pulls back" },
    unlisted = { model = "example/not-in-the-table", prompt = "x" },
    long = { model = "example/not-in-the-table", prompt = "x", duration = 45, aspect_ratio = "9:16" },
  }

  setup(function()
    srv = fixtures.start{ sandbox = true }
    dir = fixtures.tmpdir()
    c = fixtures.client(srv, "", { poll_interval = 0.25, timeout = 120 })
    local clip = data_uri(testserver.fixture, "video/mp4")
    creates.lipsync.video_url, creates.extend.video_url = clip, clip
    -- All created first: their videos are made side by side.
    for name, fields in pairs(creates) do
      jobs[name] = assert(c:create(fields))
    end
  end)

  teardown(function()
    if srv then srv:stop() end
    if dir then fixtures.rm_rf(dir) end
  end)

  -- The job's MP4 (downloaded), then, with ffmpeg, what is in it checked
  -- against want() (evaluated once ffprobe is known to be there).
  local function check_clip(name, want)
    local res = assert(c:wait(jobs[name].id, { interval = 0.25, timeout = 180 }))
    local path = assert(c:download(res.video.url, dir .. "/" .. name .. ".mp4"))
    assert.equals("ftyp", fixtures.read(path):sub(5, 8))
    if not MEDIA then return pending(NO_MEDIA) end
    local p, w = probe(path), want()
    assert.same({ w.width, w.height }, { p.width, p.height })
    assert.is_near(w.duration, p.duration, 0.3)
    assert.is_true(p.audio) -- the given audio, else silence
  end

  it("Veo text-to-video: a test pattern as long as the duration asked (4 s)", function()
    check_clip("veo", function() return { width = 640, height = 360, duration = 4 } end) -- 16:9
  end)

  it("Kling Avatar: the image with the audio, as long as the audio (no duration field)", function()
    check_clip("avatar", function()
      local img = probe(fixtures.PNG)
      return { width = img.width, height = img.height, duration = probe(fixtures.WAV).duration }
    end)
  end)

  it("PixVerse lip-sync: the video's frames with the audio", function()
    check_clip("lipsync", function()
      local src = probe(testserver.fixture)
      return { width = src.width, height = src.height, duration = probe(fixtures.WAV).duration }
    end)
  end)

  it("Veo extend: the video's frames, looped to the documented default duration (7 s)", function()
    check_clip("extend", function()
      local src = probe(testserver.fixture)
      assert.is_true(src.duration < 7) -- so the clip is the source looped, not cut
      return { width = src.width, height = src.height, duration = 7 }
    end)
  end)

  it("a model not in the table, nothing asked: a 5 s test pattern", function()
    check_clip("unlisted", function() return { width = 640, height = 360, duration = 5 } end)
  end)

  it("a duration over 30 s: 30 s (the sandbox stays cheap); the pattern in the aspect ratio asked", function()
    check_clip("long", function() return { width = 360, height = 640, duration = 30 } end)
  end)

  it("answers a create that breaks its model's rules 400, naming the field; makes no job", function()
    local ns = fixtures.ns("rules")
    local function bad(body, field, says)
      local status, ans = post(srv, ns, cjson.encode(body))
      assert.equals(400, status)
      assert.equals("400", ans.statusCode)
      assert.matches("Body validation error", ans.message, 1, true)
      assert.matches(body.model, ans.message, 1, true)
      assert.matches(field, ans.message, 1, true)
      assert.matches(says, ans.message, 1, true)
    end
    local veo = "google/veo-3.1-t2v"
    bad({ model = veo, prompt = "x", duration = 5 }, "duration", "one of 4, 6, 8")
    bad({ model = veo, duration = 4 }, "prompt", "is required")
    bad({ model = veo, prompt = "x", generate_audio = "yes" }, "generate_audio", "boolean")
    local ten = {}
    for i = 1, 10 do ten[i] = "https://example.invalid/" .. i .. ".png" end
    bad({ model = "alibaba/happyhorse-1-0", prompt = "x", reference_image_urls = ten },
      "reference_image_urls", "at most 9 items")
    bad({ model = "runway/act_two", character = { type = "image", url = "https://x/a.png" },
          reference = { type = "video" } }, "reference.url", "is required")
    assert.equals(0, srv:records(ns).jobs)

    -- Unknown fields, the sandbox's controls and models not in the table pass.
    local ok = {
      { model = veo, prompt = "x", duration = 4, not_a_field = 1, sandbox_polls = 1, sandbox_fail = "boom" },
      { model = "example/not-in-the-table", anything = { 1, 2 }, sandbox_fail = "boom" },
    }
    for _, body in ipairs(ok) do
      local status, ans = post(srv, ns, cjson.encode(body))
      assert.equals(srv.profile.create_status, status)
      assert.matches(body.model, ans.id, 1, true)
    end
    assert.equals(2, srv:records(ns).jobs)
  end)
end)
