-- Writes the seed corpora in fuzz/corpus/ (run from the repo root: lua5.4 fuzz/make_seeds.lua).
-- The media builders are copied from spec/units_spec.lua.
local char, byte, rep = string.char, string.byte, string.rep
local floor = math.floor

---------------------------------------------------------------------------
-- byte builders (no string.pack: keep the spec runnable on Lua 5.1)

local function u16le(v) return char(v % 256, floor(v / 256) % 256) end
local function u32le(v) return u16le(v % 65536) .. u16le(floor(v / 65536) % 65536) end
local function u32be(v)
  return char(floor(v / 16777216) % 256, floor(v / 65536) % 256,
              floor(v / 256) % 256, v % 256)
end
local function u64le(v) return u32le(v % 4294967296) .. u32le(floor(v / 4294967296)) end
local function u64be(v) return u32be(floor(v / 4294967296)) .. u32be(v % 4294967296) end
-- media builders

-- RIFF/WAVE, PCM. `data_len_field` overrides the data chunk's size field.
local function wav(rate, channels, bits, seconds, opts)
  opts = opts or {}
  local block = channels * bits / 8
  local frames = floor(rate * seconds + 0.5)
  local data = rep("\0", frames * block)
  local fmt = u16le(1) .. u16le(channels) .. u32le(rate) .. u32le(rate * block)
              .. u16le(block) .. u16le(bits)
  local chunks = "fmt " .. u32le(#fmt) .. fmt
  if opts.extra then -- an odd-sized chunk before data, padded to even
    chunks = chunks .. "LIST" .. u32le(#opts.extra) .. opts.extra
             .. (#opts.extra % 2 == 1 and "\0" or "")
  end
  chunks = chunks .. "data" .. u32le(opts.data_len_field or #data) .. data
  return "RIFF" .. u32le(4 + #chunks) .. "WAVE" .. chunks
end

-- MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo, no padding: 417 bytes.
local MP3_HDR, MP3_LEN = "\255\251\144\0", 417
local function mp3_frame(fill)
  return MP3_HDR .. rep(fill or "\0", MP3_LEN - 4)
end
local function mp3_frames(count)
  return rep(mp3_frame(), count)
end

local function id3v2(body_len)
  -- syncsafe size: 7 bits per byte
  local s = body_len
  return "ID3\4\0\0" .. char(floor(s / 2097152) % 128, floor(s / 16384) % 128,
                             floor(s / 128) % 128, s % 128) .. rep("\0", body_len)
end

-- A Xing header frame (MPEG-1 stereo: after 32 bytes of side info).
local function xing_frame(tag, frames)
  local body = rep("\0", 32) .. tag .. u32be(1) .. u32be(frames)
  return MP3_HDR .. body .. rep("\0", MP3_LEN - 4 - #body)
end

-- ADTS AAC-LC frame, 16 kHz mono, no CRC.
local function adts_frame(len)
  return "\255\241" .. char(1 * 64 + 8 * 4, 1 * 64 + floor(len / 2048),
                            floor(len / 8) % 256, (len % 8) * 32 + 31, 252)
         .. rep("\0", len - 7)
end

-- One Ogg page (CRC left zero: not checked by the duration code).
local function ogg_page(flags, granule, serial, seq, packet)
  local segs, left = {}, #packet
  while left >= 255 do segs[#segs + 1] = char(255); left = left - 255 end
  segs[#segs + 1] = char(left)
  return "OggS\0" .. char(flags) .. u64le(granule) .. u32le(serial)
         .. u32le(seq) .. u32le(0) .. char(#segs) .. table.concat(segs) .. packet
end

local function ogg_opus(preskip, final_granule)
  local head = "OpusHead\1\1" .. u16le(preskip) .. u32le(48000) .. u16le(0) .. "\0"
  return ogg_page(2, 0, 77, 0, head)
      .. ogg_page(0, 0, 77, 1, "OpusTags" .. u32le(0) .. u32le(0))
      .. ogg_page(0, floor(final_granule / 2), 77, 2, rep("a", 300))
      .. ogg_page(4, final_granule, 77, 3, rep("b", 600))
end

local function ogg_vorbis(rate, final_granule)
  local head = "\1vorbis" .. u32le(0) .. "\1" .. u32le(rate) .. u32le(0)
               .. u32le(64000) .. u32le(0) .. "\184\1"
  return ogg_page(2, 0, 5, 0, head)
      .. ogg_page(0, 0, 5, 1, "\3vorbis" .. rep("c", 40))
      .. ogg_page(4, final_granule, 5, 2, rep("d", 1000))
end

local function box(kind, body) return u32be(8 + #body) .. kind .. body end

local function m4a(mvhd_body, major)
  local ftyp = box("ftyp", (major or "M4A ") .. u32be(0) .. "M4A isomiso2")
  return ftyp .. box("mdat", rep("\0", 100))
      .. box("moov", box("mvhd", mvhd_body) .. box("trak", rep("\0", 20)))
end

local function mvhd_v0(scale, dur)
  return "\0\0\0\0" .. u32be(0) .. u32be(0) .. u32be(scale) .. u32be(dur)
         .. rep("\0", 80)
end
local function mvhd_v1(scale, dur)
  return "\1\0\0\0" .. u64be(0) .. u64be(0) .. u32be(scale) .. u64be(dur)
         .. rep("\0", 80)
end


local function put(target, name, data)
  os.execute("mkdir -p fuzz/corpus/" .. target)
  local f = assert(io.open("fuzz/corpus/" .. target .. "/" .. name, "wb"))
  f:write(data)
  f:close()
end
local function head(path, n)
  local f = assert(io.open(path, "rb"))
  local s = f:read(n)
  f:close()
  return s
end

-- media
put("media", "wav_1s", wav(8000, 1, 16, 0.5))
put("media", "wav_list", wav(8000, 2, 8, 0.1, { extra = "abc" }))
put("media", "wav_badlen", wav(8000, 1, 16, 0.1, { data_len_field = 0xFFFFFFF0 }))
put("media", "mp3_plain", mp3_frames(6))
put("media", "mp3_id3", id3v2(40) .. mp3_frames(4))
put("media", "mp3_xing", xing_frame("Xing", 1000) .. mp3_frames(3))
put("media", "mp3_info", xing_frame("Info", 7) .. mp3_frames(3))
put("media", "aac_adts", adts_frame(100) .. adts_frame(100) .. adts_frame(100))
put("media", "ogg_opus", ogg_opus(312, 48000))
put("media", "ogg_vorbis", ogg_vorbis(44100, 44100))
put("media", "m4a_v0", m4a(mvhd_v0(1000, 2500)))
put("media", "m4a_v1", m4a(mvhd_v1(44100, 44100 * 3), "mp42"))
put("media", "png", head("examples/media/portrait.png", 4096))
put("media", "jpeg", "\255\216\255\224\0\16JFIF\0" .. rep("\0", 20))
put("media", "gif", "GIF89a" .. rep("\0", 20))
put("media", "webp", "RIFF" .. u32le(30) .. "WEBPVP8 " .. rep("\0", 22))
put("media", "hello_mp3_head", head("examples/media/hello.mp3", 8192))
put("media", "hello_wav_head", head("examples/media/hello.wav", 2048))

-- retry_after: 4 bytes of "now" (little-endian epoch seconds), then the value
local now = u32le(1700000000)
for i, v in ipairs{ "120", "0", " 5 ", "2147483648", "99999999999999999999",
                    "Sun, 06 Nov 1994 08:49:37 GMT", "Tue, 14 Nov 2023 22:13:30 GMT",
                    "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                    "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 29 Feb 2000 00:00:00 GMT",
                    "-1", "1.5", "soon", "" } do
  put("retry_after", ("v%02d"):format(i), now .. v)
end

-- base64
put("base64", "empty", "")
put("base64", "one", "a")
put("base64", "two", "ab")
put("base64", "26", rep("\255", 26))
local rb = {}
for i = 1, 100 do rb[i] = char((i * 73 + 41) % 256) end
put("base64", "mixed", table.concat(rb))

-- answer: byte 0 = op (0 create, 1 poll, 2 wait) + 4*sent + 8*curl-code index,
-- byte 1 = status index (see answer_fuzz.c), headers, NUL, body.
local S = { [200] = 0, [400] = 6, [401] = 7, [404] = 9, [429] = 15, [500] = 16, [502] = 18,
            [503] = 19, [504] = 20, [302] = 5 }
local function ans(op, status, headers, body, sent, code)
  return char(op + 4 * (sent or 0) + 8 * (code or 0), S[status]) .. headers .. "\0" .. body
end
local id = "0b3c9a52-1f7e-4c1a-9a51-7a3a7d8a0c11:bytedance/omnihuman"
put("answer", "create_ok", ans(0, 200, "", '{"id":"' .. id .. '","status":"queued","meta":{"usage":{"tokens_used":5880000}}}'))
put("answer", "create_noid", ans(0, 200, "", '{"status":"queued"}'))
put("answer", "create_500", ans(0, 500, "x-request-id: abc\r\n", '{"message":"Internal","statusCode":500,"requestId":"r-1"}', 1))
put("answer", "create_429", ans(0, 429, "Retry-After: 1\r\n", '{"message":["slow down"],"statusCode":429}'))
put("answer", "create_503_date", ans(0, 503, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "<html>busy</html>"))
put("answer", "create_timeout_sent", ans(0, 200, "", "", 1, 5))
put("answer", "create_recv_err", ans(0, 200, "", "", 1, 6))
put("answer", "poll_ok", ans(1, 200, "", '{"id":"' .. id .. '","status":"generating","video":null,"error":null}'))
put("answer", "poll_null", ans(1, 200, "", 'null'))
put("answer", "poll_array", ans(1, 200, "", '[1,2,3]'))
put("answer", "poll_status_num", ans(1, 200, "", '{"status":42}'))
put("answer", "poll_401_key", ans(1, 401, "", '{"message":"bad key sk-fuzz-5cretKey-0123456789"}'))
put("answer", "poll_404", ans(1, 404, "", '{"message":{"nested":true},"requestId":7}'))
put("answer", "poll_redirect", ans(1, 302, "Location: https://evil.test/\r\n", ""))
put("answer", "wait_completed", ans(2, 200, "", '{"id":"x","status":"completed","video":{"url":"https://cdn.test/v.mp4"}}'))
put("answer", "wait_completed_nourl", ans(2, 200, "", '{"status":"completed","video":{"url":null}}'))
put("answer", "wait_error", ans(2, 200, "", '{"status":"error","error":{"name":"E","message":"face not found"}}'))
put("answer", "wait_failed_str", ans(2, 200, "", '{"status":"failed","error":"plain string"}'))
put("answer", "wait_queued", ans(2, 200, "", '{"status":"queued"}'))
put("answer", "wait_unknown", ans(2, 200, "", '{"status":"thinking"}'))
put("answer", "wait_deep", ans(2, 200, "", rep('{"a":', 60) .. 'null' .. rep('}', 60)))
put("answer", "poll_deep_nulls", ans(1, 200, "", '{"status":"queued","x":' .. rep('[', 40) .. 'null' .. rep(']', 40) .. '}'))
put("answer", "poll_huge", char(1, 128) .. "\0" .. '{"padding":"')
put("answer", "poll_html_502", ans(1, 502, "Content-Type: text/html\r\n", "<html><body>Bad gateway</body></html>"))
print("seeds written")
