-- omnihuman: portrait + speech -> lip-synced video through the AI/ML API.
-- The C core (omnihuman.core) does HTTP, JSON and the job state machines as
-- non-blocking operations; this facade turns an operation into a result.
local core = require("omnihuman.core")
local Scheduler = require("omnihuman.scheduler")
local waiters = require("omnihuman.waiters")
local usage_of = require("omnihuman.usage")
local catalogue = require("omnihuman.catalogue")

---@class omnihuman
---@field _VERSION string the module's version
---@field core omnihuman.Core the C core
local M = { _VERSION = core.version, core = core }

-- The option and argument types (LuaCATS) are in types_meta.lua.

-- Options, their defaults and checks: one table in C (src/options_table.h).
local DEFAULT_BASE_URL = core.options.base_url.default

local host -- the adapter in use (hosts/detect.lua, or M.use below)
local current -- the scheduler of the omnihuman.run in progress, if any
local Generation -- client:generate_op's handles (below)

-- One loop per Lua state: the module table is per state, so is this. A
-- closed loop is replaced by a new one for the clients made after it.
local loop
local function get_loop()
  if not loop or loop:is_closed() then
    loop = core.new_loop()
    if host and host.attach then host.attach(loop) end
  end
  return loop
end
--- The loop every client of this Lua state shares (a new one after close).
---@type fun(): omnihuman.Loop
M.loop = get_loop

-- The host adapter, picked from the globals the host defines; M.use overrides.
host = require("omnihuman.hosts." .. require("omnihuman.hosts.detect")())
local plain = require("omnihuman.hosts.plain")
-- No host detected and no adapter chosen: cqueues and luv are recognised at
-- each await (omnihuman.hosts.foreign); M.use turns that off.
local foreign = host.name == "plain" and require("omnihuman.hosts.foreign") or nil

--- Picks how operations are awaited: "plain" (default), "nvim", "openresty",
--- "love", "cqueues", "luv", or an adapter table with an await(loop, op) function.
---@param adapter string|omnihuman.Adapter
---@return omnihuman.Adapter
function M.use(adapter)
  if type(adapter) == "string" then adapter = require("omnihuman.hosts." .. adapter) end
  if type(adapter) ~= "table" or type(adapter.await) ~= "function" then
    error("omnihuman.use: expected an adapter name or a table with await(loop, op)", 2)
  end
  host, foreign = adapter, nil
  if adapter.attach then adapter.attach(get_loop()) end
  return adapter
end

--- The adapter in use (a table with a name field: "plain", "nvim", ...).
---@return omnihuman.Adapter
function M.adapter() return host end

--- Waits for an operation: yields it inside a coroutine, drives the loop in
--- the main thread. Returns the operation's result (value, or nil, err).
---@param op omnihuman.Operation
---@return any value
---@return omnihuman.Error? err
function M.await(op)
  if getmetatable(op) == Generation then return op:await() end
  local op_loop = op:loop() -- nil once it finished or was closed
  if not op_loop then return waiters.result(op) end
  if current and op_loop ~= current.loop and waiters.scheduled and waiters.scheduled == waiters.coroutine() then
    error("omnihuman.await: the operation belongs to another loop than omnihuman.run's"
      .. " (made before omnihuman.loop() was closed and replaced, or on a loop of your own)", 2)
  end
  return (foreign and foreign.pick() or host).await(op_loop, op)
end

local function bad_options(where, opts, spec, level)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(where, type(opts)), level + 1)
  end
  for k, v in pairs(opts) do
    if not spec[k] then error(("%s: unknown option '%s'"):format(where, tostring(k)), level + 1) end
    if type(v) ~= spec[k] then
      error(("%s: option '%s' must be a %s, got %s"):format(where, k, spec[k], type(v)), level + 1)
    end
  end
end

-- Returns opts as given (nil stays nil: no empty table per wait). Few registers: see Client:wait.
local function check_options(where, opts, spec, level)
  if type(opts) ~= "table" then return bad_options(where, opts, spec, level) end
  local k, v = next(opts)
  while k and type(v) == spec[k] do k, v = next(opts, k) end
  if k == nil then return opts end
  return bad_options(where, opts, spec, level)
