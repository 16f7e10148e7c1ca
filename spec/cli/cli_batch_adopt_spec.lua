-- batch --adopt OUTPUT=ID checks the id before journaling it: a mistyped id
-- (the service has no such job) is refused and nothing is written, so the
-- right id is then accepted; another row's job is refused (two rows would
-- share one video). On the main of 2026-12-05 both were journaled
-- unchecked, and the right id was refused forever after a typo.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local batch_runs = require("spec.support.batch_runs")

describe("omnihuman batch --adopt #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  -- recorded(m, d): the jobs recorded for the manifest's rows (in the
  -- ledger, or in the journal with --no-ledger).
  local function adopts(name, extra, recorded)
    it(name .. ": refuses a mistyped id and another row's job, unrecorded; accepts the right id after", function()
      local ns, d = fixtures.ns("adopt"), runs.newdir()
      local m = runs.manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
      local function batch(args)
        for _, a in ipairs(extra) do args[#args + 1] = a end
        return runs.batch(ns, m, args)
      end
      -- one job made outside the batch, for r2
      local c = fixtures.client(runs.srv, ns)
      local job = assert(c:create(fixtures.url_fields{ sandbox_tag = "r2" }))
      local code, _, err = batch({ "--adopt", "r2.mp4=" .. job.id .. "x", "--max-creates", "0" })
      assert.equals(2, code, err)
      assert.matches("no such job", err)
      assert.equals(0, recorded(m, d))
      code, _, err = batch({ "--adopt", "r2.mp4=" .. job.id, "--max-creates", "0" })
      assert.equals(7, code, err) -- r1 held by --max-creates 0
      assert.equals(1, recorded(m, d))
      code, _, err = batch({ "--adopt", "r1.mp4=" .. job.id })
      assert.equals(2, code, err)
      assert.matches("already the job of r2%.mp4", err)
      assert.equals(1, recorded(m, d))
      code = batch({})
      assert.equals(0, code)
      runs.assert_one_job_each(ns, 2)
    end)
  end
  adopts("on the ledger", {}, function(m, d)
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"), "a ledger run wrote a journal")
    return runs.ledger_jobs(d)
  end)
  adopts("with --no-ledger", { "--no-ledger" }, function(m)
    return cli.count(cli.journal(m .. ".journal.jsonl"), "created")
  end)
end)
