-- omnihuman batch: many jobs from a manifest, resumable through the job
-- ledger (or, with --no-ledger, a journal). Order of work: lock the
-- manifest (and the journal while it is read), read the manifest, name
-- every row by its output's canonical path, find each row in the ledger
-- (importing an old journal once), plan, pre-flight every row, then run
-- (batch_run) and summarise (batch_report).
local fsc = require("omnihuman.fs") -- flock, append, fsync_dir, realpath, stat
local util = require("omnihuman.cli.util")
local exit = require("omnihuman.cli.exit")
local args = require("omnihuman.cli.args")
local fs = require("omnihuman.cli.fs")
local Manifest = require("omnihuman.cli.manifest")
local Journal = require("omnihuman.cli.journal")
local Rows = require("omnihuman.cli.rows")
local Preflight = require("omnihuman.cli.preflight")
local Pacer = require("omnihuman.cli.pacer")
local batch_run = require("omnihuman.cli.batch_run")
local batch_report = require("omnihuman.cli.batch_report")
local OutputLocks = require("omnihuman.cli.output_locks")
local BatchLedger = require("omnihuman.cli.batch_ledger")

local batch = {}

batch.command = {
  usage = "batch MANIFEST [options]",
  summary = "Run every row of a manifest (CSV with a header, or JSON Lines): create, wait, download.",
  details = [[
Columns: image (or image_url), audio (or audio_url), output; other columns are
extra request fields. Relative paths are relative to the manifest's folder.
A row is what it pays for (its request) and its output file, however spelled.
The job ledger records each create before it is sent and its job id as soon as
it answers (with --no-ledger, the journal MANIFEST.journal.jsonl does; a
journal of an older run is imported into the ledger once and left untouched);
a rerun waits for pending jobs, downloads completed ones and skips finished
ones, so a crashed batch never pays for a row twice. A row whose create was
sent but never answered is "uncertain" (it may have been billed): it is not
sent again unless you pass --recreate-uncertain.]],
  options = {
    { "concurrency", short = "c", arg = "N", number = true, help = "jobs in flight at once, at most (default 4)" },
    { "journal", arg = "FILE", help = "journal file (default: MANIFEST.journal.jsonl; written only with --no-ledger)" },
    { "dry-run", help = "check every row and print the plan; send nothing" },
    { "max-creates", arg = "N", number = true, help = "at most N creates that may make a job, this run" },
    { "recreate-uncertain", help = "create again rows whose create may have been billed already" },
    { "retry-failed", help = "create again rows whose generation failed" },
    { "adopt", arg = "OUTPUT=ID", multi = true,
      help = "record job ID for the row writing OUTPUT (an id printed as not recorded)" },
    { "model", arg = "MODEL", help = "model for rows that do not name one" },
    { "field", arg = "K=V", multi = true, help = "extra field for every row (a row's own column wins)" },
    { "interval", arg = "SECONDS", number = true, help = "seconds between status checks (default 10)" },
    { "timeout", arg = "SECONDS", number = true, help = "give up waiting for a job after this long (default 900)" },
    { "no-fsync", help = "flush the journal but do not fsync it (--no-ledger)" },
    { "ledger", arg = "PATH", help = "the job ledger (default: $XDG_STATE_HOME/omnihuman/jobs.db)" },
    { "no-ledger", help = "the journal alone: no job ledger" },
  },
}

local function whole(v, lo, hi) return v == math.floor(v) and v >= lo and v <= hi end

local function usage(msg) return nil, { usage = true, message = msg } end

-- Locks the manifest and the journal; a dry run, or a run on a ledger
-- (which reads an old journal only to import it), leaves a missing journal
-- missing. Returns journal, manifest lock file, or nil, exit code.
local function take_locks(ctx, real, jpath, opts, ledgered)
  local mlock, merr, mtag = Journal.lock_file(real, "rb")
  if not mlock then
    if mtag == "busy" then
      ctx:fail({ kind = "locked", message = "another omnihuman batch is running on " .. real
        .. "; nothing was done (wait for it to finish)" })
      return nil, exit.LOCKED
    end
    ctx:fail({ kind = "invalid_input", message = "cannot read manifest: " .. tostring(merr) })
    return nil, exit.USAGE
  end
  local journal, jerr, jtag = Journal.open(jpath, { create = not (opts["dry-run"] or ledgered),
                                                     sync = opts["no-fsync"] and "never" or "auto" })
  if not journal then
    mlock:close()
    if jtag == "busy" then
      ctx:fail({ kind = "locked", message = "another omnihuman batch is using the journal " .. jpath
        .. "; nothing was done (wait for it to finish)" })
      return nil, exit.LOCKED
    end
    ctx:fail({ kind = "journal", message = jerr })
    return nil, exit.JOURNAL
  end
  return journal, mlock