end

local DEFAULT_MODEL = core.options.model.default
local WAIT_OPTIONS = { interval = "number", timeout = "number", on_status = "function" }
local DOWNLOAD_OPTIONS = { on_progress = "function", max_bytes = "number" }
-- generate's own options; every other field goes to create.
local GENERATE_OWN = {
  output = "string", interval = "number", timeout = "number", on_status = "function",
  on_progress = "function",
}
local GENERATE_RANGES = { interval = core.options.poll_interval, timeout = core.options.wait_timeout }

-- A shallow copy of t without key k.
local function copy_without(t, k)
  local out = {}
  for key, v in pairs(t) do
    if key ~= k then out[key] = v end
  end
  return out
end

--- A client: its options, its connections, on the shared loop.
---@class omnihuman.Client
---@field core userdata the C client
---@field base_url string the API's base URL in use
local Client = {}
Client.__index = Client
local co_running, loaded = coroutine.running, package.loaded -- foreign.pick: cqueues and luv, once loaded

---@param opts? omnihuman.ClientOptions
---@return omnihuman.Client
function M.new(opts)
  local ledger_own -- `ledger = PATH | true`: the client records its jobs (omnihuman.ledger_client)
  if type(opts) == "table" and (opts.ledger ~= nil or opts.ledger_busy_timeout ~= nil) then
    opts, ledger_own = require("omnihuman.ledger_client").split(opts)
  end
  if opts ~= nil and type(opts) ~= "table" then -- names, types and ranges: checked in C
    error(("omnihuman.new: options must be a table, got %s"):format(type(opts)), 2)
  end
  opts = opts or {}
  local cfg = {}
  for k, v in pairs(opts) do cfg[k] = v end
  for name, o in pairs(core.options) do -- $AIMLAPI_KEY, $OMNIHUMAN_BASE_URL (empty: unset)
    local v = o.env and cfg[name] == nil and os.getenv(o.env)
    if v and v ~= "" then cfg[name] = v end
  end
  cfg.base_url = cfg.base_url or DEFAULT_BASE_URL
  -- Ranges, and strings that must not carry line breaks, are checked in C.
  local ok, c = pcall(core.new_client, get_loop(), cfg)
  if not ok then error(c, 2) end
  local client = setmetatable({ core = c, base_url = cfg.base_url, model = cfg.model or DEFAULT_MODEL,
                                 strict = opts.strict ~= false, on_event = opts.on_event }, Client)
  if ledger_own then require("omnihuman.ledger_client").attach(client, ledger_own, cfg.model, 2) end
  return client
end

--- The model ids of the service's video catalogue the library knows the
--- fields of (the generated model table), sorted.
---@return omnihuman.ModelId[]
function M.models() return catalogue.models() end

--- A model's field rules from the table (a copy), or nil for a model not in it.
---@param id omnihuman.ModelId|string
---@return omnihuman.ModelRules?
function M.model(id) return catalogue.model(id) end

-- Starts a create checked against its model's documented fields (a refused
-- one ends at once as invalid_input, nothing sent), answered for by the
-- omnihuman.run in progress. create_op and the ledger's create both start here.
function Client:_start_create(fields, level)
  local model, strict = fields.model, fields.strict
  if model == nil then model = self.model end
  if strict == nil then
    strict = self.strict
  elseif type(strict) ~= "boolean" then
    error("client:create: field 'strict' must be a boolean", level + 1)
  else
    fields = copy_without(fields, "strict") -- the library's, never sent
  end
  local op
  if type(model) ~= "string" then
    op = self.core:create_op(fields) -- the core raises on a model that is not a string
  else
    local why, unknown, sent, files, misuse = catalogue.prepare(model, fields, strict)
    if misuse then error("omnihuman: " .. why, level + 1) end
    if why then
      op = self.core:refuse_op(core.new_error("invalid_input", why))
    else
      if unknown and self.on_event then
        self.on_event({ type = "unchecked_model", op = "create", model = model })
      end
      op = self.core:create_op(sent, files)
    end
  end
  -- Inside omnihuman.run the run answers for it until a coroutine has its result.
  if current then current:track_create(op) end
  return op
