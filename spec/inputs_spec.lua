-- Local inputs: sniffed by content, measured, rejected before any request.
local cjson = require("cjson")
local F = require("spec.support.fixtures")

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

local function write(path, s)
  local f = assert(io.open(path, "wb")); f:write(s); f:close()
  return path
end

describe("local inputs", function()
  local srv, dir
  setup(function() srv = F.start(); dir = F.tmpdir() end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. dir .. '"') end)

  it("rejects audio of 30 s or more before any request", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    local long = write(dir .. "/long.wav", wav(31))
    local job, err = c:create{ image = F.PNG, audio = long }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("long.wav", err.message)
    assert.matches("31.0 s", err.message)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  it("accepts a 29 s WAV as audio/wav", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    assert(c:create{ image_url = "https://x/a.png", audio = write(dir .. "/ok.wav", wav(29)) })
    local body = srv:records(ns).requests[1].body
    assert.matches('^{"audio_url":"data:audio/wav;base64,UklGR', body)
  end)

  it("sniffs by content, not by name", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    local renamed = write(dir .. "/picture.jpg", F.read(F.PNG))
    assert(c:create{ image = renamed, audio_url = "https://x/a.mp3" })
    assert.matches('data:image/png;base64,', srv:records(ns).requests[1].body)
  end)

  it("names a missing file", function()
    local c = F.client(srv, F.ns())
    local job, err = c:create{ image = dir .. "/nope.png", audio = F.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("nope.png", err.message)
    assert.matches("No such file", err.message)
  end)

  it("rejects an unrecognised file and an image given as audio", function()
    local c = F.client(srv, F.ns())
    local txt = write(dir .. "/notes.txt", "just some text, not an image at all")
    local job, err = c:create{ image = txt, audio = F.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("notes.txt.*not a recognised image", err.message)
    job, err = c:create{ image = F.PNG, audio = F.PNG }
    assert.is_nil(job)
    assert.matches("not a recognised audio", err.message)
  end)

  it("rejects a directory", function()
    local c = F.client(srv, F.ns())
    local job, err = c:create{ image = dir, audio = F.WAV }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
  end)

  it("sends an MP3 as audio/mpeg", function()
    if not F.exists(F.MP3) then pending("no examples/media/hello.mp3") return end
    local ns = F.ns()
    local c = F.client(srv, ns)
    assert(c:create{ image_url = "https://x/a.png", audio = F.MP3 })
    assert.matches('^{"audio_url":"data:audio/mpeg;base64,', srv:records(ns).requests[1].body)
  end)

  it("encodes the file exactly (base64 of the bytes, checked by the server)", function()
    local ns = F.ns()
    local c = F.client(srv, ns)
    local img = write(dir .. "/tiny.gif", "GIF89a" .. string.rep("\0\1\2\255", 10))
    assert(c:create{ image = img, audio_url = "https://x/a.mp3" })
    local body = cjson.decode(srv:records(ns).requests[1].body)
    local p = io.popen('base64 -w0 "' .. img .. '"')
    local want = p:read("*a")
    p:close()
    assert.equals("data:image/gif;base64," .. want, body.image_url)
  end)
end)
