-- Unit tests for the C helpers behind omnihuman.core: base64, media
-- sniffing and duration, Retry-After parsing. Every input is built here
-- byte by byte (or read from examples/media), so expectations do not come
-- from the code under test.
--
-- OMH_UNITS_MODULE names another module exposing the same functions (for
-- testing the C files before they are wired into omnihuman.core).

local core = require(os.getenv("OMH_UNITS_MODULE") or "omnihuman.core")

local char, byte, rep = string.char, string.byte, string.rep
local floor = math.floor

---------------------------------------------------------------------------
-- byte and media builders: spec/support/media_bytes.lua
local media_bytes = require("spec.support.media_bytes")
local MP3_HDR, MP3_LEN = media_bytes.MP3_HDR, media_bytes.MP3_LEN
local u16le, u32le, u32be, wav, mp3_frames, id3v2, xing_frame = media_bytes.u16le, media_bytes.u32le, media_bytes.u32be, media_bytes.wav,
  media_bytes.mp3_frames, media_bytes.id3v2, media_bytes.xing_frame
local adts_frame, ogg_page, ogg_opus, ogg_vorbis, box, m4a, mvhd_v0, mvhd_v1 = media_bytes.adts_frame, media_bytes.ogg_page,
  media_bytes.ogg_opus, media_bytes.ogg_vorbis, media_bytes.box, media_bytes.m4a, media_bytes.mvhd_v0, media_bytes.mvhd_v1

local read_file = require("spec.support.files").read