end

-- Operation starters, for schedulers of your own (cqueues, an event loop):
-- each returns a pollable operation without waiting.
---@param fields omnihuman.CreateFields
---@return omnihuman.Operation
function Client:create_op(fields)
  if type(fields) ~= "table" then error("client:create: expected a table of fields", 2) end
  if self.ledger then error("client:create_op: a client with a ledger creates through client:create", 2) end
  return self:_start_create(fields, 2)
end

---@param id string
---@return omnihuman.Operation
function Client:poll_op(id)
  if type(id) ~= "string" then error("client:poll: expected a job id string", 2) end
  return self.core:poll_op(id)
end

---@param id string
---@param opts? omnihuman.WaitOptions
---@return omnihuman.Operation
function Client:wait_op(id, opts)
  if type(id) ~= "string" then error("client:wait: expected a job id string", 2) end
  opts = check_options("client:wait", opts, WAIT_OPTIONS, 2)
  return self.core:wait_op(id, opts)
end

---@param url string
---@param path string
---@param opts? omnihuman.DownloadOptions
---@return omnihuman.Operation
function Client:download_op(url, path, opts)
  if type(url) ~= "string" then error("client:download: expected a URL string", 2) end
  if type(path) ~= "string" then error("client:download: expected an output path string", 2) end
  return self.core:download_op(url, path, check_options("client:download", opts, DOWNLOAD_OPTIONS, 2))
end

--- Creates a job (billed). Returns the service's answer ({ id, status, ... }).
---@param fields omnihuman.CreateFields
---@return omnihuman.Job? job
---@return omnihuman.Error? err
function Client:create(fields, output)
  if output ~= nil and type(output) ~= "string" then error("client:create: output must be a string", 2) end
  if self.ledger and type(fields) == "table" then return self.ledger:create(fields, output) end
  if type(fields) ~= "table" then error("client:create: expected a table of fields", 2) end
  if fields.strict ~= nil and type(fields.strict) ~= "boolean" then return self:_start_create(fields, 2) end
  return M.await(core.aside(self._start_create, self, fields, 1)) -- deep checks: see Client:wait
end

--- One status check.
---@param id string
---@return omnihuman.Job? status
---@return omnihuman.Error? err
function Client:poll(id)
  -- Awaited at once by the main thread with no scheduler or adapter around:
  -- one call into C does what poll_op + await do (the same result, without
  -- ten Lua-to-C calls and a finish notice per check).
  local co, main = co_running()
  if host == plain and (co == nil or main)
    and not (foreign and (loaded.cqueues ~= nil or loaded.luv ~= nil) and foreign.pick()) then
    if type(id) ~= "string" then error("client:poll: expected a job id string", 2) end
    local res, err, noted, op = self.core:poll_now(id)
    if noted then waiters.dispatch(noted) end -- other ops finished meanwhile: wake their waiters
    if op then return waiters.result(op) end
    return res, err
  end
  return M.await(self:poll_op(id))
end

--- Status checks until the job completes (its final status) or fails.
---@param id string
---@param opts? omnihuman.WaitOptions
---@return omnihuman.Job? result
---@return omnihuman.Error? err
function Client:wait(id, opts)
  -- wait_op's steps, not a call to it: on Lua 5.4 a coroutine's stack grown past
  -- 40 slots (a C call ~20 slots up) stays at 80 (+640 bytes) while it waits.
  if type(id) ~= "string" then error("client:wait: expected a job id string", 2) end
  opts = check_options("client:wait", opts, WAIT_OPTIONS, 2)
  if self.ledger then return self.ledger:wait(id, opts) end
  local op = self.core:wait_op(id, opts)
  if current then current:track_wait(op, id) end
  return M.await(op)
end

