-- Local inputs: sniffed by content, measured, rejected before any request.
local cjson = require("cjson")
local fixtures = require("spec.support.fixtures")
local write = fixtures.write

local function le(n, bytes)
  local t = {}
  for i = 1, bytes do t[i] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(t)
end

-- A PCM WAV of `seconds` of silence: 8 kHz, mono, 8 bit.
local function wav(seconds)
  local data = string.rep("\128", math.floor(8000 * seconds))
  return "RIFF" .. le(36 + #data, 4) .. "WAVE" .. "fmt " .. le(16, 4) .. le(1, 2) .. le(1, 2)
      .. le(8000, 4) .. le(8000, 4) .. le(1, 2) .. le(8, 2) .. "data" .. le(#data, 4) .. data
end

describe("local inputs", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("rejects audio of 30 s or more before any request", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local long = write(dir .. "/long.wav", wav(31))
    local job, err = c:create{ image = fixtures.PNG, audio = long }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("long.wav", err.message)
    assert.matches("31.0 s", err.message)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  it("accepts a 29 s WAV as audio/wav", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    assert(c:create{ image_url = "https://x/a.png", audio = write(dir .. "/ok.wav", wav(29)) })
    local body = srv:records(ns).requests[1].body
    assert.matches('"audio_url":"data:audio/wav;base64,UklGR', body)
  end)

  it("sniffs by content, not by name", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local renamed = write(dir .. "/picture.jpg", fixtures.read(fixtures.PNG))
    assert(c:create{ image = renamed, audio_url = "https://x/a.mp3" })
    assert.matches('data:image/png;base64,', srv:records(ns).requests[1].body)
  end)

  it("names a missing file", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job, err = c:create{ image = dir .. "/nope.png", audio = fixtures.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("nope.png", err.message)
    assert.matches("No such file", err.message)
  end)

  it("rejects an unrecognised file and an image given as audio", function()
    local c = fixtures.client(srv, fixtures.ns())
    local txt = write(dir .. "/notes.txt", "just some text, not an image at all")
    local job, err = c:create{ image = txt, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("notes.txt.*not a recognised image", err.message)
    job, err = c:create{ image = fixtures.PNG, audio = fixtures.PNG }
    assert.is_nil(job)
    assert.matches("not a recognised audio", err.message)
  end)

  it("rejects a directory", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job, err = c:create{ image = dir, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
  end)

  it("sends an MP3 as audio/mpeg", function()
    if not fixtures.exists(fixtures.MP3) then pending("no examples/media/hello.mp3") return end
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    assert(c:create{ image_url = "https://x/a.png", audio = fixtures.MP3 })
    assert.matches('"audio_url":"data:audio/mpeg;base64,', srv:records(ns).requests[1].body)
  end)

  it("encodes the file exactly (base64 of the bytes, checked by the server)", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local img = write(dir .. "/tiny.gif", "GIF89a" .. string.rep("\0\1\2\255", 10))
    assert(c:create{ image = img, audio_url = "https://x/a.mp3" })
    local body = cjson.decode(srv:records(ns).requests[1].body)
    local p = io.popen('base64 -w0 "' .. img .. '"')
    local want = p:read("*a")
    p:close()
    assert.equals("data:image/gif;base64," .. want, body.image_url)
  end)
end)

---------------------------------------------------------------------------
-- What a local file must be, what is sent for it, and the audio limit.
local media_bytes = require("spec.support.media_bytes")
local body_server = require("spec.support.body_server")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")

local sha256 = body_server.sha256

-- A 16 kHz mono 16-bit WAV of `seconds` with header quirks from media_bytes.wav.
local function quirky_wav(seconds, opts) return media_bytes.wav(16000, 1, 16, seconds, opts) end

describe("local inputs: files, limits and what is sent", function()
  local bs, dir, png_sha
  setup(function()
    bs = body_server.start()
    dir = fixtures.tmpdir()
    png_sha = sha256(fixtures.PNG)
  end)
  teardown(function()
    bs:stop()
    fixtures.rm_rf(dir)
  end)

  local function client(extra) return bs:client(extra) end

  -- The fields of the only body the server got since the last script().
  local function sent()
    local b = bs:records().bodies
    assert.equals(1, #b, "bodies received")
    assert.is_true(b[1].complete)
    return b[1].fields
  end

  -- Runs `code` (a Lua chunk printing its result) in a fresh interpreter,
  -- killed after `limit` s: a hang fails the test instead of the suite.
  local function bounded(code, limit)
    local f = dir .. "/run.lua"
    fixtures.write(f, code)
    local p = io.popen("timeout -s KILL " .. (limit or 10) .. " " .. sh.q(cli.LUA) .. " " .. sh.q(f) .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out
  end

  it("refuses a FIFO with no writer, as image and as audio, without blocking", function()
    local fifo = dir .. "/fifo"
    assert(os.execute("mkfifo " .. sh.q(fifo)))
    for _, field in ipairs{ "image", "audio" } do
      local code = ([[
        local omnihuman = require("omnihuman")
        local c = omnihuman.new{ api_key = "k", base_url = %q }
        local fields = { image = %q, audio = %q }
        fields[%q] = %q
        local job, err = c:create(fields)
        print(job and "created" or (err.kind .. ": " .. err.message))
      ]]):format(bs.base, fixtures.PNG, fixtures.WAV, field, fifo)
      local t0 = fixtures.now()
      local out = bounded(code, 10)
      assert.is_true(fixtures.now() - t0 < 9, "took " .. (fixtures.now() - t0) .. " s")
      assert.matches("invalid_input: " .. field .. " file '[^']*fifo': not a regular file %(a FIFO%)", out)
      assert.matches("exit=0", out)
    end
  end)

  it("refuses a device and a directory, naming what they are", function()
    local c = client()
    local job, err = c:create{ image = fixtures.PNG, audio = "/dev/zero" }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("audio file '/dev/zero': not a regular file %(a device%)", err.message)
    job, err = c:create{ image = dir, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.matches("not a regular file %(a directory%)", err.message)
  end)

  it("refuses a 64 GB sparse image with its real size, and one just over the cap", function()
    local c = client()
    for _, case in ipairs{ { "64G", "68719476736 bytes %(64%.0 GiB%)" },
                           { "268435457", "268435457 bytes %(256%.0 MiB%)" } } do
      local big = dir .. "/big.png"
      fixtures.write(big, fixtures.read(fixtures.PNG))
      assert(os.execute("truncate -s " .. case[1] .. " " .. sh.q(big)))
      local ok, job, err = pcall(c.create, c, { image = big, audio = fixtures.WAV })
      assert.is_true(ok, "raised: " .. tostring(job))
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches("image file '[^']*big.png': " .. case[2], err.message)
      assert.matches("268435456 bytes", err.message)
      os.remove(big)
    end
  end)

  it("refuses audio whose duration cannot be read, unless allowed (never sent as a field)", function()
    local cut = write(dir .. "/cut.wav", quirky_wav(2):sub(1, 30))              -- fmt chunk cut
    local nofmt = write(dir .. "/nofmt.wav", "RIFF" .. media_bytes.u32le(100) .. "WAVEdata" .. media_bytes.u32le(8) .. ("\0"):rep(8))
    local covered = write(dir .. "/covered.mp3", media_bytes.id3v2(100000):sub(1, 10) .. media_bytes.mp3_frames(50))
    for _, path in ipairs{ cut, nofmt, covered } do
      bs:script{}
      local c = client()
      local job, err = c:create{ image = fixtures.PNG, audio = path }
      assert.is_nil(job, path)
      assert.equals("invalid_input", err.kind)
      assert.matches("audio file '" .. path:gsub("%p", "%%%0") .. "': its duration cannot be read", err.message)
      assert.matches("allow_unmeasured_audio", err.message)
      assert.equals(0, #bs:records().bodies)
      -- opted out per create, and on the client
      assert(c:create{ image = fixtures.PNG, audio = path, allow_unmeasured_audio = true })
      local f = sent()
      assert.is_nil(f.allow_unmeasured_audio)
      assert.equals(sha256(path), f.audio_url.sha256)
      bs:script{}
      assert(client{ allow_unmeasured_audio = true }:create{ image = fixtures.PNG, audio = path })
      assert.equals(sha256(path), sent().audio_url.sha256)
      -- a create can turn the client's opt-out off again
      job, err = client{ allow_unmeasured_audio = true }:create{ image = fixtures.PNG, audio = path,
                                                                 allow_unmeasured_audio = false }
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
    end
  end)

  it("measures WAV from the format fields, whatever the header leaves at 0", function()
    -- Generated: every header quirk x a clip under and over the 30 s limit.
    local quirks = {
      { "plain", {} },
      { "byte rate and block align 0", { byte_rate = 0, block_align = 0 } },
      { "byte rate lies", { byte_rate = 1 } },
      { "data size 0", { data_len_field = 0 } },
      { "data size 0xFFFFFFFF", { data_len_field = 4294967295 } },
      { "extensible", { extensible = true } },
    }
    local c = client()
    for _, q in ipairs(quirks) do
      for _, secs in ipairs{ 29.5, 30.5 } do
        bs:script{}
        local path = write(dir .. "/q.wav", quirky_wav(secs, q[2]))
        local job, err = c:create{ image = fixtures.PNG, audio = path }
        if secs < 30 then
          assert.is_not_nil(job, q[1] .. ": " .. tostring(err))
          assert.equals(sha256(path), sent().audio_url.sha256)
        else
          assert.is_nil(job, q[1])
          assert.equals("invalid_input", err.kind, q[1])
          assert.matches("30%.5 s long", err.message, nil, q[1])
          assert.equals(0, #bs:records().bodies)
        end
      end
    end
  end)

  it("names the limit, the model and the option; max_audio_seconds overrides it", function()
    local long = write(dir .. "/long.wav", quirky_wav(31))
    local ten = write(dir .. "/ten.wav", quirky_wav(10))
    local cases = {
      { {}, {}, long, "the service takes clips under 30 s for bytedance/omnihuman %(its documented limit" },
      { { model = "bytedance/omnihuman/v1.5" }, {}, long, "under 30 s for bytedance/omnihuman/v1%.5" },
      { {}, { model = "vendor/other" }, long, "under 30 s for vendor/other %(the default: a model not in the table" },
      { { max_audio_seconds = 5 }, {}, ten, "max_audio_seconds of the client allows clips under 5 s for bytedance/omnihuman" },
      { { max_audio_seconds = 60 }, { max_audio_seconds = 5 }, ten, "max_audio_seconds of the create allows clips under 5 s" },
    }
    for i, k in ipairs(cases) do
      local f = { image = fixtures.PNG, audio = k[3] }
      for n, v in pairs(k[2]) do f[n] = v end
      local job, err = client(k[1]):create(f)
      assert.is_nil(job, "case " .. i)
      assert.matches(k[4], err.message, nil, "case " .. i)
      assert.matches("max%-audio%-seconds", err.message, nil, "case " .. i)
    end
    -- raised on the client or per create: accepted, and not sent
    bs:script{}
    assert(client{ max_audio_seconds = 60 }:create{ image = fixtures.PNG, audio = long })
    bs:script{}
    assert(client():create{ image = fixtures.PNG, audio = long, max_audio_seconds = 31.5 })
    local f = sent()
    assert.is_nil(f.max_audio_seconds)
    assert.equals(sha256(long), f.audio_url.sha256)
    for _, bad in ipairs{ 0, -1, "60", math.huge, 0 / 0 } do
      assert.has_error(function() client():create{ image = fixtures.PNG, audio = ten, max_audio_seconds = bad } end)
    end
    assert.has_error(function() client{ max_audio_seconds = "60" } end)
    assert.has_error(function() client():create{ image = fixtures.PNG, audio = ten, allow_unmeasured_audio = 1 } end)
  end)

  it("sends mask as mask_url (a data URI, checked like an image); unknown names pass through with strict = false", function()
    local c = client{ strict = false } -- OmniHuman's reference lists no mask_url
    bs:script{}
    assert(c:create{ image = fixtures.PNG, audio_url = "https://x/a.wav", mask = fixtures.PNG, prompt = "smile",
                     portrait = fixtures.PNG })
    local f = sent()
    assert.same({ mime = "image/png", len = #fixtures.read(fixtures.PNG), sha256 = png_sha }, f.mask_url)
    assert.same(f.image_url, f.mask_url)
    assert.is_nil(f.mask)
    assert.equals("smile", f.prompt)
    assert.equals(fixtures.PNG, f.portrait) -- no portrait_url meaning: sent as given
    bs:script{}
    assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.wav", mask = "https://x/m.png" })
    assert.equals("https://x/m.png", sent().mask_url)
    local job, err = c:create{ image = fixtures.PNG, audio = fixtures.WAV, mask = fixtures.WAV }
    assert.is_nil(job)
    assert.matches("mask file '" .. fixtures.WAV:gsub("%p", "%%%0") .. "': not a recognised image", err.message)
    assert.has_error(function() c:create{ image = fixtures.PNG, audio = fixtures.WAV, mask = fixtures.PNG, mask_url = "https://x" } end,
      "omnihuman: give mask or mask_url, not both")
    job, err = c:create{ image = fixtures.PNG, audio = fixtures.WAV, mask = 7, strict = false }
    assert.is_nil(job)
    assert.matches("mask must be a string", err.message, 1, true)
  end)

  it("accepts AVIF images (ftyp brand avif or avis, major or compatible)", function()
    local c = client()
    for _, brands in ipairs{ { "avif" }, { "avis" }, { "mif1", "miafavif" } } do
      bs:script{}
      local path = write(dir .. "/face.avif", media_bytes.avif(brands[1], brands[2]))
      assert(c:create{ image = path, audio_url = "https://x/a.wav" })
      local f = sent()
      assert.equals("image/avif", f.image_url.mime)
      assert.equals(sha256(path), f.image_url.sha256)
    end
    local heic = write(dir .. "/face.heic", media_bytes.avif("heic", "mif1heic"))
    local job, err = c:create{ image = heic, audio_url = "https://x/a.wav" }
    assert.is_nil(job)
    assert.matches("not a recognised image %(PNG, JPEG, WebP, GIF, AVIF%)", err.message)
  end)

  it("generate passes max_audio_seconds and allow_unmeasured_audio to its create", function()
    local srv = fixtures.start()
    local ok, e = pcall(function()
      local ns = fixtures.ns()
      local c = fixtures.client(srv, ns)
      local long = write(dir .. "/long.wav", quirky_wav(31))
      local res, err = c:generate{ image = fixtures.PNG, audio = long }
      assert.is_nil(res)
      assert.equals("invalid_input", err.kind)
      res, err = c:generate{ image = fixtures.PNG, audio = long, max_audio_seconds = 40, interval = 0.05 }
      assert.is_nil(err)
      assert.equals(srv.profile.completed, res.status)
      local cut = write(dir .. "/cut.wav", quirky_wav(2):sub(1, 30))
      res, err = c:generate{ image_url = "https://x/a.png", audio = cut }
      assert.is_nil(res)
      assert.matches("duration cannot be read", err.message)
      res, err = c:generate{ image_url = "https://x/a.png", audio = cut, allow_unmeasured_audio = true,
                             interval = 0.05 }
      assert.is_nil(err)
      assert.equals(srv.profile.completed, res.status)
      local reqs = srv:records(ns).requests
      for _, r in ipairs(reqs) do
        if r.method == "POST" then
          assert.is_nil(r.body:find("max_audio_seconds", 1, true))
          assert.is_nil(r.body:find("allow_unmeasured_audio", 1, true))
        end
      end
      assert.equals(2, srv:count(ns, "create"))
    end)
    srv:stop()
    assert(ok, e)
  end)

  it("the CLI takes --max-audio-seconds", function()
    local long = write(dir .. "/long.wav", quirky_wav(31))
    local env = { AIMLAPI_KEY = fixtures.KEY, OMNIHUMAN_BASE_URL = bs.base, OMNIHUMAN_BUILD = cli.BUILD }
    local code, _, err = cli.run({ "create", "--image", fixtures.PNG, "--audio", long, "--json" }, env)
    assert.equals(2, code, err)
    bs:script{}
    code, _, err = cli.run({ "create", "--image", fixtures.PNG, "--audio", long, "--max-audio-seconds", "40" }, env)
    assert.equals(0, code, err)
    assert.equals(sha256(long), sent().audio_url.sha256)
  end)
end)
