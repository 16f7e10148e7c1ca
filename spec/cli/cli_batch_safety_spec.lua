-- omnihuman batch never pays twice and never loses a job when a run is cut
-- short or the world pushes back: black-box runs of the CLI that count the
-- jobs the test server made for each row (each row tags its create with
-- sandbox_tag) and compare every output byte for byte. --max-creates and
-- credits, a journal that cannot record a create or a job id, Ctrl-C with
-- creates out, a journal on a full disk, two runs at once, and a service
-- that answers 429 beyond 5 unfinished jobs.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

local FIXTURE, IMG, AUD = batch_runs.FIXTURE, batch_runs.IMG, batch_runs.AUD
local SEED = tonumber(os.getenv("SPEC_SEED") or "") or os.time()

describe("omnihuman batch safety #slow", function()
  local runs = batch_runs.new()
  local srv
  setup(function()
    runs.start()
    srv = runs.srv
    math.randomseed(SEED)
    print("cli_batch_safety_spec seed " .. SEED .. " (SPEC_SEED=" .. SEED .. " replays it)")
  end)
  teardown(function() runs.stop() end)

  local newdir, args, batch, manifest = runs.newdir, runs.args, runs.batch, runs.manifest
  local jobs_per_tag, assert_one_job_each, journal_lines_ok = runs.jobs_per_tag, runs.assert_one_job_each,
                                                              runs.journal_lines_ok

  it("--max-creates N sends at most N creates; the rest wait for the next run; credits are summed", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local outs = {}
    for i = 1, 5 do outs[i] = ("r%d.mp4"):format(i) end
    local m = manifest(d .. "/jobs.csv", outs)
    local code, out, err = batch(ns, m, { "--max-creates", "2" })
    assert.equals(7, code, err)
    assert.matches("this run: 2 creates sent, credits used: 11760000; "
      .. "%-%-max%-creates 2 reached: 3 rows left for the next run", out)
    assert.matches("not started: %-%-max%-creates 2 reached", out)
    assert.equals(2, srv:count(ns, "create"))
    code, out = batch(ns, m, { "--max-creates", "0", "--json" })
    assert.equals(7, code, cli.explain())
    local r = cjson.decode(out)
    assert.equals(0, r.creates)
    assert.equals(3, r.held)
    assert.equals(2, srv:count(ns, "create"))
    code, out = batch(ns, m, { "--json" })
    assert.equals(0, code, cli.explain())
    r = cjson.decode(out)
    assert.equals(3, r.creates)
    assert.equals(3 * 5880000, r.credits)
    assert.equals(0, r.held)
    assert.same({}, r.journal_errors)
    assert.same({}, r.unrecorded)
    assert.equals(4, r.concurrency.max)
    assert.equals(5, #r.rows)
    assert.equals(5, r.counts.done)
    assert_one_job_each(ns, 5)
    -- a create the service certainly refused gives its place back
    local ns2, d3 = fixtures.ns("safe"), newdir()
    local m2 = manifest(d3 .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
    srv:fault(ns2, "create", { { status = 400 } })
    code, out = batch(ns2, m2, { "--max-creates", "1", "--concurrency", "1" })
    assert.equals(7, code, cli.explain())
    assert.matches("\n2%s+error%s+%-%s+r1%.mp4  ", out)
    assert.matches("this run: 2 creates sent", out)
    assert.same({ r2 = 1 }, jobs_per_tag(ns2))
    -- the other flavor of the service: one reports credits_used, the older tokens_used
    local other = fixtures.start({ flavor = srv.flavor == "current" and "legacy" or "current" })
    local d2, ns3 = newdir(), fixtures.ns("safe")
    manifest(d2 .. "/t.csv", { "a.mp4", "b.mp4" }, 0)
    code, out = cli.run({ "batch", d2 .. "/t.csv", "--ca-file", other.ca_file, "--interval", "0.05", "--json" },
                        cli.env(other, ns3), 60)
    other:stop()
    assert.equals(0, code, out)
    assert.equals(2 * 5880000, cjson.decode(out).credits)
  end)

  -- The ways a run records (docs/ledger.md): the ledger, or with
  -- --no-ledger the journal. Each: the extra argument, its fault variable,
  -- what stderr calls a job id it could not record, and what the row's
  -- record holds (recorded(m, d) -> { [file name] = job id }).
  local RECORDS = {
    { name = "the ledger", extra = {}, var = "OMNIHUMAN_SIM_LEDGER", unrecorded = "recorded in the ledger",
      recorded = function(_, d)
        local ids = {}
        for name, r in pairs(runs.ledger_rows(d, nil, true)) do ids[name] = r.job_id end
        return ids
      end },
    { name = "the journal", extra = { "--no-ledger" }, var = "OMNIHUMAN_SIM_JOURNAL", unrecorded = "journaled",
      recorded = function(m)
        local ids = {}
        for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do if r.ev == "created" then ids[r.key] = r.id end end
        return ids
      end },
  }
  -- batch with that record's extra argument
  local function on(rec, ns, m, extra, opts, env)
    local a = {}
    for _, v in ipairs(extra or {}) do a[#a + 1] = v end
    for _, v in ipairs(rec.extra) do a[#a + 1] = v end
    return batch(ns, m, a, opts, env)
  end

  -- The ledger's own (a create whose row cannot be written) is in cli_batch_ledger_spec.
  it("a journal that cannot record a create stops the run before it is sent (exit 9, --no-ledger)", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" })
    local code, out, err = batch(ns, m, { "--concurrency", "1", "--no-ledger" }, nil,
                                 { OMNIHUMAN_SIM_JOURNAL = "fail=1" })
    assert.equals(9, code, err)
    assert.matches("cannot write to journal", err)
    assert.matches("not sent: the journal could not record it", out)
    assert.equals(0, srv:count(ns, "create"))
    code = batch(ns, m, { "--no-ledger" })
    assert.equals(0, code, cli.explain())
    assert_one_job_each(ns, 3)
  end)

  for _, rec in ipairs(RECORDS) do
    it("a job id " .. rec.name .. " cannot record stops the run at once (exit 10) and is printed to adopt it", function()
      local ns, d = fixtures.ns("safe"), newdir()
      local m = d .. "/jobs.csv"
      fixtures.write(m, "image,audio,output,sandbox_polls,sandbox_tag\n"
        .. IMG .. "," .. AUD .. ",slow.mp4,400,r0\n")
      -- a job that takes 20 s is waited on when the record fails: the wait is cancelled
      assert.equals(137, (on(rec, ns, m, {}, nil, { [rec.var] = "crash_after=2" })), cli.explain())
      manifest(m, { "r1.mp4", "r2.mp4", "r3.mp4" }, 3)
      fixtures.write(m, fixtures.read(m) .. IMG .. "," .. AUD .. ",slow.mp4,400,r0\n")
      -- write 1 is row 1's create (the ledger's row, the journal's "creating"), write 2 its answer
      -- the slow job's first status comes late: the ledger's write 2 is row 1's answer, not that status
      srv:fault(ns, "poll", { { delay = 2 } })
      local t0 = fixtures.now()
      local code, out, err = on(rec, ns, m, { "--concurrency", "2" }, nil, { [rec.var] = "fail=2" })
      assert.is_true(fixtures.now() - t0 < 10, "the run did not stop at once")
      assert.equals(10, code, out .. err)
      assert.matches("\n5%s+pending%s+%x+%s+slow%.mp4  stopped: " .. rec.name .. " could not be written", out)
      local id = err:match("job (%S+) was created for [^\n]*jobs%.csv:2 %(r1%.mp4%) but its id could not be "
        .. rec.unrecorded)
      assert.is_string(id, err)
      local _, _, recs = cli.tags(srv, ns)
      assert.same({ id }, recs.tags.r1)
      assert.is_nil(recs.tags.r2) -- stopped at once
      assert.matches("%-%-adopt 'r1%.mp4=" .. id:gsub("%p", "%%%0") .. "'", err)
      assert.is_nil(rec.recorded(m, d)["r1.mp4"])
      manifest(m, { "r1.mp4", "r2.mp4", "r3.mp4" }, 3) -- without the slow row from here on
      -- row 1 is not sent again (its create may have been paid; it was)
      code, out = on(rec, ns, m, { "--dry-run" })
      assert.equals(7, code, cli.explain())
      assert.matches("uncertain%s+jobs%.csv:2", out)
      code, out = on(rec, ns, m, { "--max-creates", "2" })
      assert.equals(7, code, cli.explain())
      assert.matches("\n2%s+uncertain", out)
      assert.same({ r0 = 1, r1 = 1, r2 = 1, r3 = 1 }, jobs_per_tag(ns))
      code, _, err = on(rec, ns, m, { "--adopt", "./r2.mp4=" .. id })
      assert.equals(2, code, cli.explain())
      assert.matches("%-%-adopt: %./r2%.mp4 already has job", err)
      code, _, err = on(rec, ns, m, { "--adopt", "nope.mp4=" .. id })
      assert.equals(2, code, cli.explain())
      assert.matches("no row of the manifest writes nope%.mp4", err)
      code, out, err = on(rec, ns, m, { "--adopt", d .. "/r1.mp4=" .. id })
      assert.equals(0, code, out .. err)
      assert_one_job_each(ns, 3)
      assert.equals(FIXTURE, fixtures.read(d .. "/r1.mp4"))
      assert.equals(id, rec.recorded(m, d)["r1.mp4"])
    end)
  end

  for _, rec in ipairs(RECORDS) do
    it("Ctrl-C while a create is out: the job it made is in " .. rec.name .. ", not lost", function()
      if os.getenv("SANLUA") then
        pending("the sanitizer interpreter (tools/sanlua.c) has no SIGINT handler: Ctrl-C just kills it")
        return
      end
      local function spawn(ns, m, d, extra)
        for _, v in ipairs(rec.extra) do extra[#extra + 1] = v end
        return cli.spawn(args(m, extra), cli.env(srv, ns), d)
      end
      for trial = 1, 3 do
        local ns, d = fixtures.ns("int"), newdir()
        local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
        srv:fault(ns, "create", { { delay = 1.0 } }) -- row 1's create answers late
        local h = spawn(ns, m, d, { "--concurrency", "1" })
        assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 1 end, 10))
        sh.exec("sleep 0." .. trial)
        sh.exec("kill -INT " .. h.pid)
        assert.is_true(cli.until_true(function() return not sh.alive(h.pid) end, 10))
        local err = fixtures.read(h.err)
        local why = ("trial %d:\n%s"):format(trial, err)
        assert.matches("omnihuman: interrupted", err, why)
        local _, _, recs = cli.tags(srv, ns)
        local made = recs.tags.r1
        assert.equals(1, #made, why)
        assert.equals(made[1], rec.recorded(m, d)["r1.mp4"], why)
        local said = err:match("job (%S+) %(%S+:2, r1%.mp4%) answered as the run stopped; it is in " .. rec.name)
        if said then assert.equals(made[1], said, why) end
        assert.equals(0, (on(rec, ns, m)), cli.explain())
        assert_one_job_each(ns, 2, why)
      end
      -- two creates out: each job is recorded or printed with its candidate rows, never lost
      local ns, d = fixtures.ns("int"), newdir()
      local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
      srv:fault(ns, "create", { { delay = 1.0 }, { delay = 1.0 } })
      local h = spawn(ns, m, d, { "--concurrency", "2" })
      assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 2 end, 10))
      sh.exec("kill -INT " .. h.pid)
      assert.is_true(cli.until_true(function() return not sh.alive(h.pid) end, 10))
      local err = fixtures.read(h.err)
      local kept = {}
      for key, id in pairs(rec.recorded(m, d)) do kept[id] = key end
      for id, rows in err:gmatch("job (%S+) was created as the run stopped, for one of: ([^(]-) %(uncertain") do
        assert.equals("r1.mp4, r2.mp4", rows)
        kept[id] = "printed"
      end
      local _, _, recs = cli.tags(srv, ns)
      local adopt = {}
      for tag, ids in pairs(recs.tags) do
        assert.is_not_nil(kept[ids[1]], "job of " .. tag .. " lost:\n" .. err)
        if kept[ids[1]] == "printed" then
          adopt[#adopt + 1] = "--adopt"
          adopt[#adopt + 1] = tag .. ".mp4=" .. ids[1]
        end
      end
      assert.equals(0, (on(rec, ns, m, adopt)), cli.explain())
      assert_one_job_each(ns, 2)
    end)
  end

  -- A full-disk trial's namespace, folder, manifest (2-6 rows under out/) and rows.
  local function full_disk_trial(prefix)
    local ns, d = fixtures.ns(prefix), newdir()
    local rows = math.random(2, 6)
    local outs = {}
    for i = 1, rows do outs[i] = ("out/r%d.mp4"):format(i) end
    return ns, d, manifest(d .. "/jobs.csv", outs, math.random(0, 2)), rows
  end

  -- A real full disk: the journal may not grow past the process's file size
  -- limit (ulimit -f; SIGXFSZ ignored, so writes fail with EFBIG after a
  -- short write). The journal starts with other rows' records, leaving a
  -- random room, so the disk fills at a different write each trial.
  it("a journal on a full disk: never exits 0, never loses or repeats a paid job (--no-ledger)", function()
    for trial = 1, 6 do
      local ns, d, m, rows = full_disk_trial("full")
      local limit = 64 * 512                     -- 32 KiB: outputs (15 KB) fit
      local room = math.random(60, 300 * rows) -- less than the rows' records need
      local filler = {}
      local size = 0
      while size < limit - room - 120 do
        local line = cjson.encode({ v = 2, key = "elsewhere/" .. #filler .. ".mp4", ev = "downloaded" })
        filler[#filler + 1] = line
        size = size + #line + 1
      end
      fixtures.write(m .. ".journal.jsonl", table.concat(filler, "\n") .. "\n")
      local why = ("trial %d: %d rows, %d bytes of room (seed %d)"):format(trial, rows, limit - size, SEED)
      local code, out, err = batch(ns, m, { "--concurrency", tostring(math.random(1, 3)), "--no-ledger" },
        { pre = ("ulimit -f %d; trap '' XFSZ;"):format(math.floor(limit / 512)) })
      journal_lines_ok(m .. ".journal.jsonl")
      if code == 0 then
        -- The rows' records fitted in the room (rows done earlier write
        -- less): a clean run, its journal short of the limit, every job once.
        local f = assert(io.open(m .. ".journal.jsonl", "rb"))
        local n = f:seek("end")
        f:close()
        assert.is_true(n < limit, why .. ": exit 0 with the journal at its size limit")
      else
        assert.is_true(code == 9 or code == 10, why .. ": exit " .. tostring(code) .. "\n" .. out .. err)
      end
      local ids = {}
      for id, key in err:gmatch("job (%S+) was created for %S+ %(([^)]+)%)") do ids[key] = id end
      if code == 10 then assert.is_not_nil(next(ids), why) end
      local jobs = jobs_per_tag(ns)
      for t, k in pairs(jobs) do assert.equals(1, k, why .. ": " .. t) end
      -- space again: adopt what was printed, rerun until done
      local adopt = {}
      for key, id in pairs(ids) do adopt[#adopt + 1] = "--adopt"; adopt[#adopt + 1] = key .. "=" .. id end
      adopt[#adopt + 1] = "--no-ledger"
      code, out, err = batch(ns, m, adopt)
      assert.equals(0, code, why .. "\n" .. out .. err)
      assert_one_job_each(ns, rows, why)
      for i = 1, rows do assert.equals(FIXTURE, fixtures.read(("%s/out/r%d.mp4"):format(d, i)), why) end
    end
  end)

  -- The same full disk under the ledger: its WAL may not grow past the
  -- limit, so a commit fails at a different write each trial.
  it("a ledger on a full disk: never exits 0 with a write lost, never loses or repeats a paid job", function()
    local filled = 0
    for trial = 1, 6 do
      local ns, d, m, rows = full_disk_trial("lfull")
      local own = d .. "/own.db"
      assert(require("omnihuman.ledger").open(own)):close()
      -- 32-60 KiB: outputs (15 KB) and SQLite's shared memory file (32 KiB) fit; the WAL fills after a few commits
      local blocks = math.random(64, 120)
      local why = ("trial %d: %d rows, ulimit -f %d (seed %d)"):format(trial, rows, blocks, SEED)
      local code, out, err = batch(ns, m, { "--concurrency", tostring(math.random(1, 3)), "--ledger", own },
        { pre = ("ulimit -f %d; trap '' XFSZ;"):format(blocks) })
      assert.is_false(fixtures.exists(m .. ".journal.jsonl"), why .. ": a ledger run wrote a journal")
      if code == 0 then
        for name, r in pairs(runs.ledger_rows(d, own, true)) do assert.equals("downloaded", r.state, why .. ": " .. name) end
      else
        assert.is_true(code == 9 or code == 10, why .. ": exit " .. tostring(code) .. "\n" .. out .. err)
        assert.matches("the ledger could not record", err, why)
        filled = filled + 1
      end
      local ids = {}
      for id, key in err:gmatch("job (%S+) was created for %S+ %(([^)]+)%)") do ids[key] = id end
      if code == 10 then assert.is_not_nil(next(ids), why) end
      for t, k in pairs(jobs_per_tag(ns)) do assert.equals(1, k, why .. ": " .. t) end
      -- space again: adopt what was printed, rerun until done
      local adopt = { "--ledger", own }
      for key, id in pairs(ids) do adopt[#adopt + 1] = "--adopt"; adopt[#adopt + 1] = key .. "=" .. id end
      code, out, err = batch(ns, m, adopt)
      assert.equals(0, code, why .. "\n" .. out .. err)
      assert_one_job_each(ns, rows, why)
      for i = 1, rows do assert.equals(FIXTURE, fixtures.read(("%s/out/r%d.mp4"):format(d, i)), why) end
    end
    assert.is_true(filled > 0, "the ledger never filled the disk: the test proves nothing")
  end)

  for _, rec in ipairs(RECORDS) do
    it("of two runs started at once, even after a killed one, exactly one proceeds (" .. rec.name .. ")", function()
      for trial = 1, 6 do
        local ns, d = fixtures.ns("two"), newdir()
        local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" }, 4)
        -- a run killed with SIGKILL mid-way (after row 1's create was recorded)
        assert.equals(137, (on(rec, ns, m, {}, nil, { [rec.var] = "crash_after=1" })), cli.explain())
        local journal = fixtures.exists(m .. ".journal.jsonl") and fixtures.read(m .. ".journal.jsonl")
        local env = cli.env(srv, ns)
        local both = { "--recreate-uncertain", rec.extra[1] }
        local a = cli.spawn(args(m, both), env, d, { code = true }, "a")
        local b = cli.spawn(args(d .. "/./jobs.csv", both), env, d, { code = true, cwd = "/" }, "b")
        local ca, oa, ea = cli.wait(a, 60)
        local cb, ob, eb = cli.wait(b, 60)
        local why = ("trial %d: exits %s and %s\n%s%s%s%s"):format(trial, tostring(ca), tostring(cb), oa, ea, ob, eb)
        local codes = { ca, cb }
        table.sort(codes)
        assert.same({ 0, 11 }, codes, why)
        local loser = ca == 11 and (oa .. ea) or (ob .. eb)
        assert.matches("another omnihuman batch is", loser, why)
        assert.is_nil(loser:find("rows:", 1, true), why)
        local jobs = jobs_per_tag(ns)
        for i = 1, 3 do assert.is_true((jobs["r" .. i] or 0) <= 1, why) end
        if journal then
          assert.equals(journal, fixtures.read(m .. ".journal.jsonl"):sub(1, #journal), why)
          assert.equals(3, cli.count(cli.journal(m .. ".journal.jsonl"), "downloaded"), why)
        else
          assert.is_false(fixtures.exists(m .. ".journal.jsonl"), why)
          local done = 0
          for _, r in pairs(runs.ledger_rows(d, nil, true)) do if r.state == "downloaded" then done = done + 1 end end
          assert.equals(3, done, why)
        end
      end
    end)
  end

  it("lowers its concurrency on 429 and raises it again: 50 rows, a service allowing 5 jobs", function()
    local ns, d = fixtures.ns("aimd"), newdir()
    srv:control("POST", "/_control/limit", cjson.encode({ ns = ns, max_active = 5 }))
    local outs = {}
    for i = 1, 50 do outs[i] = ("out/r%02d.mp4"):format(i) end
    local m = manifest(d .. "/jobs.csv", outs, 2)
    local code, out, err = cli.run(args(m, { "--concurrency", "10", "--json", "--no-fsync" }),
                                   cli.env(srv, ns), 120)
    assert.equals(0, code, err)
    local r = cjson.decode(out)
    assert.equals(50, r.counts.done)
    assert_one_job_each(ns, 50)
    local _, creates, recs = cli.tags(srv, ns)
    assert.is_true(recs.limit.refused > 0, "the service never refused: the test proves nothing")
    assert.is_true(recs.limit.peak <= 5)
    -- each refused create is retried by the client (3 times) and requeued by the batch (8 times at most)
    for i = 1, 50 do assert.is_true(creates["r" .. i] <= 4 * 9, "row " .. i .. ": " .. creates["r" .. i]) end
    local down = false
    for _, ch in ipairs(r.concurrency.changes) do if ch.to < ch.from then down = true end end
    assert.is_true(down, "the limit never went down")
    assert.matches("concurrency limit 10 %-> 5 %(the service refused a create with 429%)", err)
    for _, row in ipairs(r.rows) do assert.equals("done", row.result) end
  end)
end)
