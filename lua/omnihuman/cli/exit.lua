-- Exit codes of the omnihuman CLI (documented in docs/cli.md).
local exit = {
  OK = 0,
  OTHER = 1,        -- anything else: protocol, io, not_found, internal errors
  USAGE = 2,        -- bad arguments or input: unknown option, missing file, invalid_input, bad manifest
  AUTH = 3,         -- auth (bad or missing key), forbidden (no credits)
  FAILED = 4,       -- the generation failed (job status error/failed)
  TIMEOUT = 5,      -- the wait (or a request) timed out
  NETWORK = 6,      -- network, server (5xx), rate_limited after retries
  BATCH = 7,        -- batch: some rows failed, were bad, or are pending/uncertain (see the summary)
  UNCERTAIN = 8,    -- a create failed in a way that may have created (and billed) the job
  JOURNAL = 9,      -- batch: a ledger row (or, with --no-ledger, a journal record) could not be written;
                    -- the run stopped, no job unrecorded
  UNRECORDED = 10,  -- a job was created but its id could not be recorded (printed on stderr)
  LOCKED = 11,      -- another run holds the manifest, the journal it reads, or the output; nothing was done
  DUPLICATE = 12,   -- the ledger holds a job of the same request (pass again=true / --again to pay again)
}

local BY_KIND = {
  invalid_input = exit.USAGE,
  auth = exit.AUTH, forbidden = exit.AUTH,
  generation_failed = exit.FAILED,
  duplicate = exit.DUPLICATE,
  timeout = exit.TIMEOUT,
  network = exit.NETWORK, server = exit.NETWORK, rate_limited = exit.NETWORK,
}

function exit.for_error(err)
  if type(err) == "table" and err.maybe_created then return exit.UNCERTAIN end
  return BY_KIND[type(err) == "table" and err.kind or ""] or exit.OTHER
end

return exit
