-- omnihuman batch: many jobs from a manifest, at most --concurrency at a
-- time (coroutines under omnihuman.run), resumable through the journal.
local U = require("omnihuman.cli.util")
local E = require("omnihuman.cli.exit")
local A = require("omnihuman.cli.args")
local Manifest = require("omnihuman.cli.manifest")
local Journal = require("omnihuman.cli.journal")

local B = {}

local FATAL = { auth = true, forbidden = true }
-- Waits that stop with these leave the job pending: a rerun waits again.
local STILL_PENDING = { timeout = true, network = true, server = true, rate_limited = true, cancelled = true }

-- Decides what a row needs from its journal state.
local function plan(row, st, opts)
  local s = st and st.state or "new"
  if s == "new" then return "create" end
  if s == "uncertain" then return opts["recreate-uncertain"] and "create" or "uncertain" end
  if s == "failed" then return opts["retry-failed"] and "create" or "failed" end
  if s == "pending" or s == "completed" then return "resume" end
  if s == "done" then return U.exists(row.output) and "done" or "resume" end
  return "create"
end

-- Removes stale <target>.part-XXXXXX files of our targets, one listing per directory.
local function clean_parts(rows)
  local by_dir = {}
  for _, row in ipairs(rows) do
    local d = U.dirname(row.output)
    by_dir[d] = by_dir[d] or {}
    by_dir[d][U.basename(row.output)] = true
  end
  local n = 0
  for dir, bases in pairs(by_dir) do
    local p = io.popen("ls -A " .. U.q(dir) .. " 2>/dev/null")
    if p then
      local names = {}
      for name in p:lines() do names[#names + 1] = name end
      p:close()
      for _, name in ipairs(names) do
        local base = name:match("^(.*)%.part%-[%w_]+$")
        if base and bases[base] and #name == #base + 12 then
          if os.remove(U.join(dir, name)) then n = n + 1 end
        end
      end
    end
  end
  return n
end

local function short(id)
  return id and (id:match("^(%x+)") or id):sub(1, 8) or "-"
end

B.command = {
  usage = "batch MANIFEST [options]",
  summary = "Run every row of a manifest (CSV with a header, or JSON Lines): create, wait, download.",
  details = [[
Columns: image (or image_url), audio (or audio_url), output; other columns are
extra request fields. Relative paths are relative to the manifest's directory.
The journal (default MANIFEST.journal.jsonl) records each job id as soon as the
create answers; a rerun waits for pending jobs, downloads completed ones and
skips finished ones, so a crashed batch never pays for a row twice. A row whose
create was sent but never answered is "uncertain" (it may have been billed):
it is not sent again unless you pass --recreate-uncertain.]],
  options = {
    { "concurrency", short = "c", arg = "N", number = true, help = "jobs in flight at once (default 4)" },
    { "journal", arg = "FILE", help = "journal file (default: MANIFEST.journal.jsonl)" },
    { "recreate-uncertain", help = "create again rows whose create may have been billed already" },
    { "retry-failed", help = "create again rows whose generation failed" },
    { "model", arg = "MODEL", help = "model for rows that do not name one" },
    { "field", arg = "K=V", multi = true, help = "extra field for every row (a row's own column wins)" },
    { "interval", arg = "SECONDS", number = true, help = "seconds between status checks (default 10)" },
    { "timeout", arg = "SECONDS", number = true, help = "give up waiting for a job after this long (default 900)" },
    { "no-fsync", help = "flush the journal but do not fsync it" },
  },
}

function B.command.run(ctx, opts)
  local path = opts.args[1]
  if not path or #opts.args > 1 then return nil, { usage = true, message = "batch takes exactly one manifest" } end
  local conc = opts.concurrency or 4
  if conc < 1 or conc > 1000 or conc ~= math.floor(conc) then
    return nil, { usage = true, message = "--concurrency must be a whole number from 1 to 1000" }
  end
  local common = {}
  for _, spec in ipairs(opts.field or {}) do
    local k, v = A.field(spec, U.decode)
    if not k then return nil, { usage = true, message = v } end
    common[k] = v
  end
  local P = ctx.progress
  local rows, bad = Manifest.read(path)
  if not rows then
    ctx:fail({ kind = "invalid_input", message = path .. ": " .. bad })
    return E.USAGE
  end
  for _, b in ipairs(bad) do P:log(("%s:%d: bad row: %s"):format(path, b.line, b.message)) end

  local jpath = opts.journal or (path .. ".journal.jsonl")
  local states, warnings = Journal.load(jpath)
  for _, w in ipairs(warnings) do P:log(jpath .. ": " .. w) end
  local journal, jerr = Journal.open(jpath, { sync = opts["no-fsync"] and "never" or "auto" })
  if not journal then ctx:fail({ kind = "io", message = jerr }) return E.OTHER end
  local locked, lerr = journal:lock()
  if not locked then journal:close() ctx:fail({ kind = "io", message = lerr }) return E.OTHER end

  local results, todo = {}, {}
  local counts = { done = 0, failed = 0, uncertain = 0, bad = #bad, pending = 0, error = 0 }
  for _, b in ipairs(bad) do
    results[#results + 1] = { line = b.line, result = "bad", message = b.message }
  end
  for _, row in ipairs(rows) do
    local st = states[row.key]
    for k, v in pairs(common) do if row.fields[k] == nil then row.fields[k] = v end end
    if opts.model and row.fields.model == nil then row.fields.model = opts.model end
    row.fp = Journal.hash(Manifest.fingerprint(row))
    local r = { line = row.line, output = row.output, id = st and st.id, row = row, st = st }
    r.action = plan(row, st, opts)
    if st and st.fp and st.fp ~= row.fp and st.id and r.action == "resume" then
      P:log(("%s:%d: inputs changed since job %s was created; keeping that job (use another output to create a new one)")
        :format(path, row.line, st.id))
    end
    results[#results + 1] = r
    if r.action == "done" then
      r.result = "done"; r.message = "already done"; counts.done = counts.done + 1
    elseif r.action == "uncertain" then
      r.result = "uncertain"
      r.message = "create was sent but not answered; it may have been billed (--recreate-uncertain sends it again)"
      counts.uncertain = counts.uncertain + 1
    elseif r.action == "failed" then
      r.result = "failed"; r.message = (st.message or "generation failed") .. " (--retry-failed creates it again)"
      counts.failed = counts.failed + 1
    else
      todo[#todo + 1] = r
    end
  end
  table.sort(results, function(a, b) return a.line < b.line end)

  local client, cerr
  if #todo > 0 then
    client, cerr = ctx:client()
    if not client then ctx:fail(cerr) journal:close() return E.for_error(cerr) end
    clean_parts(rows)
  end

  local abort
  local finished, active = 0, 0
  local t0 = U.now()
  P.header = function()
    return ("batch %s: %d/%d finished, %d active, %d failed  %s"):format(U.basename(path),
      finished, #todo, active, counts.failed + counts.error, U.fmt_duration(U.now() - t0))
  end

  local function record(r, ev, extra, sync)
    local rec = { key = r.row.key, line = r.line, ev = ev }
    for k, v in pairs(extra or {}) do rec[k] = v end
    journal:write(rec, sync)
  end

  local function row_done()
    active = active - 1
    finished = finished + 1
  end

  local function fail(r, job, result, err, ev)
    r.result = result
    r.kind = err.kind
    -- "job <id> ended with status error: why" -> "status error: why" (the id has its column)
    r.message = U.redact(err.message):gsub("^job %S+ ended with ", "")
    if ev then record(r, ev, { id = r.id, kind = err.kind, message = r.message }, true) end
    row_done()
    P:finish(job, result .. ": " .. err.kind .. ": " .. r.message)
    if FATAL[err.kind] and not abort then abort = err end
  end

  local function process(r)
    local row = r.row
    local job = P:add(("L%d %s"):format(row.line, U.basename(row.output)))
    if r.action == "create" then
      P:set(job, "creating")
      record(r, "creating", { fp = row.fp }, true)
      local created, err = client:create(Manifest.create_fields(row))
      if not created then
        if err.maybe_created then
          counts.uncertain = counts.uncertain + 1
          return fail(r, job, "uncertain", err, "uncertain")
        end
        counts.error = counts.error + 1
        return fail(r, job, "error", err, "create_failed")
      end
      r.id = created.id
      record(r, "created", { id = r.id }, true)
      P:set(job, "created", short(r.id))
    end
    P:set(job, "waiting", short(r.id))
    local res, err = client:wait(r.id, { on_status = function(st)
      P:set(job, tostring(st.status), short(r.id))
    end })
    if not res then
      if err.kind == "generation_failed" then
        counts.failed = counts.failed + 1
        return fail(r, job, "failed", err, "failed")
      end
      if STILL_PENDING[err.kind] then
        counts.pending = counts.pending + 1
        return fail(r, job, "pending", err, "wait_error")
      end
      counts.error = counts.error + 1
      return fail(r, job, "error", err, "wait_error")
    end
    local url = res.video and res.video.url
    record(r, "completed", { id = r.id, url = url })
    P:set(job, "downloading", short(r.id))
    local got
    got, err = client:download(url, row.output, { on_progress = function(g, total) P:bytes(job, g, total) end })
    if not got then
      counts.error = counts.error + 1
      return fail(r, job, "error", err, "download_error")
    end
    record(r, "downloaded", { id = r.id, output = row.output }, true)
    r.result, r.message = "done", nil
    counts.done = counts.done + 1
    row_done()
    P:finish(job, "done -> " .. row.output)
  end

  if #todo > 0 then
    local ran, rerr = pcall(ctx.run, ctx, function()
      local next_i = 0
      local function worker()
        while not abort do
          next_i = next_i + 1
          local r = todo[next_i]
          if not r then break end
          active = active + 1
          process(r) -- counts itself finished (row_done) before its last line
        end
      end
      for _ = 1, math.min(conc, #todo) do ctx:spawn(worker) end
    end)
    if not ran then journal:close() error(rerr, 0) end -- interrupted: the journal stays valid
  end
  journal:close()
  for _, r in ipairs(todo) do
    if not r.result then
      r.result = "skipped"; r.message = "not started: " .. (abort and (abort.kind .. " error") or "stopped")
      counts.pending = counts.pending + 1
    end
  end

  local total = #results
  local ok = counts.done == total
  if opts.json then
    local out = { ok = ok, manifest = path, journal = jpath, counts = counts, rows = {} }
    for _, r in ipairs(results) do
      out.rows[#out.rows + 1] = { line = r.line, output = r.output, result = r.result, id = r.id,
                                  kind = r.kind, message = r.message }
    end
    ctx:print_json(out)
  else
    local lines = { ("%-6s %-10s %-9s %s"):format("LINE", "RESULT", "JOB", "OUTPUT / NOTE") }
    for _, r in ipairs(results) do
      local note = r.output or ""
      if r.message then note = (note ~= "" and (note .. "  ") or "") .. r.message end
      lines[#lines + 1] = ("%-6d %-10s %-9s %s"):format(r.line, r.result or "?", short(r.id), note)
    end
    lines[#lines + 1] = ("%d rows: %d done, %d failed, %d uncertain, %d pending, %d errors, %d bad"):format(
      total, counts.done, counts.failed, counts.uncertain, counts.pending, counts.error, counts.bad)
    ctx:say(table.concat(lines, "\n"))
  end
  if abort then return E.for_error(abort) end
  return ok and E.OK or E.BATCH
end

return B
