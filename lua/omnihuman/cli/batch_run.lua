-- The batch's engine: starts rows (create, wait, download) as coroutines,
-- as many at once as the pacer allows, and records every step: in the
-- ledger, or in the journal with --no-ledger (never both). The record
-- decides what may be paid for: a create is sent only after its row (or
-- its `creating` record) is durable, and a job id that cannot be recorded
-- stops the run at once (the id goes to stderr so that it is not lost).
local omnihuman = require("omnihuman")
local util = require("omnihuman.cli.util")
local Manifest = require("omnihuman.cli.manifest")
local BatchLedger = require("omnihuman.cli.batch_ledger")

local batch_run = {}

local FATAL = { auth = true, forbidden = true }
-- Waits that stop with these leave the job pending: a rerun waits again.
local STILL_PENDING = { timeout = true, network = true, server = true, rate_limited = true, cancelled = true }

local function short(id)
  return id and (id:match("^(%x+)") or id):sub(1, 8) or "-"
end
batch_run.short = short

-- Credits the service reported for a create (meta.usage.credits_used, or
-- tokens_used in older answers), read as generate and create read them.
local usage = require("omnihuman.usage")
local function usage_of(created)
  local _, n = usage(created)
  return n
end

-- The command that records a job (spec: OUTPUT=ID, shell-quoted) on this
-- run's ledger (--ledger PATH when not the default), or its journal.
local function adopt_command(state, spec)
  local where = state.ledger and (state.opts.ledger and (" --ledger " .. util.q(state.opts.ledger)) or "")
    or ((state.opts["no-ledger"] and " --no-ledger" or "") .. " --journal " .. util.q(state.jpath))
  return ("omnihuman batch %s%s --adopt %s"):format(util.q(state.name), where, spec)
end

