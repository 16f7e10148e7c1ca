-- README "Two commands": the offline sandbox's video is a real, playable MP4
-- with a picture and a sound track, lasting the duration asked, else the
-- model's documented default, else as long as the audio, else 5 s, at most
-- 30 s. Needs ffmpeg and ffprobe (else pending); renders take seconds on a
-- shared machine, hence #slow.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")

local function have(tool) return sh.exec("command -v " .. tool .. " >/dev/null 2>&1") end

-- Seconds of the file, and its stream kinds ("audio,video" sorted).
local function probe(path)
  local lines = sh.lines("ffprobe -v error -show_entries format=duration:stream=codec_type -of csv=p=0 "
    .. sh.q(path) .. " 2>/dev/null")
  local seconds, kinds = nil, {}
  for _, l in ipairs(lines) do
    local n = tonumber(l)
    if n then seconds = n elseif l:match("^%a+$") then kinds[#kinds + 1] = l end
  end
  table.sort(kinds)
  return seconds, table.concat(kinds, ",")
end

describe("docs promises: the sandbox's videos #slow", function()
  local srv, dir
  setup(function()
    if have("ffmpeg") and have("ffprobe") then
      srv = fixtures.start{ tls = false, sandbox = true }
      dir = fixtures.tmpdir("omh-docs-sandbox")
    end
  end)
  teardown(function()
    if srv then
      srv:stop()
      fixtures.rm_rf(dir)
    end
  end)

  it("last the duration asked, else the documented default, else the audio, else 5 s; at most 30 s", function()
    if not srv then return pending("needs ffmpeg and ffprobe") end
    local c = fixtures.client(srv, fixtures.ns(), { poll_interval = 0.5, wait_timeout = 300 })
    local cases = {
      { "asked", { model = "google/veo-3.1-t2v", prompt = "p", duration = 4 }, 4 },
      { "default", { model = "google/veo-3.1-t2v", prompt = "p" }, 8 },
      { "audio", { image = fixtures.PNG, audio = fixtures.WAV }, nil },
      { "none", { model = "zz/not-in-the-table", prompt = "p" }, 5 },
      { "capped", { model = "zz/not-in-the-table", prompt = "p", duration = 60 }, 30 },
    }
    local results = {}
    omnihuman.run(function()
      for i, case in ipairs(cases) do
        omnihuman.spawn(function()
          local out = ("%s/%s.mp4"):format(dir, case[1])
          local res, err = c:generate(fixtures.with(case[2], { output = out }))
          results[i] = { res, err, out }
        end)
      end
    end)
    local audio_seconds = probe(fixtures.WAV)
    for i, case in ipairs(cases) do
      local res, err, out = results[i][1], results[i][2], results[i][3]
      assert.is_nil(err, case[1])
      assert.equals(out, res.output)
      local seconds, kinds = probe(out)
      assert.equals("audio,video", kinds, case[1])
      assert.is_true(math.abs(seconds - (case[3] or audio_seconds)) < 0.5,
        ("%s: %s s, want %s"):format(case[1], tostring(seconds), tostring(case[3] or audio_seconds)))
    end
  end)
end)
