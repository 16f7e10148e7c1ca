-- make sim: crash simulation of `omnihuman batch` against the test server,
-- in the spirit of SQLite's crash tests. Two sets of schedules:
--
--  * every crash point: for a manifest of N rows, one schedule per commit k
--    of the job ledger (SQLite; 5 per row: the create, its answer, new
--    statuses, the result, the download) and per way to break it, through
--    OMNIHUMAN_SIM_LEDGER: SIGKILL just before commit k, just after it,
--    commit k failing, every commit from k on failing (a full disk); a
--    SIGKILL inside SQLite at each of its syncs, as a commit's pages are
--    written but not yet durable (OMNIHUMAN_SIM_SQLITE,
--    src/ledger/faultvfs.c); and, with --no-ledger (the journal alone: a
--    run on the ledger writes no journal), the same four ways at each
--    journal write k (4 per row, OMNIHUMAN_SIM_JOURNAL);
--  * random schedules, on the ledger (three in four) or with --no-ledger:
--    1-3 rounds of SIGKILL at a random moment, a ledger commit fault or a
--    fault inside SQLite (a sync failing, writes failing from one on) or,
--    with --no-ledger, a journal write fault, a real full disk (ulimit -f),
--    server faults (create 429, 500, 503, a create that made its job and
--    then answered 504 or hung up; status-check faults; CDN cuts),
--    --max-creates, two runs at once; each run from a random folder, the
--    manifest named by a random path and rewritten with other spellings of
--    the same outputs, in another order.
--
-- After the disruption each schedule reruns the batch until it is done, the
-- way a careful user would: a dry run shows the plan; an uncertain row gets
-- its job adopted (--adopt) when the server made one (the id the CLI printed,
-- or the server's own record), and is recreated only when the server
-- confirms that it made none. Invariants (sim/check.lua) are checked after
-- every run and every schedule; at the end the ledger names every row's job
-- as downloaded (for a --no-ledger schedule, after one more plain run on the
-- ledger, which imports the journal once).
--
-- Environment: SIM_SEED (default: the time), SIM_SCHEDULES (random
-- schedules, default 20), SIM_ROWS (rows of the crash-point manifests,
-- default "3"), SIM_CONC (their --concurrency values, default "2"),
-- SIM_ONLY (run only schedule number I), SIM_MAX_SECONDS (start no schedule
-- after this long), SIM_VERBOSE=1 (one line per schedule).
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local World = require("sim.world")
local check = require("sim.check")
local cjson = require("cjson")

local SEED = tonumber(os.getenv("SIM_SEED") or "") or os.time()
local RANDOM = tonumber(os.getenv("SIM_SCHEDULES") or "") or 20
local ONLY = tonumber(os.getenv("SIM_ONLY") or "")
local MAX_SECONDS = tonumber(os.getenv("SIM_MAX_SECONDS") or "") or math.huge
local VERBOSE = os.getenv("SIM_VERBOSE") == "1"
local function numbers(s, default)
  local out = {}
  for n in (s or default):gmatch("%d+") do out[#out + 1] = tonumber(n) end
  return out
end
local ROWS = numbers(os.getenv("SIM_ROWS"), "3")
local CONC = numbers(os.getenv("SIM_CONC"), "2")
local LEDGER_PER_ROW = 5 -- ledger commits per row of a clean run, about
local LEDGER_PATH = cli.STATE .. "/omnihuman/jobs.db" -- the CLI's default ledger under cli.env
local CREDITS = 5880000 -- what the test server reports per create (credits_used or tokens_used)

-- Park-Miller: the same stream on every Lua. rng(n): 1..n; rng(): [0, 1).
local function make_rng(seed)
  local state = seed % 2147483646 + 1
  return function(n)
    state = (state * 48271) % 2147483647
    if n then return state % n + 1 end
    return state / 2147483647
  end
end

-- The schedule list: every crash point, then the random ones.
local schedules = {}
for _, rows in ipairs(ROWS) do
  for _, conc in ipairs(CONC) do
    for _, mode in ipairs({ "crash_before", "crash_after", "fail", "fail_from" }) do
      for k = 1, 4 * rows do
        schedules[#schedules + 1] = { kind = "point", rows = rows, conc = conc, mode = mode, k = k, journal = true }
      end
      for k = 1, LEDGER_PER_ROW * rows do
        schedules[#schedules + 1] = { kind = "point", rows = rows, conc = conc, mode = mode, k = k, ledger = true }
      end
    end
    for k = 1, LEDGER_PER_ROW * rows do
      schedules[#schedules + 1] = { kind = "point", rows = rows, conc = conc, mode = "kill_sync", k = k, sqlite = true }
    end
  end
end
for _ = 1, RANDOM do schedules[#schedules + 1] = { kind = "random" } end

local stats = { schedules = 0, points = 0, runs = 0, kills = 0, point_kills = 0, journal_faults = 0, ledger_faults = 0, full_disk = 0,
                server_faults = 0, two_at_once = 0, budgets = 0, adopted = 0, recreated = 0, violations = 0 }

local srv = fixtures.start()
local typical = 0.5 -- seconds a run takes: random SIGKILLs fall within it
local root = fixtures.tmpdir()

local function lines_of(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = 0
  for _ in f:lines() do n = n + 1 end
  f:close()
  return n
end

local function decode(s)
  local ok, v = pcall(cjson.decode, s or "")
  return ok and type(v) == "table" and v or nil
end

-- One schedule. Returns its violations and a log of its runs.
local function play(idx, sc)
  local rng = make_rng(SEED * 7919 + idx)
  local ns = ("sim%d_%d"):format(SEED % 1000000, idx)
  local rows = sc.rows or (rng(5) + 1)
  if sc.kind == "random" then sc.journal = rng(4) == 1 end
  local world = World.new(root, idx, rng, rows)
  local v, log = {}, {}
  local printed = {} -- key -> job id the CLI printed as not journaled
  local seen = {}
  local function violate(msg)
    if not seen[msg] then seen[msg] = true; v[#v + 1] = msg end
  end
  local function jobs() return check.server_jobs(srv, ns) end

  -- Runs the CLI once. o: extra (args), env, pre (shell), kill_after (s),
  -- dry (a dry run), budget (--max-creates), conc, ledger (on the ledger
  -- even in a --no-ledger schedule).
  local function run(o)
    stats.runs = stats.runs + 1
    if not o.dry and rng(2) == 1 then world:rewrite() end
    local cwd, spelled = world:invocation()
    local args = { "batch", spelled, "--ca-file", srv.ca_file, "--interval", "0.05", "--progress", "plain",
                   "--json", "--concurrency", tostring(o.conc or sc.conc or rng(4)) }
    if o.dry then args[#args + 1] = "--dry-run" end
    if o.budget then args[#args + 1] = "--max-creates"; args[#args + 1] = tostring(o.budget) end
    for _, a in ipairs(o.extra or {}) do args[#args + 1] = a end
    if sc.journal and not o.ledger then args[#args + 1] = "--no-ledger" end
    local env = cli.env(srv, ns, o.env)
    local tags_before = jobs()
    local jobs_before = 0
    for _, ids in pairs(tags_before) do jobs_before = jobs_before + #ids end
    local counts_before = srv:records(ns).counts
    local journal_before = fixtures.exists(world.journal) and fixtures.read(world.journal) or nil
    local lines_before = lines_of(world.journal)
    local code, out, err
    local started = fixtures.now()
    if o.kill_after then
      local h = cli.spawn(args, env, world.base, { cwd = cwd, pre = o.pre }, "bg")
      cli.until_true(function() return not sh.alive(h.pid) end, o.kill_after)
      if sh.alive(h.pid) then
        cli.kill9(h)
        stats.kills = stats.kills + 1
        code = 137
      end
      out, err = fixtures.read(h.out), fixtures.read(h.err)
      if not code then code = (decode(out) or {}).ok and 0 or -1 end -- finished first: its JSON says how
    else
      code, out, err = cli.run(args, env, 90, { cwd = cwd, pre = o.pre })
      if code == 0 and not o.dry then typical = 0.8 * typical + 0.2 * (fixtures.now() - started) end
    end
    if code == 137 and not o.kill_after then stats.point_kills = stats.point_kills + 1 end
    local entry = { what = o.what or "run", cwd = cwd, manifest = spelled, code = code, args = args,
                    env = o.env, out = out, err = err }
    log[#log + 1] = entry
    local tags = jobs()
    for _, x in ipairs(check.at_most_one(world, tags)) do violate(x) end
    local lines_after = lines_of(world.journal)
    if not sc.journal and fixtures.exists(world.journal) then violate("a run on the ledger wrote a journal") end
    if o.ledger and journal_before ~= (fixtures.exists(world.journal) and fixtures.read(world.journal) or nil) then
      violate("a run on the ledger changed the journal it imported")
    end
    if o.dry then
      if journal_before ~= (fixtures.exists(world.journal) and fixtures.read(world.journal) or nil) then
        violate("a dry run changed the journal")
      end
      local counts = srv:records(ns).counts
      if counts.create ~= counts_before.create or counts.poll ~= counts_before.poll then
        violate("a dry run sent requests")
      end
      return code, decode(out), entry
    end
    -- a run that could not record (journal or ledger) never exits 0
    for _, said in ipairs({ "cannot write to journal", "the ledger could not record" }) do
      if err:find(said, 1, true) and code ~= 9 and code ~= 10 and code ~= 137 then
        violate(("a run that said %q exited %s"):format(said, tostring(code)))
      end
    end
    local mode, k = (o.env and o.env.OMNIHUMAN_SIM_JOURNAL or ""):match("^(%a[%w_]*)=(%d+)$")
    k = tonumber(k)
    if code == 0 and k and lines_after - lines_before >= k then
      violate(("%s=%d: exited 0 after %d journal writes"):format(mode, k, lines_after - lines_before))
    end
    if mode and mode:match("^crash") and code ~= 137 and code ~= 0 and lines_after - lines_before >= k then
      violate(("%s=%d: exit %s, not killed"):format(mode, k, tostring(code)))
    end
    -- ids printed as not journaled are real jobs of their rows
    for id, key in err:gmatch("job (%S+) was created for %S+ %(([^)]+)%) but its id could not be ") do
      local r = world.by_key[key]
      local found = false
      for _, x in ipairs(r and tags[r.tag] or {}) do if x == id then found = true end end
      if not found then violate(("printed id %s is not a job of row %s"):format(id, key)) end
      printed[key] = id
    end
    if code == 10 and not next(printed) then violate("exit 10 without a printed job id") end
    local res = decode(out)
    if code == 0 then
      if not (res and res.ok) then violate("exit 0 without ok in --json") end
      for _, r in ipairs(world.rows) do
        local f = io.open(r.path, "rb")
        local data = f and f:read("*a")
        if f then f:close() end
        if data ~= fixtures.read("spec/support/fixture.mp4") then
          violate("exit 0 but output " .. r.key .. " is not complete")
        end
      end
    end
    local made = 0
    for _, ids in pairs(tags) do made = made + #ids end
    made = made - jobs_before
    if o.budget and made > o.budget then violate(("--max-creates %d: %d jobs made"):format(o.budget, made)) end
    return code, res, entry
  end

  -- Server faults for the next run.
  local function server_faults()
    stats.server_faults = stats.server_faults + 1
    local menu = {
      create = { { status = 429 }, { status = 503 }, { status = 500 }, { after = { status = 504 } },
                 { after = { close = true } }, { delay = 0.4 }, { pass = true } },
      poll = { { status = 500 }, { status = 503 }, { status = 429 }, { close = true }, { delay = 0.3 } },
      cdn = { { drop = true }, { reset = true }, { status = 503 }, { close = true }, { delay = 0.3 } },
    }
    for route, list in pairs(menu) do
      local faults = {}
      for _ = 1, rng(4) - 1 do faults[#faults + 1] = list[rng(#list)] end
      if #faults > 0 then
        srv:control("POST", "/_control/faults", cjson.encode({ ns = ns, route = route, faults = faults }))
      end
    end
  end
  local function clear_faults()
    for _, route in ipairs({ "create", "poll", "cdn" }) do
      srv:control("POST", "/_control/faults", cjson.encode({ ns = ns, route = route, faults = {}, replace = true }))
    end
  end

  -- Creates answered so far: "created" records of the journal (not
  -- adopted ones), or the ledger's rows of this schedule's service that
  -- hold a create's credits.
  local function created_count()
    local n = 0
    if sc.journal then
      for _, e in ipairs(cli.journal(world.journal)) do if e.ev == "created" and not e.adopted then n = n + 1 end end
      return n
    end
    local has, ledger = pcall(require, "omnihuman.ledger")
    local store = has and fixtures.exists(LEDGER_PATH) and ledger.open(LEDGER_PATH)
    if not store then return 0 end
    for _, r in ipairs(store:list() or {}) do
      if r.credits and r.service and r.service:find("/n/" .. ns .. "/", 1, true) then n = n + 1 end
    end
    store:close()
    return n
  end

  -- The credits a finished run reports are the server's, for its creates.
  local function credits_ok(res, created_before)
    if not res or #(res.journal_errors or {}) > 0 or #(res.ledger_errors or {}) > 0 then return end
    local answered = created_count() - created_before
    local want = answered > 0 and answered * CREDITS or nil
    -- none answered: 0 when no create was sent, null ("none reported") when some were
    local got = res.credits
    if got == cjson.null or (answered == 0 and got == 0) then got = nil end
    if got ~= want then
      violate(("credits reported %s, the server's for %d creates: %s"):format(tostring(res.credits), answered,
        tostring(want)))
    end
  end

  -- The disruption.
  local desc
  if sc.kind == "point" then
    stats.points = stats.points + 1
    local var = sc.sqlite and "OMNIHUMAN_SIM_SQLITE" or sc.ledger and "OMNIHUMAN_SIM_LEDGER" or "OMNIHUMAN_SIM_JOURNAL"
    if sc.ledger or sc.sqlite then stats.ledger_faults = stats.ledger_faults + 1
    elseif sc.mode:match("^fail") then stats.journal_faults = stats.journal_faults + 1 end
    desc = ("%s %s=%d, %d rows, --concurrency %d"):format(sc.sqlite and "sqlite" or sc.ledger and "ledger" or "journal",
      sc.mode, sc.k, rows, sc.conc)
    run({ what = "disrupted", env = { [var] = sc.mode .. "=" .. sc.k }, conc = sc.conc })
  else
    local parts = {}
    for _ = 1, rng(3) do
      if rng(2) == 1 then server_faults(); parts[#parts + 1] = "server faults" end
      local pick = rng(8) -- 1 and 7: a SIGKILL at a random moment
      if pick == 2 and not sc.journal then pick = 8 end -- a run on the ledger writes no journal: a ledger fault
      if pick == 1 or pick == 7 then
        local t = 0.02 + rng() * typical
        parts[#parts + 1] = ("SIGKILL after %.2f s"):format(t)
        run({ what = "killed", kill_after = t })
      elseif pick == 2 then
        local mode = ({ "crash_before", "crash_after", "fail", "fail_from" })[rng(4)]
        local k = rng(4 * rows + 2)
        stats.journal_faults = stats.journal_faults + 1
        parts[#parts + 1] = mode .. "=" .. k
        run({ what = mode, env = { OMNIHUMAN_SIM_JOURNAL = mode .. "=" .. k } })
      elseif pick == 3 and not sc.journal then
        -- a real full disk under the ledger: its WAL (and SQLite's 32 KiB
        -- shared memory file, and the outputs) within 32-60 KiB
        local blocks = 63 + rng(57)
        stats.full_disk = stats.full_disk + 1
        parts[#parts + 1] = ("full disk (ulimit -f %d)"):format(blocks)
        run({ what = "full disk", pre = ("ulimit -f %d; trap '' XFSZ;"):format(blocks) })
      elseif pick == 3 then
        -- a real full disk: the journal may not grow past 32 KiB (outputs, 15 KB, still fit)
        local limit = 64 * 512
        local room = rng(300 * rows)
        local size = fixtures.exists(world.journal) and #fixtures.read(world.journal) or 0
        local f = assert(io.open(world.journal, "ab"))
        local n = 0
        while size < limit - room - 100 do
          local line = cjson.encode({ v = 2, key = "elsewhere/" .. n .. ".mp4", ev = "downloaded" }) .. "\n"
          f:write(line)
          size, n = size + #line, n + 1
        end
        f:close()
        stats.full_disk = stats.full_disk + 1
        parts[#parts + 1] = ("full disk (%d bytes of room)"):format(math.max(0, limit - size))
        run({ what = "full disk", pre = "ulimit -f 64; trap '' XFSZ;" })
      elseif pick == 4 then
        local budget = rng(rows) - 1
        stats.budgets = stats.budgets + 1
        parts[#parts + 1] = "--max-creates " .. budget
        local before = created_count()
        local _, res = run({ what = "budget", budget = budget })
        credits_ok(res, before)
      elseif pick == 5 then
        stats.two_at_once = stats.two_at_once + 1
        parts[#parts + 1] = "two runs at once"
        local env = cli.env(srv, ns)
        local hs = {}
        for j = 1, 2 do
          local cwd, spelled = world:invocation()
          hs[j] = cli.spawn({ "batch", spelled, "--ca-file", srv.ca_file, "--interval", "0.05", "--json",
                              sc.journal and "--no-ledger" or nil }, env, world.base, { cwd = cwd, code = true },
                            "two" .. j)
        end
        local codes = {}
        for j = 1, 2 do
          local code, out, err = cli.wait(hs[j], 90)
          codes[j] = code
          stats.runs = stats.runs + 1
          log[#log + 1] = { what = "two at once #" .. j, code = code, out = out, err = err }
          if code == 11 and not err:find("another omnihuman batch is", 1, true) then
            violate("exit 11 without saying why")
          end
        end
        if codes[1] == 11 and codes[2] == 11 then violate("both runs at once exited 11") end
        for _, x in ipairs(check.at_most_one(world, (jobs()))) do violate(x) end
      elseif pick == 8 then
        local inside = rng(2) == 1 -- inside SQLite, or around its COMMIT
        local mode = inside and ({ "kill_sync", "fail_sync", "fail_write_from" })[rng(3)]
          or ({ "crash_before", "crash_after", "fail", "fail_from" })[rng(4)]
        local k = rng(LEDGER_PER_ROW * rows + 2)
        local var = inside and "OMNIHUMAN_SIM_SQLITE" or "OMNIHUMAN_SIM_LEDGER"
        stats.ledger_faults = stats.ledger_faults + 1
        parts[#parts + 1] = (inside and "sqlite " or "ledger ") .. mode .. "=" .. k
        run({ what = parts[#parts], env = { [var] = mode .. "=" .. k } })
      elseif pick == 6 then
        parts[#parts + 1] = "a plain run"
        local before = created_count()
        local _, res = run({ what = "plain" })
        credits_ok(res, before)
      end
    end
    desc = ("%d rows: %s"):format(rows, table.concat(parts, ", "))
  end

  -- Rerun until done, as a careful user would.
  clear_faults()
  local final_plan
  for _ = 1, 10 do
    local _, plan = run({ what = "dry run", dry = true })
    if not plan then violate("the dry run printed no plan") break end
    local tags = jobs()
    local adopt, recreate, all_done = {}, false, true
    for _, row in ipairs(plan.rows or {}) do
      if row.plan ~= "skip" then all_done = false end
      if row.plan == "uncertain" then
        local r = world.by_key[row.key]
        local ids = r and tags[r.tag] or {}
        local id = printed[row.key] or (#ids == 1 and ids[1]) or nil
        if id then
          adopt[#adopt + 1] = "--adopt"
          adopt[#adopt + 1] = row.key .. "=" .. id
          stats.adopted = stats.adopted + 1
        elseif #ids == 0 then
          recreate = true
          stats.recreated = stats.recreated + 1
        end
      end
    end
    for _, x in ipairs(check.plan(world, tags, plan)) do violate(x) end
    if all_done then final_plan = plan break end
    if recreate then adopt[#adopt + 1] = "--recreate-uncertain" end
    local before = created_count()
    local _, res = run({ what = "rerun", extra = adopt })
    credits_ok(res, before)
  end
  if not final_plan then
    violate("not done after 10 reruns")
  else
    for _, x in ipairs(check.final(world, (jobs()), final_plan)) do violate(x) end
    local ledger_v = sc.journal and { "a --no-ledger schedule" } or check.ledger(world, (jobs()), LEDGER_PATH)
    if #ledger_v > 0 then -- a --no-ledger schedule's journal is imported by a run on the ledger, not a dry run
      local code = run({ what = "import", ledger = true })
      if code ~= 0 then violate("the run after the last dry run exited " .. tostring(code)) end
      for _, x in ipairs(check.at_most_one(world, (jobs()))) do violate(x) end
      ledger_v = check.ledger(world, (jobs()), LEDGER_PATH)
    end
    for _, x in ipairs(ledger_v) do violate(x) end
  end
  return v, log, desc, world
end

local t0 = fixtures.now()
local ran, bad = 0, 0
print(("sim: seed %d, %d schedules (%d crash points, %d random)"):format(SEED, #schedules,
  #schedules - RANDOM, RANDOM))
local stopped_early = false
for idx, sc in ipairs(schedules) do
  if not ONLY or ONLY == idx then
    if fixtures.now() - t0 > MAX_SECONDS then stopped_early = true break end
    local ok, v, log, desc, world = pcall(play, idx, sc)
    if not ok then v, log, desc = { "the simulation itself failed: " .. tostring(v) }, {}, "?" end
    ran = ran + 1
    stats.schedules = stats.schedules + 1
    if #v > 0 then
      bad = bad + 1
      stats.violations = stats.violations + #v
      print(("VIOLATION in schedule %d (%s):"):format(idx, desc))
      for _, x in ipairs(v) do print("  - " .. x) end
      for _, e in ipairs(log) do
        print(("  run %s: exit %s, cwd %s, manifest %s"):format(e.what, tostring(e.code), tostring(e.cwd),
          tostring(e.manifest)))
        local tail = (e.err or ""):sub(-1500)
        for line in tail:gmatch("[^\n]+") do print("      | " .. line) end
      end
      print(("  replay: make sim SIM_SEED=%d SIM_ONLY=%d SIM_ROWS=%s SIM_CONC=%s SIM_SCHEDULES=%d"):format(SEED, idx,
        table.concat(ROWS, ","), table.concat(CONC, ","), RANDOM))
    elseif VERBOSE then
      print(("ok schedule %d: %s (%d runs)"):format(idx, desc, #log))
    end
    if world then world:destroy() end
  end
end
srv:stop()
sh.exec("rm -rf " .. sh.q(root))
local secs = fixtures.now() - t0
print(("sim: seed %d: %d schedules run (%d crash points), %d CLI runs: %d SIGKILLs (%d more at crash points), %d journal write faults,"
  .. " %d ledger faults, %d full disks, %d rounds of server faults, %d --max-creates runs, %d two-at-once; %d jobs adopted,"
  .. " %d uncertain rows recreated; %d violations; %.0f s%s"):format(SEED, stats.schedules, stats.points,
  stats.runs, stats.kills, stats.point_kills, stats.journal_faults, stats.ledger_faults, stats.full_disk, stats.server_faults, stats.budgets,
  stats.two_at_once, stats.adopted, stats.recreated, stats.violations, secs,
  stopped_early and " (stopped at SIM_MAX_SECONDS)" or ""))
print(("sim: %d passed, %d failed"):format(ran - bad, bad))
os.exit(stats.violations == 0 and 0 or 1)
