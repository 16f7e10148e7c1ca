-- Host test: the Neovim plugin, installed the ways users install it. Run by
-- spec/hosts/run.sh once per scenario (OMH_SCENARIO), which prepares the
-- editor's XDG folders and the plugin folder (OMH_PLUGIN_ROOT):
--   native   the repository in a pack/*/start/ folder: the plugin file ran
--            at startup; :OmniHuman, setup, notifications, :checkhealth,
--            :help tags
--   early    the same, plus an init.lua that calls
--            require("omnihuman.nvim").setup{} before plugins are loaded
--   lazy     started with -u NONE; the test adds the plugin to 'runtimepath'
--            and sources plugin/omnihuman.lua, as lazy.nvim does
--   badcore  a plugin folder whose build/luajit holds a core built for Lua 5.4
--   nocore   a plugin folder with no build at all
--   example  nvim -u examples/nvim/init.lua (the checkout as the plugin),
--            then :OmniHumanMany 2
local H = dofile(assert(os.getenv("OMH_ROOT"), "OMH_ROOT not set") .. "/spec/hosts/nvim_harness.lua")(
  "nvim-plugin", 60)
local check, out = H.check, H.out
local SCENARIO, ROOT = H.env("OMH_SCENARIO"), H.env("OMH_ROOT")
local PLUGIN, API, WORK, KEY = H.env("OMH_PLUGIN_ROOT"), H.env("OMH_API"), H.env("OMH_WORK"), H.env("AIMLAPI_KEY")
local MEDIA = ROOT .. "/examples/media/"

-- Every vim.notify message, in order.
local noted = H.capture_notify()
local notes = H.notes

local function health_lines()
  vim.cmd("checkhealth omnihuman")
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("bwipeout!")
  for _, l in ipairs(lines) do out("health| %s", l) end
  return table.concat(lines, "\n")
end

-- Waits (on the editor's loop) until cond() or seconds pass.
local function wait_for(seconds, cond)
  return vim.wait(seconds * 1000, cond, 20)
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

local function check_plugin_loaded()
  check(vim.g.loaded_omnihuman == 1, "plugin/omnihuman.lua ran")
  check(vim.fn.exists(":OmniHuman") == 2, ":OmniHuman is defined")
  local first = package.cpath:match("^[^;]*")
  check(first == PLUGIN .. "/build/luajit/?.so",
    "the plugin's build/luajit is first on package.cpath: " .. tostring(first))
end

local function check_setup_alias()
  local lib = require("omnihuman")
  check(type(lib.setup) == "function" and lib.setup == require("omnihuman.nvim").setup,
    "require('omnihuman').setup is the plugin's setup")
  check(lib.adapter().name == "nvim", "the library picked the nvim adapter")
end

-- One :OmniHuman from start to end: notifications in order, a video file.
local function command_generation(args, output)
  local from = #notes + 1
  vim.cmd("OmniHuman " .. args)
  local done = wait_for(30, function()
    return noted("^omnihuman: done in", nil, from) ~= nil or noted("", vim.log.levels.ERROR, from) ~= nil
  end)
  local _, i_sub = noted("^omnihuman: submitting", nil, from)
  local _, i_status = noted("^omnihuman: job %S+: %a+$", nil, from)
  local _, i_dl = noted("^omnihuman: downloading 100%%", nil, from)
  local fin, i_done = noted("^omnihuman: done in [%d.]+ s: (.*)$", nil, from)
  check(done and fin ~= nil, ":OmniHuman " .. args .. " finished with 'done'")
  check(i_sub and i_status and i_dl and i_done and i_sub < i_status and i_status < i_dl and i_dl < i_done,
    "notifications in order: submitting, job <id>: <status>, downloading 100%, done")
  local path = fin and fin.msg:match(": (/.*)$")
  check(path == output, ("the result path is reported: %s"):format(tostring(path)))
  check(file_size(output) > 0, ("the video is there (%d bytes)"):format(file_size(output)))
end

local scenarios = {}

function scenarios.native()
  check_plugin_loaded()
  check(package.loaded.omnihuman == nil, "the library is not loaded at startup")
  check_setup_alias()

  -- setup: unknown names and wrong types raise, naming the option.
  local ok, err = pcall(require("omnihuman").setup, { no_such_option = 1 })
  check(not ok and tostring(err):find("unknown option 'no_such_option'", 1, true) ~= nil,
    "setup{no_such_option} raises: " .. tostring(err))
  ok, err = pcall(require("omnihuman").setup, { output_dir = 5 })
  check(not ok and tostring(err):find("'output_dir' must be a string", 1, true) ~= nil,
    "setup{output_dir = 5} raises: " .. tostring(err))

  local outdir = WORK .. "/native-out"
  vim.fn.mkdir(outdir, "p")
  require("omnihuman").setup{ base_url = API .. "/n/plugin-native/v2", poll_interval = 0.2, timeout = 10,
    output_dir = outdir }

  -- Usage and unreadable files: a warning / an error, no generation.
  local from = #notes + 1
  vim.cmd("OmniHuman only-one-argument")
  check(noted("usage: :OmniHuman", vim.log.levels.WARN, from) ~= nil, "one argument: a usage warning")
  from = #notes + 1
  vim.cmd("OmniHuman " .. WORK .. "/missing.png " .. MEDIA .. "hello.wav")
  check(noted("cannot read .*missing%.png", vim.log.levels.ERROR, from) ~= nil, "a missing image: an error")

  -- Default output: <output_dir>/<image name>.mp4; then an explicit one.
  command_generation(MEDIA .. "portrait.png " .. MEDIA .. "hello.wav", outdir .. "/portrait.mp4")
  command_generation(MEDIA .. "portrait.png " .. MEDIA .. "hello.mp3 " .. outdir .. "/explicit.mp4",
    outdir .. "/explicit.mp4")

  -- Two at once, from the command line.
  local from2 = #notes + 1
  vim.cmd("OmniHuman " .. MEDIA .. "portrait.png " .. MEDIA .. "hello.wav " .. outdir .. "/a.mp4")
  vim.cmd("OmniHuman " .. MEDIA .. "portrait.png " .. MEDIA .. "hello.wav " .. outdir .. "/b.mp4")
  wait_for(30, function()
    local n = 0
    for i = from2, #notes do if notes[i].msg:find("^omnihuman: done in") then n = n + 1 end end
    return n == 2
  end)
  check(file_size(outdir .. "/a.mp4") > 0 and file_size(outdir .. "/b.mp4") > 0, "two generations at once")

  -- Another model of the catalogue: model= and its fields, no image or audio.
  local from4 = #notes + 1
  vim.cmd("OmniHuman model=google/veo-3.1-t2v prompt=lighthouse duration=8 output=" .. outdir .. "/veo.mp4")
  wait_for(30, function() return noted("^omnihuman: done in", nil, from4) ~= nil end)
  check(file_size(outdir .. "/veo.mp4") > 0, ":OmniHuman model=... with fields made a video")
  local from5 = #notes + 1
  vim.cmd("OmniHuman model=google/veo-3.1-t2v prompt=lighthouse duration=7 output=" .. outdir .. "/veo7.mp4")
  wait_for(10, function() return noted("duration must be one of 4, 6, 8", vim.log.levels.ERROR, from5) ~= nil end)
  check(noted("duration must be one of 4, 6, 8", vim.log.levels.ERROR, from5) ~= nil,
    "a field the model refuses is reported, nothing made")

  -- A local file in another model's file field, relative to the current directory.
  local from6 = #notes + 1
  local cwd = vim.fn.getcwd()
  vim.cmd("cd " .. vim.fn.fnameescape(MEDIA))
  vim.cmd("OmniHuman model=magic/video-to-video video_url=talk.mp4 output=" .. outdir .. "/v2v.mp4")
  vim.cmd("cd " .. vim.fn.fnameescape(cwd))
  wait_for(30, function() return noted("^omnihuman: done in", nil, from6) ~= nil end)
  check(file_size(outdir .. "/v2v.mp4") > 0, ":OmniHuman video_url=<local file> made a video")

  -- :OmniHuman running lists a generation; :OmniHuman cancel stops it.
  local from3 = #notes + 1
  vim.cmd("OmniHuman " .. MEDIA .. "portrait.png " .. MEDIA .. "hello.wav " .. outdir .. "/c.mp4")
  vim.cmd("OmniHuman running")
  check(noted("running:\n%d+ ", nil, from3) ~= nil, ":OmniHuman running lists the generation")
  vim.cmd("OmniHuman cancel")
  check(noted("cancelled 1 generation", nil, from3) ~= nil, ":OmniHuman cancel cancels it")
  wait_for(10, function() return noted("^omnihuman: cancelled", vim.log.levels.ERROR, from3) ~= nil end)
  check(noted("^omnihuman: cancelled", vim.log.levels.ERROR, from3) ~= nil, "the generation ends as cancelled")
  check(#require("omnihuman.nvim").running == 0, "nothing is left running")
  check(file_size(outdir .. "/c.mp4") == 0, "a cancelled generation leaves no output")

  -- :checkhealth with a key set through setup (never shown).
  require("omnihuman").setup{ base_url = API .. "/n/plugin-native/v2", api_key = KEY .. "-from-setup" }
  local h = health_lines()
  check(h:find("OK: core [%d.]+ loaded from " .. vim.pesc(PLUGIN) .. "/build/luajit/omnihuman/core%.so %(built for luajit")
    ~= nil, "health: core loaded, built for LuaJIT")
  check(h:find("OK: lua%-cjson %S+") ~= nil, "health: lua-cjson")
  check(h:find("OK: libcurl [%d.]+, TLS backend %S+") ~= nil, "health: libcurl version and TLS backend")
  check(h:find("OK: API key set (from setup)", 1, true) ~= nil, "health: key set from setup")
  check(not h:find(KEY, 1, true), "health: the key itself is never shown")
  check(h:find("OK: base URL " .. API .. "/n/plugin-native/v2", 1, true) ~= nil, "health: base URL")
  check(h:find("ERROR", 1, true) == nil, "health: no ERROR")

  -- The same with the key from the environment, and with none.
  require("omnihuman").setup{ base_url = "http://api.example.invalid/v2" }
  h = health_lines()
  check(h:find("OK: API key set (from $AIMLAPI_KEY)", 1, true) ~= nil, "health: key set from $AIMLAPI_KEY")
  check(h:find("WARNING: base URL http://api.example.invalid/v2: not https", 1, true) ~= nil,
    "health: a plain-http remote base URL is a warning")
  vim.env.AIMLAPI_KEY = nil
  h = health_lines()
  check(h:find("WARNING: no API key", 1, true) ~= nil, "health: no key is a warning")
  vim.env.AIMLAPI_KEY = KEY

  -- :help: the tags of doc/omnihuman.txt, built with :helptags in a copy.
  local helpdir = WORK .. "/helpcopy/doc"
  vim.fn.mkdir(helpdir, "p")
  vim.fn.writefile(vim.fn.readfile(PLUGIN .. "/doc/omnihuman.txt"), helpdir .. "/omnihuman.txt")
  ok, err = pcall(vim.cmd, "helptags " .. helpdir)
  check(ok, ":helptags on doc/ without errors " .. (ok and "" or tostring(err)))
  local tags = table.concat(vim.fn.readfile(helpdir .. "/tags"), "\n")
  local want = { "omnihuman.txt", "omnihuman-install", "omnihuman-setup", ":OmniHuman", "omnihuman-health",
    "omnihuman.setup()", "omnihuman.nvim.generate()" }
  for _, t in ipairs(want) do
    check(tags:find("\n" .. vim.pesc(t) .. "\t", 1) ~= nil or tags:find("^" .. vim.pesc(t) .. "\t") ~= nil,
      "help tag " .. t)
  end
  vim.opt.runtimepath:append(WORK .. "/helpcopy")
  -- Every |link| in the file resolves (to ours or to Neovim's own help).
  local text = table.concat(vim.fn.readfile(helpdir .. "/omnihuman.txt"), "\n")
  local seen, bad = {}, {}
  for link in text:gmatch("|([^|%s]+)|") do
    if not seen[link] then
      seen[link] = true
      if not pcall(vim.cmd, "help " .. link) then bad[#bad + 1] = link end
      vim.cmd("silent! helpclose")
    end
  end
  check(next(seen) ~= nil and #bad == 0, "every |link| in the help resolves; unresolved: " .. table.concat(bad, " "))
  vim.cmd("help :OmniHuman")
  local name = vim.api.nvim_buf_get_name(0)
  check(name:find("omnihuman%.txt$") ~= nil and vim.api.nvim_get_current_line():find("*:OmniHuman*", 1, true) ~= nil,
    ":help :OmniHuman opens the plugin's help at its tag")
  vim.cmd("helpclose")
end

function scenarios.early()
  check(_G.omh_early_loaded == true, "init.lua loaded the library through require('omnihuman.nvim').setup{}")
  check_plugin_loaded()
  check_setup_alias()
  -- A real request with the client configured in init.lua.
  local lib = require("omnihuman")
  local st, err = require("omnihuman.nvim").client():poll("no-such-job")
  check(st == nil and err and err.kind == "not_found", "the early client talks to the API: " .. tostring(err))
  check(lib.adapter().pending(lib.loop()) == 0, "nothing left pending")
end

function scenarios.lazy()
  check(vim.g.loaded_omnihuman == nil, "-u NONE: the plugin file has not run")
  vim.opt.runtimepath:append(PLUGIN)
  vim.cmd("runtime plugin/omnihuman.lua")
  check_plugin_loaded()
  check(package.preload.omnihuman ~= nil, "require('omnihuman') is not loaded yet; setup will be added to it")
  check_setup_alias()
  check(package.preload.omnihuman == nil, "the preload hook removed itself")
  require("omnihuman").setup{ base_url = API .. "/n/plugin-lazy/v2", poll_interval = 0.2 }
  local got
  local output = WORK .. "/lazy.mp4"
  require("omnihuman.nvim").generate(MEDIA .. "portrait.png", MEDIA .. "hello.wav", output,
    function(res, err) got = { res = res, err = err } end)
  wait_for(30, function() return got ~= nil end)
  check(got and got.res and got.res.output == output and file_size(output) > 0,
    "generate() with a done callback: " .. tostring(got and (got.res and got.res.output or got.err)))
end

local function broken(reason_pattern, advice)
  vim.opt.runtimepath:append(PLUGIN)
  vim.cmd("runtime plugin/omnihuman.lua")
  check_plugin_loaded()
  local h = health_lines()
  check(h:find(reason_pattern) ~= nil, "health reports " .. reason_pattern)
  check(h:find(advice, 1, true) ~= nil, "health advises: " .. advice)
  local from = #notes + 1
  vim.cmd("OmniHuman " .. MEDIA .. "portrait.png " .. MEDIA .. "hello.wav " .. WORK .. "/never.mp4")
  check(noted("omnihuman:", vim.log.levels.ERROR, from) ~= nil, ":OmniHuman reports the error")
end

function scenarios.badcore()
  broken("ERROR: core .* was built for another Lua than this Neovim's %(LuaJIT", "make LUA=luajit")
end

function scenarios.nocore()
  broken("ERROR: core not found", "make LUA=luajit")
end

function scenarios.example()
  check_plugin_loaded()
  check_setup_alias()
  local outs = { ROOT .. "/out/many-1.mp4", ROOT .. "/out/many-2.mp4" }
  for _, f in ipairs(outs) do os.remove(f) end
  local from = #notes + 1
  vim.cmd("OmniHumanMany 2")
  wait_for(30, function() return noted("^omnihuman: 2 generations finished", nil, from) ~= nil end)
  check(noted("^omnihuman: 2 generations finished %(last: /", nil, from) ~= nil, ":OmniHumanMany 2 finished")
  for _, f in ipairs(outs) do
    check(file_size(f) > 0, ("%s written (%d bytes)"):format(f, file_size(f)))
    os.remove(f)
  end
end

H.run(function()
  out("scenario %s, plugin at %s", SCENARIO, PLUGIN)
  local fn = assert(scenarios[SCENARIO], "unknown scenario " .. SCENARIO)
  -- After startup has finished (the plugin files have run).
  vim.schedule(function()
    H.run(function()
      fn()
      H.judge()
    end)
  end)
end)
