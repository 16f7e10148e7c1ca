-- omnihuman: portrait + speech -> lip-synced video through the AI/ML API.
-- The C core (omnihuman.core) does HTTP, JSON and the job state machines as
-- non-blocking operations; this facade turns an operation into a result.
local core = require("omnihuman.core")
local Scheduler = require("omnihuman.scheduler")
local waiters = require("omnihuman.waiters")
local usage_of = require("omnihuman.usage")

---@class omnihuman
---@field _VERSION string the module's version
---@field core omnihuman.Core the C core
local M = { _VERSION = core.version, core = core }

--- Options of omnihuman.new; every one optional. Unknown names raise.
---@class omnihuman.ClientOptions
---@field api_key? string default: $AIMLAPI_KEY (a missing key fails at the first request)
---@field base_url? string default: $OMNIHUMAN_BASE_URL, else https://api.aimlapi.com/v2
---@field model? string "bytedance/omnihuman" (default) or "bytedance/omnihuman/v1.5"
---@field timeout? number seconds per HTTP request (60)
---@field connect_timeout? number seconds (10)
---@field max_retries? number transient failures retried (3)
---@field max_connections? number per host (8)
---@field poll_interval? number seconds between status checks (10)
---@field wait_timeout? number seconds for a whole wait (900)
---@field ca_file? string an extra trust anchor (verification is never turned off)
---@field proxy? string
---@field user_agent? string
---@field on_event? fun(ev: omnihuman.Event) requests, retries, statuses, download progress

--- Fields of a create: `image`/`audio` (local files) or `image_url`/`audio_url`;
--- any other field is sent to the service as it is.
---@class omnihuman.CreateFields
---@field image? string a local PNG, JPEG, WebP or GIF
---@field image_url? string
---@field audio? string a local WAV, MP3, OGG, M4A or AAC under 30 s
---@field audio_url? string
---@field [string] any

