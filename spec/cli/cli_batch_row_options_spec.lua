-- A batch row's own input options (allow_unmeasured_audio,
-- max_audio_seconds) are checked as the create will take them, before
-- anything is sent: a value the create cannot take makes that row bad in
-- --dry-run and in the run, and every other row is created and finished.
-- On the main of 2026-12-05, allow_unmeasured_audio=yes passed --dry-run
-- and then crashed the run, leaving the other rows' paid jobs unattributed.
local fixtures = require("spec.support.fixtures")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

describe("omnihuman batch row options #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  for _, case in ipairs{ { "allow_unmeasured_audio", "yes" }, { "allow_unmeasured_audio", "1" },
                         { "max_audio_seconds", "long" } } do
    local col, val = case[1], case[2]
    it(("%s=%s: that row is bad, in --dry-run and in the run; the others are done"):format(col, val), function()
      local ns, d = fixtures.ns("opt"), runs.newdir()
      local lines = { "image,audio,output,sandbox_polls,sandbox_tag," .. col }
      for i = 1, 3 do
        lines[#lines + 1] = ("%s,%s,r%d.mp4,1,r%d,%s"):format(batch_runs.IMG, batch_runs.AUD, i, i, i == 2 and val or "")
      end
      local m = d .. "/jobs.csv"
      fixtures.write(m, table.concat(lines, "\n") .. "\n")
      local code, out = runs.batch(ns, m, { "--dry-run", "--json" })
      assert.equals(7, code, out)
      local plan = cjson.decode(out)
      local bad = 0
      for _, r in ipairs(plan.rows) do
        if r.plan == "bad" then
          bad = bad + 1
          assert.truthy(tostring(r.message):find(col, 1, true), out)
        end
      end
      assert.equals(1, bad, out)
      assert.equals(0, runs.srv:count(ns, "create"))
      local err
      code, out, err = runs.batch(ns, m, { "--json" })
      assert.equals(7, code, err)
      local rep = cjson.decode(out)
      assert.equals(2, rep.counts.done, out)
      assert.equals(1, rep.counts.bad, out)
      assert.equals(2, runs.srv:count(ns, "create"))
      assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/r1.mp4"))
      assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/r3.mp4"))
    end)
  end
end)