--- Streams url into path (atomically). Returns path.
---@param url string
---@param path string
---@param opts? omnihuman.DownloadOptions
---@return string? path
---@return omnihuman.Error? err
function Client:download(url, path, opts)
  if self.ledger and type(url) == "string" and type(path) == "string" then
    return self.ledger:download(url, path, check_options("client:download", opts, DOWNLOAD_OPTIONS, 2))
  end
  return M.await(self:download_op(url, path, opts))
end

--- The ledger's rows (a client made with `ledger`): filter by state, model,
--- label, since (Unix time). See docs/ledger.md.
function Client:jobs(filter)
  if not self.ledger then error("client:jobs: this client has no ledger (omnihuman.new{ ledger = ... })", 2) end
  return self.ledger:jobs(filter)
end

--- Waits for a recorded job and downloads it again, never creating one.
function Client:resume(id_or_row, opts)
  if not self.ledger then error("client:resume: this client has no ledger (omnihuman.new{ ledger = ... })", 2) end
  return self.ledger:resume(id_or_row, opts)
end

--- A generation (create, wait, download) to await, and to cancel from
--- anywhere: client:generate_op(args) returns one; nothing is sent until
--- it is awaited (gen:await() or omnihuman.await(gen)).
---@class omnihuman.Generation
---@field job_id? string the job, once its create answered
Generation = {}
Generation.__index = Generation

--- The same as client:generate, as a handle whose cancel() ends it.
---@param args omnihuman.GenerateArgs
---@return omnihuman.Generation
local function new_generation(client, args, level)
  if type(args) ~= "table" then error("client:generate: expected a table", level + 1) end
  if client.closed then error("omnihuman: client is closed", level + 1) end
  local fields, own = {}, {}
  for k, v in pairs(args) do
    if GENERATE_OWN[k] then own[k] = v else fields[k] = v end
  end
  check_options("client:generate", own, GENERATE_OWN, level + 1)
  for k, o in pairs(GENERATE_RANGES) do -- client:wait's checks, made before the create is paid for
    local v = own[k]
    if v and not (v >= o.min and v <= o.max) then
      error(("client:generate: %s must be from %g to %g, got %s"):format(k, o.min, o.max, tostring(v)), level + 1)
    end
  end
  return setmetatable({ client = client, fields = fields, own = own }, Generation)
end

function Client:generate_op(args) return new_generation(self, args, 2) end

--- Cancels the generation: the step in flight ends as `cancelled` (the
--- create with maybe_created if its request may have reached the service),
--- and no further step starts. Returns true if it was still running.
---@return boolean
function Generation:cancel()
  if self.finished then return false end
  self.cancelled = true
  if self.op and not self.op:is_closed() then self.op:cancel() end
  return true
end

-- Each step's operation is kept on the handle, so cancel() reaches it.
function Generation:step(op)
  self.op = op
  if self.cancelled and not op:is_closed() then op:cancel() end
  return M.await(op)
end

local function cancelled_before(gen)
  return nil, core.new_error("cancelled", "the generation was cancelled before its "
    .. (gen.job_id and "next step" or "create") .. " was sent")
end

-- The three steps. A client with a ledger takes them through the ledger
-- (each recorded); a cancel lets its create finish (its id is recorded).
function Generation:create()
  local c = self.client
  if c.ledger then return c:create(self.fields, self.own.output) end -- a ledger records where it goes
  return self:step(c:create_op(self.fields))
end

function Generation:wait(id)
  local c, own = self.client, self.own
  local opts = { interval = own.interval, timeout = own.timeout, on_status = own.on_status }
  if c.ledger then return c.ledger:wait(id, opts, self) end
  return self:step(waiters.for_job(c:wait_op(id, opts), id))
end

function Generation:download(url, id)
  local c = self.client
  local opts = { on_progress = self.own.on_progress }
  if c.ledger then return c.ledger:download(url, self.own.output, opts, self) end
  return self:step(waiters.for_job(c:download_op(url, self.own.output, opts), id))
end

