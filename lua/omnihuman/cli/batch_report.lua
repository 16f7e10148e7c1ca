-- What a batch prints: the plan of a dry run, or the summary of a run
-- (a table or --json), and the exit code that goes with it.
local exit = require("omnihuman.cli.exit")
local batch_run = require("omnihuman.cli.batch_run")
local util = require("omnihuman.cli.util")
local array = util.array

local batch_report = {}

local function fmt_num(n) return ("%.15g"):format(n) end

local PLAN_ORDER = { "create", "resume", "download", "skip", "uncertain", "failed", "bad" }

-- --dry-run: every row's plan; exit 0 only when every row can be done.
function batch_report.plan(state)
  local n = {}
  for _, k in ipairs(PLAN_ORDER) do n[k] = 0 end
  for _, r in ipairs(state.results) do n[r.action] = n[r.action] + 1 end
  local ok = n.bad == 0 and n.uncertain == 0 and n.failed == 0
  local function note(r)
    if r.action == "bad" or r.action == "uncertain" or r.action == "failed" then return r.message end
    if r.row.new_dir then return "folder " .. r.row.new_dir .. " will be created" end
  end
  if state.opts.json then
    local rows = {}
    for _, r in ipairs(state.results) do
      rows[#rows + 1] = { line = r.line, where = state.name .. ":" .. r.line, plan = r.action, key = r.row.key,
                          output = r.row.output, id = r.id, message = note(r) }
    end
    state.ctx:print_json({ ok = ok, dry_run = true, manifest = state.name, journal = state.jpath, plan = n,
                           max_creates = state.budget, rows = array(rows) })
  else
    local lines = { ("%-10s %-16s %-9s %s"):format("PLAN", "WHERE", "JOB", "OUTPUT / NOTE") }
    for _, r in ipairs(state.results) do
      local text = r.row.key or ""
      local extra = note(r)
      if extra then text = (text ~= "" and (text .. "  ") or "") .. extra end
      lines[#lines + 1] = ("%-10s %-16s %-9s %s"):format(r.action, state.name:match("[^/]*$") .. ":" .. r.line,
        batch_run.short(r.id), text)
    end
    local tail = ""
    if state.budget and n.create > state.budget then
      tail = (" (--max-creates %d: %d of them in this run)"):format(state.budget, state.budget)
    end
    lines[#lines + 1] = ("plan: %d to create%s, %d to resume, %d to download, %d to skip, %d uncertain,"
      .. " %d failed, %d bad (dry run: nothing sent)"):format(n.create, tail, n.resume, n.download, n.skip, n.uncertain, n.failed, n.bad)
    state.ctx:say(table.concat(lines, "\n"))
  end
  return ok and exit.OK or exit.BATCH
end

-- After a run: the summary and the exit code.
function batch_report.summary(state, rep)
  local counts, results = state.counts, state.results
  local ok = counts.done == #results
  local name = state.name
  local progress = state.progress
  for _, e in ipairs(rep.unrecorded) do
    io.stderr:write(("omnihuman: job %s (%s:%d, %s) is not in the %s: keep this id\n"):format(e.id, name,
      e.line, e.key, state.ledger and "ledger" or "journal"))
  end
  if #rep.journal_errors > 0 then
    io.stderr:write(("omnihuman: %d journal write(s) failed (first: %s); the run stopped; rerun once the"
      .. " journal can be written\n"):format(#rep.journal_errors, rep.journal_errors[1]))
  end
  if #rep.ledger_errors > 0 then
    io.stderr:write(("omnihuman: %d ledger write(s) failed (first: %s); the run stopped; rerun once the"
      .. " ledger can be written\n"):format(#rep.ledger_errors, rep.ledger_errors[1]))
  end
  io.stderr:flush()
  local unwritten = #rep.journal_errors + #rep.ledger_errors
  -- No create sent: nothing spent. Creates none of whose answers said a
  -- cost: "none reported" (null with --json).
  local credits = rep.credits
  if credits == nil and rep.creates == 0 then credits = 0 end
  if state.opts.json then
    local rows = {}
    for _, r in ipairs(results) do
      rows[#rows + 1] = { line = r.line, output = r.row.output, key = r.row.key, result = r.result, id = r.id,
                          kind = r.kind, message = r.message }
    end
    state.ctx:print_json({ ok = ok and unwritten == 0, manifest = name, journal = state.jpath, counts = counts,
                           creates = rep.creates, max_creates = state.budget, held = rep.held or 0,
                           credits = credits == nil and util.null or credits, journal_errors = array(rep.journal_errors),
                           ledger_errors = array(rep.ledger_errors), unrecorded = array(rep.unrecorded),
                           concurrency = { max = state.conc, limit = state.pacer and state.pacer:limit() or state.conc,
                                           changes = array(rep.limit_changes) },
                           rows = array(rows) })
  else
    local lines = { ("%-6s %-10s %-9s %s"):format("LINE", "RESULT", "JOB", "OUTPUT / NOTE") }
    for _, r in ipairs(results) do
      local note = r.row.key or ""
      if r.message then note = (note ~= "" and (note .. "  ") or "") .. r.message end
      lines[#lines + 1] = ("%-6d %-10s %-9s %s"):format(r.line, r.result or "?", batch_run.short(r.id), note)
    end
    lines[#lines + 1] = ("%d rows: %d done, %d failed, %d uncertain, %d pending, %d errors, %d bad"):format(
      #results, counts.done, counts.failed, counts.uncertain, counts.pending, counts.error, counts.bad)
    local spend = ("this run: %d creates sent, credits used: %s"):format(rep.creates,
      credits and fmt_num(credits) or "none reported")
    if rep.held then
      spend = spend .. ("; --max-creates %d reached: %d rows left for the next run"):format(state.budget, rep.held)
    end
    lines[#lines + 1] = spend
    state.ctx:say(table.concat(lines, "\n"))
  end
  progress:close()
  if #rep.unrecorded > 0 then return exit.UNRECORDED end
  if unwritten > 0 then return exit.JOURNAL end
  if rep.abort then return exit.for_error(rep.abort) end
  return ok and exit.OK or exit.BATCH
end

return batch_report
