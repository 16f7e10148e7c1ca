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

describe("the offline sandbox serves every model of the table #slow", function()
  local srv, c, dir
  local jobs = {}
  local creates = {
    veo = { model = "google/veo-3.1-t2v", prompt = "a lighthouse at dusk", duration = 4 },
    avatar = { model = "klingai/avatar-pro", image = fixtures.PNG, audio = fixtures.WAV },
    lipsync = { model = "pixverse/lip-sync", audio = fixtures.WAV },
    extend = { model = "google/veo3-1-extend-video", prompt = "the camera pulls back" },
    refs = { model = "bytedance/seedance-2-0", prompt = "x", duration = 4 },
    act_two = { model = "runway/act_two" },
    by_url = { model = "pixverse/lip-sync" },
    unlisted = { model = "example/not-in-the-table", prompt = "x" },
    long = { model = "example/not-in-the-table", prompt = "x", duration = 45, aspect_ratio = "9:16" },
  }

  setup(function()
    srv = fixtures.start{ sandbox = true }
    dir = fixtures.tmpdir()
    c = fixtures.client(srv, "", { poll_interval = 0.25, timeout = 120 })
    local clip = data_uri(testserver.fixture, "video/mp4")
    local png, wav = data_uri(fixtures.PNG, "image/png"), data_uri(fixtures.WAV, "audio/wav")
    -- Local files (the library sends them inline) and data: URIs alike.
    creates.lipsync.video, creates.extend.video_url = testserver.fixture, clip
    creates.refs.image_urls, creates.refs.video_urls, creates.refs.audio_urls = { fixtures.PNG }, { clip }, { wav }
    creates.act_two.character = { type = "image", url = png }
    creates.act_two.reference = { type = "video", url = clip }
    -- A URL on this machine: the sandbox's CDN serves its fixture clip there.
    creates.by_url.video_url = srv.cdn .. "/files/sample.mp4"
    -- All created first: their videos are made side by side.
    for name, fields in pairs(creates) do
      jobs[name] = assert(c:create(fields))
    end
  end)

  teardown(function()
    if srv then srv:stop() end
    if dir then fixtures.rm_rf(dir) end
  end)

  -- The job's MP4 (downloaded), then, with ffmpeg, its size and length
  -- checked: size {w, h} or the size of the image/video at that path;
  -- seconds a number or the length of the audio at that path.
  local function check_clip(name, size, seconds)
    local res = assert(c:wait(jobs[name].id, { interval = 0.25, timeout = 180 }))
    local path = assert(c:download(res.video.url, dir .. "/" .. name .. ".mp4"))
    assert.equals("ftyp", fixtures.read(path):sub(5, 8))
    if not MEDIA then return pending(NO_MEDIA) end
    if type(size) == "string" then
      local src = probe(size)
      size = { src.width, src.height }
    end
    if type(seconds) == "string" then seconds = probe(seconds).duration end
    local p = probe(path)
    assert.same(size, { p.width, p.height })
    assert.is_near(seconds, p.duration, 0.3)
    assert.is_true(p.audio) -- the given audio, else silence
  end
  local VIDEO = testserver.fixture

  it("Veo text-to-video: a test pattern (16:9) as long as the duration asked (4 s)", function()
    check_clip("veo", { 640, 360 }, 4)
  end)

  it("Kling Avatar: the image with the audio, as long as the audio (no duration field)", function()
    check_clip("avatar", fixtures.PNG, fixtures.WAV)
  end)

  it("PixVerse lip-sync: the video's frames with the audio", function()
    check_clip("lipsync", VIDEO, fixtures.WAV)
  end)

  it("Veo extend: the video's frames, looped to the documented default duration (7 s)", function()
    if MEDIA then assert.is_true(probe(VIDEO).duration < 7) end -- so looped, not cut
    check_clip("extend", VIDEO, 7)
  end)

  it("Seedance 2.0: the first of its images (over its videos), with the first of its audios", function()
    check_clip("refs", fixtures.PNG, 4)
  end)

  it("Runway Act-Two: the image inside its character object, 5 s (no duration, no audio)", function()
    check_clip("act_two", fixtures.PNG, 5)
  end)

  it("a video at a URL on this machine: its frames", function()
    check_clip("by_url", VIDEO, 5)
  end)

  it("a model not in the table, nothing asked: a 5 s test pattern", function()
    check_clip("unlisted", { 640, 360 }, 5)
  end)

  it("a duration over 30 s: 30 s (the sandbox stays cheap); the pattern in the aspect ratio asked", function()
    check_clip("long", { 360, 640 }, 30)
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

-- The same rules on both sides: for every model of the table, a create of
-- its required fields (values its rules allow) passes the library's checks
-- and the sandbox's; one without a required field, or with a value outside
-- an enum, is refused by both, each naming the field.
describe("the sandbox and the library check creates by the same table", function()
  local omnihuman = require("omnihuman")
  local samples = require("spec.support.model_samples")
  local srv, c

  setup(function()
    srv = fixtures.start{ sandbox = true }
    c = fixtures.client(srv, "", { timeout = 30 })
  end)
  teardown(function() if srv then srv:stop() end end)

  -- Refused by the library (nothing sent) and by the sandbox, both naming field.
  local function both_refuse(fields, field)
    local job, err = c:create(fields)
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches(field, err.message, 1, true)
    local status, ans = post(srv, "", cjson.encode(fields))
    assert.equals(400, status, fields.model)
    assert.matches(field, ans.message, 1, true)
  end

  it("every model: its required fields pass both; one missing, or outside its enum, fails both", function()
    local models = omnihuman.models()
    assert.is_true(#models > 100)
    local refused = 0
    for _, id in ipairs(models) do
      local m = omnihuman.model(id)
      local fields = samples.minimal(id, m)
      fields.sandbox_fail = "not rendered"
      local job, err = c:create(fields)
      assert(job, id .. ": " .. tostring(err and err.message))

      local name = (m.required or {})[1]
      if name then
        local without = fixtures.with(fields)
        without[name] = nil
        both_refuse(without, name)
        refused = refused + 1
      end
      local enum_field -- the first (by name) with an enum
      for k, r in pairs(m.fields) do
        if r.enum and type(r.enum[1]) ~= "boolean" and (not enum_field or k < enum_field) then enum_field = k end
      end
      if enum_field then
        local outside = type(m.fields[enum_field].enum[1]) == "string" and "zz-not-listed" or 987654
        both_refuse(fixtures.with(fields, { [enum_field] = outside }), enum_field)
        refused = refused + 1
      end
    end
    assert.is_true(refused > 100)
    assert.equals(#models, srv:records("").jobs)
  end)
end)
