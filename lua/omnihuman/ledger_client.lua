-- A client's ledger: the calls omnihuman's client makes into the ledger
-- (create, wait, download), and jobs/resume. One per client made with
-- `ledger = PATH | true`.
local ledger = require("omnihuman.ledger")
local canon = require("omnihuman.ledger_canon")
local db = require("omnihuman.ledger_db")
local usage_of = require("omnihuman.usage")
local waiters = require("omnihuman.waiters")

local M = {}

-- Options of omnihuman.new that belong to the ledger, not to the C client.
local OWN = { ledger = true, ledger_busy_timeout = true }

-- The local files of a create's fields (the model table says which fields).
M.files_of = canon.files_of

--- Splits omnihuman.new's options: the client's, then the ledger's.
function M.split(opts)
  local rest, own = {}, {}
  for k, v in pairs(opts) do
    if OWN[k] then own[k] = v else rest[k] = v end
  end
  if own.ledger ~= true and type(own.ledger) ~= "string" and own.ledger ~= false then
    error("omnihuman.new: option 'ledger' must be a path string or true, got " .. type(own.ledger), 3)
  end
  local bt = own.ledger_busy_timeout
  if bt ~= nil and not (type(bt) == "number" and bt >= 0 and bt <= 86400) then
    error("omnihuman.new: option 'ledger_busy_timeout' must be a number from 0 to 86400", 3)
  end
  return rest, own
end

local Hooks = {}
Hooks.__index = Hooks

local function omnihuman() return require("omnihuman") end

-- An output's canonical absolute path (every symlink, ".", ".." and
-- repeated "/" resolved; for a file not made yet, its folder's), so one
-- file spelled two ways is one output. Lexical only without omnihuman.fs.
local has_fs, fsys = pcall(require, "omnihuman.fs")
local function absolute(path)
  if path:sub(1, 1) ~= "/" then
    local cwd = db.cwd()
    if not cwd then return path end
    path = cwd .. "/" .. path
  end
  if not has_fs then return path end
  local real = fsys.realpath(path)
  if real then return real end
  local dir, name = path:match("^(.*)/([^/]+)$")
  local rdir = dir and name ~= "." and name ~= ".." and fsys.realpath(dir == "" and "/" or dir)
  if not rdir then return path end
  return (rdir == "/" and "" or rdir) .. "/" .. name
end

