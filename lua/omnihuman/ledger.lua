-- omnihuman.ledger: every paid job in a SQLite file (docs/ledger.md).
-- One row per create: written and committed before its request may leave,
-- then its id, each status, the result URL, the download and the credits.
-- Several processes may share one file (WAL, busy timeout); every write is
-- its own transaction, committed with synchronous=FULL.
local db = require("omnihuman.ledger_db")
local canon = require("omnihuman.ledger_canon")

local M = { SCHEMA_VERSION = 1, sha256 = db.sha256 }

-- Schema versions, in order: MIGRATIONS[v] takes a ledger from v - 1 to v.
local MIGRATIONS = {
  [[CREATE TABLE jobs (
      row         INTEGER PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      model       TEXT NOT NULL,
      service     TEXT NOT NULL,
      label       TEXT,
      request     TEXT NOT NULL,
      state       TEXT NOT NULL,
      status      TEXT,
      job_id      TEXT UNIQUE,
      result_url  TEXT,
      output      TEXT,
      bytes       INTEGER,
      credits     REAL,
      error       TEXT,
      created_at  INTEGER NOT NULL,
      updated_at  INTEGER NOT NULL);
    CREATE INDEX jobs_fingerprint ON jobs(fingerprint);
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_result_url ON jobs(result_url);]],
}

-- States in which a row stands for a job that exists or may exist: a create
-- with the same fingerprint is refused while one of these is in the ledger.
M.LIVE = { creating = true, created = true, maybe_created = true, completed = true, downloaded = true }

-- Rows still to finish: resume picks these (uncertain ones need `again`).
M.PENDING = { creating = true, created = true, maybe_created = true, completed = true }

-- Test hook: called with a point name ("before_record", "recorded", "answered", "id_recorded")
-- at each step of the create path, so specs can kill the process there.
M._at = function() end

-- The crash simulation (make sim) steers the ledger's commits through
-- OMNIHUMAN_SIM_LEDGER, as OMNIHUMAN_SIM_JOURNAL steers the journal's
-- writes: "crash_before=N" / "crash_after=N" SIGKILL the process just
-- before / just after its Nth commit (a row written or changed; opening
-- does not count), "fail=N" fails that commit (rolled back), "fail_from=N"
-- that one and every later one (a full disk). Unset in normal use.
local sim_mode, sim_n = (os.getenv("OMNIHUMAN_SIM_LEDGER") or ""):match("^([%a_]+)=(%d+)$")
local sim_count = 0
sim_n = tonumber(sim_n)

-- Just before a commit: true, or nil, message when the simulation fails it.
local function sim_before()
  if not sim_mode then return true end
  sim_count = sim_count + 1
  if sim_mode == "crash_before" and sim_count == sim_n then db.kill_self() end
  if (sim_mode == "fail" and sim_count == sim_n) or (sim_mode == "fail_from" and sim_count >= sim_n) then
    return nil, "database or disk is full (simulated)"
  end
  return true
end

local function sim_after()
  if sim_mode == "crash_after" and sim_count == sim_n then db.kill_self() end
end

local Ledger = {}
Ledger.__index = Ledger

local function now() return os.time() end

local function ioerr(msg) return require("omnihuman").error("io", "ledger: " .. msg) end

-- The default file: $XDG_STATE_HOME/omnihuman/jobs.db, else ~/.local/state/...
function M.default_path()
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil, "neither XDG_STATE_HOME nor HOME is set" end
    state = home .. "/.local/state"
  end
  return state .. "/omnihuman/jobs.db"
end

local function q(self, sql, ...)
  if not self.h then error("omnihuman.ledger: the ledger is closed", 3) end
  local rows, msg = self.h:query(sql, ...)
  if not rows then return nil, msg end
  return rows
end

-- fn() inside BEGIN IMMEDIATE .. COMMIT; rolled back when it returns nil.
-- counted: a commit point of the crash simulation (every write but opening).
local function transaction(self, fn, counted)
  local ok, msg = q(self, "BEGIN IMMEDIATE")
  if not ok then return nil, msg end
  local res, err = fn()
  if res ~= nil and counted then
    ok, msg = sim_before()
    if not ok then res, err = nil, msg end
  end
  if res == nil then
    q(self, "ROLLBACK")
    return nil, err
  end
  ok, msg = q(self, "COMMIT")
  if not ok then
    if self.h:in_transaction() then q(self, "ROLLBACK") end
    return nil, msg
  end
  if counted then sim_after() end
  return res
