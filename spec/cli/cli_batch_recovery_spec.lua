-- The recovery command batch prints when a job id cannot be journaled
-- (exit 10) names the journal the run used, so running it as printed, with
-- a --journal elsewhere than the default, pays for nothing again. On the
-- main of 2026-12-05 it lacked --journal: run as printed, every row was
-- created again.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")
local batch_runs = require("spec.support.batch_runs")

describe("omnihuman batch exit 10 with --journal #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("prints a command that, run as printed, adopts the job in that journal and creates nothing again", function()
    local ns, d = fixtures.ns("rec"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" })
    local j = d .. "/elsewhere/run.journal"
    sh.exec("mkdir -p " .. sh.q(d .. "/elsewhere"))
    local code, out, err = runs.batch(ns, m, { "--journal", j, "--concurrency", "1" }, nil,
                                      { OMNIHUMAN_SIM_JOURNAL = "fail=2" })
    assert.equals(10, code, out .. err)
    local printed = err:match("run: omnihuman (batch [^\n]+)")
    assert.is_string(printed, err)
    -- the words of the printed command, as a shell reads them
    local words = sh.lines("eval set -- " .. printed .. "; for w; do printf '%s\\n' \"$w\"; done")
    for _, extra in ipairs{ "--ca-file", runs.srv.ca_file, "--interval", "0.05" } do words[#words + 1] = extra end
    code, out, err = cli.run(words, cli.env(runs.srv, ns), 60, { cwd = d })
    assert.equals(0, code, out .. err)
    runs.assert_one_job_each(ns, 3)
    code = runs.batch(ns, m, { "--journal", j })
    assert.equals(0, code)
    runs.assert_one_job_each(ns, 3)
    for i = 1, 3 do assert.equals(batch_runs.FIXTURE, fixtures.read(("%s/r%d.mp4"):format(d, i))) end
  end)
end)
