-- The batch journal: JSON Lines, append-only, one record per event of a
-- row (keyed by the row's output path). Records a job id the moment the
-- create answers, and the intent before the create is sent, so that a rerun
-- never pays for a row twice:
--   creating       intent, written (and synced) before the create is sent
--   created        {id}: the create answered
--   uncertain      the create failed in a way that may have created the job
--   create_failed  the create definitely did not create a job
--   completed      {url}: the job finished
--   failed         the generation failed (final)
--   wait_error     waiting stopped (timeout, network): the job is still pending
--   downloaded     {output}: the output file is complete
--   download_error the download failed (rerun downloads again)
-- A torn last line (a crash mid-write) is ignored on reading.
local U = require("omnihuman.cli.util")

local J = {}
J.__index = J

-- Durable writes: core.fsync(file) (and core.fsync_dir for a new journal's
-- directory entry); with an older core, `sync FILE` (coreutils >= 8.24 fsyncs
-- just that file, about 10 ms a call).
local core_fsync, core_fsync_dir
do
  local ok, core = pcall(require, "omnihuman.core")
  if ok and type(core.fsync) == "function" then core_fsync = core.fsync end
  if ok and type(core.fsync_dir) == "function" then core_fsync_dir = core.fsync_dir end
end

local function hash(s)
  local a, b = 5381, 7
  for i = 1, #s do
    local c = s:byte(i)
    a = (a * 33 + c) % 2147483647
    b = (b * 131 + c) % 2147483629
  end
  return ("%08x%08x"):format(a, b)
end
J.hash = hash

-- Reads the journal at path into per-key states. Missing file: empty.
function J.load(path)
  local states, warnings = {}, {}
  local f = io.open(path, "rb")
  if not f then return states, warnings end
  local ln = 0
  for line in f:lines() do
    ln = ln + 1
    if not line:match("^%s*$") then
      local r = U.decode(line)
      if type(r) ~= "table" or type(r.ev) ~= "string" then
        warnings[#warnings + 1] = ("journal line %d is unreadable (ignored)"):format(ln)
      elseif type(r.key) == "string" then
        local s = states[r.key] or { key = r.key, state = "new" }
        states[r.key] = s
        local ev = r.ev
        if ev == "creating" then s.state, s.id, s.url, s.fp = "uncertain", nil, nil, r.fp
        elseif ev == "created" then s.state, s.id = "pending", r.id
        elseif ev == "uncertain" then s.state, s.id = "uncertain", nil
        elseif ev == "create_failed" then s.state, s.id = "new", nil
        elseif ev == "completed" then s.state, s.url = "completed", r.url
        elseif ev == "failed" then s.state = "failed"
        elseif ev == "downloaded" then s.state = "done"
        end
        if r.id and ev ~= "creating" then s.id = r.id end
        if r.kind then s.kind, s.message = r.kind, r.message end
        s.last = ev
      end
    end
  end
  f:close()
  return states, warnings
end

function J.open(path, opts)
  local self = setmetatable({ path = path, sync_mode = (opts and opts.sync) or "auto" }, J)
  local tail = nil
  local rf = io.open(path, "rb")
  local created = rf == nil
  if rf then
    local size = rf:seek("end")
    if size and size > 0 then
      rf:seek("set", size - 1)
      tail = rf:read(1)
    end
    rf:close()
  end
  local f, err = io.open(path, "ab")
  if not f then return nil, "cannot open journal " .. path .. ": " .. tostring(err) end
  if tail and tail ~= "\n" then f:write("\n") end -- end a torn line
  f:setvbuf("full")
  self.f = f
  if created and core_fsync_dir and self.sync_mode ~= "never" then
    f:flush()
    core_fsync(f)
    core_fsync_dir(U.dirname(path)) -- the new journal's name survives a power cut
  end
  return self
end

function J:sync()
  if self.sync_mode == "never" then return end
  if core_fsync then
    if not core_fsync(self.f) then self.f:flush() end -- a failed fsync still leaves it written
    return
  end
  U.execute("sync " .. U.q(self.path) .. " 2>/dev/null")
end

-- Appends one record (one write); durable when sync is true.
function J:write(rec, sync)
  rec.t = U.timestamp()
  self.f:write(U.encode(rec), "\n")
  self.f:flush()
  if sync then self:sync() end
end

function J:close()
  if self.f then self.f:close() self.f = nil end
  if self.lockfile then os.remove(self.lockfile) self.lockfile = nil end
end

-- Takes <journal>.lock (created with O_EXCL through the shell's noclobber)
-- so that two runs never work from one journal at once. A lock left by a
-- process that is gone (kill -9) is taken over. Returns true or nil, message.
function J:lock()
  local lockfile = self.path .. ".lock"
  local pid = U.getpid() or 0
  for _ = 1, 2 do
    if U.execute("(set -C; echo " .. pid .. " > " .. U.q(lockfile) .. ") 2>/dev/null") then
      self.lockfile = lockfile
      return true
    end
    local other = tonumber((U.readfile(lockfile) or ""):match("%d+"))
    if other and other ~= pid and U.pid_alive(other) then
      return nil, ("another omnihuman run (pid %d) is using %s; if it is gone, remove %s"):format(other, self.path, lockfile)
    end
    os.remove(lockfile) -- stale: its process is gone
  end
  return nil, "cannot take the lock " .. lockfile
end

return J
