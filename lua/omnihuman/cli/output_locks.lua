-- One lock per output a batch is about to make, so two runs (two manifests,
-- or one manifest reached two ways) never make the same output at once: a
-- run that finds an output locked leaves that row pending. The locks are
-- flock()s on files under $XDG_STATE_HOME/omnihuman/locks/ (else
-- ~/.local/state/...), one per output path, named by the SHA-256 of the
-- canonical path; the kernel drops them when the process ends, however it
-- ends. The files stay (a few bytes each) so that a lock is never taken on
-- a file another run is about to unlink.
local Journal = require("omnihuman.cli.journal")

local M = {}

local function dir()
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil end
    state = home .. "/.local/state"
  end
  return state .. "/omnihuman/locks"
end

--- Takes the lock of each todo row's output (r.row.output, canonical).
--- Returns the rows whose output another run holds, and a release function.
function M.take(todo)
  local ok, db = pcall(require, "omnihuman.ledger_db")
  local d = dir()
  if not ok or not d or not db.mkdir_p(d, 448) then return {}, function() end end
  local held, busy = {}, {}
  for _, r in ipairs(todo) do
    local f, _, tag = Journal.lock_file(d .. "/" .. db.sha256(r.row.output) .. ".lock", "ab")
    if f then held[#held + 1] = f elseif tag == "busy" then busy[#busy + 1] = r end
  end
  return busy, function()
    for _, f in ipairs(held) do f:close() end
    held = {}
  end
end

return M
