-- What every command needs: the client (built from flags and environment),
-- the progress display, and result output (text or --json).
local omnihuman = require("omnihuman")
local util = require("omnihuman.cli.util")
local Progress = require("omnihuman.cli.progress")

local Context = {}
Context.__index = Context

function Context.new(opts, tune)
  local self = setmetatable({ opts = opts }, Context)
  local key = opts["api-key"] or os.getenv("AIMLAPI_KEY")
  if key == "" then key = nil end
  util.add_secret(key)
  self.key = key
  local cfg = { api_key = key, base_url = opts["base-url"], ca_file = opts["ca-file"] }
  if opts.model then cfg.model = opts.model end
  if opts.interval then cfg.poll_interval = opts.interval end
  if opts.timeout then cfg.wait_timeout = opts.timeout end
  if opts["max-audio-seconds"] then cfg.max_audio_seconds = opts["max-audio-seconds"] end
  if opts["no-strict"] then cfg.strict = false end
  for k, v in pairs(tune or {}) do cfg[k] = v end
  self.cfg = cfg
  local mode = opts.progress or "auto"
  if opts.quiet then mode = "none" end
  if mode == "auto" then
    local term = os.getenv("TERM")
    mode = (util.isatty(2) and term ~= "dumb") and "tty" or "plain"
  end
  local cols, rows = 80, 24
  if mode == "tty" then cols, rows = util.term_size() end
  self.progress = Progress.new{ mode = mode, out = io.stderr, width = cols, height = rows }
  return self
end

function Context:client(no_key_needed)
  if not self.key and not no_key_needed then
    return nil, omnihuman.error("auth", "no API key: set AIMLAPI_KEY or pass --api-key")
  end
  if not self._client then self._client = omnihuman.new(self.cfg) end
  return self._client
end

-- Runs fn inside omnihuman.run with a ticker redrawing the live display
-- until fn and everything started with ctx:spawn have finished.
function Context:run(fn)
  local progress = self.progress
  local result
  self.busy = 0
  omnihuman.run(function()
    if progress.mode == "tty" then
      omnihuman.spawn(function()
        repeat
          progress:tick()
          omnihuman.sleep(0.1)
        until self.busy == 0
      end)
    end
    self:spawn(function() result = table.pack and table.pack(fn()) or { fn() } end)
  end)
  progress:close()
  return (table.unpack or unpack)(result, 1, result.n or #result)
end

-- Starts fn as a coroutine of the running ctx:run.
function Context:spawn(fn, ...)
  self.busy = self.busy + 1
  -- No pcall here: Lua 5.1 cannot yield across it. An error ends the run anyway.
  return omnihuman.spawn(function(...)
    fn(...)
    self.busy = self.busy - 1
  end, ...)
end

function Context:print_json(v)
  io.stdout:write(util.redact(util.encode(v)), "\n")
  io.stdout:flush()
end

function Context:say(text)
  io.stdout:write(util.redact(text), "\n")
  io.stdout:flush()
end

-- An error for the user: text on stderr, and a JSON object on stdout with
-- --json (unless no_json: the caller prints its own one object).
function Context:fail(err, extra, no_json)
  local obj = { ok = false, error = {
    kind = type(err) == "table" and err.kind or "other",
    message = util.redact(type(err) == "table" and err.message or tostring(err)),
    status = type(err) == "table" and err.status or nil,
    request_id = type(err) == "table" and err.request_id or nil,
    maybe_created = type(err) == "table" and err.maybe_created or nil,
  } }
  for k, v in pairs(extra or {}) do obj[k] = v end
  if self.opts.json and not no_json then self:print_json(obj) end
  io.stderr:write("omnihuman: ", util.redact(type(err) == "table" and (err.kind .. ": " .. err.message) or tostring(err)), "\n")
  if extra and extra.job_id then
    io.stderr:write("omnihuman: job id ", util.redact(extra.job_id), " (wait for it with: omnihuman wait ",
                    util.redact(util.word(extra.job_id)), ")\n")
  end
end

return Context