end

local function migrate(self)
  -- Up to date (the usual case): nothing to write, so no write lock to wait
  -- for: readers run beside another process's writer.
  local cur = q(self, "PRAGMA user_version")
  if cur and cur[1].user_version == #MIGRATIONS then return true end
  return transaction(self, function()
    local v = q(self, "PRAGMA user_version")[1].user_version
    if v > #MIGRATIONS then
      return nil, ("schema version %d is newer than this module's %d"):format(v, #MIGRATIONS)
    end
    for i = v + 1, #MIGRATIONS do
      local ok, msg = self.h:exec(MIGRATIONS[i])
      if not ok then return nil, msg end
      ok, msg = self.h:exec("PRAGMA user_version = " .. i)
      if not ok then return nil, msg end
    end
    return true
  end)
end

--- Opens (making it if missing) the ledger at path; true: the default path,
--- its folder made 0700. Returns the ledger, or nil, err (kind io).
---@param path string|true
---@param opts? { busy_timeout?: number } seconds to wait for another process's write (5)
function M.open(path, opts)
  if path == true then
    local p, msg = M.default_path()
    if not p then return nil, ioerr(msg) end
    local ok, merr = db.mkdir_p(p:match("^(.*)/[^/]*$"), 448) -- 0700
    if not ok then return nil, ioerr(merr) end
    path = p
  end
  if type(path) ~= "string" or path == "" then error("omnihuman.ledger: expected a path or true", 2) end
  local busy = math.floor(((opts and opts.busy_timeout) or 5) * 1000)
  local h, msg = db.open(path, busy)
  if not h then return nil, ioerr(path .. ": " .. msg) end
  local self = setmetatable({ h = h, path = path }, Ledger)
  -- WAL: readers never wait for the writer; FULL: a commit is on disk
  -- (the WAL fsynced) before COMMIT returns, so "recorded" survives power loss.
  for _, pragma in ipairs{ "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL" } do
    local ok, perr = h:exec(pragma)
    if not ok then h:close() return nil, ioerr(path .. ": " .. perr) end
  end
  local ok, merr = migrate(self)
  if not ok then h:close() return nil, ioerr(path .. ": " .. merr) end
  return self
end

--- Records a create about to be sent, in one transaction with the check for
--- a live job of the same fingerprint on the same service (its base URL)
--- going to the same output (or, like this one, to none). Returns the row, or nil, err:
--- err.kind "duplicate" (err.existing: that row) or "io".
---@param req { fingerprint: string, model: string, service?: string, request: string, label?: string, output?: string, again?: boolean }
function Ledger:begin_create(req)
  local existing
  local row, msg = transaction(self, function()
    if not req.again then
      local same = q(self, "SELECT * FROM jobs WHERE fingerprint = ? AND service = ? AND output IS ? ORDER BY row",
                     req.fingerprint, req.service or "", req.output)
      for _, r in ipairs(same or {}) do
        if M.LIVE[r.state] then existing = r return nil end
      end
    end
    local t = now()
    local ok, err = q(self, [[INSERT INTO jobs (fingerprint, model, service, label, request, output, state,
                                                created_at, updated_at)
                              VALUES (?, ?, ?, ?, ?, ?, 'creating', ?, ?)]],
                      req.fingerprint, req.model, req.service or "", req.label, req.request, req.output, t, t)
    if not ok then return nil, err end
    return self.h:last_id()
  end, true)
  if existing then
    local e = require("omnihuman").error("duplicate",
      ("ledger: this request was already made: row %d, %s%s; pass again = true to pay for it again")
        :format(existing.row, existing.state, existing.job_id and (", job " .. existing.job_id) or ""))
    e.existing = existing
    return nil, e
  end
  if not row then return nil, ioerr(tostring(msg)) end
  return row
end

--- The row that stands for a request going to an output on a service: the
--- newest one whose create was not certainly refused (not_created rows are
--- no job). nil when there is none.
function Ledger:latest(fingerprint, service, output)
  local rows = q(self, [[SELECT * FROM jobs WHERE fingerprint = ? AND service = ? AND output IS ?
                           AND state <> 'not_created' ORDER BY row DESC LIMIT 1]],
                 fingerprint, service or "", output)
  return rows and rows[1]
end

local ADDED = { "fingerprint", "model", "service", "label", "request", "output", "state", "status", "job_id",
                "result_url", "bytes", "credits", "error" }

--- A whole row written at once, in one transaction (a job learnt elsewhere:
--- an older batch journal, an adopted id). Returns the row, or nil, err.
function Ledger:add(req)
  local vals, marks, n = {}, {}, #ADDED
  for i, k in ipairs(ADDED) do vals[i] = req[k] marks[i] = "?" end
  vals[3] = vals[3] or ""
  local t = now()
  vals[n + 1], vals[n + 2] = t, t
  local row, msg = transaction(self, function()
    local ok, err = q(self, "INSERT INTO jobs (" .. table.concat(ADDED, ", ") .. ", created_at, updated_at) VALUES ("
      .. table.concat(marks, ", ") .. ", ?, ?)", (table.unpack or unpack)(vals, 1, n + 2))
    if not ok then return nil, err end
    return self.h:last_id()
  end, true)
  if not row then return nil, ioerr(tostring(msg)) end
  return row
end

local SETTABLE = { state = true, status = true, job_id = true, result_url = true, output = true,
                   bytes = true, credits = true, error = true }

--- Updates a row (by row number): changes maps column -> value.
function Ledger:set(row, changes)
  local cols, vals = {}, {}
  for k in pairs(changes) do
    if not SETTABLE[k] then error("omnihuman.ledger: unknown column " .. tostring(k), 2) end
    cols[#cols + 1] = k
  end
  table.sort(cols)
  for i, k in ipairs(cols) do vals[i] = changes[k]; cols[i] = k .. " = ?" end
  cols[#cols + 1] = "updated_at = ?"
  vals[#vals + 1] = now()
  vals[#vals + 1] = row
  local ok, msg = sim_before()
  if ok then
    ok, msg = q(self, "UPDATE jobs SET " .. table.concat(cols, ", ") .. " WHERE row = ?",
                (table.unpack or unpack)(vals, 1, #cols + 1))
  end
  if not ok then return nil, ioerr(msg) end
  sim_after()
  return true
end

--- One row: by row number, or by the service's job id.
function Ledger:get(id_or_row)
  local rows
  if type(id_or_row) == "number" then rows = q(self, "SELECT * FROM jobs WHERE row = ?", id_or_row)
  else rows = q(self, "SELECT * FROM jobs WHERE job_id = ?", tostring(id_or_row)) end
  return rows and rows[1]
end

--- The row whose result URL this is (the newest), for downloads.
function Ledger:by_result_url(url)
  local rows = q(self, "SELECT * FROM jobs WHERE result_url = ? ORDER BY row DESC LIMIT 1", url)
  return rows and rows[1]
end

--- Rows, oldest first, filtered by state (a name or a set), model, label,
--- since (a Unix time: rows created then or later).
function Ledger:list(filter)
  filter = filter or {}
  local where, vals = {}, {}
  if type(filter.state) == "string" then where[#where + 1] = "state = ?" vals[#vals + 1] = filter.state end
  if filter.model then where[#where + 1] = "model = ?" vals[#vals + 1] = filter.model end
  if filter.label then where[#where + 1] = "label = ?" vals[#vals + 1] = filter.label end
  if filter.fingerprint then where[#where + 1] = "fingerprint = ?" vals[#vals + 1] = filter.fingerprint end
  if filter.service then where[#where + 1] = "service = ?" vals[#vals + 1] = filter.service end
  if filter.since then where[#where + 1] = "created_at >= ?" vals[#vals + 1] = filter.since end
  local sql = "SELECT * FROM jobs" .. (#where > 0 and (" WHERE " .. table.concat(where, " AND ")) or "")
    .. " ORDER BY row"
  local rows, msg = q(self, sql, (table.unpack or unpack)(vals, 1, #vals))
  if not rows then return nil, ioerr(msg) end
  if type(filter.state) == "table" then
    local kept = {}
    for _, r in ipairs(rows) do if filter.state[r.state] then kept[#kept + 1] = r end end
    rows = kept
  end
  return rows
end

function Ledger:close()
  if self.h then self.h:close() self.h = nil end
end
Ledger.__close = Ledger.close
Ledger.__gc = Ledger.close

function Ledger:is_closed() return self.h == nil end

M.fingerprint = canon.fingerprint
M.files_of = canon.files_of

return M
