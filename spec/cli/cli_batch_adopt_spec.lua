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

  it("refuses a mistyped id and another row's job, unjournaled; accepts the right id after", function()
    local ns, d = fixtures.ns("adopt"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
    -- one job made outside the batch, for r2
    local c = fixtures.client(runs.srv, ns)
    local job = assert(c:create(fixtures.url_fields{ sandbox_tag = "r2" }))
    local code, _, err = runs.batch(ns, m, { "--adopt", "r2.mp4=" .. job.id .. "x", "--max-creates", "0" })
    assert.equals(2, code, err)
    assert.matches("no such job", err)
    assert.equals(0, cli.count(cli.journal(m .. ".journal.jsonl"), "created"))
    code, _, err = runs.batch(ns, m, { "--adopt", "r2.mp4=" .. job.id, "--max-creates", "0" })
    assert.equals(7, code, err) -- r1 held by --max-creates 0
    local journal = cli.journal(m .. ".journal.jsonl")
    assert.equals(1, cli.count(journal, "created"))
    code, _, err = runs.batch(ns, m, { "--adopt", "r1.mp4=" .. job.id })
    assert.equals(2, code, err)
    assert.matches("already the job of r2%.mp4", err)
    assert.equals(1, cli.count(cli.journal(m .. ".journal.jsonl"), "created"))
    code = runs.batch(ns, m)
    assert.equals(0, code)
    runs.assert_one_job_each(ns, 2)
  end)
end)