--- Runs the generation (once) and returns what client:generate returns.
---@return omnihuman.Result? res
---@return omnihuman.Error? err
function Generation:await()
  if self.started then error("omnihuman: a generation is awaited once", 2) end
  self.started = true
  local job, err
  if self.cancelled then job, err = cancelled_before(self) else job, err = self:create() end
  if not job then
    self.finished = true
    return nil, err
  end
  self.job_id = job.id
  -- From here every way out names the job: a returned error in err.job_id,
  -- a callback's raise through waiters.for_job, an unwinding run through
  -- the scheduler, which holds the id until generate returns.
  local res, path
  if self.cancelled then res, err = cancelled_before(self) else res, err = self:wait(job.id) end
  if res and self.own.output then
    if self.cancelled then path, err = cancelled_before(self) else path, err = self:download(res.video.url, job.id) end
    if path then res.output = path else res = nil end
  end
  self.finished, self.op = true, nil
  if current then current:release(job.id) end
  if not res then
    err.job_id = job.id
    return nil, err
  end
  res.usage, res.credits = usage_of(job) -- what the create cost
  return res
end

--- create, wait, and (with `output`) download. On failure after the create,
--- err.job_id names the job so it can be waited on again without paying twice.
---@param args omnihuman.GenerateArgs
---@return omnihuman.Result? res
---@return omnihuman.Error? err
function Client:generate(args) return new_generation(self, args, 2):await() end

--- Ends what this client has in flight (each operation is cancelled, which
--- wakes whoever awaits it; a create that may have reached the service says
--- maybe_created) and releases the client; a ledger first records the
--- answers of creates already in. Idempotent.
function Client:close()
  if self.ledger then self.ledger:settle(false) end -- answers already in, before close drops them
  self.core:close()
  self.closed = true
  if self.ledger then self.ledger:close() end
end
Client.__close = Client.close
function Client:__tostring() return tostring(self.core) end

-- Coroutines ------------------------------------------------------------------

--- Runs fn(...) and everything it spawns as coroutines on the loop; returns
--- when all have finished. An error in any of them is raised from here.
---@param fn function
---@param ... any
function M.run(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.run: expected a function", 2) end
  if current then return fn(...) end -- already inside run: just call it
  local lp = get_loop()
  if lp:driving() then
    error("omnihuman.run: cannot run inside a callback of the loop (nothing can finish until it returns)", 2)
  end
  local s = Scheduler.new(lp)
  current = s
  waiters.in_run = true
  s:spawn(fn, ...)
  local ok, err = pcall(s.run, s)
  current = nil
  waiters.in_run = false
  if not ok then
    -- Creates still in flight are settled, never silently dropped: the
    -- error says which jobs exist (or may) that no coroutine received.
    local notes = s:abandon()
    if #notes > 0 then
      if type(err) == "string" then
        err = err .. "\n" .. table.concat(notes, "\n")
      elseif type(err) == "table" then
        pcall(rawset, err, "abandoned_jobs", notes)
      end
    end
    error(err, 0)
  end
end

--- Starts fn(...) as a coroutine of the running omnihuman.run.
---@param fn function
---@param ... any
---@return thread|any
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.spawn: expected a function", 2) end
  if not current then
    -- Hosts with an event loop of their own (Neovim, LÖVE) run it there.
    if host.spawn then return host.spawn(fn, ...) end
    error("omnihuman.spawn: call it inside omnihuman.run", 2)
  end
  return current:spawn(fn, ...)
end

--- Sleeps without blocking other coroutines (blocks the main thread outside them).
---@param seconds number
---@return true? ok
---@return omnihuman.Error? err
function M.sleep(seconds)
  if type(seconds) ~= "number" then error("omnihuman.sleep: expected seconds", 2) end
  return M.await(core.sleep_op(get_loop(), seconds))
end

--- Builds an error object like the ones operations return.
---@param kind omnihuman.ErrorKind
---@param message string
---@param status? integer
---@return omnihuman.Error
function M.error(kind, message, status) return core.new_error(kind, message, status) end

return M
