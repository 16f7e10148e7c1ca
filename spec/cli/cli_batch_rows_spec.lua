-- omnihuman batch finds its rows however they are named: black-box runs of
-- the CLI that count the jobs the test server made for each row (each row
-- tags its create with sandbox_tag) and compare every output byte for byte.
-- Reruns from other folders with the manifest named by other paths, a
-- folder moved whole, journals with older row names, one file spelled
-- several ways, missing and unusable output folders, inputs checked before
-- anything is sent, and --dry-run.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local media_bytes = require("spec.support.media_bytes")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

local FIXTURE, IMG, AUD = batch_runs.FIXTURE, batch_runs.IMG, batch_runs.AUD

describe("omnihuman batch rows #slow", function()
  local runs = batch_runs.new()
  local srv, root
  setup(function()
    runs.start()
    srv, root = runs.srv, runs.root
  end)
  teardown(function() runs.stop() end)

  local newdir, batch, manifest = runs.newdir, runs.batch, runs.manifest
  local jobs_per_tag, assert_one_job_each = runs.jobs_per_tag, runs.assert_one_job_each

  it("finds the same rows from any folder, the manifest named by any path, outputs spelled any way", function()
    local ns, d = fixtures.ns("safe"), newdir()
    sh.exec("ln -s " .. sh.q(d) .. " " .. sh.q(d .. "-link"))
    local m = manifest(d .. "/jobs.csv", { "out/r1.mp4", "./out/r2.mp4", "sub/../out/r3.mp4", d .. "/out/r4.mp4" })
    -- first run in the manifest's folder, killed right after row 1's job id was recorded (ledger commit 2)
    local code = batch(ns, "jobs.csv", { "--concurrency", "1" }, { cwd = d },
                       { OMNIHUMAN_SIM_LEDGER = "crash_after=2" })
    assert.equals(137, code, cli.explain())
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
    assert.equals(0, code, cli.explain())
    assert.same(before, srv:records(ns).counts)
    assert.matches("already done", out)
    -- one ledger row per output, however spelled; no journal
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"))
    local keys = {}
    for name, r in pairs(runs.ledger_rows(d)) do keys[name] = r.state end
    assert.same({ ["out/r1.mp4"] = "downloaded", ["out/r2.mp4"] = "downloaded", ["out/r3.mp4"] = "downloaded",
                  ["out/r4.mp4"] = "downloaded" }, keys)
  end)

  it("resumes a folder moved whole (the ledger)", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = d .. "/jobs.csv"
    fixtures.write(m, "image,audio,output,sandbox_polls,sandbox_tag\n" .. IMG .. "," .. AUD .. ",out/r1.mp4,1,r1\n"
      .. IMG .. "," .. AUD .. ",out/r2.mp4,400,r2\n" .. IMG .. "," .. AUD .. ",out/r3.mp4,1,r3\n")
    -- killed once row 1 is done and row 2's job (20 s long) is in the ledger
    local h = cli.spawn(runs.args(m, { "--concurrency", "1" }), cli.env(srv, ns), d)
    assert.is_true(cli.until_true(function()
      local r = fixtures.exists(cli.STATE .. "/omnihuman/jobs.db") and runs.ledger_rows(d, nil, true)["out/r2.mp4"]
      return r and r.job_id ~= nil
    end, 30), cli.explain())
    cli.kill9(h)
    assert.same({ r1 = 1, r2 = 1 }, jobs_per_tag(ns)) -- row 1 done, row 2 created
    assert.is_true(sh.exec("mv " .. sh.q(d) .. " " .. sh.q(d .. "-moved")))
    -- the plan from the moved folder (row 2's job takes 20 s: not waited for here)
    local code, out, err = batch(ns, "jobs.csv", { "--dry-run" }, { cwd = d .. "-moved" })
    assert.equals(0, code, out .. err)
    assert.matches("skip%s+jobs%.csv:2%s+%x+%s+out/r1%.mp4", out)
    assert.matches("resume%s+jobs%.csv:3%s+%x+%s+out/r2%.mp4", out)
    assert.matches("create%s+jobs%.csv:4%s+%-%s+out/r3%.mp4", out)
    assert.same({ r1 = 1, r2 = 1 }, jobs_per_tag(ns))
  end)

  it("resumes a folder moved whole with its journal (--no-ledger)", function()
    local ns, d = fixtures.ns("safe"), newdir()
    local m = manifest(d .. "/jobs.csv", { "out/r1.mp4", "out/r2.mp4", "out/r3.mp4" })
    assert.equals(137, (batch(ns, m, { "--concurrency", "1", "--no-ledger" }, nil,
      { OMNIHUMAN_SIM_JOURNAL = "crash_after=6" })), cli.explain())
    assert.same({ r1 = 1, r2 = 1 }, jobs_per_tag(ns)) -- row 1 done, row 2 created
    assert.is_true(sh.exec("mv " .. sh.q(d) .. " " .. sh.q(d .. "-moved")))
    local code, out, err = batch(ns, "jobs.csv", { "--no-ledger" }, { cwd = d .. "-moved" })
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
    assert.equals(7, code, cli.explain())
    for line = 3, 6 do
      assert.matches("jobs%.csv:" .. line .. ": bad row: output .* is already the target of line 2", err)
    end
    assert.matches("plan: 2 to create, 0 to resume, 0 to download, 0 to skip, 0 uncertain, 0 failed, 4 bad", out)
    assert.equals(0, srv:count(ns, "create"))
    code = batch(ns, m)
    assert.equals(7, code, cli.explain())
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
    -- OmniHuman's reference lists no mask_url: masks go with --no-strict.
    local code, out, err = batch(ns, "jobs.csv", { "--max-audio-seconds", "2", "--no-strict" }, { cwd = d })
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
      IMG .. "," .. AUD .. ",pending.mp4,0,r2,",  -- 3: killed after its id was recorded
      IMG .. "," .. AUD .. ",failed.mp4,0,r3,boom", -- 4
      IMG .. "," .. AUD .. ",deleted.mp4,0,r4,",  -- 5: done, then its output deleted
    }, "\n") .. "\n")
    assert.equals(7, (batch(ns, m, { "--concurrency", "1" })), cli.explain())
    fixtures.write(m, fixtures.read(m) .. IMG .. "," .. AUD .. ",pending.mp4,0,r2,\n" -- 6: pending's output again: bad
      .. IMG .. "," .. AUD .. ",new.mp4,0,r5,\n")                     -- 7
    os.remove(d .. "/deleted.mp4")
    -- pending.mp4: its ledger row says its job exists but has not finished
    local c = fixtures.client(srv, ns)
    local job = assert(c:create{ image_url = IMG, audio_url = AUD, sandbox_polls = 0, sandbox_tag = "r2" })
    local store = assert(require("omnihuman.ledger").open(cli.STATE .. "/omnihuman/jobs.db"))
    local pending_out = require("omnihuman.fs").realpath(d) .. "/pending.mp4"
    local lrow
    for _, r in ipairs(store:list()) do if r.output == pending_out then lrow = r.row end end
    assert(store:set(assert(lrow), { state = "created", job_id = job.id }))
    store:close()
    local ledger_before, counts_before = runs.ledger_rows(d), srv:records(ns).counts
    local code, out, err = batch(ns, m, { "--dry-run" })
    assert.equals(7, code, err)
    assert.matches("skip%s+jobs%.csv:2%s+%x+%s+done%.mp4", out)
    assert.matches("resume%s+jobs%.csv:3%s+" .. job.id:sub(1, 8) .. "%s+pending%.mp4", out)
    assert.matches("failed%s+jobs%.csv:4%s+%x+%s+failed%.mp4  .*boom", out)
    assert.matches("download%s+jobs%.csv:5%s+%x+%s+deleted%.mp4", out)
    assert.matches("bad%s+jobs%.csv:6%s+", out)
    assert.matches("create%s+jobs%.csv:7%s+%-%s+new%.mp4", out)
    assert.matches("plan: 1 to create, 1 to resume, 1 to download, 1 to skip, 0 uncertain, 1 failed, 1 bad", out)
    assert.same(ledger_before, runs.ledger_rows(d))
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"))
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
    assert.same(ledger_before, runs.ledger_rows(d))
    assert.is_false(fixtures.exists(m .. ".journal.jsonl"))
  end)
end)
