-- Byte builders for media files (WAV, MP3, ADTS, OGG, M4A) used by the
-- unit spec and the fuzzers' seed generator. No string.pack: Lua 5.1 too.
local char, rep = string.char, string.rep
local floor = math.floor

local function u16le(v) return char(v % 256, floor(v / 256) % 256) end
local function u32le(v) return u16le(v % 65536) .. u16le(floor(v / 65536) % 65536) end
local function u32be(v)
  return char(floor(v / 16777216) % 256, floor(v / 65536) % 256,
              floor(v / 256) % 256, v % 256)
end
local function u64le(v) return u32le(v % 4294967296) .. u32le(floor(v / 4294967296)) end
local function u64be(v) return u32be(floor(v / 4294967296)) .. u32be(v % 4294967296) end


-- RIFF/WAVE, PCM. opts: `data_len_field` overrides the data chunk's size
-- field, `byte_rate` and `block_align` the fmt fields of those names (a
-- writer may leave them 0), `tag` the format tag, `fact` adds a fact chunk
-- with that sample count, `extensible` writes WAVE_FORMAT_EXTENSIBLE with
-- PCM as the sub-format, `data_bytes` the amount of sample data.
local function wav(rate, channels, bits, seconds, opts)
  opts = opts or {}
  local block = channels * bits / 8
  local frames = floor(rate * seconds + 0.5)
  local data = rep("\0", opts.data_bytes or frames * block)
  local tag = opts.extensible and 65534 or opts.tag or 1
  local fmt = u16le(tag) .. u16le(channels) .. u32le(rate)
              .. u32le(opts.byte_rate or rate * block)
              .. u16le(opts.block_align or block) .. u16le(bits)
  if opts.extensible then
    fmt = fmt .. u16le(22) .. u16le(bits) .. u32le(0) .. u16le(1)
          .. "\0\0\0\0\16\0\128\0\0\170\0\56\155\113"
  end
  local chunks = "fmt " .. u32le(#fmt) .. fmt
  if opts.fact then chunks = chunks .. "fact" .. u32le(4) .. u32le(opts.fact) end
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

-- An AVIF still: ftyp with `major` (default "avif") and compatible brands.
local function avif(major, compat)
  return box("ftyp", (major or "avif") .. u32be(0) .. (compat or "mif1miaf"))
      .. box("meta", rep("\0", 40)) .. box("mdat", rep("\7", 64))
end

local function mvhd_v0(scale, dur)
  return "\0\0\0\0" .. u32be(0) .. u32be(0) .. u32be(scale) .. u32be(dur)
         .. rep("\0", 80)
end
local function mvhd_v1(scale, dur)
  return "\1\0\0\0" .. u64be(0) .. u64be(0) .. u32be(scale) .. u64be(dur)
         .. rep("\0", 80)
end


return {
  MP3_HDR = MP3_HDR,
  MP3_LEN = MP3_LEN,
  u16le = u16le,
  u32le = u32le,
  u32be = u32be,
  u64le = u64le,
  u64be = u64be,
  wav = wav,
  mp3_frame = mp3_frame,
  mp3_frames = mp3_frames,
  id3v2 = id3v2,
  xing_frame = xing_frame,
  adts_frame = adts_frame,
  ogg_page = ogg_page,
  ogg_opus = ogg_opus,
  ogg_vorbis = ogg_vorbis,
  box = box,
  m4a = m4a,
  avif = avif,
  mvhd_v0 = mvhd_v0,
  mvhd_v1 = mvhd_v1,
}
