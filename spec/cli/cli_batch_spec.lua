-- omnihuman batch: manifests, bad rows, the journal and resuming without
-- paying twice, the concurrency bound, the summary.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local cjson = require("cjson")
local batch_runs = require("spec.support.batch_runs")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")
local IMG, AUD = "https://x/a.png", "https://x/a.mp3"
local PWD = io.popen("pwd"):read("*l")

describe("omnihuman batch #slow", function()
  local srv, root
  setup(function() srv = fixtures.start(); root = fixtures.tmpdir() end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. root .. '"') end)

  local newdir = cli.dirs(function() return root end, "b")

  local function batch(ns, manifest, args, env)
    local a = { "batch", manifest, "--ca-file", srv.ca_file, "--interval", "0.05", "--no-fsync" }
    for _, v in ipairs(args or {}) do a[#a + 1] = v end
    return cli.run(a, cli.env(srv, ns, env))
  end

  local function csv(d, rows)
    local lines = { "image,audio,output,sandbox_polls" }
    for i = 1, rows do lines[#lines + 1] = ("%s,%s,out%02d.mp4,1"):format(IMG, AUD, i) end
    fixtures.write(d .. "/m.csv", table.concat(lines, "\n") .. "\n")
    return d .. "/m.csv"
  end

  it("runs a CSV manifest, reports bad rows by line number and finishes the rest", function()
    local ns, d = fixtures.ns("bat"), newdir()
    fixtures.write(d .. "/face.png", fixtures.read(fixtures.PNG))
    fixtures.write(d .. "/m.csv", table.concat({
      "image,audio,output,sandbox_polls,prompt",
      IMG .. "," .. AUD .. ",a.mp4,1,hello",
      "face.png," .. PWD .. "/" .. fixtures.WAV .. ",b.mp4,2,",      -- face.png: beside the manifest
      IMG .. ",,c.mp4,1,",                                             -- line 4: no audio
      '"' .. IMG .. '","' .. AUD .. '",d.mp4,1,"quoted, with ""comma"""',
      IMG .. "," .. AUD .. ",a.mp4,1,",                                -- line 6: duplicate output
      "missing.png," .. AUD .. ",e.mp4,1,",                            -- line 7: no such file
      IMG .. "," .. AUD .. ",f.mp4",                                   -- line 8: short row
      "",
      IMG .. "," .. AUD .. ",g.mp4,0,",
    }, "\n") .. "\n")
    -- prompt is not in OmniHuman's reference: sent with --no-strict.
    local code, out, err = batch(ns, d .. "/m.csv", { "--no-strict" })
    assert.equals(7, code, err)
    assert.matches("m%.csv:4: bad row: model bytedance/omnihuman requires audio_url %(or audio, a local file%)", err)
    assert.matches("m%.csv:6: bad row: output .*a%.mp4 is already the target of line 2", err)
    assert.matches("m%.csv:7: bad row: image file not found", err)
    assert.matches("m%.csv:8: bad row: has 3 columns, the header has 5", err)
    for _, name in ipairs{ "a", "b", "d", "g" } do assert.equals(FIXTURE, fixtures.read(d .. "/" .. name .. ".mp4")) end
    assert.matches("LINE%s+RESULT", out)
    assert.matches("\n4%s+bad%s+%-%s+%S*c%.mp4%s+model bytedance/omnihuman requires audio_url", out)
    assert.matches("\n10%s+done", out)
    assert.matches("8 rows: 4 done, 0 failed, 0 uncertain, 0 pending, 0 errors, 4 bad", out)
    local recs = srv:records(ns)
    assert.equals(4, recs.counts.create)
    local prompts = {}
    for _, r in ipairs(recs.requests) do
      if r.route == "create" then
        local ok, b = pcall(cjson.decode, r.body) -- long bodies (data URIs) are cut in the records
        if ok and b.prompt then prompts[#prompts + 1] = b.prompt end
      end
    end
    table.sort(prompts)
    assert.same({ "hello", 'quoted, with "comma"' }, prompts)
    -- the ledger names every job, downloaded; no journal is written beside the manifest
    local done = 0
    for _, r in pairs(batch_runs.new().ledger_rows(d, nil, true)) do
      if r.state == "downloaded" and r.job_id then done = done + 1 end
    end
    assert.equals(4, done)
    assert.is_false(fixtures.exists(d .. "/m.csv.journal.jsonl"))
  end)

  it("runs JSON Lines with --json, and a rerun skips finished rows without a request", function()
    local ns, d = fixtures.ns("bat"), newdir()
    fixtures.write(d .. "/m.jsonl", table.concat({
      cjson.encode({ image_url = IMG, audio_url = AUD, output = "x.mp4", sandbox_polls = 1 }),
      "# a comment",
      cjson.encode({ image = IMG, audio = AUD, output = "y.mp4", sandbox_polls = 0, resolution = "720p" }),
      "{not json",
      "[1, 2]",
    }, "\n") .. "\n")
    local code, out = batch(ns, d .. "/m.jsonl", { "--json" })
    assert.equals(7, code, cli.explain())
    local r = cjson.decode(out)
    -- resolution is not in OmniHuman's reference: that row is bad, before anything is sent.
    assert.same({ done = 1, bad = 3, failed = 0, uncertain = 0, pending = 0, error = 0 }, r.counts)
    assert.equals(1, srv:count(ns, "create"))
    code, out = batch(ns, d .. "/m.jsonl", { "--json", "--no-strict" })
    assert.equals(7, code, cli.explain())
    r = cjson.decode(out)
    assert.is_false(r.ok)
    assert.same({ done = 2, bad = 2, failed = 0, uncertain = 0, pending = 0, error = 0 }, r.counts)
    assert.equals(4, r.rows[3].line)
    assert.matches("invalid JSON", r.rows[3].message)
    assert.equals("not a JSON object", r.rows[4].message)
    assert.equals(FIXTURE, fixtures.read(d .. "/y.mp4"))
    local before = srv:records(ns).counts
    code, out = batch(ns, d .. "/m.jsonl", { "--json" })
    assert.equals(7, code, cli.explain())
    assert.same(before, srv:records(ns).counts)
    assert.equals("already done", cjson.decode(out).rows[1].message)
  end)

  it("resumes from the journal: waits for pending jobs, downloads completed ones, never creates them again", function()
    local ns, d = fixtures.ns("bat"), newdir()
    local m = csv(d, 3)
    -- out01: created by someone earlier and still pending; out02: completed, not downloaded
    local c = fixtures.client(srv, ns)
    local j1 = assert(c:create{ image_url = IMG, audio_url = AUD, sandbox_polls = 2 })
    local j2 = assert(c:create{ image_url = IMG, audio_url = AUD, sandbox_polls = 0 })
    assert(c:wait(j2.id))
    fixtures.write(m .. ".journal.jsonl", table.concat({
      cjson.encode({ key = d .. "/out01.mp4", ev = "creating" }),
      cjson.encode({ key = d .. "/out01.mp4", ev = "created", id = j1.id }),
      cjson.encode({ key = d .. "/out02.mp4", ev = "creating" }),
      cjson.encode({ key = d .. "/out02.mp4", ev = "created", id = j2.id }),
      cjson.encode({ key = d .. "/out02.mp4", ev = "completed", id = j2.id }),
      '{"key": "' .. d .. '/out03.mp4", "ev": "crea',                    -- torn by a crash
    }, "\n"))
    local code, out, err = batch(ns, m)
    assert.equals(0, code, err)
    assert.matches("journal line 6 is unreadable", err)
    assert.equals(3, srv:count(ns, "create"))       -- two above + out03, nothing for out01/out02
    for i = 1, 3 do assert.equals(FIXTURE, fixtures.read(("%s/out%02d.mp4"):format(d, i))) end
    assert.matches(j1.id:sub(1, 8), out)
    assert.matches(j2.id:sub(1, 8), out)
  end)

  it("leaves failed and uncertain rows alone unless told, and cleans stale .part files", function()
    local ns, d = fixtures.ns("bat"), newdir()
    fixtures.write(d .. "/m.csv", "image_url,audio_url,output,sandbox_fail,sandbox_polls\n"
      .. IMG .. "," .. AUD .. ",bad.mp4,boom,0\n"
      .. IMG .. "," .. AUD .. ",unsure.mp4,,0\n")
    fixtures.write(d .. "/unsure.mp4.part-Ab12_z", "partial")
    fixtures.write(d .. "/other.mp4.part-Ab12_z", "not ours")
    srv:fault(ns, "create", { { pass = true }, { status = 502 } }) -- the second create: may exist
    local code, out = batch(ns, d .. "/m.csv", { "--concurrency", "1" })
    assert.equals(7, code, cli.explain())
    assert.matches("\n2%s+failed%s+%x+%s+.*boom", out)
    assert.matches("\n3%s+uncertain", out)
    assert.is_false(fixtures.exists(d .. "/unsure.mp4.part-Ab12_z"))
    assert.is_true(fixtures.exists(d .. "/other.mp4.part-Ab12_z"))
    assert.equals(2, srv:count(ns, "create"))
    -- a plain rerun sends nothing
    code, out = batch(ns, d .. "/m.csv")
    assert.equals(7, code, cli.explain())
    assert.matches("may have been billed", out)
    assert.matches("%-%-retry%-failed", out)
    assert.equals(2, srv:count(ns, "create"))
    -- asked to, it creates both again
    code, out = batch(ns, d .. "/m.csv", { "--recreate-uncertain", "--retry-failed" })
    assert.equals(7, code) -- bad.mp4 fails again
    assert.equals(4, srv:count(ns, "create"))
    assert.matches("\n3%s+done", out)
    assert.equals(FIXTURE, fixtures.read(d .. "/unsure.mp4"))
  end)

  it("keeps at most --concurrency jobs in flight (counted in the journal: --no-ledger)", function()
    local ns, d = fixtures.ns("bat"), newdir()
    local m = csv(d, 7)
    local code = batch(ns, m, { "--concurrency", "2", "--no-ledger" })
    assert.equals(0, code, cli.explain())
    local active, max = 0, 0
    for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do
      if r.ev == "creating" then active = active + 1 end
      if r.ev == "downloaded" then active = active - 1 end
      if active > max then max = active end
    end
    assert.equals(2, max)
    assert.equals(7, srv:count(ns, "create"))
  end)

  it("stops starting rows after an auth error and exits 3", function()
    local ns, d = fixtures.ns("bat"), newdir()
    local m = csv(d, 6)
    local code, out = batch(ns, m, { "--concurrency", "2" }, { AIMLAPI_KEY = "sk-wrong-0123456789" })
    assert.equals(3, code, cli.explain())
    assert.is_true(srv:count(ns, "create") <= 2)
    assert.matches("not started: auth error", out)
    assert.is_nil(out:find("sk-wrong-0123456789", 1, true))
  end)

  it("exits 11 and changes nothing while another process holds the journal or the manifest", function()
    local ns, d = fixtures.ns("bat"), newdir()
    local m = csv(d, 1)
    fixtures.write(m .. ".journal.jsonl", "")
    for _, held in ipairs({ m .. ".journal.jsonl", m }) do
      -- flock(1) takes the same kind of lock (flock(2)) as the CLI
      -- It says it holds the lock by writing a file (a probe of ours would
      -- race its own non-blocking lock).
      local ready = d .. "/holder.ready"
      os.remove(ready)
      local p = io.popen("sh -c " .. sh.q("exec 9<" .. sh.q(held) .. " && flock -n 9 && : >" .. sh.q(ready)
        .. " && exec sleep 20") .. " >/dev/null 2>&1 & echo $!")
      local holder = p:read("*l")
      p:close()
      for _ = 1, 400 do -- at most ~20 s
        if fixtures.exists(ready) then break end
        sh.exec("sleep 0.05")
      end
      assert.is_true(fixtures.exists(ready), "the holder never took the lock")
      local code, out, err = batch(ns, m)
      sh.exec("kill " .. holder)
      assert.equals(11, code, err)
      assert.matches("another omnihuman batch is", err)
      assert.equals("", out)
      assert.equals(0, srv:count(ns, "create"))
      assert.equals("", fixtures.read(m .. ".journal.jsonl"))
    end
    -- The holders are gone once their locks can be taken (bounded).
    for _, held in ipairs({ m .. ".journal.jsonl", m }) do
      for _ = 1, 400 do
        if sh.exec("flock -n " .. sh.q(held) .. " true") then break end
        sh.exec("sleep 0.05")
      end
    end
    local code = batch(ns, m) -- nothing stale is left behind
    assert.equals(0, code, cli.explain())
    assert.is_false(fixtures.exists(m .. ".journal.jsonl.lock"))
  end)

  it("exits 2 for a manifest it cannot use", function()
    local d = newdir()
    fixtures.write(d .. "/h.csv", "foo,bar\n1,2\n")
    local code, _, err = batch("x", d .. "/h.csv")
    assert.equals(2, code, cli.explain())
    assert.matches("needs an output column", err)
    code = batch("x", d .. "/missing.csv")
    assert.equals(2, code, cli.explain())
  end)
end)