---@class omnihuman.WaitOptions
---@field interval? number seconds between status checks (the client's poll_interval)
---@field timeout? number seconds for the whole wait (the client's wait_timeout)
---@field on_status? fun(st: omnihuman.Job) each status answer

---@class omnihuman.DownloadOptions
---@field on_progress? fun(got: integer, total: integer?) bytes so far, expected size when known
---@field max_bytes? number refuse a larger body (default 4 GiB)

--- client:generate's argument: create fields plus these.
---@class omnihuman.GenerateArgs : omnihuman.CreateFields
---@field output? string where to download the video (then res.output is set)
---@field interval? number
---@field timeout? number
---@field on_status? fun(st: omnihuman.Job)
---@field on_progress? fun(got: integer, total: integer?)

local DEFAULT_BASE_URL = "https://api.aimlapi.com/v2"

local host -- the adapter in use (see detect_host and M.use below)

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
local function detect_host()
  if type(ngx) == "table" and type(ngx.sleep) == "function" and type(ngx.get_phase) == "function" then
    return "openresty"
  end
  if type(vim) == "table" and type(vim.schedule) == "function" and (vim.uv or vim.loop) then
    return "nvim"
  end
  if type(love) == "table" and type(love.getVersion) == "function" then return "love" end
  return "plain"
end
host = require("omnihuman.hosts." .. detect_host())
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
  local op_loop = op:loop() -- nil once it finished or was closed
  if not op_loop then return waiters.result(op) end
  return (foreign and foreign.pick() or host).await(op_loop, op)
end

-- Returns opts as given (nil stays nil: the core reads nil as no options,
-- and an empty table per call would be garbage on every wait).
local function check_options(where, opts, spec, level)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(where, type(opts)), level + 1)
  end
  for k, v in pairs(opts) do
    local want = spec[k]
    if not want then
      error(("%s: unknown option '%s'"):format(where, tostring(k)), level + 1)
    end
    if type(v) ~= want then
      error(("%s: option '%s' must be a %s, got %s"):format(where, k, want, type(v)), level + 1)
    end
  end
  return opts
end

local CLIENT_OPTIONS = {
  api_key = "string", base_url = "string", model = "string", timeout = "number",
  connect_timeout = "number", max_retries = "number", max_connections = "number",
  poll_interval = "number", wait_timeout = "number", ca_file = "string", proxy = "string",
  user_agent = "string", on_event = "function", max_audio_seconds = "number",
  allow_unmeasured_audio = "boolean",
}
local WAIT_OPTIONS = { interval = "number", timeout = "number", on_status = "function" }
local DOWNLOAD_OPTIONS = { on_progress = "function", max_bytes = "number" }
-- generate's own options; every other field goes to create.
local GENERATE_OWN = {
  output = "string", interval = "number", timeout = "number", on_status = "function",
  on_progress = "function",
}

--- A client: its options, its connections, on the shared loop.
---@class omnihuman.Client
---@field core userdata the C client
---@field base_url string the API's base URL in use
local Client = {}
Client.__index = Client

---@param opts? omnihuman.ClientOptions
---@return omnihuman.Client
function M.new(opts)
  local ledger_own -- `ledger = PATH | true`: the client records its jobs (omnihuman.ledger_client)
  if type(opts) == "table" and (opts.ledger ~= nil or opts.ledger_busy_timeout ~= nil) then
    opts, ledger_own = require("omnihuman.ledger_client").split(opts)
  end
  opts = check_options("omnihuman.new", opts, CLIENT_OPTIONS, 2) or {}
  local cfg = {}
  for k, v in pairs(opts) do cfg[k] = v end
  cfg.api_key = cfg.api_key or os.getenv("AIMLAPI_KEY")
  local env_base = os.getenv("OMNIHUMAN_BASE_URL")
  cfg.base_url = cfg.base_url or (env_base ~= "" and env_base) or DEFAULT_BASE_URL
  -- Ranges, and strings that must not carry line breaks, are checked in C.
  local ok, c = pcall(core.new_client, get_loop(), cfg)
  if not ok then error(c, 2) end
  local client = setmetatable({ core = c, base_url = cfg.base_url }, Client)
  if ledger_own then require("omnihuman.ledger_client").attach(client, ledger_own, cfg.model, 2) end
  return client
end

-- Operation starters, for schedulers of your own (cqueues, an event loop):
-- each returns a pollable operation without waiting.
---@param fields omnihuman.CreateFields
---@return omnihuman.Operation
function Client:create_op(fields)
  if type(fields) ~= "table" then error("client:create: expected a table of fields", 2) end
  if self.ledger then error("client:create_op: a client with a ledger creates through client:create", 2) end
  return self.core:create_op(fields)
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
  return self.core:wait_op(id, check_options("client:wait", opts, WAIT_OPTIONS, 2))
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
  if self.ledger and type(fields) == "table" then return self.ledger:create(fields, output) end
  return M.await(self:create_op(fields))
end

--- One status check.
---@param id string
---@return omnihuman.Job? status
---@return omnihuman.Error? err
function Client:poll(id) return M.await(self:poll_op(id)) end

--- Status checks until the job completes (its final status) or fails.
---@param id string
---@param opts? omnihuman.WaitOptions
---@return omnihuman.Job? result
---@return omnihuman.Error? err
function Client:wait(id, opts)
  if self.ledger and type(id) == "string" then
    return self.ledger:wait(id, check_options("client:wait", opts, WAIT_OPTIONS, 2))
  end
  return M.await(self:wait_op(id, opts))
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

--- create, wait, and (with `output`) download. On failure after the create,
--- err.job_id names the job so it can be waited on again without paying twice.
---@param args omnihuman.GenerateArgs
---@return omnihuman.Result? res
---@return omnihuman.Error? err
function Client:generate(args)
  if type(args) ~= "table" then error("client:generate: expected a table", 2) end
  local fields, own = {}, {}
  for k, v in pairs(args) do
    if GENERATE_OWN[k] then own[k] = v else fields[k] = v end
  end
  check_options("client:generate", own, GENERATE_OWN, 2)
  local job, err = self:create(fields, own.output) -- a ledger records where the video goes
  if not job then return nil, err end
  local res
  res, err = self:wait(job.id, { interval = own.interval, timeout = own.timeout, on_status = own.on_status })
  if not res then
    err.job_id = job.id
    return nil, err
  end
  if own.output then
    local path
    path, err = self:download(res.video.url, own.output, { on_progress = own.on_progress })
    if not path then
      err.job_id = job.id
      return nil, err
    end
    res.output = path
  end
  res.usage, res.credits = usage_of(job) -- what the create cost
  return res
end

--- Cancels what this client has in flight and releases it.
function Client:close()
  if self.ledger then self.ledger:settle(false) end -- answers already in, before close drops them
  self.core:close()
  if self.ledger then self.ledger:close() end
end
Client.__close = Client.close
function Client:__tostring() return tostring(self.core) end

-- Coroutines ------------------------------------------------------------------

local current -- the scheduler of the run() in progress, if any

--- Runs fn(...) and everything it spawns as coroutines on the loop; returns
--- when all have finished. An error in any of them is raised from here.
---@param fn function
---@param ... any
function M.run(fn, ...)
  if type(fn) ~= "function" then error("omnihuman.run: expected a function", 2) end
  if current then return fn(...) end -- already inside run: just call it
  local s = Scheduler.new(get_loop())
  current = s
  s:spawn(fn, ...)
  local ok, err = pcall(s.run, s)
  current = nil
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
