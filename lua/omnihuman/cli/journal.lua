-- The batch journal: JSON Lines, append-only, one record per event of a
-- row. A row is named by `key`, its output's canonical path (relative to
-- the manifest's folder when inside it). Records:
--   creating       intent, durable before the create is sent
--   created        {id}: the create answered (or --adopt named the job)
--   uncertain      the create failed in a way that may have created the job
--   create_failed  the create certainly made no job
--   completed      {url}: the job finished
--   failed         the generation failed (final)
--   wait_error     waiting stopped (timeout, network): the job is still pending
--   downloaded     {output}: the output file is complete
--   download_error the download failed (a rerun downloads again)
-- Records of this format carry v = 2; older ones (no v) keyed rows by the
-- output path as spelled, and are matched by the caller.
--
-- The journal file itself is the lock (flock, taken before it is read and
-- held until the process ends). Each record is appended whole or not at
-- all, and the ones a rerun depends on are fsync'd before the caller acts.
local fsc = require("omnihuman.fs") -- flock, append, fsync_dir, realpath, stat
local util = require("omnihuman.cli.util")

local Journal = {}
Journal.__index = Journal
Journal.VERSION = 2

-- The crash simulation (make sim) steers journal writes through
-- OMNIHUMAN_SIM_JOURNAL: "crash_before=N" / "crash_after=N" kill the
-- process with SIGKILL just before / just after its Nth write,
-- "fail=N" fails the Nth write, "fail_from=N" that one and every later one
-- (a full disk). Unset in normal use.
local sim_mode, sim_n
do
  local spec = os.getenv("OMNIHUMAN_SIM_JOURNAL")
  if spec and spec ~= "" then
    local m, n = spec:match("^([%a_]+)=(%d+)$")
    sim_mode, sim_n = m, tonumber(n)
  end
end

local function sim_crash()
  io.stderr:flush()
  util.execute("kill -9 " .. assert(util.getpid()))
  while true do util.execute("sleep 1") end -- not reached: the signal is on its way
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
Journal.hash = hash

-- Opens and locks a file; nil, message, "busy" if another process holds it.
local function lock(path, mode)
  local f, err = io.open(path, mode)
  if not f then return nil, tostring(err) end
  local ok, lerr, tag = fsc.flock(f)
  if not ok then
    f:close()
    return nil, lerr, tag
  end
  return f
end
Journal.lock_file = lock

-- Opens the journal at path and takes its lock before anything is read.
-- opts.create = false (a dry run): a missing journal stays missing.
-- opts.sync = "never": flush only. Returns journal or nil, message, tag.
function Journal.open(path, opts)
  opts = opts or {}
  local self = setmetatable({ path = path, sync_mode = opts.sync or "auto", writes = 0, errors = {} }, Journal)
  local existed = fsc.stat(path) ~= nil
  if not existed and opts.create == false then return self end
  local f, err, tag = lock(path, opts.create == false and "rb" or "ab")
  if not f then
    if tag == "busy" then return nil, err, tag end
    return nil, "cannot open journal " .. path .. ": " .. tostring(err)
  end
  self.f = f
  if not existed and self.sync_mode ~= "never" then
    local dir = util.dirname(path)
    local ok, serr = fsc.fsync_dir(dir ~= "" and dir or "/") -- the new journal's name survives a power cut
    if not ok then
      f:close()
      return nil, "cannot make the new journal " .. path .. " durable: " .. tostring(serr)
    end
  end
  return self
end

-- Reads every record: list of { ln = line number, rec = table }, and
-- warnings for lines that are not records.
function Journal:read()
  local records, warnings = {}, {}
  local f = io.open(self.path, "rb")
  if not f then return records, warnings end
  local size = f:seek("end")
  if size and size > 0 then
    f:seek("set", size - 1)
    self.torn = f:read(1) ~= "\n" -- a crash mid-write: end that line first
  end
  f:seek("set", 0)
  local ln = 0
  for line in f:lines() do
    ln = ln + 1
    if not line:match("^%s*$") then
      local r = util.decode(line)
      if type(r) ~= "table" or type(r.ev) ~= "string" or type(r.key) ~= "string" then
        warnings[#warnings + 1] = ("journal line %d is unreadable (ignored)"):format(ln)
      else
        records[#records + 1] = { ln = ln, rec = r }
      end
    end
  end
  f:close()
  return records, warnings
end

local APPLY = {
  creating = function(s, r) s.state, s.id, s.url, s.fp = "uncertain", nil, nil, r.fp end,
  created = function(s, r) s.state, s.id = "pending", r.id end,
  uncertain = function(s) s.state, s.id = "uncertain", nil end,
  create_failed = function(s) s.state, s.id = "new", nil end,
  completed = function(s, r) s.state, s.url = "completed", r.url end,
  failed = function(s) s.state = "failed" end,
  downloaded = function(s) s.state = "done" end,
}

-- Folds records into one state per row: keyof(rec) names the row a record
-- belongs to (nil: none of ours). state: new | uncertain | pending |
-- completed | failed | done, plus id, url, fp, kind, message, last.
function Journal.replay(records, keyof)
  local states = {}
  for _, e in ipairs(records) do
    local r = e.rec
    local key = keyof(r)
    if key then
      local s = states[key] or { key = key, state = "new" }
      states[key] = s
      local apply = APPLY[r.ev]
      if apply then apply(s, r) end
      if r.id and r.ev ~= "creating" and r.ev ~= "uncertain" and r.ev ~= "create_failed" then s.id = r.id end
      if r.kind then s.kind, s.message = r.kind, r.message end
      if r.v == nil then s.legacy = true end
      s.last = r.ev
    end
  end
  return states
end

-- Appends one record, durable (fsync'd) when sync is true. Returns true,
-- or nil, message: then nothing of the record is in the file.
function Journal:write(rec, sync)
  if not self.f then return nil, "journal " .. self.path .. " is not open" end
  self.writes = self.writes + 1
  local n = self.writes
  if sim_mode == "crash_before" and n == sim_n then sim_crash() end
  rec.v = Journal.VERSION
  rec.t = util.timestamp()
  local data = util.encode(rec) .. "\n"
  if self.torn then data = "\n" .. data end
  local ok, err
  if (sim_mode == "fail" and n == sim_n) or (sim_mode == "fail_from" and n >= sim_n) then
    ok, err = nil, "write: No space left on device (simulated)"
  else
    ok, err = fsc.append(self.f, data, sync and self.sync_mode ~= "never")
  end
  if not ok then
    err = "cannot write to journal " .. self.path .. ": " .. tostring(err)
    self.errors[#self.errors + 1] = err
    return nil, err
  end
  self.torn = false
  if sim_mode == "crash_after" and n == sim_n then sim_crash() end
  return true
end

function Journal:close()
  if self.f then self.f:close() self.f = nil end
end

return Journal
