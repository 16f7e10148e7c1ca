-- The batch on the job ledger (docs/ledger.md): each create is also a
-- ledger row, written before it is sent, identified by what is paid for
-- (the request's fingerprint and the output it goes to) rather than by the
-- journal, which belongs to one manifest path. A row whose request already
-- has a live ledger job for the same output (its journal lost, the manifest
-- copied, renamed or reached through a hard link) takes that job instead
-- of paying again.
local canon = require("omnihuman.ledger_canon")

local M = {}

--- The ledger a batch uses (opts: --ledger PATH, --no-ledger), or nil when
--- there is none; nil, message when it cannot be opened.
function M.open(opts)
  if opts["no-ledger"] then return nil end
  local ok, ledger = pcall(require, "omnihuman.ledger")
  if not ok then return nil end -- built without the ledger's module: the journal alone
  local store, err = ledger.open(opts.ledger or true)
  if not store then return nil, tostring(err) end
  return store
end

--- Before row r's create is sent. Returns "send", ledger row | "adopt", job
--- id | "uncertain", why | "stop", why (nothing could be recorded).
function M.before(store, r, fields, model, service, again)
  local fp, request, m = canon.fingerprint(model, fields)
  if not fp then return "stop", tostring(request) end
  local row, err = store:begin_create{ fingerprint = fp, model = m, service = service, request = request,
                                       output = r.row.output, again = again }
  if row then return "send", row end
  if err.kind ~= "duplicate" then return "stop", err.message end
  local ex = err.existing
  if ex.job_id then return "adopt", ex.job_id end
  return "uncertain", ("the ledger holds this request for this output as %s (row %d): it may have been"
    .. " billed"):format(ex.state, ex.row)
end

--- The answer of a create sent for ledger row lrow.
function M.answered(store, lrow, created, err, credits)
  if not store or not lrow then return end
  if created then
    store:set(lrow, { state = "created", job_id = created.id, credits = credits })
  else
    store:set(lrow, { state = err and err.maybe_created and "maybe_created" or "not_created",
                      error = err and (tostring(err.kind) .. ": " .. tostring(err.message)) or nil })
  end
end

return M
