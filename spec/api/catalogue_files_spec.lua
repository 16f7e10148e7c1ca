-- Local files in every file field of every model: a generated matrix over
-- the model table puts a local file (of the kind the field carries) at each
-- place a model's fields take one (single fields, array items, fields of
-- nested objects) and checks what the server received there: a data URI of
-- the file's exact bytes, its type sniffed from its content. The same
-- places given a missing file, or a file of the wrong kind, refuse the
-- create before anything is sent, naming the place and the path.
local omnihuman = require("omnihuman")
local catalogue = require("omnihuman.catalogue")
local fixtures = require("spec.support.fixtures")
local samples = require("spec.support.model_samples")
local body_server = require("spec.support.body_server")
local files = require("spec.support.files")

local sha256 = body_server.sha256
local MP4 = "spec/support/fixture.mp4"

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function at(t, keys)
  for _, k in ipairs(keys) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end

local function label(keys)
  local out = tostring(keys[1])
  for i = 2, #keys do
    out = out .. (type(keys[i]) == "number" and ("[%d]"):format(keys[i]) or "." .. keys[i])
  end
  return out
end

describe("local files in every file field #slow", function()
  local bs, dir, media
  setup(function()
    bs = body_server.start()
    dir = fixtures.tmpdir()
    local mp4 = fixtures.read(MP4)
    media = {
      image = { path = fixtures.PNG, mime = "image/png" },
      audio = { path = fixtures.WAV, mime = "audio/wav" },
      video = { path = MP4, mime = "video/mp4" },
      file = { path = fixtures.PNG, mime = "image/png" },
      mov = { path = fixtures.write(dir .. "/clip.mov", mp4:sub(1, 8) .. "qt  " .. mp4:sub(13)), mime = "video/quicktime" },
      webm = { path = fixtures.write(dir .. "/clip.webm", "\26\69\223\163\135\66\130\132webm" .. ("\0"):rep(64)),
               mime = "video/webm" },
    }
    for _, m in pairs(media) do m.sha256, m.len = sha256(m.path), #fixtures.read(m.path) end
  end)
  teardown(function()
    bs:stop()
    fixtures.rm_rf(dir)
  end)

  local function client(extra) return bs:client(extra) end

  local function bodies()
    local b = bs:records().bodies
    for _, x in ipairs(b) do assert.is_true(x.complete) end
    return b
  end

  it("sends a local file at every place of every model as a data URI of its bytes", function()
    local c = client()
    local places, models = 0, 0
    for _, id in ipairs(omnihuman.models()) do
      local m = catalogue.model(id)
      local list = samples.file_places(m, function(kind) return media[kind].path end)
      if #list > 0 then models = models + 1 end
      for _, p in ipairs(list) do
        bs:script{}
        local fields = samples.minimal(id, m)
        fields[p.field] = p.value
        local before = deep_copy(fields)
        local job, err = c:create(fields)
        local where = ("%s %s (%s)"):format(id, label(p.keys), p.kind)
        assert(job, where .. ": " .. tostring(err and err.message))
        assert(same(before, fields), where .. ": the caller's fields were changed")
        local b = bodies()
        assert.equals(1, #b, where)
        local got, want = at(b[1].fields, p.keys), media[p.kind]
        assert(type(got) == "table", where .. ": not sent as a data URI: " .. tostring(got))
        assert.same({ mime = want.mime, len = want.len, sha256 = want.sha256 }, got, where)
        places = places + 1
      end
    end
    print(("local files: %d places in %d models"):format(places, models))
    assert(places >= 150 and models >= 100, "too few places: the matrix lost its cells")
  end)

  it("refuses a missing file or one of the wrong kind at every place, sending nothing", function()
    local c = client()
    local wrong = { image = "audio", audio = "image", video = "image" }
    local cells = 0
    bs:script{}
    for _, id in ipairs(omnihuman.models()) do
      local m = catalogue.model(id)
      local cases = { { "missing", function() return dir .. "/no/such/file.png" end, "No such file" } }
      cases[2] = { "wrong kind", function(kind) return media[wrong[kind] or "audio"].path end, "not a recognised" }
      for _, case in ipairs(cases) do
        for _, p in ipairs(samples.file_places(m, case[2])) do
          if case[1] ~= "wrong kind" or p.kind ~= "file" then
            local fields = samples.minimal(id, m)
            fields[p.field] = p.value
            local job, err = c:create(fields)
            local where = ("%s %s (%s, %s)"):format(id, label(p.keys), p.kind, case[1])
            assert(not job, where .. ": sent")
            assert.equals("invalid_input", err.kind, where)
            assert(err.message:find(label(p.keys) .. " file '", 1, true), where .. ": place not named: " .. err.message)
            assert(err.message:find(case[3], 1, true), where .. ": " .. err.message)
            cells = cells + 1
          end
        end
      end
    end
    assert.equals(0, #bodies())
    assert(cells >= 300, "too few cells: " .. cells)
  end)

  it("recognises MP4, MOV and WebM video by content", function()
    local c = client()
    for _, which in ipairs({ "video", "mov", "webm" }) do
      bs:script{}
      assert(c:create{ model = "magic/video-to-video", video_url = media[which].path })
      local got = bodies()[1].fields.video_url
      assert.same({ mime = media[which].mime, len = media[which].len, sha256 = media[which].sha256 }, got, which)
    end
    -- A video in an image field is refused, naming what it is.
    local job, err = c:create{ image = media.webm.path, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.matches("image file '.-': not a recognised image %(PNG, JPEG, WebP, GIF, AVIF%): it is webm", err.message)
  end)

  it("takes <name> for <name>_url of any model, and refuses both at once", function()
    local c = client()
    bs:script{}
    assert(c:create{ model = "google/veo-3.1-first-last-image-to-video", prompt = "p",
                     image = fixtures.PNG, last_image = fixtures.PNG })
    local f = bodies()[1].fields
    assert.equals("image/png", f.image_url.mime)
    assert.equals("image/png", f.last_image_url.mime)
    assert.is_nil(f.image)
    assert.is_nil(f.last_image)
    bs:script{}
    assert.has_error(function()
      c:create{ model = "google/veo-3.1-first-last-image-to-video", prompt = "p", image_url = "https://x",
                last_image = fixtures.PNG, last_image_url = "https://x/b.png" }
    end, "omnihuman: give last_image or last_image_url, not both")
    assert.equals(0, #bodies())
  end)

  it("measures video duration from MP4 and MOV containers", function()
    local core = omnihuman.core
    assert.is_true(core.check_input(MP4, "video", { max_seconds = 3600 }))
    local ok, why = core.check_input(MP4, "video", { max_seconds = 0.01, model = "m", field = "video_url" })
    assert.is_nil(ok)
    assert.matches("^video is [%d.]+ s long; the service takes clips under 0.01 s for m", why)
    ok, why = core.check_input(media.mov.path, "video", { max_seconds = 0.01 })
    assert.is_nil(ok)
    assert.matches("^video is", why)
    -- WebM is recognised but not measured: refused under a limit unless allowed.
    ok, why = core.check_input(media.webm.path, "video", { max_seconds = 10 })
    assert.is_nil(ok)
    assert.matches("duration cannot be read", why)
    assert.is_true(core.check_input(media.webm.path, "video", { max_seconds = 10, allow_unmeasured_audio = true }))
  end)

  it("leaves a create's URLs and other fields as they are, and files untouched", function()
    local c = client()
    bs:script{}
    local refs = { fixtures.PNG, "https://x/b.png", fixtures.PNG }
    assert(c:create{ model = "bytedance/seedance-2-0", prompt = "p", image_urls = refs })
    local f = bodies()[1].fields
    assert.equals("image/png", f.image_urls[1].mime)
    assert.equals("https://x/b.png", f.image_urls[2])
    assert.equals("image/png", f.image_urls[3].mime)
    assert.same({ fixtures.PNG, "https://x/b.png", fixtures.PNG }, refs)
    assert(files.read(fixtures.PNG))
  end)
end)
