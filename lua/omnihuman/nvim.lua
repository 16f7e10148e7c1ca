-- The Neovim plugin: finds the core built in the plugin's own folder, keeps
-- one client, and runs :OmniHuman generations as coroutines on the editor's
-- main loop (through the nvim adapter). Loaded by plugin/omnihuman.lua;
-- `require("omnihuman").setup{...}` and `require("omnihuman.nvim").setup{...}`
-- are the same function.
local M = {}

local uv = vim.uv or vim.loop

local function notify(msg, level)
  -- One prefix: errors already read "omnihuman: <kind>: ...".
  vim.notify("omnihuman: " .. msg:gsub("^omnihuman: ", ""), level or vim.log.levels.INFO)
end

-- <root>/lua/omnihuman/nvim.lua -> <root>
local ROOT = (debug.getinfo(1, "S").source:sub(2):gsub("/lua/omnihuman/nvim%.lua$", ""))
M.root = ROOT

--- The build folder matching this Neovim's Lua: build/luajit for LuaJIT
--- (what Neovim normally runs), build/lua5.1 for a PUC Lua 5.1 build.
---@return string
function M.build_dir()
  local name = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  return ROOT .. "/build/" .. name
end

--- Puts the plugin's own core build first on package.cpath (once). Called
--- by plugin/omnihuman.lua and by setup(), whichever runs first.
function M.add_paths()
  local entry = M.build_dir() .. "/?.so"
  if not package.cpath:find(entry, 1, true) then
    package.cpath = entry .. ";" .. package.cpath
  end
end

-- Plugin options; every other setup{} field is an omnihuman.new option.
local OWN = { output_dir = "string" }

local config = { client = {}, output_dir = nil }
local client

---@class omnihuman.NvimOptions : omnihuman.ClientOptions
---@field output_dir? string folder for :OmniHuman outputs given without a path (default: the current directory)

--- Configures the plugin. Optional: without it the defaults apply
--- ($AIMLAPI_KEY, $OMNIHUMAN_BASE_URL). Unknown option names raise here.
---@param opts? omnihuman.NvimOptions
function M.setup(opts)
  if opts ~= nil and type(opts) ~= "table" then error("omnihuman.setup: expected a table", 2) end
  M.add_paths()
  local own, cl = {}, {}
  for k, v in pairs(opts or {}) do
    if OWN[k] then
      if type(v) ~= OWN[k] then
        error(("omnihuman.setup: option '%s' must be a %s, got %s"):format(k, OWN[k], type(v)), 2)
      end
      own[k] = v
    else
      cl[k] = v
    end
  end
  local omnihuman = require("omnihuman")
  cl = M.with_ledger(cl)
  -- Made now so that a misspelt option raises at setup, not at first use;
  -- no request is sent until a generation starts.
  local ok, made = pcall(omnihuman.new, cl)
  if not ok then error((tostring(made):gsub("omnihuman%.new", "omnihuman.setup")), 2) end
  client = made
  config = { client = cl, output_dir = own.output_dir }
end

--- The plugin's client (made with the setup{} options on first use).
---@return omnihuman.Client
function M.client()
  if not client then
    M.add_paths()
    local ok, lib = pcall(require, "omnihuman")
    if not ok then
      error(("the core does not load (%s): run make LUA=luajit in %s, see :checkhealth omnihuman")
        :format(tostring(lib):match("[^\n]*[^:\n]"), ROOT), 0)
    end
    client = lib.new(M.with_ledger(config.client))
  end
  return client
end

--- The client options with the job ledger on by default (ledger = true:
--- $XDG_STATE_HOME/omnihuman/jobs.db) when its module is built; setup{
--- ledger = false } turns it off, ledger = "path" picks another file.
function M.with_ledger(cl)
  if cl.ledger ~= nil then return cl end
  local out = {}
  for k, v in pairs(cl) do out[k] = v end
  if pcall(require, "omnihuman.ledger_db") then out.ledger = true end
  return out
end

-- The ledger's rows (through the client's ledger), or nil, why.
local function ledger_rows(filter)
  local c = M.client()
  if not c.ledger then return nil, "no job ledger (setup{ ledger = false }, or omnihuman.ledger_db not built)" end
  return c:jobs(filter)
end

local PENDING = { creating = true, created = true, maybe_created = true, completed = true }

-- The outputs of the generations running in this editor, as given and
-- with their folder resolved (the ledger may record either).
local function running_outputs()
  local set = {}
  for _, e in ipairs(M.running) do
    set[e.output] = true
    local real = uv.fs_realpath(vim.fn.fnamemodify(e.output, ":h"))
    if real then set[real .. "/" .. vim.fn.fnamemodify(e.output, ":t")] = true end
  end
  return set
end

