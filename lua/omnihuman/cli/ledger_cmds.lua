-- The CLI on the job ledger: --ledger/--no-ledger for generate and create,
-- and the commands `jobs` and `resume` (docs/cli.md, docs/ledger.md).
local util = require("omnihuman.cli.util")
local exit = require("omnihuman.cli.exit")

local M = {}

M.OPTIONS = {
  { "ledger", arg = "PATH", help = "record the job in this ledger (default: $XDG_STATE_HOME/omnihuman/jobs.db)" },
  { "no-ledger", help = "do not record the job in a ledger" },
  { "again", help = "create even when the ledger holds a job of the same request (pays again)" },
}

--- The create fields with the ledger's own: again (never sent).
function M.fields(opts, fields)
  if opts.again and M.choice(opts) then fields.again = true end
  return fields
end

--- A create's error as the command line says it: a duplicate names --again.
function M.explain(err)
  if type(err) == "table" and err.kind == "duplicate" then
    err.message = tostring(err.message):gsub("pass again = true to pay for it again", "--again pays for it again")
  end
  return err
end

-- An output that cannot be written is refused before anything is sent (a
-- create is paid for): not a folder, in a folder that exists and is
-- writable. nil, or why.
function M.output_problem(path)
  local row = { output = path }
  local why = require("omnihuman.cli.preflight").output(row, false)
  if why then return why end
  if row.new_dir then return "output folder " .. row.new_dir .. " does not exist" end
end

--- Takes the output's lock (the batch's: docs/cli.md) for the rest of the
--- command, then removes stale .part-* files of it: never those of another
--- run downloading to it now. true, or nil, why (that run holds it).
function M.claim_output(ctx, path)
  local fs = require("omnihuman.cli.fs")
  local canon = fs.canonical(path) or path
  local busy, release = require("omnihuman.cli.output_locks").take({ { row = { output = canon } } })
  if #busy > 0 then return nil, "another omnihuman run is making " .. path .. " now; nothing was done" end
  ctx.held_outputs = ctx.held_outputs or {}
  table.insert(ctx.held_outputs, release) -- kept: a lock lives as long as its file is open
  fs.clean_parts({ path })
  return true
end

--- claim_output for a command's one output: exit code 11 when another run holds it.
function M.claim_or_fail(ctx, path)
  local ok, why = M.claim_output(ctx, path)
  if ok then return nil end
  ctx:fail({ kind = "locked", message = why })
  return exit.LOCKED
end

local function usage(msg) return nil, { usage = true, message = msg } end

--- The ledger a command uses: a path, true (the default file) or false.
function M.choice(opts)
  if opts["no-ledger"] then return false end
  return opts.ledger or true
end

--- ctx:client() with the ledger chosen; nil, err when it cannot be opened.
function M.client(ctx, opts, no_key_needed)
  local choice = M.choice(opts)
  if choice then ctx.cfg.ledger = choice end
  local ok, client, err = pcall(ctx.client, ctx, no_key_needed)
  if not ok then
    local msg = tostring(client):gsub("^.-omnihuman: io: ", "")
    return nil, require("omnihuman").error("io", "cannot open the ledger (--no-ledger runs without one): " .. msg)
  end
  return client, err
end

local function age(t)
  local s = os.time() - (t or os.time())
  if s < 120 then return s .. "s" end
  if s < 7200 then return math.floor(s / 60) .. "m" end
  if s < 172800 then return math.floor(s / 3600) .. "h" end
  return math.floor(s / 86400) .. "d"
end

local function credits_text(n)
  if not n then return "-" end
  return (n == math.floor(n) and math.abs(n) < 2 ^ 53) and ("%d"):format(n) or ("%.6g"):format(n)
end

-- What `jobs` shows as the status: the state, with the service's last status
-- while the job is pending.
local function status_text(r)
  if r.state == "created" and r.status then return r.status end
  return r.state
end

M.jobs = {
  usage = "jobs [--state STATE] [--model MODEL] [--label LABEL] [--ledger PATH]",
  summary = "List the jobs of the ledger: id, model, status, age, output, credits.",
  options = {
    { "state", arg = "STATE",
      help = "only rows in this state (creating, created, maybe_created, not_created, completed, failed, downloaded)" },
    { "model", arg = "MODEL", help = "only rows of this model" },
    { "label", arg = "LABEL", help = "only rows with this label" },
    M.OPTIONS[1],
  },
  run = function(ctx, opts)
    if #opts.args > 0 then return usage("unexpected argument " .. opts.args[1]) end
    local client, err = M.client(ctx, opts, true)
    if not client then ctx:fail(err) return exit.for_error(err) end
    local rows
    rows, err = client:jobs{ state = opts.state, model = opts.model, label = opts.label }
    if not rows then ctx:fail(err) return exit.for_error(err) end
    if opts.json then
      ctx:print_json({ ok = true, ledger = client.ledger.store.path, jobs = util.array(rows) })
      return exit.OK
    end
    local lines = { ("%-5s %-38s %-26s %-14s %5s  %-8s %s"):format("ROW", "ID", "MODEL", "STATUS", "AGE", "CREDITS", "OUTPUT") }
    for _, r in ipairs(rows) do
      lines[#lines + 1] = ("%-5d %-38s %-26s %-14s %5s  %-8s %s"):format(r.row, r.job_id or "-", r.model,
        status_text(r), age(r.created_at), credits_text(r.credits), r.output or "-")
    end
    ctx:say(table.concat(lines, "\n"))
    return exit.OK
  end,
}

