-- The batch on the job ledger (docs/ledger.md): a batch row is a ledger
-- row, identified by what is paid for (the request's fingerprint, the
-- service and the output it goes to), not by the journal, which belongs to
-- one manifest path. The ledger is read first: a row it knows is planned
-- from it; a row only the journal knows (an older version's run, or one
-- with --no-ledger) is imported into it once, and the ledger answers for
-- it from then on; the journal is never written on a ledger. Each create,
-- its answer, the wait's statuses, the result and the download are written
-- to the row.
local canon = require("omnihuman.ledger_canon")
local fsc = require("omnihuman.fs")
local Manifest = require("omnihuman.cli.manifest")

local M = {}

--- The ledger a batch uses (opts: --ledger PATH, --no-ledger), or nil when
--- there is none; nil, message when it cannot be opened. A dry run opens
--- only a ledger that exists (it writes nothing).
function M.open(opts, dry)
  if opts["no-ledger"] then return nil end
  local ok, ledger = pcall(require, "omnihuman.ledger")
  if not ok then return nil end -- built without the ledger's module: the journal alone
  if dry then
    local path = opts.ledger or ledger.default_path()
    local f = path and io.open(path, "rb")
    if not f then return nil end
    f:close()
  end
  local store, err = ledger.open(opts.ledger or true)
  if not store then return nil, tostring(err) end
  return store
end

--- Sets row.lfp, row.lrequest, row.lmodel (what the row's create pays for)
--- when they can be known now (a local file that cannot be read: later, in
--- pre-flight), and returns the ledger row standing for it, if any: under
--- the output's canonical path, else under `spelled` (the path as the
--- manifest spells it, written before a folder on the way became a
--- symlink: outputs moved to a bigger disk).
function M.find(store, row, model, service, spelled)
  local ok, fp, request, m = pcall(canon.fingerprint, model, Manifest.create_fields(row))
  if not ok or not fp then return nil end
  row.lfp, row.lrequest, row.lmodel = fp, request, m
  return store:latest(fp, service, row.output) or (spelled and store:latest(fp, service, spelled))
    or M.moved(store, row, fp, service)
end

