-- The batch's rows are ledger rows: each row's wait and download are
-- written to its ledger row (state, status, result URL, bytes, credits),
-- and a row only an older journal knows is imported into the ledger once,
-- after which the ledger answers for it (the journal's later records of it
-- are not read; a deleted journal or output costs nothing). Before the
-- batch was rebuilt on the ledger its rows stayed 'created' there, and a
-- journal written without the ledger was never learnt by it: a lost
-- journal paid for every row again.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

describe("omnihuman batch on the ledger #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  local ledger_rows = runs.ledger_rows

  it("writes each row's statuses, result and download to its ledger row", function()
    local ns, d = fixtures.ns("bl"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "a.mp4", "b.mp4" }, 2)
    local code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    local _, _, recs = cli.tags(runs.srv, ns)
    local rows = ledger_rows(d)
    for i, name in ipairs{ "a.mp4", "b.mp4" } do
      local r = rows[name]
      assert.is_table(r, name)
      assert.equals("downloaded", r.state)
      assert.equals(recs.tags["r" .. i][1], r.job_id)
      assert.equals("completed", tostring(r.status):lower()) -- the legacy flavor answers "Completed"
      assert.is_string(r.result_url)
      assert.equals(#batch_runs.FIXTURE, r.bytes)
      assert.is_true(r.credits > 0)
    end
  end)

  it("imports a journal written without the ledger once; then the ledger answers for its rows", function()
    local ns, d = fixtures.ns("bi"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "a.mp4", "b.mp4" })
    local code, out, err = runs.batch(ns, m, { "--no-ledger" })
    assert.equals(0, code, out .. err)
    assert.same({}, ledger_rows(d))
    local _, _, recs = cli.tags(runs.srv, ns)
    -- the rerun on the ledger sends nothing and learns both rows
    code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    local rows = ledger_rows(d)
    assert.equals(recs.tags.r1[1], rows["a.mp4"].job_id)
    assert.equals(recs.tags.r2[1], rows["b.mp4"].job_id)
    assert.equals("downloaded", rows["a.mp4"].state)
    -- a later journal record naming another job is not read: the ledger has the row
    local f = assert(io.open(m .. ".journal.jsonl", "ab"))
    f:write(cjson.encode({ v = 2, key = "a.mp4", ev = "created", id = "not-a-job" }), "\n")
    f:close()
    code, out = runs.batch(ns, m, { "--dry-run" })
    assert.equals(0, code, out)
    assert.matches("skip%s+jobs%.csv:2%s+" .. recs.tags.r1[1]:sub(1, 8), out)
    -- journal and one output lost: downloaded again from the ledger, nothing created
    sh.exec("rm -f " .. sh.q(m .. ".journal.jsonl") .. " " .. sh.q(d .. "/a.mp4"))
    code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/a.mp4"))
    assert.equals(2, runs.srv:count(ns, "create"))
    runs.assert_one_job_each(ns, 2)
  end)

  it("sends no create the ledger could not record: the run stops with exit 9, the rerun pays once", function()
    local ns, d = fixtures.ns("bw"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "a.mp4", "b.mp4", "c.mp4" })
    -- commit 1 is row a's create: the ledger fails it (a full disk)
    local code, out, err = runs.batch(ns, m, { "--concurrency", "1" }, nil, { OMNIHUMAN_SIM_LEDGER = "fail=1" })
    assert.equals(9, code, out .. err)
    assert.matches("jobs%.csv:2: the ledger could not record this create: [^\n]*disk is full", err)
    assert.matches("not sent: the ledger could not record it", out)
    assert.equals(0, runs.srv:count(ns, "create"))
    assert.same({}, ledger_rows(d))
    -- every write failing inside SQLite (the fault VFS), on a ledger that opens
    local own = d .. "/own.db"
    assert(require("omnihuman.ledger").open(own)):close()
    code, out, err = runs.batch(ns, m, { "--concurrency", "1", "--ledger", own }, nil,
      { OMNIHUMAN_SIM_SQLITE = "fail_write_from=1" })
    assert.equals(9, code, out .. err)
    assert.equals(0, runs.srv:count(ns, "create"))
    code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    runs.assert_one_job_each(ns, 3)
  end)

  it("does not import a journal job id the ledger holds for another output", function()
    local ns, d1, d2 = fixtures.ns("bo"), runs.newdir(), runs.newdir()
    local m1 = runs.manifest(d1 .. "/jobs.csv", { "a.mp4" })
    local code, out, err = runs.batch(ns, m1)
    assert.equals(0, code, out .. err)
    local id = ledger_rows(d1)["a.mp4"].job_id
    -- the manifest copied to another folder with an older journal naming
    -- d1's job: d2/a.mp4 is another output
    local m2 = d2 .. "/jobs.csv"
    sh.exec("cp " .. sh.q(m1) .. " " .. sh.q(m2))
    fixtures.write(m2 .. ".journal.jsonl", cjson.encode({ v = 2, key = "a.mp4", ev = "created", id = id }) .. "\n")
    code, out, err = runs.batch(ns, m2)
    assert.matches("jobs%.csv:2: job " .. id:gsub("%p", "%%%0") .. " of the journal is the ledger's job for "
      .. require("omnihuman.fs").realpath(d1):gsub("%p", "%%%0") .. "/a%.mp4: not imported", err)
    assert.equals(0, code, out .. err)
    assert.equals(1, runs.srv:count(ns, "create"))
    -- the ledger still names d1's output for that job, and has no row for d2's
    assert.equals(id, ledger_rows(d1)["a.mp4"].job_id)
    assert.same({}, ledger_rows(d2))
  end)

  it("never writes a journal; imports an old one once and leaves it untouched", function()
    local ns, d = fixtures.ns("bu"), runs.newdir()
    local m = runs.manifest(d .. "/jobs.csv", { "a.mp4", "b.mp4" })
    local code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"))
    -- an older journal naming a job for a third row: imported, not changed
    local c = fixtures.client(runs.srv, ns)
    local job = assert(c:create{ image_url = batch_runs.IMG, audio_url = batch_runs.AUD, sandbox_polls = 1,
                                 sandbox_tag = "r3" })
    runs.manifest(m, { "a.mp4", "b.mp4", "c.mp4" })
    local old = cjson.encode({ v = 2, key = "c.mp4", ev = "created", id = job.id }) .. "\n"
    fixtures.write(m .. ".journal.jsonl", old)
    code, out, err = runs.batch(ns, m)
    assert.equals(0, code, out .. err)
    assert.equals(old, fixtures.read(m .. ".journal.jsonl"))
    assert.equals(job.id, ledger_rows(d)["c.mp4"].job_id)
    assert.equals("downloaded", ledger_rows(d)["c.mp4"].state)
    runs.assert_one_job_each(ns, 3)
  end)

  -- commit 1 is the create's row, 2 its answer, 3 the first status
  for _, k in ipairs{ 3, 4, 5 } do
    it(("stops with exit 9 when the ledger cannot record what follows the create (commit %d);"
      .. " the rerun redoes it at no cost"):format(k), function()
      local ns, d = fixtures.ns("bs"), runs.newdir()
      local m = runs.manifest(d .. "/jobs.csv", { "a.mp4" })
      local code, out, err = runs.batch(ns, m, {}, nil, { OMNIHUMAN_SIM_LEDGER = "fail=" .. k })
      local _, _, recs = cli.tags(runs.srv, ns)
      local id = recs.tags.r1[1]
      if code ~= 0 then -- a job whose status goes straight to its end has fewer commits
        assert.equals(9, code, out .. err)
        assert.matches("jobs%.csv:2: the ledger could not record [^\n]*disk is full[^\n]*%(the run stops%)", err)
        assert.equals(id, ledger_rows(d)["a.mp4"].job_id)
        assert.is_not.equals("downloaded", ledger_rows(d)["a.mp4"].state)
      end
      code, out, err = runs.batch(ns, m)
      assert.equals(0, code, out .. err)
      assert.equals(id, ledger_rows(d)["a.mp4"].job_id)
      assert.equals("downloaded", ledger_rows(d)["a.mp4"].state)
      assert.equals(1, runs.srv:count(ns, "create"))
      assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/a.mp4"))
    end)
  end

  it("--adopt is refused for a row whose request cannot be fingerprinted yet", function()
    local ns, d = fixtures.ns("bf"), runs.newdir()
    local m = d .. "/jobs.csv"
    fixtures.write(m, "image,audio,output\nmissing.png,missing.mp3,a.mp4\n")
    local code, out, err = runs.batch(ns, m, { "--adopt", "a.mp4=some-job" })
    assert.equals(2, code, out .. err)
    assert.matches("%-%-adopt: the request of a%.mp4 cannot be fingerprinted yet", err)
    assert.same({}, ledger_rows(d))
    assert.equals(0, runs.srv:count(ns, "poll"))
  end)
end)