local function has_program(name)
  local ok = os.execute("command -v " .. name .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- Independent base64 decoder (strict: length multiple of 4, padding only at
-- the end), used to check the encoder by round trip.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64val = {}
for i = 1, 64 do b64val[byte(B64, i)] = i - 1 end

local function b64decode(s)
  assert(#s % 4 == 0, "length not a multiple of 4")
  local out, n = {}, 0
  for i = 1, #s, 4 do
    local a, b, c, d = byte(s, i, i + 3)
    local last = i + 3 == #s
    assert(b64val[a] and b64val[b], "bad char")
    local v = b64val[a] * 262144 + b64val[b] * 4096
    if c == 61 then -- "=="
      assert(last and d == 61, "bad padding")
      n = n + 1; out[n] = char(floor(v / 65536))
    elseif d == 61 then -- "="
      assert(last and b64val[c], "bad padding")
      v = v + b64val[c] * 64
      n = n + 1; out[n] = char(floor(v / 65536), floor(v / 256) % 256)
    else
      assert(b64val[c] and b64val[d], "bad char")
      v = v + b64val[c] * 64 + b64val[d]
      n = n + 1; out[n] = char(floor(v / 65536), floor(v / 256) % 256, v % 256)
    end
  end
  return table.concat(out)
end

local function random_bytes(len)
  local t = {}
  for i = 1, len do t[i] = char(math.random(0, 255)) end
  return table.concat(t)
end

---------------------------------------------------------------------------

describe("base64", function()
  local b64 = core._b64

  it("matches the RFC 4648 test vectors", function()
    assert.equal("", b64(""))
    assert.equal("Zg==", b64("f"))
    assert.equal("Zm8=", b64("fo"))
    assert.equal("Zm9v", b64("foo"))
    assert.equal("Zm9vYg==", b64("foob"))
    assert.equal("Zm9vYmE=", b64("fooba"))
    assert.equal("Zm9vYmFy", b64("foobar"))
  end)

  it("uses + and / and handles every byte value", function()
    assert.equal("+/+/", b64("\251\255\191"))
    assert.equal("AAAA", b64("\0\0\0"))
    local all = {}
    for i = 0, 255 do all[#all + 1] = char(i) end
    all = table.concat(all)
    assert.equal(all, b64decode(b64(all)))
  end)

  it("round-trips random data of every length 0..1000", function()
    math.randomseed(4648)
    for len = 0, 1000 do
      local s = random_bytes(len)
      local e = b64(s)
      assert.equal(4 * math.ceil(len / 3), #e)
      if e ~= "" and len % 3 == 0 then assert.is_nil(e:find("=", 1, true)) end
      if b64decode(e) ~= s then
        error("round trip failed at length " .. len)
      end
    end
  end)

  it("round-trips a 1 MB string and chunks of 3k bytes concatenate #slow", function()
    math.randomseed(20)
    local s = random_bytes(1024 * 1024)
    local e = b64(s)
    assert.equal(4 * math.ceil(#s / 3), #e)
    assert.is_true(b64decode(e) == s)
    local chunk = 3 * 1000
    local parts = {}
    for i = 1, #s, chunk do parts[#parts + 1] = b64(s:sub(i, i + chunk - 1)) end
    assert.is_true(table.concat(parts) == e)
  end)
end)

describe("media sniffing", function()
  local sniff, mime = core._sniff, core._mime

  local cases = {
    { "png",  "image/png",  "\137PNG\r\n\26\n\0\0\0\13IHDR" },
    { "jpeg", "image/jpeg", "\255\216\255\224\0\16JFIF\0" },
    { "webp", "image/webp", "RIFF" .. u32le(100) .. "WEBPVP8 " },
    { "gif",  "image/gif",  "GIF87a\1\0\1\0" },
    { "gif",  "image/gif",  "GIF89a\1\0\1\0" },
    { "wav",  "audio/wav",  wav(8000, 1, 8, 0.01) },
    { "mp3",  "audio/mpeg", mp3_frames(3) },
    { "mp3",  "audio/mpeg", id3v2(30) .. mp3_frames(3) },
    { "mp3",  "audio/mpeg", id3v2(20000) }, -- tag larger than the head
    { "ogg",  "audio/ogg",  ogg_opus(312, 48000) },
    { "m4a",  "audio/mp4",  m4a(mvhd_v0(1000, 1)) },
    { "m4a",  "audio/mp4",  box("ftyp", "mp42" .. u32be(0) .. "isomM4A ") },
    { "aac",  "audio/aac",  adts_frame(100) .. adts_frame(120) },
    { "aac",  "audio/aac",  id3v2(10) .. adts_frame(100) .. adts_frame(90) },
    { "avif", "image/avif", media_bytes.avif() },
    { "avif", "image/avif", media_bytes.avif("avis") },
    { "avif", "image/avif", media_bytes.avif("mif1", "miafavif") },
    { "mp4",  "video/mp4",  box("ftyp", "isom" .. u32be(0) .. "isomiso2avc1mp41") },
    { "mp4",  "video/mp4",  box("ftyp", "XYZW" .. u32be(0) .. "XYZWmp42") }, -- a compatible brand
    { "mov",  "video/quicktime", box("ftyp", "qt  " .. u32be(0)) },
    { "webm", "video/webm", "\26\69\223\163\159\66\134\129\1\66\130\132webm" },
  }
  for i, c in ipairs(cases) do
    it(("recognises %s (case %d)"):format(c[1], i), function()
      assert.equal(c[1], sniff(c[3]))
      assert.equal(c[2], mime(c[3]))
    end)
  end

  it("accepts a single frame cut off by the end of the head", function()
    assert.equal("mp3", sniff(MP3_HDR .. rep("\0", 100)))
  end)

  it("says unknown for other, short and empty inputs", function()
    local unknown = {
      "", "\137PN", "\255\216", "GIF8", "RIFF", "RIFF\0\0\0\0WAV",
      "RIFF" .. u32le(4) .. "AVI LIST", "Ogg",
      "hello world, this is text", rep("\0", 4096),
      box("ftyp", "dvr1" .. u32be(0) .. "dvr1"),               -- a brand of no known kind
      media_bytes.avif("heic", "mif1heic"),                     -- HEIF, not AVIF
      "ID3\4\0\0\0\0\0\10" .. rep("\0", 10) .. "garbage!",      -- no frame after tag
      "ID3\4\0\0\128\0\0\0" .. rep("\0", 20),                  -- size not syncsafe
      "\255\251\144\0" .. rep("\0", MP3_LEN - 4) .. "junkjunk",   -- unconfirmed frame
      "\255\255\255\255\255\255\255\255",
      "\255\250\240\0" .. rep("\0", 500),                      -- bitrate index 15
      "\255\243\12\0" .. rep("\0", 500),                       -- sample rate index 3
    }
    for i, s in ipairs(unknown) do
      assert.equal("unknown", sniff(s), "case " .. i)
      assert.is_nil(mime(s), "case " .. i)
    end
  end)

  it("accepts a buffer longer than the 4096-byte head", function()
    assert.equal("png", sniff("\137PNG\r\n\26\n" .. rep("x", 100000)))
  end)
end)

describe("media duration", function()
  local duration = core._duration

  local function near(expected, got, tol)
    assert.is_number(got)
    assert.is_true(math.abs(got - expected) <= (tol or 1e-9),
                   ("expected %.6f, got %.6f"):format(expected, got))
  end

  describe("WAV", function()
    it("16 kHz mono 16-bit, 2.5 s", function()
      near(2.5, duration(wav(16000, 1, 16, 2.5), "wav"))
    end)

    it("sniffs when no type is given", function()
      near(2.5, duration(wav(16000, 1, 16, 2.5)))
    end)

    it("44.1 kHz stereo, with an odd-sized chunk before data", function()
      near(1.0, duration(wav(44100, 2, 16, 1.0, { extra = "abc" }), "wav"))
    end)

    it("clamps the data size to the bytes present", function()
      local w = wav(16000, 1, 16, 2.5)
      near(1.0, duration(w:sub(1, 44 + 32000), "wav"))
      near(2.5, duration(wav(16000, 1, 16, 2.5, { data_len_field = 4294967295 }), "wav"))
    end)

    it("takes the length from rate, channels and bits, not the byte rate field", function()
      near(2.5, duration(wav(16000, 1, 16, 2.5, { byte_rate = 0, block_align = 0 }), "wav"))
      near(2.5, duration(wav(16000, 1, 16, 2.5, { byte_rate = 7 }), "wav"))
      near(1.0, duration(wav(48000, 2, 24, 1.0, { extensible = true, byte_rate = 0 }), "wav"))
      near(0.5, duration(wav(8000, 1, 8, 0.5, { tag = 7 }), "wav"))        -- mu-law
    end)

    it("reads a data size of 0 or 0xFFFFFFFF as 'to the end of the file'", function()
      near(2.5, duration(wav(16000, 1, 16, 2.5, { data_len_field = 0 }), "wav"))
      near(2.5, duration(wav(16000, 2, 16, 2.5, { data_len_field = 4294967295 }), "wav"))
    end)

    it("compressed formats: the fact chunk's sample count, else the byte rate", function()
      near(0.5, duration(wav(8000, 1, 4, 0.5, { tag = 17, fact = 4000, data_bytes = 2000,
                                                 byte_rate = 4055, block_align = 256 }), "wav"))
      near(2000 / 4055, duration(wav(8000, 1, 4, 0.5, { tag = 17, data_bytes = 2000,
                                                         byte_rate = 4055, block_align = 256 }), "wav"))
      assert.is_nil(duration(wav(8000, 1, 4, 0.5, { tag = 17, data_bytes = 2000, byte_rate = 0,
                                                     block_align = 256 }), "wav"))
    end)

    it("gives nil for truncated headers and garbage", function()
      local w = wav(16000, 1, 16, 2.5)
      assert.is_nil(duration(w:sub(1, 30), "wav"))   -- fmt cut
      assert.is_nil(duration(w:sub(1, 36), "wav"))   -- no data chunk
      assert.is_nil(duration("", "wav"))
      assert.is_nil(duration("RIFF\0\0\0\0WAVE", "wav"))
      assert.is_nil(duration(rep("\255", 1000), "wav"))
      assert.is_nil(duration("RIFF" .. u32le(100) .. "WAVEdata" .. u32le(10) .. rep("\0", 10), "wav"))
      -- fmt with zero byte rate and zero block align
      local bad = "RIFF" .. u32le(0) .. "WAVEfmt " .. u32le(16) .. rep("\0", 16)
                  .. "data" .. u32le(4) .. "\0\0\0\0"
      assert.is_nil(duration(bad, "wav"))
    end)
  end)

  describe("MP3", function()
    local per_frame = 1152 / 44100

    it("walks a synthetic CBR frame sequence", function()
      near(100 * per_frame, duration(mp3_frames(100), "mp3"))
    end)

    it("skips an ID3v2 tag and an ID3v1 trailer", function()
      local s = id3v2(500) .. mp3_frames(40) .. "TAG" .. rep("\255", 125)
      near(40 * per_frame, duration(s, "mp3"))
    end)

    it("resyncs over a small gap of garbage", function()
      local s = mp3_frames(10) .. "garbage bytes here" .. mp3_frames(10)
      near(20 * per_frame, duration(s, "mp3"))
    end)

    it("stops at a long stretch of garbage and at a truncated frame", function()
      local s = mp3_frames(10) .. rep("x", 100000) .. mp3_frames(10)
      near(10 * per_frame, duration(s, "mp3"))
      near(10 * per_frame, duration(mp3_frames(11):sub(1, -2), "mp3"))
    end)

    it("walks MPEG-2 layer III (22.05 kHz, 64 kbit/s)", function()
      -- 72 * 64000 / 22050 = 208 bytes
      local frame = "\255\243\128\0" .. rep("\0", 204)
      near(50 * 576 / 22050, duration(rep(frame, 50), "mp3"))
    end)

    it("uses the Xing/Info frame count", function()
      near(1000 * per_frame, duration(xing_frame("Xing", 1000) .. mp3_frames(5), "mp3"))
      near(7 * per_frame, duration(xing_frame("Info", 7) .. mp3_frames(7), "mp3"))
    end)

    it("uses the VBRI frame count", function()
      local body = rep("\0", 32) .. "VBRI" .. u16le(1) .. u16le(0) .. u16le(0)
                   .. u32be(0) .. u32be(321)
      local frame = MP3_HDR .. body .. rep("\0", MP3_LEN - 4 - #body)
      near(321 * per_frame, duration(frame .. mp3_frames(3), "mp3"))
    end)

    it("gives nil for garbage", function()
      assert.is_nil(duration("", "mp3"))
      assert.is_nil(duration(rep("x", 5000), "mp3"))
      assert.is_nil(duration(id3v2(100000):sub(1, 1000), "mp3"))
      assert.is_nil(duration(MP3_HDR .. "abc", "mp3"))
    end)

    local hello = read_file("examples/media/hello.mp3")
    local tmp_mp3
    if not hello and has_program("ffmpeg") then
      local base = os.tmpname() -- creates the file; ffmpeg wants a suffix
      tmp_mp3 = base .. ".mp3"
      local cmd = "ffmpeg -v error -y -f lavfi -i sine=frequency=440:sample_rate=16000:duration=3"
                  .. " -ac 1 -c:a libmp3lame -b:a 32k " .. tmp_mp3
      if os.execute(cmd) then hello = read_file(tmp_mp3) end
      os.remove(tmp_mp3)
      os.remove(base)
    end
    if hello then
      it("measures an encoded MP3 file", function()
        assert.equal("mp3", core._sniff(hello:sub(1, 4096)))
        local d = duration(hello, "mp3")
        assert.is_number(d)
        -- The source speech/tone is about 3-4 s; the encoder adds < 0.1 s.
        assert.is_true(d > 1 and d < 10, "duration " .. tostring(d))
        if has_program("ffprobe") and not tmp_mp3 then
          local p = io.popen("ffprobe -v error -show_entries format=duration"
                             .. " -of csv=p=0 examples/media/hello.mp3")
          local want = tonumber(p:read("*a"))
          p:close()
          if want then near(want, d, 0.03) end
        end
        -- Without its Info tag the frames are walked instead: the Info
        -- frame then counts as one more audio frame.
        local a = hello:find("Info", 1, true) or hello:find("Xing", 1, true)
        if a and a < 300 then
          local walked = duration(hello:sub(1, a - 1) .. "Xnfo" .. hello:sub(a + 4), "mp3")
          assert.is_number(walked)
          assert.is_true(walked > d and walked < d + 0.08,
                         ("walked %.4f vs tagged %.4f"):format(walked, d))
        end
      end)
    else
      pending("encoded MP3 file (no examples/media/hello.mp3 and no ffmpeg)")
    end
  end)

  describe("AAC (ADTS)", function()
    it("counts 1024 samples per frame", function()
      local s = rep(adts_frame(100) .. adts_frame(150), 25)
      near(50 * 1024 / 16000, duration(s, "aac"))
    end)
  end)

  describe("Ogg", function()
    it("Opus: last granule minus pre-skip at 48 kHz", function()
      near(2.5, duration(ogg_opus(312, 312 + 120000), "ogg"))
    end)

    it("Vorbis: last granule over the id header's rate", function()
      near(3.0, duration(ogg_vorbis(16000, 48000), "ogg"))
    end)

    it("ignores a truncated last page and garbage between pages", function()
      local s = ogg_vorbis(16000, 48000)
      near(0.0, duration(s:sub(1, -10), "ogg"))
      local pages = ogg_opus(0, 96000)
      near(2.0, duration(pages:sub(1, 60) .. "junk" .. pages:sub(61), "ogg"), 1e-9)
    end)

    it("gives nil without an id header", function()
      assert.is_nil(duration("OggS", "ogg"))
      assert.is_nil(duration(ogg_page(2, 0, 1, 0, "\128theora") .. ogg_page(4, 99, 1, 1, "x"), "ogg"))
    end)
  end)

  describe("M4A", function()
    it("reads mvhd version 0 and 1", function()
      near(2.5, duration(m4a(mvhd_v0(1000, 2500)), "m4a"))
      near(12.25, duration(m4a(mvhd_v1(44100, 44100 * 12.25)), "m4a"))
    end)

    it("gives nil for a missing or cut moov and zero timescale", function()
      assert.is_nil(duration(box("ftyp", "M4A " .. u32be(0)) .. box("mdat", "xx"), "m4a"))
      assert.is_nil(duration(m4a(mvhd_v0(0, 2500)), "m4a"))
      local s = m4a(mvhd_v0(1000, 2500))
      assert.is_nil(duration(s:sub(1, #s - 180), "m4a"))
    end)

    local fixture = read_file("spec/support/fixture.mp4")
    if fixture then
      it("reads a real MP4's movie header", function()
        local d = duration(fixture, "m4a")
        assert.is_number(d)
        assert.is_true(d > 0 and d < 60)
      end)
    end
  end)

  -- Long inputs span many windows: the answer must not depend on the
  -- window's size (the smallest the parsers allow, a few odd ones, whole).
  it("gives the same duration through any window (seeded inputs of up to 2 MB) #slow", function()
    local seed = os.time() % 100000
    math.randomseed(seed)
    local function noise(n) -- never 0xFF: no false frame sync between real frames
      local t = {}
      for i = 1, n do t[i] = char(math.random(0, 254)) end
      return table.concat(t)
    end
    local inputs = {
      { "mp3", id3v2(70000) .. mp3_frames(2000) .. noise(900) .. mp3_frames(3000), 5000 * 1152 / 44100 },
      { "mp3", mp3_frames(1500) .. rep("x", 5000) .. mp3_frames(10), 1500 * 1152 / 44100 },
      { "aac", rep(adts_frame(4000) .. adts_frame(8191) .. adts_frame(7), 120), 360 * 1024 / 16000 },
      { "wav", wav(44100, 2, 16, 6.0, { extra = noise(300001) }), 6.0 },
      { "m4a", box("ftyp", "M4A " .. u32be(0)) .. box("mdat", noise(700000))
               .. box("moov", box("mvhd", mvhd_v0(1000, 4321))), 4.321 },
    }
    local pages, g = { }, 0
    for i = 1, 400 do
      g = g + 960
      pages[i] = ogg_page(i == 400 and 4 or 0, g, 77, i + 1, noise(math.random(0, 4000)))
    end
    local head = "OpusHead\1\1" .. u16le(0) .. u32le(48000) .. u16le(0) .. "\0"
    inputs[#inputs + 1] = { "ogg", ogg_page(2, 0, 77, 0, head) .. table.concat(pages), g / 48000 }
    for i, c in ipairs(inputs) do
      local whole = duration(c[2], c[1])
      near(c[3], whole, 1e-6)
      for _, w in ipairs{ 0, 12345, 65536, 262143, #c[2] } do
        assert.equal(whole, duration(c[2], c[1], w),
                     ("case %d (%s, %d bytes), window %d, seed %d"):format(i, c[1], #c[2], w, seed))
      end
    end
  end)

  it("gives nil for images and unknown data", function()
    assert.is_nil(duration("\137PNG\r\n\26\n", "png"))
    assert.is_nil(duration("whatever", "unknown"))
    assert.is_nil(duration("whatever"))
  end)
end)

describe("Retry-After", function()
  local ra = core._retry_after
  -- Sun, 06 Nov 1994 08:49:37 GMT
  local T = 784111777

  it("parses delta-seconds with surrounding whitespace", function()
    assert.equal(120, ra("120", T))
    assert.equal(5, ra(" 5 ", T))
    assert.equal(5, ra("\t5\r\n", T))
    assert.equal(0, ra("0", T))
    assert.equal(7, ra("007", T))
    assert.equal(2147483648, ra("99999999999999999999999", T))
  end)

  it("rejects what is not a delta or a date", function()
    for _, s in ipairs{ "-3", "abc", "", "   ", "1.5", "+5", "5 s", "5,6", "0x10" } do
      assert.is_nil(ra(s, T), s)
    end
  end)

  it("parses the three HTTP-date forms relative to now", function()
    assert.equal(120, ra("Sun, 06 Nov 1994 08:49:37 GMT", T - 120))
    assert.equal(120, ra("Sunday, 06-Nov-94 08:49:37 GMT", T - 120))
    assert.equal(120, ra("Sun Nov  6 08:49:37 1994", T - 120))
    assert.equal(3600, ra("  Sun, 06 Nov 1994 09:49:37 GMT ", T))
    assert.equal(86400 + 1, ra("Mon, 07 Nov 1994 08:49:38 GMT", T))
  end)

  it("gives 0 for dates in the past", function()
    assert.equal(0, ra("Sun, 06 Nov 1994 08:49:37 GMT", T))
    assert.equal(0, ra("Sun, 06 Nov 1994 08:49:37 GMT", T + 1000))
    assert.equal(0, ra("Thu, 01 Jan 1970 00:00:00 GMT", T))
  end)

  it("reads RFC 850 two-digit years within 50 years of now", function()
    local now2025 = 1750000000 -- 2025-06-15
    assert.equal(0, ra("Sunday, 06-Nov-94 08:49:37 GMT", now2025))     -- 1994
    assert.equal(3155760000 - now2025,                                  -- 2070
                 ra("Thursday, 01-Jan-70 00:00:00 GMT", now2025))
  end)

  it("handles leap years", function()
    -- 2024-02-29T00:00:00Z = 1709164800
    assert.equal(10, ra("Thu, 29 Feb 2024 00:00:00 GMT", 1709164790))
    assert.is_nil(ra("Wed, 29 Feb 2023 00:00:00 GMT", 0))
    assert.equal(10, ra("Tue, 29 Feb 2000 00:00:00 GMT", 951782400 - 10))
    assert.is_nil(ra("Mon, 29 Feb 1900 00:00:00 GMT", 0))
  end)

  it("rejects malformed dates", function()
    local bad = {
      "Sun, 06 Nov 1994 08:49:37",          -- no zone
      "Sun, 06 Nov 1994 08:49:37 GMT x",    -- trailing junk
      "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT",
      "Sunny, 06 Nov 1994 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",
      "Sun Nov  6 08:49:37",
      "Sun,06 Nov 1994 08:49:37 GMT",
      "Sun, 06-Nov-1994 08:49:37 GMT",
    }
    for _, s in ipairs(bad) do assert.is_nil(ra(s, T), s) end
  end)
end)