local function size_of(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

--- Opens the ledger for client (raises when it cannot be opened: a client
--- asked to record its jobs must not run without recording them).
function M.attach(client, own, model, level)
  if not own.ledger then return end
  local store, err = ledger.open(own.ledger, { busy_timeout = own.ledger_busy_timeout })
  if not store then error(tostring(err), level + 1) end
  client.ledger = setmetatable({ client = client, store = store, model = model, inflight = {} }, Hooks)
end

--- client:create with a ledger: fingerprint, duplicate check and row
--- committed, then the request; the answer (id or failure) recorded.
function Hooks:create(fields, output)
  local send = {}
  for k, v in pairs(fields) do
    if k ~= "again" and k ~= "label" then send[k] = v end
  end
  ledger._at("before_record")
  local fp, request, model = canon.fingerprint(self.model, send)
  if not fp then return nil, omnihuman().error("invalid_input", "ledger: " .. tostring(request)) end
  local row, err = self.store:begin_create{ fingerprint = fp, model = model, request = request,
                                             service = self.client.base_url,
                                             label = fields.label and tostring(fields.label) or nil,
                                             again = fields.again == true,
                                             output = output and absolute(output) or nil }
  if not row then return nil, err end
  ledger._at("recorded")
  -- The facade's checked start: the model's fields, the run's answering.
  local ok, op = pcall(self.client._start_create, self.client, send, 1)
  if not ok then
    self.store:set(row, { state = "not_created", error = tostring(op) })
    error(op, 3)
  end
  -- Until its answer is recorded: settle() records it if the wait below is
  -- cut short (an interrupt raised inside it).
  self.inflight[op] = row
  local job, cerr = omnihuman().await(op)
  ledger._at("answered")
  return self:record_answer(op, row, job, cerr)
end

-- The create's answer on its row: the id (and credits), or why there is none.
function Hooks:record_answer(op, row, job, cerr)
  self.inflight[op] = nil
  if not job then
    self.store:set(row, { state = cerr.maybe_created and "maybe_created" or "not_created",
                          error = cerr.kind .. ": " .. tostring(cerr.message) })
    return nil, cerr
  end
  local _, credits = usage_of(job)
  local done, werr = self.store:set(row, { state = "created", job_id = job.id,
                                           status = job.status and tostring(job.status) or nil,
                                           credits = credits })
  -- The job exists and is the caller's: returned even when its id could not
  -- be written (the row stays 'creating'; ledger_error says why).
  if not done then job.ledger_error = tostring(werr) end
  ledger._at("id_recorded")
  return job
end

--- Records the answers of creates whose await was cut short (an interrupt,
--- an error in another coroutine): each finished one now, and with wait the
--- others after letting them finish (without, they stay 'creating').
--- Returns a line per create settled.
function Hooks:settle(wait)
  local lines = {}
  for op, row in pairs(self.inflight) do
    if wait and not op:is_closed() and not op:done() then
      local l = op:loop()
      if l then pcall(l.run_until, l, op) end
    end
    local job, err
    if not op:is_closed() and op:done() then
      local okr, res, e = pcall(op.result, op)
      if okr then job, err = res, e end
    end
    if job or err then
      self:record_answer(op, row, job, err)
      lines[#lines + 1] = job and ("job %s was created: recorded in the ledger (row %d)"):format(job.id, row)
        or ("the create of row %d failed: %s"):format(row, tostring(err))
    else
      self.inflight[op] = nil
      lines[#lines + 1] = ("the create of row %d may have reached the service: recorded as creating"):format(row)
    end
  end
  return lines
end

-- Awaits a step's operation: through the generation it belongs to, when
-- there is one (so that its cancel ends the step), else as client calls do.
local function await_step(op, gen, id)
  if gen then return gen:step(waiters.for_job(op, id)) end
  return omnihuman().await(op)
end

--- client:wait with a ledger: each new status, then completed (with the
--- result URL) or failed. gen: the generation it is a step of, if any.
function Hooks:wait(id, opts, gen)
  local row = self.store:get(id)
  local wopts = {}
  for k, v in pairs(opts or {}) do wopts[k] = v end
  local last = row and row.status
  local user = wopts.on_status
  if row then
    wopts.on_status = function(st)
      local s = st and st.status and tostring(st.status)
      if s and s ~= last then
        last = s
        self.store:set(row.row, { status = s })
      end
      if user then return user(st) end
    end
  end
  local res, err = await_step(self.client:wait_op(id, wopts), gen, id)
  if row then
    if res then
      local url = type(res.video) == "table" and res.video.url or nil
      self.store:set(row.row, { state = row.state == "downloaded" and "downloaded" or "completed",
                                status = res.status and tostring(res.status) or nil, result_url = url })
    elseif err.kind == "generation_failed" then
      local final = type(err.result) == "table" and err.result.status -- the status the job ended with
      self.store:set(row.row, { state = "failed", error = err.kind .. ": " .. tostring(err.message),
                                status = final ~= nil and tostring(final) or nil })
    end
  end
  return res, err
end

--- client:download with a ledger: the output path and its size, on the row
--- whose result URL this is. gen: as for Hooks:wait.
function Hooks:download(url, path, opts, gen)
  local res, err = await_step(self.client:download_op(url, path, opts), gen, gen and gen.job_id)
  if res then
    local row = self.store:by_result_url(url)
    if row then
      self.store:set(row.row, { state = "downloaded", output = absolute(path), bytes = size_of(path) })
    end
  end
  return res, err
end

--- client:jobs: the rows, filtered (state, model, label, since).
local JOBS_FILTER = { state = { string = true, table = true }, model = { string = true },
                      label = { string = true }, since = { number = true } }
function Hooks:jobs(filter)
  if filter ~= nil and type(filter) ~= "table" then
    error("client:jobs: the filter must be a table, got " .. type(filter), 3)
  end
  for k, v in pairs(filter or {}) do
    local types = JOBS_FILTER[k]
    if not types then error(("client:jobs: unknown filter '%s' (state, model, label, since)"):format(tostring(k)), 3) end
    if not types[type(v)] then error(("client:jobs: filter '%s' got a %s"):format(k, type(v)), 3) end
  end
  return self.store:list(filter)
end

--- client:resume: waits for a recorded job and downloads it again (to
--- opts.output, else the output recorded); never creates.
function Hooks:resume(id_or_row, opts)
  opts = opts or {}
  local row = type(id_or_row) == "table" and id_or_row.row and self.store:get(id_or_row.row)
    or self.store:get(id_or_row)
  if not row then
    return nil, omnihuman().error("invalid_input", "ledger: no job " .. tostring(id_or_row) .. " in " .. self.store.path)
  end
  if not row.job_id then
    local e = omnihuman().error("invalid_input", ("ledger: row %d has no job id (%s): %s"):format(row.row, row.state,
      (row.state == "creating" or row.state == "maybe_created")
        and "the service may have made it; nothing is resent (create again with again = true to pay again)"
        or "no job was made"))
    e.row = row
    return nil, e
  end
  local res, err = self:wait(row.job_id, { interval = opts.interval, timeout = opts.timeout,
                                            on_status = opts.on_status })
  if not res then err.job_id = row.job_id return nil, err end
  local output = opts.output or row.output
  if output then
    local url = type(res.video) == "table" and res.video.url or nil
    local path
    path, err = self:download(url, output, { on_progress = opts.on_progress })
    if not path then err.job_id = row.job_id return nil, err end
    res.output = path
  end
  res.credits = row.credits
  return res
end

function Hooks:close() self.store:close() end

return M