M.resume = {
  usage = "resume ID|ROW [-o OUT.mp4] | resume --all",
  summary = "Finish recorded jobs without paying again: wait for each and download its video.\n"
    .. "ID is a job id or a ledger row number; --all takes every row with a job id not yet downloaded.",
  options = {
    { "all", help = "every job of the ledger that has an id and is not downloaded or failed" },
    { "output", short = "o", arg = "FILE", help = "download there instead of the output recorded" },
    { "interval", arg = "SECONDS", number = true, help = "seconds between status checks (default 10)" },
    { "timeout", arg = "SECONDS", number = true, help = "give up waiting after this long (default 900)" },
    M.OPTIONS[1],
  },
  run = function(ctx, opts)
    if opts.all and #opts.args > 0 then return usage("resume takes an id or --all, not both") end
    if not opts.all and #opts.args ~= 1 then return usage("resume takes exactly one job id or row, or --all") end
    if opts.all and opts.output then return usage("-o/--output needs one job, not --all") end
    local bad = opts.output and M.output_problem(opts.output)
    if bad then return usage(bad) end
    local client, err = M.client(ctx, opts)
    if not client then ctx:fail(err) return exit.for_error(err) end
    local targets, unsent = {}, {}
    if opts.all then
      for _, r in ipairs(assert(client:jobs())) do
        if r.job_id and (r.state == "created" or r.state == "completed") then targets[#targets + 1] = r
        elseif not r.job_id and (r.state == "creating" or r.state == "maybe_created") then unsent[#unsent + 1] = r end
      end
    else
      local a = opts.args[1]
      targets[1] = a:match("^%d+$") and tonumber(a) or a
    end
    -- Rows whose create may have made a job that never reached the ledger:
    -- said, never resent (only the service could tell whether it exists).
    for _, r in ipairs(unsent) do
      io.stderr:write(("omnihuman: row %d (%s) has no job id (%s): the service may have made it; not resent\n")
        :format(r.row, r.output or r.model, r.state))
    end
    -- Each output about to be downloaded again: locked, its stale .part-*
    -- files removed (a download killed midway left them); one another run
    -- is making now is left to it.
    local worst = exit.OK
    local kept, results = {}, {}
    for _, t in ipairs(targets) do
      local r = type(t) == "table" and t or client.ledger.store:get(t)
      local out = opts.output or (r and r.output)
      local ok, why = true, nil
      if out then ok, why = M.claim_output(ctx, out) end
      if ok then kept[#kept + 1] = t
      else
        ctx:fail({ kind = "locked", message = why }, nil, opts.json)
        results[#results + 1] = { ok = false, id = r and r.job_id, error = { kind = "locked", message = why } }
        worst = exit.LOCKED
      end
    end
    targets = kept
    ctx:run(function()
      for _, t in ipairs(targets) do
        local label = type(t) == "table" and (t.job_id or ("row " .. t.row)) or tostring(t)
        local job = ctx.progress:add(label)
        local res, rerr = client:resume(t, { output = opts.output, interval = opts.interval, timeout = opts.timeout,
          on_status = function(st) ctx.progress:set(job, tostring(st.status)) end })
        if res then
          ctx.progress:finish(job, res.output and ("done -> " .. res.output) or "completed")
          results[#results + 1] = { ok = true, id = res.id, output = res.output, status = res.status }
          if not opts.json then ctx:say(res.output or (type(res.video) == "table" and res.video.url) or res.id) end
        else
          ctx.progress:finish(job, rerr.kind)
          -- --json: the one object below carries the error
          ctx:fail(rerr, rerr.job_id and { job_id = rerr.job_id } or nil, opts.json)
          results[#results + 1] = { ok = false, id = rerr.job_id, error = { kind = rerr.kind, message = util.redact(rerr.message) } }
          worst = exit.for_error(rerr)
        end
      end
    end)
    if opts.json then
      local no_id = {}
      for i, r in ipairs(unsent) do no_id[i] = { row = r.row, state = r.state, output = r.output } end
      ctx:print_json({ ok = worst == exit.OK, jobs = util.array(results), no_job_id = unsent[1] and no_id or nil })
    end
    return worst
  end,
}

return M
