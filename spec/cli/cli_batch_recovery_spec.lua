-- The recovery command batch prints when a job id cannot be recorded
-- (exit 10) names where the run records: its ledger (--ledger PATH when not
-- the default), or with --no-ledger its journal (--journal elsewhere than
-- the default), so running it as printed pays for nothing again. On the
-- main of 2026-12-05 it lacked --journal: run as printed, every row was
-- created again.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")
local batch_runs = require("spec.support.batch_runs")

describe("omnihuman batch exit 10 #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  -- where(d) -> the arguments naming the record elsewhere than the default,
  -- the fault that fails the create's answer, the option the command names.
  local function recovers(name, where)
    it(name .. ": prints a command that, run as printed, adopts the job and creates nothing again", function()
      local ns, d = fixtures.ns("rec"), runs.newdir()
      local m = runs.manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" })
      sh.exec("mkdir -p " .. sh.q(d .. "/elsewhere"))
      local place, fault, option = where(d)
      local args = { "--concurrency", "1" }
      for _, a in ipairs(place) do args[#args + 1] = a end
      local code, out, err = runs.batch(ns, m, args, nil, fault)
      assert.equals(10, code, out .. err)
      assert.equals(1, runs.srv:count(ns, "create")) -- stopped at once: no other row was sent
      local printed = err:match("run: omnihuman (batch [^\n]+)")
      assert.is_string(printed, err)
      assert.matches(option, printed, 1, true)
      -- the words of the printed command, as a shell reads them
      local words = sh.lines("eval set -- " .. printed .. "; for w; do printf '%s\\n' \"$w\"; done")
      for _, extra in ipairs{ "--ca-file", runs.srv.ca_file, "--interval", "0.05" } do words[#words + 1] = extra end
      code, out, err = cli.run(words, cli.env(runs.srv, ns), 60, { cwd = d })
      assert.equals(0, code, out .. err)
      runs.assert_one_job_each(ns, 3)
      code, out, err = runs.batch(ns, m, place)
      assert.equals(0, code, out .. err)
      runs.assert_one_job_each(ns, 3)
      for i = 1, 3 do assert.equals(batch_runs.FIXTURE, fixtures.read(("%s/r%d.mp4"):format(d, i))) end
    end)
  end
  -- commit 1 is row 1's create, commit 2 its answer
  recovers("on a ledger given by --ledger", function(d)
    local own = d .. "/elsewhere/jobs.db"
    return { "--ledger", own }, { OMNIHUMAN_SIM_LEDGER = "fail=2" }, "--ledger '" .. own .. "'"
  end)
  -- journal write 1 is row 1's creating, write 2 its created
  recovers("with --no-ledger and --journal", function(d)
    local j = d .. "/elsewhere/run.journal"
    return { "--journal", j, "--no-ledger" }, { OMNIHUMAN_SIM_JOURNAL = "fail=2" }, "--journal '" .. j .. "'"
  end)
end)
