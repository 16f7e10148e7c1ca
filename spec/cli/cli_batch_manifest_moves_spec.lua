-- The batch on the ledger: a manifest reached through a hard link, renamed
-- (its journal left under the old name) or copied, and a journal deleted,
-- make no job again: each row's request and output find their job in the
-- ledger. On the main of 2026-12-05 each of these started a fresh journal
-- and paid for every row again.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")

describe("omnihuman batch, the manifest moved #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("hard link, rename, copy, lost journal: no row paid twice", function()
    local ns, d = fixtures.ns("mv"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "out/r3.mp4" })
    sh.exec("mkdir -p " .. sh.q(d .. "/out"))
    local code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    assert.equals(3, runs.srv:count(ns, "create"))
    local steps = {
      { "hard link", "ln " .. sh.q(m) .. " " .. sh.q(d .. "/linked.csv"), d .. "/linked.csv" },
      { "rename", "mv " .. sh.q(m) .. " " .. sh.q(d .. "/renamed.csv"), d .. "/renamed.csv" },
      { "copy", "cp " .. sh.q(d .. "/renamed.csv") .. " " .. sh.q(d .. "/copy.csv"), d .. "/copy.csv" },
      { "journal lost", "rm -f " .. sh.q(d .. "/copy.csv.journal.jsonl"), d .. "/copy.csv" },
    }
    for _, s in ipairs(steps) do
      sh.exec(s[2])
      code, out, err = runs.batch(ns, s[3])
      assert.equals(0, code, s[1] .. ": " .. out .. err)
      assert.equals(3, runs.srv:count(ns, "create"), s[1])
      runs.assert_one_job_each(ns, 3, s[1])
    end
    for _, p in ipairs{ "r1.mp4", "r2.mp4", "out/r3.mp4" } do
      assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/" .. p))
    end
    -- --no-ledger: the journal alone, as before (a fresh one pays again)
    code = runs.batch(ns, d .. "/linked.csv", { "--no-ledger", "--journal", d .. "/fresh.journal" })
    assert.equals(0, code)
    assert.equals(6, runs.srv:count(ns, "create"))
  end)
end)