--- The newest row of this request whose output was row.key under a folder
--- that no longer exists: the manifest's folder moved whole (row.key is
--- relative to the folder the manifest is in now).
function M.moved(store, row, fp, service)
  local key = row.key
  if not key or key:sub(1, 1) == "/" then return nil end
  local rows = store:list{ fingerprint = fp, service = service or "" } or {}
  for i = #rows, 1, -1 do
    local lr, out = rows[i], rows[i].output
    if lr.state ~= "not_created" and out and out ~= row.output and out:sub(-#key - 1) == "/" .. key then
      local home = out:sub(1, -#key - 2)
      if home ~= "" and not fsc.stat(home) then return lr end
    end
  end
  return nil
end

-- Ledger states as the batch's row states (journal.lua's names).
local AS_ROW = { creating = "uncertain", maybe_created = "uncertain", created = "pending", completed = "completed",
                 downloaded = "done", failed = "failed" }

--- The batch state of ledger row lr for the row keyed key.
function M.state(lr, key)
  local st = { key = key, state = AS_ROW[lr.state] or "new", id = lr.job_id, url = lr.result_url, lrow = lr.row }
  if lr.error then st.kind, st.message = lr.error:match("^([%w_]+): (.*)$") end
  if lr.state == "failed" and not st.message then st.message = lr.error end
  return st
end

-- Journal states as ledger states, for the one import.
local AS_LEDGER = { uncertain = "maybe_created", pending = "created", completed = "completed", done = "downloaded",
                    failed = "failed" }

--- Imports row's journal state st into the ledger: as a new row, or into
--- ledger row `into` when that one has no job id and the journal has (its
--- answer could not be written there). Once done, the ledger answers for
--- the row and the journal's records of it are not read. A job id the
--- ledger holds for another output is left out. Returns the batch state to
--- use and a note for the log (or nil).
function M.import(store, row, st, service, into)
  local state = AS_LEDGER[st.state]
  if not state or not row.lfp then return st end
  if st.id then
    local other = store:get(st.id)
    if other then
      if other.output == row.output then return M.state(other, st.key) end
      return st, ("job %s of the journal is the ledger's job for %s: not imported"):format(st.id,
        tostring(other.output))
    end
  end
  local cols = { state = state, job_id = st.id, result_url = st.url,
                 error = st.message and ((st.kind or "journal") .. ": " .. st.message) or nil }
  local lrow, err
  if into then
    lrow = into.row
    local ok, serr = store:set(lrow, cols)
    if not ok then lrow, err = nil, serr end
  else
    cols.fingerprint, cols.model, cols.service, cols.request, cols.output = row.lfp, row.lmodel, service, row.lrequest,
      row.output
    lrow, err = store:add(cols)
  end
  if not lrow then return st, "could not import the journal's record into the ledger: " .. err.message end
  st.lrow = lrow
  return st
end

--- --adopt: job id becomes row's job in the ledger. nil, why when the
--- ledger has that job for another output.
function M.adopt(store, row, id, service)
  local other = store:get(id)
  if other then
    if other.output ~= row.output then
      return nil, ("job %s is already the ledger's job for %s"):format(id, tostring(other.output))
    end
    return other.row
  end
  if not row.lfp then return nil, "the row's request cannot be fingerprinted yet" end
  local lrow, err = store:add{ fingerprint = row.lfp, model = row.lmodel, service = service, request = row.lrequest,
                               output = row.output, state = "created", job_id = id }
  if not lrow then return nil, err.message end
  return lrow
end

--- Before row r's create is sent. Returns "send", ledger row | "adopt", job
--- id, ledger row | "uncertain", why | "bad", why (a local file cannot be
--- read: this row only) | "stop", why (the ledger could not record it).
function M.before(store, r, fields, model, service, again)
  local fp, request, m = r.row.lfp, r.row.lrequest, r.row.lmodel
  if not fp then
    fp, request, m = canon.fingerprint(model, fields)
    if not fp then return "bad", tostring(request) end
  end
  local row, err = store:begin_create{ fingerprint = fp, model = m, service = service, request = request,
                                       output = r.row.output, again = again }
  if row then return "send", row end
  if err.kind ~= "duplicate" then return "stop", err.message end
  local ex = err.existing
  if ex.job_id then return "adopt", ex.job_id, ex.row end
  return "uncertain", ("the ledger holds this request for this output as %s (row %d): it may have been"
    .. " billed"):format(ex.state, ex.row)
end

-- The writes below, made as a row goes on, return true (or nothing to
-- write: no ledger, no ledger row), or nil, message.
local function set(store, lrow, cols)
  if not (store and lrow) then return true end
  local ok, err = store:set(lrow, cols)
  if ok then return true end
  return nil, type(err) == "table" and err.message or tostring(err)
end

--- The answer of a create sent for ledger row lrow.
function M.answered(store, lrow, created, err, credits)
  if created then return set(store, lrow, { state = "created", job_id = created.id, credits = credits }) end
  return set(store, lrow, { state = err and err.maybe_created and "maybe_created" or "not_created",
                            error = err and (tostring(err.kind) .. ": " .. tostring(err.message)) or nil })
end

--- What the wait learnt: a new status, the result (completed with its URL)
--- or the generation's failure. Nothing for a wait cut short: the job is
--- as it was.
function M.status(store, lrow, status)
  if not status then return true end
  return set(store, lrow, { status = tostring(status) })
end

function M.completed(store, lrow, url, status)
  return set(store, lrow, { state = "completed", result_url = url, status = status and tostring(status) or nil })
end

function M.failed(store, lrow, err)
  local final = type(err.result) == "table" and err.result.status -- a failed job's last status
  return set(store, lrow, { state = "failed", error = tostring(err.kind) .. ": " .. tostring(err.message),
                            status = final ~= nil and tostring(final) or nil })
end

--- The video is at output (its size recorded).
function M.downloaded(store, lrow, output)
  if not (store and lrow) then return true end
  local f = io.open(output, "rb")
  local bytes = f and f:seek("end")
  if f then f:close() end
  return set(store, lrow, { state = "downloaded", output = output, bytes = bytes })
end

return M
