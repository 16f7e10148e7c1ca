-- Crash safety of omnihuman batch: a batch of 20 is killed with SIGKILL at
-- several points (before any create answered, mid-creates, mid-waits,
-- mid-downloads) and rerun each time. Across all runs the server must have
-- created exactly one job per row, every output must be complete, and no
-- target may ever hold a partial file.
--
-- Creates in flight when the process dies are held by the server with a
-- {delay, status = 503} fault: the service answers (to nobody) that it did
-- not take them. The CLI cannot know that, so it records those rows as
-- uncertain and only sends them again under --recreate-uncertain, which the
-- reruns here pass; every other create is sent exactly once. Run on the
-- ledger (its rows read as the journal's events) and with --no-ledger.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")

-- The ledger's rows of outputs under dir as the journal's events: every
-- row "creating", then "created" once it has a job id, then "downloaded".
local function ledger_events(dir)
  local ledger = require("omnihuman.ledger")
  local db = cli.STATE .. "/omnihuman/jobs.db"
  if not fixtures.exists(db) then return {} end
  local store = assert(ledger.open(db))
  local real = require("omnihuman.fs").realpath(dir) .. "/"
  local out = {}
  for _, r in ipairs(assert(store:list())) do
    if r.output and r.output:sub(1, #real) == real and r.state ~= "not_created" then
      local key = r.output:sub(#real + 1)
      out[#out + 1] = { ev = "creating", key = key }
      if r.job_id then out[#out + 1] = { ev = "created", key = key, id = r.job_id } end
      if r.state == "downloaded" then out[#out + 1] = { ev = "downloaded", key = key, id = r.job_id } end
    end
  end
  store:close()
  return out
end
local ROWS, CONC = 20, 4

describe("omnihuman batch killed with SIGKILL #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. dir .. '"') end)

  for _, journaled in ipairs{ false, true } do
    it("resumes every time without a duplicate create or a partial output" .. (journaled and " (--no-ledger)" or ""),
      function()
      local ns = fixtures.ns("crash")
      local top = dir
      local dir = top .. (journaled and "/journal" or "/ledger") -- luacheck: ignore 431
      sh.exec("mkdir -p " .. sh.q(dir))
      local lines = { "image_url,audio_url,output,sandbox_polls" }
      for i = 1, ROWS do lines[#lines + 1] = ("https://x/a.png,https://x/a.mp3,out%02d.mp4,2"):format(i) end
      local manifest = dir .. "/jobs.csv"
      fixtures.write(manifest, table.concat(lines, "\n") .. "\n")
      local journal = manifest .. ".journal.jsonl"
      local args = { "batch", manifest, "--ca-file", srv.ca_file, "--interval", "0.05",
                     "--concurrency", tostring(CONC), "--recreate-uncertain", "--progress", "plain", journaled and "--no-ledger" or nil }
      local function records() return journaled and cli.journal(journal) or ledger_events(dir) end
      local env = cli.env(srv, ns)
      local refused = 0 -- creates the server answered 503 (after the kill): not jobs

      local function count(route) return srv:count(ns, route) end
      local function targets_ok(phase)
        for i = 1, ROWS do
          local p = ("%s/out%02d.mp4"):format(dir, i)
          if fixtures.exists(p) then assert.equals(FIXTURE, fixtures.read(p), phase .. ": partial output at " .. p) end
        end
      end
      local function killed_run(phase, ready)
        local h = cli.spawn(args, env, dir)
        local ok = cli.until_true(function() return ready() or not sh.alive(h.pid) end, 15)
        local was_alive = sh.alive(h.pid)
        cli.kill9(h)
        assert.is_true(ok and was_alive, phase .. ": the run did not reach the kill point\n" .. (fixtures.read(h.err) or ""))
        targets_ok(phase)
        return records()
      end

      -- 1. before any create answered: all CONC creates held, then refused
      srv:fault(ns, "create", { { delay = 5, status = 503 }, { delay = 5, status = 503 },
                                { delay = 5, status = 503 }, { delay = 5, status = 503 } })
      local j = killed_run("before creates", function() return count("create") == CONC end)
      refused = refused + CONC
      assert.equals(CONC, cli.count(j, "creating"))
      assert.equals(0, cli.count(j, "created"))

      -- 2. mid-creates: 6 creates answer, the next CONC are held
      local faults = {}
      for _ = 1, 6 do faults[#faults + 1] = { pass = true } end
      for _ = 1, CONC do faults[#faults + 1] = { delay = 5, status = 503 } end
      srv:fault(ns, "create", faults)
      j = killed_run("mid-creates", function() return count("create") == 2 * CONC + 6 end)
      refused = refused + CONC
      assert.equals(6, cli.count(j, "created"))

      -- 3. mid-waits: every slot holds a status check
      local polls = count("poll")
      srv:fault(ns, "poll", { { delay = 5 }, { delay = 5 }, { delay = 5 }, { delay = 5 } })
      j = killed_run("mid-waits", function() return count("poll") == polls + CONC end)
      local pending = 0
      for _, r in ipairs(j) do
        if r.ev == "created" then pending = pending + 1 elseif r.ev == "downloaded" then pending = pending - 1 end
      end
      assert.is_true(pending >= 1, "mid-waits: no job was pending at the kill")

      -- 4. mid-downloads: every slot is downloading (its temporary file
      -- exists) and each download's answer is held by the CDN.
      local function parts()
        local n = 0
        for _, name in ipairs(fixtures.ls(dir)) do if name:match("%.part%-") then n = n + 1 end end
        return n
      end
      local cdn = count("cdn")
      local held = {}
      for i = 1, CONC do held[i] = { delay = 5 } end
      srv:fault(ns, "cdn", held)   -- every slot's download is held mid-way
      killed_run("mid-downloads", function() return parts() == CONC and count("cdn") == cdn + CONC end)
      assert.equals(CONC, parts()) -- the killed downloads' temporary files, never the targets

      -- 5. the last rerun finishes everything
      local code, out, err = cli.run(args, env, 40)
      assert.equals(0, code, out .. err)
      assert.matches(ROWS .. " rows: " .. ROWS .. " done", out)
      for i = 1, ROWS do
        assert.equals(FIXTURE, fixtures.read(("%s/out%02d.mp4"):format(dir, i)))
      end
      local names = fixtures.ls(dir)
      table.sort(names)
      assert.equals(ROWS + (journaled and 4 or 3), #names) -- outputs + manifest + journal (--no-ledger) + bg.out + bg.err
      assert.equals(journaled, fixtures.exists(journal))
      for _, name in ipairs(names) do assert.is_nil(name:match("%.part%-"), "stale " .. name) end

      -- one job per row on the server, whatever was killed when
      local recs = srv:records(ns)
      assert.equals(ROWS, recs.jobs)
      assert.equals(ROWS + refused, recs.counts.create)
      local ids, keys = {}, {}
      for _, r in ipairs(records()) do
        if r.ev == "created" then
          assert.is_nil(ids[r.id], "id recorded twice")
          assert.is_nil(keys[r.key], "row created twice: " .. r.key)
          ids[r.id], keys[r.key] = true, true
        end
      end
      local n = 0
      for _ in pairs(keys) do n = n + 1 end
      assert.equals(ROWS, n)
    end)
  end
end)
