-- omnihuman batch stopped by SIGTERM, SIGHUP or a second Ctrl-C while
-- several creates are out: each job the service made is recorded on its
-- own row, in the ledger (or the journal with --no-ledger), known from that
-- row's create, not guessed, and a rerun
-- creates nothing again. On the main of 2026-12-05 SIGTERM and SIGHUP
-- killed the run with the ids nowhere, and three creates out printed
-- each id "for one of" three rows, none journaled. Later, on LuaJIT, a
-- second SIGINT 0.1 s after the first cut the settling of the creates in
-- flight (most runs lost a row's job): every signal after the first raised
-- the interrupt again inside that settling. The repeated-signal runs below
-- are seeded (OMNIHUMAN_SIGNAL_SEED replays one, OMNIHUMAN_SIGNAL_RUNS sets
-- how many).
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")

local ROWS = 3
local SEED = tonumber(os.getenv("OMNIHUMAN_SIGNAL_SEED") or "") or os.time()
local RUNS = math.min(tonumber(os.getenv("OMNIHUMAN_SIGNAL_RUNS") or "") or 6, 200)
local KINDS = { "INT", "TERM", "HUP" }

describe("omnihuman batch stopped with creates out #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  -- Sends signals[i] after gaps[i] seconds each, while all ROWS creates are
  -- out (each answers 1 s after it arrives), then checks every job made.
  -- journal: run with --no-ledger and read the journal, not the ledger.
  local function stop_with(signals, gaps, why, journal)
    local extra = journal and { "--no-ledger" } or {}
    local srv = runs.srv
    local ns, d = fixtures.ns("sig"), runs.newdir()
    local outs = {}
    for i = 1, ROWS do outs[i] = ("r%d.mp4"):format(i) end
    local m = runs.manifest(d .. "/jobs.csv", outs)
    local faults = {}
    for i = 1, ROWS do faults[i] = { delay = 1.0 } end
    srv:fault(ns, "create", faults)
    local h = cli.spawn(runs.args(m, { "--concurrency", tostring(ROWS), extra[1] }), cli.env(srv, ns), d)
    assert.is_true(cli.until_true(function() return srv:count(ns, "create") == ROWS end, 20), why)
    for i, sig in ipairs(signals) do
      if gaps[i] > 0 then sh.sleep(gaps[i]) end
      sh.exec("kill -" .. sig .. " " .. h.pid)
    end
    assert.is_true(cli.until_true(function() return not sh.alive(h.pid) end, 20), why)
    local err = fixtures.read(h.err)
    why = why .. "\n" .. err
    assert.matches("omnihuman: interrupted", err, why)
    local _, _, recs = cli.tags(srv, ns)
    local journaled = {}
    if journal then
      for _, r in ipairs(cli.journal(m .. ".journal.jsonl")) do
        if r.ev == "created" then journaled[r.key] = r.id end
      end
    else
      for name, r in pairs(runs.ledger_rows(d, nil, true)) do journaled[name] = r.job_id end
      assert.is_false(fixtures.exists(m .. ".journal.jsonl"), why)
    end
    for i = 1, ROWS do
      local made = recs.tags["r" .. i] -- runs.manifest tags row i r<i>
      assert.equals(1, #made, why)
      assert.equals(made[1], journaled[outs[i]], why)
    end
    assert.falsy(err:find("for one of", 1, true), why)
    local code = runs.batch(ns, m, extra)
    assert.equals(0, code, why)
    runs.assert_one_job_each(ns, ROWS, why)
  end

  local function sanitizer_pending()
    if os.getenv("SANLUA") then
      pending("the sanitizer interpreter (tools/sanlua.c) has no SIGINT handler to route signals to")
      return true
    end
  end

  for _, signals in ipairs{ { "INT" }, { "TERM" }, { "HUP" }, { "INT", "INT" } } do
    local name = table.concat(signals, "+")
    it("by SIG" .. name .. ": every job made is in the ledger on its own row", function()
      if sanitizer_pending() then return end
      local gaps = {}
      for i = 1, #signals do gaps[i] = i == 1 and 0 or 0.1 end
      stop_with(signals, gaps, "SIG" .. name)
    end)
  end

  it("by SIGINT+INT with --no-ledger: every job made is journaled on its own row", function()
    if sanitizer_pending() then return end
    stop_with({ "INT", "INT" }, { 0, 0.1 }, "SIGINT+INT, --no-ledger", true)
  end)

  it(("by 2-4 stop signals at random gaps, %d runs (seed %d): every job made is in the ledger on its own row")
    :format(RUNS, SEED), function()
    if sanitizer_pending() then return end
    math.randomseed(SEED)
    for run = 1, RUNS do
      local signals, gaps = {}, {}
      for i = 1, math.random(2, 4) do
        signals[i] = KINDS[math.random(#KINDS)]
        gaps[i] = i == 1 and 0 or math.random(0, 300) / 1000 -- all within the creates' 1 s
      end
      local parts = {}
      for i = 1, #signals do parts[i] = ("+%.3fs SIG%s"):format(gaps[i], signals[i]) end
      stop_with(signals, gaps, ("seed %d run %d: %s"):format(SEED, run, table.concat(parts, ", ")))
    end
  end)
end)
