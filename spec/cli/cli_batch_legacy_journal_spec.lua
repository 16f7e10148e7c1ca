-- A journal of an older version (records keyed by the output as spelled
-- through the manifest's path, relative to the folder that run started in)
-- resumed from a subfolder: each record goes to the row whose output it
-- names, not to another row that the key also resolves to from here. On the
-- main of 2026-12-05 row A's job went to row B and A was paid again.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

describe("omnihuman batch with an older journal", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("resumed from a subfolder gives each record to its own row", function()
    local ns, d = fixtures.ns("old"), runs.newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/sub"))
    local m = runs.manifest(d .. "/jobs.csv", { "a.mp4", "sub/a.mp4" })
    local c = fixtures.client(runs.srv, ns)
    local job = assert(c:create{ image_url = batch_runs.IMG, audio_url = batch_runs.AUD, sandbox_polls = 1,
                                 sandbox_tag = "r1" })
    -- written by an older run started in the manifest's folder
    fixtures.write(m .. ".journal.jsonl", cjson.encode({ key = "a.mp4", ev = "creating" }) .. "\n"
      .. cjson.encode({ key = "a.mp4", ev = "created", id = job.id }) .. "\n")
    local code, out, err = runs.batch(ns, "../jobs.csv", {}, { cwd = d .. "/sub" })
    assert.equals(0, code, out .. err)
    runs.assert_one_job_each(ns, 2)
    assert.matches("\n2%s+done%s+" .. job.id:sub(1, 8), out)
    assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/a.mp4"))
    assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/sub/a.mp4"))
  end)
end)
