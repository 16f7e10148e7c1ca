-- Writes the seed corpora in fuzz/corpus/ (run from the repo root: lua5.4 fuzz/make_seeds.lua).
-- The media builders are shared with spec/units/units_spec.lua.
package.path = "./?.lua;" .. package.path
local char, byte, rep = string.char, string.byte, string.rep
local floor = math.floor
local media_bytes = require("spec.support.media_bytes")
local MP3_HDR, MP3_LEN = media_bytes.MP3_HDR, media_bytes.MP3_LEN
local u16le, u32le, u32be, u64le, u64be, wav, mp3_frame, mp3_frames, id3v2, xing_frame, adts_frame, ogg_page, ogg_opus, ogg_vorbis, box, m4a, mvhd_v0, mvhd_v1 = media_bytes.u16le, media_bytes.u32le, media_bytes.u32be, media_bytes.u64le, media_bytes.u64be, media_bytes.wav, media_bytes.mp3_frame, media_bytes.mp3_frames, media_bytes.id3v2, media_bytes.xing_frame, media_bytes.adts_frame, media_bytes.ogg_page, media_bytes.ogg_opus, media_bytes.ogg_vorbis, media_bytes.box, media_bytes.m4a, media_bytes.mvhd_v0, media_bytes.mvhd_v1


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
-- WAV headers that leave fields at 0 or use other formats; AVIF; inputs
-- longer than the parsers' smallest window (the fuzzer compares windows).
put("media", "wav_byterate0", wav(8000, 1, 16, 0.2, { byte_rate = 0, block_align = 0 }))
put("media", "wav_datalen0", wav(8000, 2, 16, 0.2, { data_len_field = 0 }))
put("media", "wav_extensible", wav(16000, 1, 24, 0.1, { extensible = true }))
put("media", "wav_fact", wav(8000, 1, 4, 0.5, { tag = 17, fact = 4000, data_bytes = 2000, byte_rate = 4055, block_align = 256 }))
put("media", "wav_cut_fmt", wav(8000, 1, 16, 0.1):sub(1, 30))
put("media", "mp3_id3_covers", id3v2(200000):sub(1, 10) .. mp3_frames(20))
put("media", "mp3_long", id3v2(3000) .. mp3_frames(120) .. "junk" .. mp3_frames(10))
put("media", "aac_long", rep(adts_frame(700) .. adts_frame(300), 50))
put("media", "m4a_big_mdat", box("ftyp", "M4A " .. u32be(0)) .. u32be(1) .. "mdat" .. u64be(2 ^ 40)
    .. rep("\0", 64))
put("media", "avif", media_bytes.avif())
put("media", "avif_compat", media_bytes.avif("mif1", "miafavif"))

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
-- json: answers as bytes, of the common shape the fast reader takes and just outside it
for i, v in ipairs{ '{"id":"' .. id .. '","status":"generating","video":null,"error":null}',
                    '{"status":"completed","video":{"url":"https://cdn.test/v.mp4","size":123456789012345}}',
                    '{"a":-0,"b":0,"c":-999999999999999,"d":1000000000000000,"e":01,"f":1.0,"g":1e2,"h":9007199254740993,"i":12345678901234567}',
                    '{"a":1,"a":null,"b":null,"b":{"c":true},"status":"x","status":false}',
                    '{"status":"a","x":{"status":"b"},"status":"c"}', ' \t\r\n{ }\n', '{"s":"\\n\\u00e9","t":"\1"}',
                    '{"a":[1,{"b":null}],"status":"\255\192 utf8 \226\130\172"}', '[{"status":"x"}]', '"status"',
                    rep('{"a":', 17) .. '-0' .. rep('}', 17), rep('{"a":', 40) .. 'null' .. rep('}', 40),
                    '\f{"a":1}\v', '{"a":1}\0junk', '{"message":"bad key sk-fuzz-5cretKey-0123456789","status":"x"}' } do
  put("json", ("j%02d"):format(i), v)
end
print("seeds written")
