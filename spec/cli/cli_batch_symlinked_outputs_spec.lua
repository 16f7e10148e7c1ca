-- Outputs moved to a bigger disk and replaced by a symlink (mv out /big/out;
-- ln -s /big/out out): a rerun finds every row's record and creates
-- nothing. On the main of 2026-12-05 done, pending and uncertain rows were
-- all created again.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")

describe("omnihuman batch, outputs moved behind a symlink", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("creates nothing again for done and uncertain rows", function()
    local ns, d = fixtures.ns("ln"), runs.newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/out") .. " " .. sh.q(d .. "/big"))
    local m = runs.manifest(d .. "/jobs.csv", { "out/r1.mp4", "out/r2.mp4", "out/r3.mp4" })
    -- row 3's create makes its job, then the answer is a 504: uncertain
    runs.srv:fault(ns, "create", { { pass = true }, { pass = true }, { after = { status = 504 } } })
    local code, out, err = runs.batch(ns, m, { "--concurrency", "1" })
    assert.equals(7, code, out .. err)
    local before = runs.srv:count(ns, "create")
    assert.equals(3, before)
    sh.exec("mv " .. sh.q(d .. "/out") .. " " .. sh.q(d .. "/big/out") .. " && ln -s big/out " .. sh.q(d .. "/out"))
    code, out, err = runs.batch(ns, m, { "--dry-run" })
    assert.equals(7, code, out .. err)
    assert.matches("skip%s+jobs%.csv:2", out)
    assert.matches("skip%s+jobs%.csv:3", out)
    assert.matches("uncertain%s+jobs%.csv:4", out)
    code, out, err = runs.batch(ns, m)
    assert.equals(7, code, out .. err)
    assert.equals(3, runs.srv:count(ns, "create"))
  end)
end)
