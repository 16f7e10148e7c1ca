-- omnihuman batch never pays twice and never loses a job: black-box runs of
-- the CLI that count the jobs the test server made for each row (each row
-- tags its create with sandbox_tag) and compare every output byte for byte.
-- Reruns from other folders with the manifest named by other paths, one
-- file spelled several ways, missing and unusable output folders, a journal
-- on a full disk, two runs at once, --dry-run, --max-creates, credits and
-- a service that answers 429 beyond 5 unfinished jobs.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local media_bytes = require("spec.support.media_bytes")
local cjson = require("cjson")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")
local IMG, AUD = "https://x/a.png", "https://x/a.mp3"
local SEED = tonumber(os.getenv("SPEC_SEED") or "") or os.time()

describe("omnihuman batch safety", function()
  local srv, root
  setup(function()
    srv = fixtures.start()
    root = fixtures.tmpdir()
    math.randomseed(SEED)
    print("cli_batch_safety_spec seed " .. SEED .. " (SPEC_SEED=" .. SEED .. " replays it)")
  end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. root .. '"') end)

  local newdir = cli.dirs(function() return root end, "s")

  local function args(manifest, extra)
    local a = { "batch", manifest, "--ca-file", srv.ca_file, "--interval", "0.05", "--progress", "plain" }
    for _, v in ipairs(extra or {}) do a[#a + 1] = v end
    return a
  end
  local function batch(ns, manifest, extra, opts, env)
    return cli.run(args(manifest, extra), cli.env(srv, ns, env), 60, opts)
  end

  -- A CSV manifest: rows = list of outputs as spelled (or tables with more columns).
  local function manifest(path, outputs, polls)
    local lines = { "image,audio,output,sandbox_polls,sandbox_tag" }
    for i, out in ipairs(outputs) do
      lines[#lines + 1] = ("%s,%s,%s,%d,r%d"):format(IMG, AUD, out, polls or 1, i)
    end
    fixtures.write(path, table.concat(lines, "\n") .. "\n")
    return path
  end

  local function jobs_per_tag(ns) return (cli.tags(srv, ns)) end

  local function assert_one_job_each(ns, rows, why)
    local jobs = jobs_per_tag(ns)
    for i = 1, rows do
      assert.equals(1, jobs["r" .. i] or 0, (why or "") .. ": jobs made for row r" .. i)
    end
  end

  local function journal_lines_ok(path)
    local text = fixtures.read(path)
    for line in text:gmatch("[^\n]+") do
      local ok, v = pcall(cjson.decode, line)
      assert.is_true(ok and type(v) == "table" and type(v.ev) == "string", "torn journal line: " .. line)
    end
  end

  it("finds the same rows from any folder, the manifest named by any path, outputs spelled any way", function()
    local ns, d = fixtures.ns("safe"), newdir()
    sh.exec("ln -s " .. sh.q(d) .. " " .. sh.q(d .. "-link"))
    local m = manifest(d .. "/jobs.csv", { "out/r1.mp4", "./out/r2.mp4", "sub/../out/r3.mp4", d .. "/out/r4.mp4" })
    -- first run in the manifest's folder, killed right after row 1's job id was journaled
    local code = batch(ns, "jobs.csv", { "--concurrency", "1" }, { cwd = d },
                       { OMNIHUMAN_SIM_JOURNAL = "crash_after=2" })
    assert.equals(137, code)
    assert.same({ r1 = 1 }, jobs_per_tag(ns))
    -- from / by an absolute path through a symlinked folder: row 1 resumes, 2 and 3 are created
    local out, err
    code, out, err = batch(ns, d .. "-link/jobs.csv", { "--max-creates", "2" }, { cwd = "/" })
    assert.equals(7, code, err)
    assert.matches("this run: 2 creates sent", out)
    assert.same({ r1 = 1, r2 = 1, r3 = 1 }, jobs_per_tag(ns))
    -- the manifest rewritten with other spellings, rows shuffled, from another folder by a relative path
    local other = newdir()
    local rel = "../" .. d:match("[^/]+$") .. "/jobs.csv"
    fixtures.write(m, table.concat({
      "image,audio,output,sandbox_polls,sandbox_tag",
      IMG .. "," .. AUD .. "," .. d .. "-link/out/r4.mp4,1,r4",
      IMG .. "," .. AUD .. ",out//r2.mp4,1,r2",
      IMG .. "," .. AUD .. ",./sub/./../out/r1.mp4,1,r1",
      IMG .. "," .. AUD .. "," .. d .. "/out/../out/r3.mp4,1,r3",
    }, "\n") .. "\n")
    code, out, err = batch(ns, rel, {}, { cwd = other })
    assert.equals(0, code, out .. err)
    assert.matches("4 rows: 4 done", out)
    assert_one_job_each(ns, 4, "after three runs")
    for i = 1, 4 do assert.equals(FIXTURE, fixtures.read(("%s/out/r%d.mp4"):format(d, i))) end
    -- and once more from yet another folder: nothing is sent at all
    local before = srv:records(ns).counts
    code, out = batch(ns, m, {}, { cwd = root })
    assert.equals(0, code)
    assert.same(before, srv:records(ns).counts)
    assert.matches("already done", out)
    journal_lines_ok(m .. ".journal.jsonl")
    local keys = {}
    for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do keys[r.key] = true end
    assert.same({ ["out/r1.mp4"] = true, ["out/r2.mp4"] = true, ["out/r3.mp4"] = true, ["out/r4.mp4"] = true }, keys)
  end)

  it("resumes a folder moved whole with its journal", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = manifest(d .. "/jobs.csv", { "out/r1.mp4", "out/r2.mp4", "out/r3.mp4" })
    assert.equals(137, (batch(ns, m, { "--concurrency", "1" }, nil, { OMNIHUMAN_SIM_JOURNAL = "crash_after=6" })))
    assert.same({ r1 = 1, r2 = 1 }, jobs_per_tag(ns)) -- row 1 done, row 2 created
    assert.is_true(sh.exec("mv " .. sh.q(d) .. " " .. sh.q(d .. "-moved")))
    local code, out, err = batch(ns, "jobs.csv", {}, { cwd = d .. "-moved" })
    assert.equals(0, code, out .. err)
    assert_one_job_each(ns, 3)
    assert.matches("\n2%s+done%s+%x+%s+out/r1%.mp4  already done", out)
    for i = 1, 3 do assert.equals(FIXTURE, fixtures.read(("%s-moved/out/r%d.mp4"):format(d, i))) end
  end)

  it("reads a journal written with the older row names (the output as spelled) and resumes it", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4", "r4.mp4" })
    local c = fixtures.client(srv, ns)
    local j = {}
    for i = 1, 3 do
      j[i] = assert(c:create{ image_url = IMG, audio_url = AUD, sandbox_polls = 1, sandbox_tag = "r" .. i })
    end
    -- r1 keyed as a run in the manifest's folder wrote it, r2 by the absolute
    -- path, r3 as a run from the folder above wrote it
    local name = d:match("[^/]+$")
    fixtures.write(m .. ".journal.jsonl", table.concat({
      cjson.encode({ key = "r1.mp4", ev = "creating" }),
      cjson.encode({ key = "r1.mp4", ev = "created", id = j[1].id }),
      cjson.encode({ key = d .. "/r2.mp4", ev = "creating" }),
      cjson.encode({ key = d .. "/r2.mp4", ev = "created", id = j[2].id }),
      cjson.encode({ key = name .. "/r3.mp4", ev = "creating" }),
      cjson.encode({ key = name .. "/r3.mp4", ev = "created", id = j[3].id }),
    }, "\n") .. "\n")
    local code, out, err = batch(ns, name .. "/jobs.csv", {}, { cwd = root })
    assert.equals(0, code, out .. err)
    assert_one_job_each(ns, 4)
    for i = 1, 3 do assert.matches("\n" .. (i + 1) .. "%s+done%s+" .. j[i].id:sub(1, 8), out) end
  end)

  it("reports one file named twice (any spelling) as bad rows before anything is sent", function()
    local ns, d = fixtures.ns("safe"), newdir()
    sh.exec("mkdir " .. sh.q(d .. "/real") .. " && ln -s real " .. sh.q(d .. "/alias"))
    local m = manifest(d .. "/jobs.csv",
      { "real/a.mp4", "./real/a.mp4", d .. "/real/a.mp4", "alias/a.mp4", "real/x/../a.mp4", "real/b.mp4" })
    local code, out, err = batch(ns, m, { "--dry-run" })
    assert.equals(7, code)
    for line = 3, 6 do
      assert.matches("jobs%.csv:" .. line .. ": bad row: output .* is already the target of line 2", err)
    end
    assert.matches("plan: 2 to create, 0 to resume, 0 to download, 0 to skip, 0 uncertain, 0 failed, 4 bad", out)
    assert.equals(0, srv:count(ns, "create"))
    code = batch(ns, m)
    assert.equals(7, code)
    assert.same({ r1 = 1, r6 = 1 }, jobs_per_tag(ns))
    assert.equals(FIXTURE, fixtures.read(d .. "/real/a.mp4"))
  end)

  it("creates missing output folders, and sends nothing for rows it cannot finish", function()
    local ns, d = fixtures.ns("safe"), newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/taken.mp4") .. " " .. sh.q(d .. "/media/dir.png"))
    fixtures.write(d .. "/blocker", "a file where a folder should be")
    fixtures.write(d .. "/media/face.png", fixtures.read(fixtures.PNG))
    fixtures.write(d .. "/media/voice.wav", fixtures.read(fixtures.WAV))
    fixtures.write(d .. "/media/notes.txt", "not an image")
    fixtures.write(d .. "/media/long.wav", media_bytes.wav(8000, 1, 8, 31))
    local rows = {
      { "media/face.png", "media/voice.wav", "deep/new/folder/r1.mp4" },  -- 2: fine, folder made
      { IMG, AUD, "taken.mp4" },                                          -- 3: a folder
      { IMG, AUD, "blocker/r3.mp4" },                                     -- 4: under a file
      { IMG, AUD, "deep/" },                                              -- 5: no file name
      { "media/notes.txt", AUD, "r5.mp4" },                               -- 6: not an image
      { IMG, "media/long.wav", "r6.mp4" },                                -- 7: 31 s of audio
      { "media/dir.png", AUD, "r7.mp4" },                                 -- 8: not a regular file
      { "media/missing.png", AUD, "r8.mp4" },                             -- 9: no such file
      { IMG, AUD, "./jobs.csv" },                                         -- 10: the manifest
      { IMG, AUD, "jobs.csv.journal.jsonl" },                             -- 11: the journal
    }
    local lines = { "image,audio,output,sandbox_polls,sandbox_tag" }
    for i, r in ipairs(rows) do lines[#lines + 1] = ("%s,%s,%s,1,r%d"):format(r[1], r[2], r[3], i) end
    local m = d .. "/jobs.csv"
    fixtures.write(m, table.concat(lines, "\n") .. "\n")
    local expect = {
      [3] = "output .*taken%.mp4 is a folder", [4] = "blocker/r3%.mp4: .*Not a directory",
      [5] = "output deep/ names a folder", [6] = "not a recognised image", [7] = "audio is 31%.0 s long",
      [8] = "not a regular file", [9] = "image file not found", [10] = "output %./jobs%.csv is the manifest",
      [11] = "output jobs%.csv%.journal%.jsonl is the journal",
    }
    local code, out, err = batch(ns, m, { "--dry-run" })
    assert.equals(7, code, err)
    for line, pat in pairs(expect) do assert.matches("jobs%.csv:" .. line .. ": bad row: [^\n]*" .. pat, err) end
    assert.matches("create%s+jobs%.csv:2%s+%-%s+deep/new/folder/r1%.mp4  folder .*deep/new/folder will be created", out)
    assert.is_false(fixtures.exists(d .. "/deep"))    -- a dry run makes nothing
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"))
    assert.equals(0, srv:count(ns, "create"))
    code, out, err = batch(ns, m)
    assert.equals(7, code, err)
    assert.matches("10 rows: 1 done, 0 failed, 0 uncertain, 0 pending, 0 errors, 9 bad", out)
    assert.same({ r1 = 1 }, jobs_per_tag(ns))
    assert.equals(FIXTURE, fixtures.read(d .. "/deep/new/folder/r1.mp4"))
  end)

  it("checks masks too, and the audio limit that --max-audio-seconds sets, before anything is sent", function()
    local ns, d = fixtures.ns("safe"), newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/media"))
    fixtures.write(d .. "/media/mask.png", fixtures.read(fixtures.PNG))
    fixtures.write(d .. "/media/notes.txt", "not an image")
    fixtures.write(d .. "/media/voice.wav", fixtures.read(fixtures.WAV)) -- 3.8 s
    assert.is_true(sh.exec("truncate -s 257M " .. sh.q(d .. "/media/huge.png"))) -- sparse: no disk used
    local m = d .. "/jobs.csv"
    fixtures.write(m, table.concat({
      "image,audio,mask,output,sandbox_polls,sandbox_tag",
      IMG .. "," .. AUD .. ",media/mask.png,r1.mp4,0,r1",      -- 2: a mask beside the manifest
      IMG .. "," .. AUD .. ",media/notes.txt,r2.mp4,0,r2",     -- 3: not an image
      IMG .. ",media/voice.wav,,r3.mp4,0,r3",                  -- 4: 3.8 s of audio, limit 2 s
      IMG .. "," .. AUD .. ",https://x/m.png,r4.mp4,0,r4",     -- 5: a mask URL
      "media/huge.png," .. AUD .. ",,r5.mp4,0,r5",             -- 6: over 256 MiB
    }, "\n") .. "\n")
    local code, out, err = batch(ns, "jobs.csv", { "--max-audio-seconds", "2" }, { cwd = d })
    assert.equals(7, code, err)
    assert.matches("jobs%.csv:3: bad row: mask file [^\n]*notes%.txt: not a recognised image", err)
    assert.matches("jobs%.csv:4: bad row: audio file [^\n]*voice%.wav: audio is 3%.8 s long", err)
    assert.matches("jobs%.csv:6: bad row: image file [^\n]*huge%.png: 269484032 bytes %(257%.0 MiB%), more than", err)
    assert.matches("5 rows: 2 done, 0 failed, 0 uncertain, 0 pending, 0 errors, 3 bad", out)
    assert.same({ r1 = 1, r4 = 1 }, jobs_per_tag(ns))
    local inline, url = 0, 0 -- the local mask went inline (a body bigger than the file), the other as a URL
    for _, r in ipairs(srv:records(ns).requests) do
      if r.route == "create" and r.body_len > #fixtures.read(fixtures.PNG) then inline = inline + 1 end
      local ok, body = pcall(cjson.decode, r.body)
      if r.route == "create" and ok and body.mask_url == "https://x/m.png" then url = url + 1 end
    end
    assert.same({ 1, 1 }, { inline, url })
  end)

  it("reports an output folder it cannot write to as a bad row", function()
    local d = newdir()
    sh.exec("chmod 755 " .. sh.q(root) .. " && chmod 777 " .. sh.q(d))
    sh.exec("mkdir " .. sh.q(d .. "/ro") .. " && chmod 555 " .. sh.q(d .. "/ro"))
    local m = manifest(d .. "/jobs.csv", { "ro/r1.mp4", "ro/sub/r2.mp4", "new/r3.mp4" })
    -- root may write anywhere: run as nobody then (a dry run needs no server)
    local root_user = io.popen("id -u"):read("*l") == "0"
    local code, out, err = batch("x", m, { "--dry-run" },
      { cwd = d, wrap = root_user and "setpriv --reuid=65534 --regid=65534 --clear-groups" or nil })
    assert.equals(7, code, out .. err)
    assert.matches("jobs%.csv:2: bad row: output folder is not writable: [^\n]*/ro: Permission denied", err)
    assert.matches("jobs%.csv:3: bad row: output folder is not writable: [^\n]*/ro: Permission denied", err)
    assert.matches("create%s+jobs%.csv:4%s+%-%s+new/r3%.mp4  folder [^\n]*/new will be created", out)
  end)

  it("--dry-run prints every row's plan with manifest:line, sends and writes nothing", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = d .. "/jobs.csv"
    fixtures.write(m, table.concat({
      "image,audio,output,sandbox_polls,sandbox_tag,sandbox_fail",
      IMG .. "," .. AUD .. ",done.mp4,0,r1,",     -- 2
      IMG .. "," .. AUD .. ",pending.mp4,0,r2,",  -- 3: killed after its id was journaled
      IMG .. "," .. AUD .. ",failed.mp4,0,r3,boom", -- 4
      IMG .. "," .. AUD .. ",deleted.mp4,0,r4,",  -- 5: done, then its output deleted
    }, "\n") .. "\n")
    assert.equals(7, (batch(ns, m, { "--concurrency", "1" })))
    fixtures.write(m, fixtures.read(m) .. IMG .. "," .. AUD .. ",pending.mp4,0,r2,\n" -- 6: pending's output again: bad
      .. IMG .. "," .. AUD .. ",new.mp4,0,r5,\n")                     -- 7
    os.remove(d .. "/deleted.mp4")
    -- pending.mp4: a journal record says its job exists but has not finished
    local c = fixtures.client(srv, ns)
    local job = assert(c:create{ image_url = IMG, audio_url = AUD, sandbox_polls = 0, sandbox_tag = "r2" })
    local jtext = fixtures.read(m .. ".journal.jsonl")
    local kept = {}
    for line in jtext:gmatch("[^\n]+") do
      if not line:find('"pending.mp4"', 1, true) then kept[#kept + 1] = line end
    end
    kept[#kept + 1] = cjson.encode({ v = 2, key = "pending.mp4", ev = "creating" })
    kept[#kept + 1] = cjson.encode({ v = 2, key = "pending.mp4", ev = "created", id = job.id })
    fixtures.write(m .. ".journal.jsonl", table.concat(kept, "\n") .. "\n")
    local journal_before, counts_before = fixtures.read(m .. ".journal.jsonl"), srv:records(ns).counts
    local code, out, err = batch(ns, m, { "--dry-run" })
    assert.equals(7, code, err)
    assert.matches("skip%s+jobs%.csv:2%s+%x+%s+done%.mp4", out)
    assert.matches("resume%s+jobs%.csv:3%s+" .. job.id:sub(1, 8) .. "%s+pending%.mp4", out)
    assert.matches("failed%s+jobs%.csv:4%s+%x+%s+failed%.mp4  .*boom", out)
    assert.matches("download%s+jobs%.csv:5%s+%x+%s+deleted%.mp4", out)
    assert.matches("bad%s+jobs%.csv:6%s+", out)
    assert.matches("create%s+jobs%.csv:7%s+%-%s+new%.mp4", out)
    assert.matches("plan: 1 to create, 1 to resume, 1 to download, 1 to skip, 0 uncertain, 1 failed, 1 bad", out)
    assert.equals(journal_before, fixtures.read(m .. ".journal.jsonl"))
    assert.same(counts_before, srv:records(ns).counts)
    -- --json, and exit 0 once no row is bad, failed or uncertain
    fixtures.write(m, table.concat({
      "image,audio,output,sandbox_polls,sandbox_tag",
      IMG .. "," .. AUD .. ",new.mp4,0,r5",
      IMG .. "," .. AUD .. ",deleted.mp4,0,r4",
      IMG .. "," .. AUD .. ",pending.mp4,0,r2",
      IMG .. "," .. AUD .. ",done.mp4,0,r1",
    }, "\n") .. "\n")
    code, out = batch(ns, m, { "--dry-run", "--json" })
    local plan = cjson.decode(out)
    assert.equals(0, code, out)
    assert.is_true(plan.ok)
    assert.same({ create = 1, resume = 1, download = 1, skip = 1, uncertain = 0, failed = 0, bad = 0 }, plan.plan)
    assert.equals("download", plan.rows[2].plan)
    assert.equals(m .. ":3", plan.rows[2].where)
    assert.same(counts_before, srv:records(ns).counts)
    assert.equals(journal_before, fixtures.read(m .. ".journal.jsonl"))
  end)

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
    assert.equals(7, code)
    local r = cjson.decode(out)
    assert.equals(0, r.creates)
    assert.equals(3, r.held)
    assert.equals(2, srv:count(ns, "create"))
    code, out = batch(ns, m, { "--json" })
    assert.equals(0, code)
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
    assert.equals(7, code)
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

  it("a journal that cannot record a create stops the run before it is sent (exit 9)", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" })
    local code, out, err = batch(ns, m, { "--concurrency", "1" }, nil, { OMNIHUMAN_SIM_JOURNAL = "fail=1" })
    assert.equals(9, code, err)
    assert.matches("cannot write to journal", err)
    assert.matches("not sent: the journal could not record it", out)
    assert.equals(0, srv:count(ns, "create"))
    code = batch(ns, m)
    assert.equals(0, code)
    assert_one_job_each(ns, 3)
  end)

  it("a job id the journal cannot record stops the run at once (exit 10) and is printed to adopt it", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = d .. "/jobs.csv"
    fixtures.write(m, "image,audio,output,sandbox_polls,sandbox_tag\n"
      .. IMG .. "," .. AUD .. ",slow.mp4,400,r0\n")
    -- a job that takes 20 s is waited on when the journal fails: the wait is cancelled
    assert.equals(137, (batch(ns, m, {}, nil, { OMNIHUMAN_SIM_JOURNAL = "crash_after=2" })))
    manifest(m, { "r1.mp4", "r2.mp4", "r3.mp4" }, 3)
    fixtures.write(m, fixtures.read(m) .. IMG .. "," .. AUD .. ",slow.mp4,400,r0\n")
    -- write 1 is row 1's "creating", write 2 its "created"
    local t0 = fixtures.now()
    local code, out, err = batch(ns, m, { "--concurrency", "2" }, nil, { OMNIHUMAN_SIM_JOURNAL = "fail=2" })
    assert.is_true(fixtures.now() - t0 < 10, "the run did not stop at once")
    assert.equals(10, code, out .. err)
    assert.matches("\n5%s+pending%s+%x+%s+slow%.mp4  stopped: the journal could not be written", out)
    local id = err:match("job (%S+) was created for [^\n]*jobs%.csv:2 %(r1%.mp4%) but its id could not be journaled")
    assert.is_string(id, err)
    local _, _, recs = cli.tags(srv, ns)
    assert.same({ id }, recs.tags.r1)
    assert.is_nil(recs.tags.r2) -- stopped at once
    assert.matches("%-%-adopt 'r1%.mp4=" .. id:gsub("%p", "%%%0") .. "'", err)
    manifest(m, { "r1.mp4", "r2.mp4", "r3.mp4" }, 3) -- without the slow row from here on
    -- a rerun does not send row 1 again: its create may have been paid (it was)
    code, out = batch(ns, m, { "--dry-run" })
    assert.equals(7, code)
    assert.matches("uncertain%s+jobs%.csv:2", out)
    code, out = batch(ns, m, { "--max-creates", "2" })
    assert.equals(7, code)
    assert.matches("\n2%s+uncertain", out)
    assert.same({ r0 = 1, r1 = 1, r2 = 1, r3 = 1 }, jobs_per_tag(ns))
    code, _, err = batch(ns, m, { "--adopt", "./r2.mp4=" .. id })
    assert.equals(2, code)
    assert.matches("%-%-adopt: %./r2%.mp4 already has job", err)
    code, _, err = batch(ns, m, { "--adopt", "nope.mp4=" .. id })
    assert.equals(2, code)
    assert.matches("no row of the manifest writes nope%.mp4", err)
    code, out, err = batch(ns, m, { "--adopt", d .. "/r1.mp4=" .. id })
    assert.equals(0, code, out .. err)
    assert_one_job_each(ns, 3)
    assert.equals(FIXTURE, fixtures.read(d .. "/r1.mp4"))
  end)

  it("Ctrl-C while a create is out: the job it made is journaled, not lost", function()
    if os.getenv("SANLUA") then
      pending("the sanitizer interpreter (tools/sanlua.c) has no SIGINT handler: Ctrl-C just kills it")
      return
    end
    for trial = 1, 3 do
      local ns, d = fixtures.ns("int"), newdir()
      local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
      srv:fault(ns, "create", { { delay = 1.0 } }) -- row 1's create answers late
      local h = cli.spawn(args(m, { "--concurrency", "1" }), cli.env(srv, ns), d)
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
      local journaled
      for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do
        if r.ev == "created" and r.key == "r1.mp4" then journaled = r.id end
      end
      assert.equals(made[1], journaled, why)
      local said = err:match("job (%S+) %(%S+:2, r1%.mp4%) answered as the run stopped; it is in the journal")
      if said then assert.equals(made[1], said, why) end
      assert.equals(0, (batch(ns, m)))
      assert_one_job_each(ns, 2, why)
    end
    -- two creates out: each job is journaled or printed with its candidate rows, never lost
    local ns, d = fixtures.ns("int"), newdir()
    local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4" })
    srv:fault(ns, "create", { { delay = 1.0 }, { delay = 1.0 } })
    local h = cli.spawn(args(m, { "--concurrency", "2" }), cli.env(srv, ns), d)
    assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 2 end, 10))
    sh.exec("kill -INT " .. h.pid)
    assert.is_true(cli.until_true(function() return not sh.alive(h.pid) end, 10))
    local err = fixtures.read(h.err)
    local kept = {}
    for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do if r.ev == "created" then kept[r.id] = r.key end end
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
    assert.equals(0, (batch(ns, m, adopt)))
    assert_one_job_each(ns, 2)
  end)

  -- A real full disk: the journal may not grow past the process's file size
  -- limit (ulimit -f; SIGXFSZ ignored, so writes fail with EFBIG after a
  -- short write). The journal starts with other rows' records, leaving a
  -- random room, so the disk fills at a different write each trial.
  it("a journal on a full disk: never exits 0, never loses or repeats a paid job", function()
    for trial = 1, 6 do
      local ns, d = fixtures.ns("full"), newdir()
      local rows = math.random(2, 6)
      local outs = {}
      for i = 1, rows do outs[i] = ("out/r%d.mp4"):format(i) end
      local m = manifest(d .. "/jobs.csv", outs, math.random(0, 2))
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
      local code, out, err = batch(ns, m, { "--concurrency", tostring(math.random(1, 3)) },
        { pre = ("ulimit -f %d; trap '' XFSZ;"):format(math.floor(limit / 512)) })
      assert.is_true(code == 9 or code == 10, why .. ": exit " .. tostring(code) .. "\n" .. out .. err)
      journal_lines_ok(m .. ".journal.jsonl")
      local ids = {}
      for id, key in err:gmatch("job (%S+) was created for %S+ %(([^)]+)%)") do ids[key] = id end
      if code == 10 then assert.is_not_nil(next(ids), why) end
      local jobs = jobs_per_tag(ns)
      for t, k in pairs(jobs) do assert.equals(1, k, why .. ": " .. t) end
      -- space again: adopt what was printed, rerun until done
      local adopt = {}
      for key, id in pairs(ids) do adopt[#adopt + 1] = "--adopt"; adopt[#adopt + 1] = key .. "=" .. id end
      code, out, err = batch(ns, m, adopt)
      assert.equals(0, code, why .. "\n" .. out .. err)
      assert_one_job_each(ns, rows, why)
      for i = 1, rows do assert.equals(FIXTURE, fixtures.read(("%s/out/r%d.mp4"):format(d, i)), why) end
    end
  end)

  it("of two runs started at once, even after a killed one, exactly one proceeds", function()
    for trial = 1, 6 do
      local ns, d = fixtures.ns("two"), newdir()
      local m = manifest(d .. "/jobs.csv", { "r1.mp4", "r2.mp4", "r3.mp4" }, 4)
      -- a run killed with SIGKILL mid-way (after row 1's creating record)
      assert.equals(137, (batch(ns, m, {}, nil, { OMNIHUMAN_SIM_JOURNAL = "crash_after=1" })))
      local journal = fixtures.read(m .. ".journal.jsonl")
      local env = cli.env(srv, ns)
      local a = cli.spawn(args(m, { "--recreate-uncertain" }), env, d, { code = true }, "a")
      local b = cli.spawn(args(d .. "/./jobs.csv", { "--recreate-uncertain" }), env, d, { code = true, cwd = "/" }, "b")
      local ca, oa, ea = cli.wait(a, 60)
      local cb, ob, eb = cli.wait(b, 60)
      local why = ("trial %d: exits %s and %s\n%s%s%s%s"):format(trial, tostring(ca), tostring(cb), oa, ea, ob, eb)
      local codes = { ca, cb }
      table.sort(codes)
      assert.same({ 0, 11 }, codes, why)
      local loser = ca == 11 and (oa .. ea) or (ob .. eb)
      assert.matches("another omnihuman batch is", loser, why)
      assert.is_nil(loser:find("rows:", 1, true), why)
      assert.equals(journal, fixtures.read(m .. ".journal.jsonl"):sub(1, #journal), why)
      local jobs = jobs_per_tag(ns)
      for i = 1, 3 do assert.is_true((jobs["r" .. i] or 0) <= 1, why) end
      assert.equals(3, cli.count(cli.journal(m .. ".journal.jsonl"), "downloaded"), why)
    end
  end)

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