end

-- --adopt OUTPUT=ID: checked (all of them) before any is written: the row
-- exists and has no other job, no other row has this job, and the service
-- knows the id (check(id) -> true or nil, why: a mistyped id is refused,
-- never journaled).
local function adoptions(specs, home, by_key, states, check, store)
  local out, owner = {}, {}
  for key, st in pairs(states) do if st.id then owner[st.id] = key end end
  for _, spec in ipairs(specs or {}) do
    local output, id = spec:match("^(.+)=([^=]+)$")
    if not output then return nil, "--adopt needs OUTPUT=ID, got '" .. spec .. "'" end
    local path = fs.canonical(output, home)
    local key = path and fs.relative(path, home)
    local row = key and by_key[key]
    if not row then return nil, "--adopt: no row of the manifest writes " .. output end
    local st = states[key]
    if st and st.id and st.id ~= id then
      return nil, ("--adopt: %s already has job %s"):format(output, st.id)
    end
    if owner[id] and owner[id] ~= key then
      return nil, ("--adopt: job %s is already the job of %s"):format(id, owner[id])
    end
    owner[id] = key
    out[#out + 1] = { row = row, id = id }
  end
  for _, a in ipairs(out) do
    local st = states[a.row.key]
    if store and not a.row.lfp then
      return nil, ("--adopt: the request of %s cannot be fingerprinted yet (a local file it names cannot be read):"
        .. " nothing was recorded"):format(a.row.key)
    end
    local other = store and store:get(a.id)
    if other and other.output ~= a.row.output then
      return nil, ("--adopt: job %s is already the ledger's job for %s"):format(a.id, tostring(other.output))
    end
    if not (st and st.id == a.id) then
      local ok, why = check(a.id)
      if not ok then return nil, ("--adopt: job %s: %s"):format(a.id, why) end
    end
  end
  return out
end

-- Whether the service knows job id (one status check).
local function job_exists(ctx)
  return function(id)
    local client, cerr = ctx:client()
    if not client then return nil, cerr.message end
    local st, err = client:poll(id)
    if st then return true end
    if err.kind == "not_found" or err.kind == "invalid_input" then return nil, "the service has no such job" end
    return nil, "could not be checked: " .. err.kind .. ": " .. err.message
  end
end

function batch.command.run(ctx, opts)
  local name = opts.args[1]
  if not name or #opts.args > 1 then return usage("batch takes exactly one manifest") end
  local conc = opts.concurrency or 4
  if not whole(conc, 1, 1000) then return usage("--concurrency must be a whole number from 1 to 1000") end
  local budget = opts["max-creates"]
  if budget and not whole(budget, 0, 1e9) then return usage("--max-creates must be a whole number") end
  local common = {}
  for _, spec in ipairs(opts.field or {}) do
    local k, v = args.field(spec, util.decode)
    if not k then return usage(v) end
    common[k] = v
  end
  if not fs.available() then
    ctx:fail({ kind = "other", message = "this build lacks omnihuman.fs or core.check_input, the batch's file helpers (run make)" })
    return exit.OTHER
  end
  local dry = opts["dry-run"]
  local progress = ctx.progress

  -- Where things are, however they were named.
  local real, rerr = fsc.realpath(name)
  if not real or fs.stat(real) ~= "file" then
    ctx:fail({ kind = "invalid_input", message = name .. ": cannot read manifest: " .. tostring(rerr or "not a file") })
    return exit.USAGE
  end
  local home = util.dirname(real)
  if home == "" then home = "/" end
  local jpath = real .. ".journal.jsonl"
  if opts.journal then
    local jerr
    jpath, jerr = fs.canonical(opts.journal)
    if not jpath then return usage("--journal: " .. tostring(jerr)) end
    if jpath == real then return usage("--journal cannot be the manifest itself") end
  end

  local store, lerr = BatchLedger.open(opts, dry)
  if lerr then
    ctx:fail({ kind = "io", message = "cannot open the ledger (--no-ledger runs without one): "
      .. tostring(lerr):gsub("^omnihuman: io: ", "") })
    return exit.OTHER
  end
  local journal, mlock = take_locks(ctx, real, jpath, opts, store ~= nil)
  if not journal then
    if store then store:close() end
    return mlock
  end
  local function close()
    if store then store:close() end
    journal:close()
    mlock:close()
  end
  -- The client's events reach the run's pacer (state.on_event, set by batch_run).
  local state
  ctx.cfg.on_event = function(ev) if state and state.on_event then state.on_event(ev) end end

  local rows, bad = Manifest.read(real, home)
  if not rows then
    close()
    ctx:fail({ kind = "invalid_input", message = name .. ": " .. bad })
    return exit.USAGE
  end
  local by_key
  rows, by_key = Rows.identify(rows, bad, home, { [real] = "the manifest", [jpath] = "the journal" })
  for _, row in ipairs(rows) do
    for k, v in pairs(common) do if row.fields[k] == nil then row.fields[k] = v end end
    if opts.model and row.fields.model == nil then row.fields.model = opts.model end
  end
  local records, warnings = journal:read()
  for _, w in ipairs(warnings) do progress:log(jpath .. ": " .. w) end
  local ambiguous = {}
  local states = Journal.replay(records, Rows.keyof(by_key, home, ambiguous))
  -- A row with no record under its key takes those under its spelling
  -- (written when no folder on the way was a symlink yet), unless that
  -- spelling is another row's key.
  for key, row in pairs(by_key) do
    local sk = row.spelled_key
    if not states[key] and sk and sk ~= key and not by_key[sk] and states[sk] then
      states[key] = states[sk]
      states[key].key = key
    end
  end
  for key in pairs(ambiguous) do
    if not states[key] then
      states[key] = { key = key, state = "uncertain", legacy = true }
      progress:log(("%s: a record of an older journal may be %s's job; held as uncertain"
        .. " (--adopt its job, or --recreate-uncertain)"):format(jpath, key))
    end
  end

  -- The ledger answers for every row it knows; a row only the journal
  -- knows (or whose job id only the journal has) is imported into it, once.
  local service
  if store then
    local client = ctx:client(true)
    service = client.base_url
    for _, row in ipairs(rows) do
      local sk, spelled = row.spelled_key, nil
      if sk and sk ~= row.key and not by_key[sk] then
        spelled = sk:sub(1, 1) == "/" and sk or ((home == "/" and "" or home) .. "/" .. sk)
      end
      local lr = BatchLedger.find(store, row, ctx.cfg.model, service, spelled)
      local js = states[row.key]
      if lr and (lr.job_id or not (js and js.id)) then
        states[row.key] = BatchLedger.state(lr, row.key)
        -- found under its old path (outputs moved): the row follows them
        if lr.output ~= row.output and not dry then store:set(lr.row, { output = row.output }) end
      elseif js and not dry then -- only the journal has this row's job id
        local note
        states[row.key], note = BatchLedger.import(store, row, js, service, lr)
        if note then progress:log(("%s:%d: %s"):format(name, row.line, note)) end
      end
    end
    journal:close() -- imported: never written with a ledger, and its lock is no longer needed
  end

  local adopt, aerr = adoptions(opts.adopt, home, by_key, states, job_exists(ctx), store)
  if not adopt then close() return usage(aerr) end
  for _, a in ipairs(adopt) do
    local st = states[a.row.key] or { key = a.row.key }
    if not dry and st.id ~= a.id then
      local ok, werr
      if store then
        ok, werr = BatchLedger.adopt(store, a.row, a.id, service)
      else
        ok, werr = journal:write({ key = a.row.key, line = a.row.line, ev = "created", id = a.id, adopted = true },
                                 true)
      end
      if not ok then
        close()
        ctx:fail({ kind = store and "ledger" or "journal", message = werr })
        return exit.JOURNAL
      end
      if type(ok) == "number" then st.lrow = ok end
    end
    st.state, st.id = "pending", a.id
    states[a.row.key] = st
  end

  -- Plan and pre-flight every row before anything is sent.
  local results, todo = {}, {}
  local counts = { done = 0, failed = 0, uncertain = 0, bad = 0, pending = 0, error = 0 }
  local media = {}
  for _, row in ipairs(rows) do
    local st = states[row.key]
    local r = { row = row, line = row.line, st = st, id = st and st.id, lrow = st and st.lrow,
                action = Rows.plan(row, st, opts) }
    local why
    if r.action == "create" then
      why = Preflight.fields(row, { model = ctx.cfg.model, strict = ctx.cfg.strict ~= false })
        or Preflight.inputs(row, media, { model = ctx.cfg.model, max_audio_seconds = ctx.cfg.max_audio_seconds })
    end
    if not why and (r.action == "create" or r.action == "resume" or r.action == "download") then
      why = Preflight.output(row, not dry)
    end
    row.fp = Journal.hash(Manifest.fingerprint(row))
    if why then
      bad[#bad + 1] = { line = row.line, message = why, output = row.output, id = r.id }
    else
      results[#results + 1] = r
      if r.action == "skip" then
        r.result, r.message = "done", "already done"
        counts.done = counts.done + 1
      elseif r.action == "uncertain" then
        r.result = "uncertain"
        r.message = "create was sent but not answered; it may have been billed (--recreate-uncertain sends it again)"
        counts.uncertain = counts.uncertain + 1
      elseif r.action == "failed" then
        r.result = "failed"
        r.message = (st.message or "generation failed") .. " (--retry-failed creates it again)"
        counts.failed = counts.failed + 1
      else
        todo[#todo + 1] = r
        if st and st.fp and st.fp ~= row.fp and st.id and not st.legacy then
          progress:log(("%s:%d: inputs changed since job %s was created; keeping that job"
            .. " (use another output to create a new one)"):format(name, row.line, st.id))
        end
      end
    end
  end
  -- Outputs another run is making right now: not started here.
  if not dry and #todo > 0 then
    local busy, release = OutputLocks.take(todo)
    local close_files = close
    close = function() release() close_files() end
    local taken = {}
    for _, r in ipairs(busy) do taken[r] = true end
    local kept = {}
    for _, r in ipairs(todo) do
      if taken[r] then
        r.result, r.message = "pending", "another omnihuman run is making this output now; not started"
        counts.pending = counts.pending + 1
      else
        kept[#kept + 1] = r
      end
    end
    todo = kept
  end
  table.sort(bad, function(a, b) return a.line < b.line end)
  for _, b in ipairs(bad) do
    progress:log(("%s:%d: bad row: %s"):format(name, b.line, b.message))
    results[#results + 1] = { line = b.line, result = "bad", action = "bad", message = b.message,
                              row = { output = b.output, key = b.output and fs.relative(b.output, home) }, id = b.id }
    counts.bad = counts.bad + 1
  end
  table.sort(results, function(a, b) return a.line < b.line end)
  state = { ctx = ctx, opts = opts, progress = progress, journal = journal, name = name, real = real, jpath = jpath,
                  results = results, todo = todo, counts = counts, budget = budget, home = home, conc = conc }

  if dry then
    close()
    return batch_report.plan(state)
  end

  local rep = { creates = 0, unrecorded = {}, journal_errors = journal.errors, ledger_errors = {}, limit_changes = {} }
  if #todo > 0 then
    local client, cerr = ctx:client()
    if not client then close() ctx:fail(cerr) return exit.for_error(cerr) end
    state.ledger = store
    local targets = {}
    for _, r in ipairs(todo) do targets[#targets + 1] = r.row.output end
    fs.clean_parts(targets)
    state.client = client
    state.pacer = Pacer.new(conc, budget, util.now)
    local ok, res = pcall(batch_run.execute, state)
    if not ok then -- interrupted: the journal stays valid; jobs made meanwhile are kept
      -- further SIGINT/SIGTERM/SIGHUP would cut the journaling below short
      local has, signals = pcall(require, "omnihuman.ledger_db")
      if has then signals.ignore_signals() end
      batch_run.rescue(state, res)
      close()
      error(res, 0)
    end
    rep = res
  end
  close()
  return batch_report.summary(state, rep)
end

return batch
