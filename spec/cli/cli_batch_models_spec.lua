-- omnihuman batch with rows of other models: a JSON Lines manifest whose
-- rows put local files (relative to the manifest's folder, run from another
-- folder) in file fields of any shape: an array mixing a file and a URL, a
-- single field, the url of a nested object. Each file reaches the service
-- as a data URI of its bytes in its place; URLs and other values as given.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

describe("omnihuman batch with other models", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("sends local files of any file field, relative to the manifest's folder", function()
    local ns, d = fixtures.ns("bm"), runs.newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/media"))
    fixtures.write(d .. "/media/a.png", "\137PNG\r\n\26\n0123456789")
    fixtures.write(d .. "/media/v.mp4", batch_runs.FIXTURE:sub(1, 40))
    local rows = {
      { model = "bytedance/seedance-2-0", prompt = "p", image_urls = { "media/a.png", "https://x/u.png" },
        video_url = "media/v.mp4", output = "out/r1.mp4", sandbox_tag = "r1", sandbox_polls = 1 },
      { model = "runway/act_two", character = { type = "video", url = "media/v.mp4" },
        reference = { type = "video", url = "https://x/r.mp4" }, output = "out/r2.mp4", sandbox_tag = "r2",
        sandbox_polls = 1 },
    }
    local lines = {}
    for i, r in ipairs(rows) do lines[i] = cjson.encode(r) end
    fixtures.write(d .. "/jobs.jsonl", table.concat(lines, "\n") .. "\n")
    local code = runs.batch(ns, d .. "/jobs.jsonl", {}, { cwd = runs.root })
    assert.equals(0, code, cli.explain())
    runs.assert_one_job_each(ns, 2)
    local png, mp4 = "data:image/png;base64,iVBORw0KGgowMTIzNDU2Nzg5", "^data:video/mp4;base64,AAAAIGZ0eXBpc29t"
    local seen = 0
    for _, req in ipairs(runs.srv:records(ns).requests) do
      local ok, body = pcall(cjson.decode, req.body or "")
      if ok and type(body) == "table" and body.sandbox_tag == "r1" then
        assert.same({ png, "https://x/u.png" }, body.image_urls)
        assert.matches(mp4, body.video_url)
        seen = seen + 1
      elseif ok and type(body) == "table" and body.sandbox_tag == "r2" then
        assert.equals("video", body.character.type)
        assert.matches(mp4, body.character.url)
        assert.equals("https://x/r.mp4", body.reference.url)
        seen = seen + 1
      end
    end
    assert.equals(2, seen)
    assert.is_true(fixtures.exists(d .. "/out/r1.mp4"))
    assert.is_true(fixtures.exists(d .. "/out/r2.mp4"))
  end)
end)