-- state: { ctx, opts, progress, client, journal, pacer, todo (rows with
-- .row, .action), name (the manifest as given) }. Fills each r.result /
-- r.kind / r.message and returns a report table.
function batch_run.execute(state)
  local ctx, progress, client, journal, pacer = state.ctx, state.progress, state.client, state.journal, state.pacer
  local rep = { credits = nil, unrecorded = {}, journal_errors = journal.errors, ledger_errors = {},
                counts = state.counts, limit_changes = {} }
  local counts = state.counts
  local queue = {}
  for _, r in ipairs(state.todo) do if r.action ~= "create" then queue[#queue + 1] = r end end
  for _, r in ipairs(state.todo) do if r.action == "create" then queue[#queue + 1] = r end end
  local inflight = {} -- r -> its wait or download operation (cancelled on a stop)
  state.flying = {}   -- r -> its create operation while out: an interrupt may leave its job unrecorded
  local finished, stopping = 0, nil
  local t0 = util.now()

  progress.header = function()
    return ("batch %s: %d/%d finished, %d active, limit %d/%d, %d failed  %s"):format(util.basename(state.name),
      finished, #state.todo, pacer.active, pacer:limit(), pacer.max, counts.failed + counts.error,
      util.fmt_duration(util.now() - t0))
  end

  -- Messages that must be seen even with --quiet.
  local function shout(text)
    if progress.mode == "none" then
      io.stderr:write("omnihuman: ", util.redact(text), "\n")
      io.stderr:flush()
    else
      progress:log(text)
    end
  end

  local function stop_now(why)
    if stopping then return end
    stopping = why
    for _, op in pairs(inflight) do op:cancel() end
  end

  -- Journals one event of row r (--no-ledger; with a ledger the journal
  -- is not written). After the journal failed, only job ids are still
  -- tried: anything else a rerun redoes at no cost.
  local function record(r, ev, extra, sync)
    if state.ledger then return true end
    if rep.journal_failed and ev ~= "created" then return false end
    local rec = { key = r.row.key, line = r.row.line, ev = ev }
    for k, v in pairs(extra or {}) do rec[k] = v end
    local ok, err = journal:write(rec, sync)
    if not ok then
      rep.journal_failed = rep.journal_failed or err
      shout(err .. " (the run stops)")
      stop_now("the journal could not be written")
    end
    return ok
  end

  -- A ledger write that failed once the create was recorded (a status, the
  -- result, the download, a create's failure): the run stops (exit 9); a
  -- rerun redoes it at no cost.
  local function ledgered(r, what, ok, err)
    if ok then return true end
    local why = ("%s:%d: the ledger could not record %s: %s"):format(state.name, r.row.line, what,
      util.redact(tostring(err)))
    rep.ledger_errors[#rep.ledger_errors + 1] = why
    shout(why .. " (the run stops)")
    stop_now("the ledger could not be written")
    return false
  end

  local start_ready
  local function row_done(r)
    pacer.active = pacer.active - 1
    finished = finished + 1
    inflight[r] = nil
    start_ready()
  end

  local function fail(r, job, result, err, ev)
    r.result, r.kind = result, err.kind
    -- "job <id> ended with status error: why" -> "status error: why" (the id has its column)
    r.message = util.redact(err.message):gsub("^job %S+ ended with ", "")
    counts[result] = counts[result] + 1
    if ev then record(r, ev, { id = r.id, kind = err.kind, message = r.message }, true) end
    progress:finish(job, result .. ": " .. err.kind .. ": " .. r.message)
    if FATAL[err.kind] and not rep.abort then rep.abort = err end
    row_done(r)
  end

  local function limit_note(why, old, new)
    if not old then return end
    rep.limit_changes[#rep.limit_changes + 1] = { from = old, to = new }
    progress:log(("concurrency limit %d -> %d (%s)"):format(old, new, why))
  end
  local REFUSED = "the service refused a create with 429"
  -- The client's retry events: the first 429 of a burst lowers the level
  -- while the create is still being retried.
  state.on_event = function(ev)
    if ev.type == "retry" and ev.op == "create" and ev.status == 429 then limit_note(REFUSED, pacer:refused()) end
  end

  -- A create refused for certain (429): the row goes back in the queue.
  local function requeue(r, job, err)
    local pause = pacer:pause_after_refusal(r)
    if not pause then return false end
    r.not_before = util.now() + pause
    progress:finish(job, ("refused (%s), queued again"):format(err.status or err.kind))
    table.insert(queue, 1, r)
    pacer.active = pacer.active - 1
    start_ready()
    return true
  end

  -- Awaits a wait or download that a stop may cancel.
  local function await(r, op)
    inflight[r] = op
    local res, err = omnihuman.await(op)
    inflight[r] = nil
    if not res and stopping and err.kind == "cancelled" then
      err = { kind = "cancelled", message = "stopped: " .. stopping }
    end
    return res, err
  end

  local function create(r, job)
    local row = r.row
    progress:set(job, "creating")
    local fields = Manifest.create_fields(row)
    if state.ledger then
      local what, v, lrow = BatchLedger.before(state.ledger, r, fields, ctx.cfg.model, client.base_url,
        r.st ~= nil and (r.st.state == "uncertain" or r.st.state == "failed"))
      if what == "stop" or what == "bad" then
        -- Never sent without its ledger row: the ledger is the record that
        -- protects the money (written before the journal, which has nothing
        -- of this create yet).
        pacer:give_back()
        if what == "bad" then
          fail(r, job, "bad", { kind = "invalid_input", message = "not sent: " .. v })
          return false
        end
        local why = ("%s:%d: the ledger could not record this create: %s"):format(state.name, row.line,
          util.redact(v))
        rep.ledger_errors[#rep.ledger_errors + 1] = why
        shout(why .. " (not sent; the run stops)")
        stop_now("the ledger could not be written")
        fail(r, job, "error", { kind = "ledger", message = "not sent: the ledger could not record it" })
        return false
      elseif what ~= "send" then
        pacer:give_back()
        if what == "adopt" then -- the ledger has this request's job for this output: take it, pay nothing
          r.id, r.lrow = v, lrow
          if not record(r, "created", { id = v, adopted = true }, true) then
            fail(r, job, "error", { kind = "journal", message = "job " .. v .. " of the ledger could not be journaled" })
            return false
          end
          progress:log(("%s:%d: job %s of the ledger is this row's (same request, same output): not created again")
            :format(state.name, row.line, v))
          return true
        end
        if what == "uncertain" then
          fail(r, job, "uncertain", { kind = "duplicate", message = v }, "uncertain")
          return false
        end
      end
      if what == "send" then r.lrow = v end
    end
    if not record(r, "creating", { fp = row.fp }, true) then -- --no-ledger only
      pacer:give_back()
      fail(r, job, "error", { kind = "journal", message = "not sent: the journal could not record it" })
      return false
    end
    local made, op = pcall(client.create_op, client, fields)
    if not made then -- refused before sending (a field the create cannot take): this row only
      pacer:give_back()
      ledgered(r, "that it was not sent",
        BatchLedger.answered(state.ledger, r.lrow, nil, { kind = "invalid_input", message = tostring(op) }))
      record(r, "create_failed", { kind = "invalid_input", message = util.redact(tostring(op)) }, false)
      fail(r, job, "bad", { kind = "invalid_input", message = "not sent: " .. tostring(op) })
      return false
    end
    state.flying[r] = op
    local created, err = omnihuman.await(op)
    state.flying[r] = nil
    local lok, lerr = BatchLedger.answered(state.ledger, r.lrow, created, err, created and usage_of(created) or nil)
    if not created then
      if not ledgered(r, "the create's answer", lok, lerr) then
        -- its row stays `creating`: uncertain to the next run
        fail(r, job, err.maybe_created and "uncertain" or "error", err, nil)
        return false
      end
      if err.maybe_created then
        fail(r, job, "uncertain", err, "uncertain")
        return false
      end
      pacer:give_back()
      record(r, "create_failed", { kind = err.kind, message = util.redact(err.message) }, false)
      if err.kind == "rate_limited" then
        limit_note(REFUSED, pacer:refused())
        if not stopping and requeue(r, job, err) then return false end
      end
      fail(r, job, "error", err, nil)
      return false
    end
    r.id = created.id
    local credits = usage_of(created)
    if credits then rep.credits = (rep.credits or 0) + credits end
    limit_note("jobs are being accepted", pacer:created())
    if not lok or not record(r, "created", { id = r.id, credits = credits }, true) then
      -- where the record goes is named too: the command must act on this run's ledger or journal
      local adopt = adopt_command(state, util.q(row.key .. "=" .. r.id))
      local store = state.ledger and "ledger" or "journal"
      rep.unrecorded[#rep.unrecorded + 1] = { line = row.line, key = row.key, id = r.id }
      if state.ledger then
        rep.ledger_errors[#rep.ledger_errors + 1] = ("%s:%d: the ledger could not record job %s: %s"):format(
          state.name, row.line, r.id, util.redact(tostring(lerr)))
        stop_now("the ledger could not be written")
      end
      io.stderr:write(("omnihuman: job %s was created for %s:%d (%s) but its id could not be %s;"
        .. " it is not lost: once the %s can be written, run: %s\n"):format(r.id, state.name, row.line, row.key,
        state.ledger and "recorded in the ledger" or "journaled", store, adopt))
      io.stderr:flush()
      fail(r, job, "error", { kind = store, message = ("job %s created but not %s: %s"):format(r.id,
        state.ledger and "in the ledger" or "journaled", adopt) })
      return false
    end
    progress:set(job, "created", short(r.id))
    return true
  end

  local function process(r)
    local row = r.row
    local job = progress:add(("L%d %s"):format(row.line, util.basename(row.output)))
    if r.action == "create" and not create(r, job) then return end
    if stopping then
      return fail(r, job, "pending", { kind = "cancelled", message = "stopped: " .. stopping })
    end
    progress:set(job, "waiting", short(r.id))
    local last
    local res, err = await(r, client:wait_op(r.id, { on_status = function(st)
      progress:set(job, tostring(st.status), short(r.id))
      if st.status ~= last then
        last = st.status
        if not ledgered(r, "its status", BatchLedger.status(state.ledger, r.lrow, st.status)) then
          last = nil -- tried again at the next status: the run is stopping meanwhile
        end
      end
    end }))
    if not res then
      if err.kind == "generation_failed" then
        if not ledgered(r, "its failure", BatchLedger.failed(state.ledger, r.lrow, err)) then
          return fail(r, job, "pending", err)
        end
        return fail(r, job, "failed", err, "failed")
      end
      if STILL_PENDING[err.kind] then return fail(r, job, "pending", err, "wait_error") end
      return fail(r, job, "error", err, "wait_error")
    end
    local url = res.video and res.video.url
    if not ledgered(r, "its result", BatchLedger.completed(state.ledger, r.lrow, url, res.status)) then
      return fail(r, job, "pending", { kind = "ledger", message = "stopped: the ledger could not record its result" })
    end
    record(r, "completed", { id = r.id, url = url }, false)
    if stopping then
      return fail(r, job, "pending", { kind = "cancelled", message = "stopped: " .. stopping })
    end
    progress:set(job, "downloading", short(r.id))
    local got
    got, err = await(r, client:download_op(url, row.output, { on_progress = function(g, total)
      progress:bytes(job, g, total)
    end }))
    if not got then return fail(r, job, "error", err, "download_error") end
    if not ledgered(r, "its download", BatchLedger.downloaded(state.ledger, r.lrow, row.output)) then
      return fail(r, job, "pending", { kind = "ledger", message = "downloaded, but the ledger could not record it" })
    end
    record(r, "downloaded", { id = r.id, output = row.output }, true)
    r.result, r.message = "done", nil
    counts.done = counts.done + 1
    progress:finish(job, "done -> " .. row.output)
    row_done(r)
  end

  start_ready = function()
    if stopping or rep.abort then return end
    local now, i = util.now(), 1
    while i <= #queue and pacer:has_room() do
      local r = queue[i]
      if (r.not_before and r.not_before > now) or (r.action == "create" and not pacer:budget_left()) then
        i = i + 1
      else
        table.remove(queue, i)
        r.not_before = nil
        pacer.active = pacer.active + 1
        if r.action == "create" then pacer:take() end -- given back if certainly not made
        ctx:spawn(process, r)
      end
    end
  end

  -- Rows start as others finish; this ticker starts the ones that waited
  -- for a back-off, and ends the run when nothing can start any more.
  local function ticker()
    while true do
      start_ready()
      local soonest = nil
      local startable = false
      if not stopping and not rep.abort then
        for _, r in ipairs(queue) do
          if r.not_before then
            soonest = math.min(soonest or math.huge, r.not_before)
          elseif r.action ~= "create" or pacer:budget_left() then
            startable = true
          end
        end
      end
      if pacer.active == 0 and not soonest and not startable then break end
      local nap = soonest and math.max(0.01, soonest - util.now()) or 0.5
      omnihuman.sleep(math.min(nap, 0.5))
    end
  end

  local ran, rerr = pcall(ctx.run, ctx, function() ctx:spawn(ticker) end)
  if not ran then error(rerr, 0) end

  for _, r in ipairs(queue) do
    if not r.result then
      local why
      if rep.abort then why = rep.abort.kind .. " error"
      elseif stopping then why = stopping
      elseif r.action == "create" and not pacer:budget_left() then
        why = ("--max-creates %d reached (the next run creates it)"):format(pacer.budget)
        rep.held = (rep.held or 0) + 1
      else why = "stopped" end
      r.result, r.message = "pending", "not started: " .. why
      counts.pending = counts.pending + 1
    end
  end
  rep.creates = pacer.sent
  return rep
end

-- The answer of a create operation the unwinding let finish, or nil.
local function answered_id(op)
  if type(op) ~= "userdata" or op:is_closed() or not op:done() then return nil end
  local ok, res = pcall(op.result, op)
  return ok and type(res) == "table" and res.id or nil
end

-- The run was interrupted (Ctrl-C, SIGTERM, SIGHUP) with creates out:
-- unwinding waited for their answers. Each row's own create operation says
-- which job is that row's: recorded (in the ledger, or the journal with
-- --no-ledger). An id no operation accounts for (or that could not be
-- recorded) is printed with the rows it may belong to, to --adopt.
function batch_run.rescue(state, err)
  local ids, seen = {}, {}
  for id in tostring(err):gmatch("job (%S+) was created") do ids[#ids + 1] = id end
  if not state.flying then return end
  local rows = {}
  for r in pairs(state.flying) do rows[#rows + 1] = r end
  table.sort(rows, function(a, b) return a.row.line < b.row.line end)
  local left = {}
  for _, r in ipairs(rows) do
    local id = answered_id(state.flying[r])
    local kept
    if id and state.ledger then
      kept = r.lrow and BatchLedger.answered(state.ledger, r.lrow, { id = id })
    elseif id then
      kept = state.journal:write({ key = r.row.key, line = r.row.line, ev = "created", id = id }, true)
    end
    if kept then
      seen[id] = true
      io.stderr:write(("omnihuman: job %s (%s:%d, %s) answered as the run stopped; it is in the %s\n")
        :format(id, state.name, r.row.line, r.row.key, state.ledger and "ledger" or "journal"))
    else
      left[#left + 1] = r
    end
  end
  local unseen = {}
  for _, id in ipairs(ids) do if not seen[id] then unseen[#unseen + 1] = id end end
  ids, rows = unseen, left
  if #ids == 0 then return end
  local keys = {}
  for _, r in ipairs(rows) do keys[#keys + 1] = r.row.key end
  for _, id in ipairs(ids) do
    io.stderr:write(("omnihuman: job %s was created as the run stopped, for one of: %s (uncertain in the"
      .. " %s); once you know which: %s\n"):format(id, table.concat(keys, ", "),
      state.ledger and "ledger" or "journal", adopt_command(state, "OUTPUT=" .. id)))
  end
end

return batch_run