--- Lines describing the ledger's jobs (all, or only pending ones; without
--- those this editor is running when not_running).
function M.job_lines(pending_only, not_running)
  local rows, err = ledger_rows()
  if not rows then return nil, err end
  local lines, skip = {}, not_running and running_outputs() or {}
  for _, r in ipairs(rows) do
    if (not pending_only or PENDING[r.state]) and not skip[r.output or ""] then
      lines[#lines + 1] = ("%d  %s  %s  %s  %s"):format(r.row, r.job_id or "-", r.state,
        r.status or "-", r.output or "-")
    end
  end
  return lines
end

--- Resumes one ledger job (a job id or a row number) or, with "all", every
--- job that has an id and is not downloaded: waits and downloads, never
--- creates. Returns the coroutine.
function M.resume(which, done)
  local c = M.client()
  local nv = require("omnihuman").use("nvim")
  return nv.spawn(function()
    local targets = {}
    if which == "all" then
      for _, r in ipairs(ledger_rows() or {}) do
        if r.job_id and (r.state == "created" or r.state == "completed") then targets[#targets + 1] = r.row end
      end
    else
      targets[1] = tonumber(which) or which
    end
    if #targets == 0 then notify("no job to resume") end
    for _, t in ipairs(targets) do
      local res, err = c:resume(t)
      if res then notify(("resumed %s: %s"):format(tostring(res.id), tostring(res.output or res.status)))
      else notify(tostring(err), vim.log.levels.ERROR) end
    end
    if done then done() end
  end)
end

--- At startup: names the pending jobs of the default ledger, if it exists
--- (never creates it, never resumes them), but not those started by this
--- editor already (nvim -c 'OmniHuman ...').
function M.announce_pending()
  if config.client.ledger == false then return end
  local path = config.client.ledger
  if type(path) ~= "string" then
    local ok, ledger = pcall(require, "omnihuman.ledger")
    if not ok then return end
    path = ledger.default_path()
  end
  if not path or not uv.fs_stat(path) then return end
  local ok, lines = pcall(M.job_lines, true, true)
  if ok and lines and #lines > 0 then
    notify(("%d job(s) of the ledger not finished: :OmniHuman jobs, :OmniHuman resume all"):format(#lines))
  end
end

--- Where setup{} (or the environment) puts the key: "setup", "$AIMLAPI_KEY" or nil. Never the key.
---@return "setup"|"$AIMLAPI_KEY"|nil
function M.key_source()
  if config.client.api_key and config.client.api_key ~= "" then return "setup" end
  local env = os.getenv("AIMLAPI_KEY")
  if env and env ~= "" then return "$AIMLAPI_KEY" end
  return nil
end

local function is_url(s) return s:match("^https?://") ~= nil end

local function default_output(image)
  local stem = vim.fn.fnamemodify(image:gsub("[?#].*$", ""), ":t:r")
  if stem == "" then stem = "omnihuman" end
  local dir = config.output_dir and vim.fn.expand(config.output_dir) or vim.fn.getcwd()
  return dir .. "/" .. stem .. ".mp4"
end

--- Starts one generation as a coroutine on the main loop and returns at
--- once. image and audio are local files or http(s) URLs; output defaults to
--- <output_dir>/<image name>.mp4. Notifies each status change, the
--- download's progress in quarters, and the absolute result path.
--- done(res, err), when given, runs at the end.
---@param image string
---@param audio string
---@param output? string
---@param done? fun(res: omnihuman.Result?, err: omnihuman.Error?)
---@return thread
function M.generate(image, audio, output, done, fields)
  local args = {}
  for k, v in pairs(fields or {}) do args[k] = v end
  for name, f in pairs({ image = image, audio = audio }) do
    if not is_url(f) and vim.fn.filereadable(vim.fn.expand(f)) ~= 1 then
      error(("cannot read %s"):format(f), 0)
    end
    args[is_url(f) and name .. "_url" or name] = is_url(f) and f or vim.fn.expand(f)
  end
  -- Without an image (a text-to-video model), the default output is named after the model.
  local stem_from = image or ((args.model or "omnihuman"):gsub("^.*/", ""):gsub("%.", "-") .. ".mp4")
  args.output = vim.fn.fnamemodify(output and vim.fn.expand(output) or default_output(stem_from), ":p")
  local c = M.client()
  local nv = require("omnihuman").use("nvim")
  local last_status, last_quarter
  args.on_status = function(st)
    if st.status ~= last_status then
      last_status = st.status
      notify(("job %s: %s"):format(tostring(st.id), tostring(st.status)))
    end
  end
  args.on_progress = function(got, total)
    if not total or total <= 0 then return end
    local q = math.floor(got * 4 / total)
    if q ~= last_quarter then
      last_quarter = q
      notify(("downloading %d%%"):format(q * 25))
    end
  end
  local gen = c:generate_op(args)
  M.last_number = (M.last_number or 0) + 1
  -- What it is made from, for the messages: the inputs given, else the model.
  local given = {}
  for _, f in ipairs({ image or false, audio or false }) do given[#given + 1] = f or nil end
  local from = table.concat(given, " + ")
  local entry = { number = M.last_number, gen = gen, image = image, audio = audio, output = args.output,
                  started = os.time(), from = from ~= "" and from or args.model }
  M.running[#M.running + 1] = entry
  return nv.spawn(function()
    local t0 = uv.now()
    notify(("submitting %s (:OmniHuman cancel %d stops it)"):format(entry.from, entry.number))
    local res, err = gen:await()
    for i = #M.running, 1, -1 do
      if M.running[i] == entry then table.remove(M.running, i) end
    end
    if res then
      notify(("done in %.1f s: %s"):format((uv.now() - t0) / 1000, res.output))
    else
      notify(tostring(err) .. (err.job_id and (" (job " .. err.job_id .. ")") or ""), vim.log.levels.ERROR)
    end
    if done then done(res, err) end
  end)
end

--- Generations started by :OmniHuman or M.generate that have not finished
--- (whatever client made them: setup() again leaves them running here).
---@type { number: integer, gen: omnihuman.Generation, image: string, audio: string, output: string, started: integer }[]
M.running = {}

--- Cancels the running generation numbered n (as :OmniHuman running lists
--- them), or every one when n is nil. Returns how many were cancelled.
---@param n? integer
---@return integer
function M.cancel(n)
  local count = 0
  for _, e in ipairs(M.running) do
    -- A cancelled generation stays listed until its coroutine resumes: not twice.
    if (n == nil or e.number == n) and not e.gen.cancelled and e.gen:cancel() then count = count + 1 end
  end
  return count
end

-- :OmniHuman <subcommand> ...: each returns nothing; usage errors notify.
M.subcommands = {
  running = function()
    if #M.running == 0 then return notify("no generation running") end
    local lines = {}
    for _, e in ipairs(M.running) do
      lines[#lines + 1] = ("%d  %s  %ds  %s -> %s"):format(e.number, e.gen.job_id or "(creating)",
        os.time() - e.started, e.from, e.output)
    end
    notify("running:\n" .. table.concat(lines, "\n"))
  end,
  cancel = function(arg)
    local n = arg and tonumber(arg)
    if arg and arg ~= "all" and not n then
      return notify("usage: :OmniHuman cancel [N|all]", vim.log.levels.WARN)
    end
    notify(("cancelled %d generation(s)"):format(M.cancel(n)))
  end,
  jobs = function(arg)
    if arg then return notify("usage: :OmniHuman jobs", vim.log.levels.WARN) end
    local ok, lines, err = pcall(M.job_lines, false)
    if not ok or not lines then return notify(tostring(ok and err or lines), vim.log.levels.ERROR) end
    notify(#lines == 0 and "no jobs in the ledger"
      or ("jobs (row id state status output):\n" .. table.concat(lines, "\n")))
  end,
  resume = function(arg)
    if not arg then return notify("usage: :OmniHuman resume {job id|row|all}", vim.log.levels.WARN) end
    local ok, err = pcall(M.resume, arg)
    if not ok then notify(tostring(err), vim.log.levels.ERROR) end
  end,
}

-- "k=v" arguments of :OmniHuman: create fields (numbers and true/false as
-- such, a file field's local path expanded, anything else a string); the
-- rest stay positional.
local function split_fields(fargs)
  local pos, fields = {}, {}
  for _, a in ipairs(fargs) do
    local k, v = a:match("^([%a_][%w_]*)=(.*)$")
    if k then
      if v == "true" or v == "false" then fields[k] = v == "true"
      elseif require("omnihuman.catalogue").file_field_names()[k] and not v:match("^%a[%w+.-]*:") then
        fields[k] = vim.fn.fnamemodify(vim.fn.expand(v), ":p") -- a local file: ~ expanded, made absolute
      else fields[k] = tonumber(v) or v end
    else
      pos[#pos + 1] = a
    end
  end
  return pos, fields
end

--- :OmniHuman [{image} {audio} [{output}]] [{field}={value}...],
--- :OmniHuman running | cancel [N|all] | jobs | resume {id|row|all}
---@param opts { fargs: string[] }
function M.command(opts)
  local sub = M.subcommands[opts.fargs[1]]
  if sub and #opts.fargs <= 2 then return sub(opts.fargs[2]) end
  local a, fields = split_fields(opts.fargs)
  -- With model= (a model of the catalogue), image and audio only where it takes them.
  local least = fields.model ~= nil and 0 or 2
  if #a < least or #a > 3 then
    return notify("usage: :OmniHuman {image} {audio} [{output}] [{field}={value}...]"
      .. " | running | cancel [N|all] | jobs | resume {id|row|all}",
      vim.log.levels.WARN)
  end
  local output = a[3] or fields.output
  fields.output = nil
  local ok, err = pcall(M.generate, a[1], a[2], output, nil, fields)
  if not ok then notify(tostring(err), vim.log.levels.ERROR) end
end

return M
