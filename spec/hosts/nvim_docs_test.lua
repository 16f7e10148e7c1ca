-- luacheck: globals vim
-- Host test: what doc/omnihuman.txt and docs/embedding.md promise of the
-- Neovim plugin and adapter, beyond spec/hosts/nvim_plugin_test.lua. Run by
-- spec/hosts/docs_promises_nvim_spec.lua in a headless Neovim started with
-- -u NONE in a folder holding face.png and hello.wav; the plugin is added
-- as lazy.nvim does. Environment: OMH_ROOT, OMH_BASE (a namespace of the
-- test server), OMH_HANG (one whose creates never answer), OMH_FAIL (one
-- whose status checks answer 500), AIMLAPI_KEY, HOME (a folder of its own).
local H = dofile(assert(os.getenv("OMH_ROOT"), "OMH_ROOT not set") .. "/spec/hosts/nvim_harness.lua")("nvim-docs", 100)
local check = H.check
local ROOT, BASE, HANG, FAIL = H.env("OMH_ROOT"), H.env("OMH_BASE"), H.env("OMH_HANG"), H.env("OMH_FAIL")
local CWD = vim.fn.getcwd()

local noted = H.capture_notify()
local notes = H.notes
local function wait_for(seconds, cond) return vim.wait(seconds * 1000, cond, 20) end
local function size(path)
  local st = (vim.uv or vim.loop).fs_stat(path)
  return st and st.size or 0
end

local function plugin_steps()
  vim.opt.runtimepath:append(ROOT)
  vim.cmd("runtime plugin/omnihuman.lua")
  local plugin = require("omnihuman.nvim")
  require("omnihuman").setup{ base_url = BASE, poll_interval = 0.2, ledger = CWD .. "/jobs.db" }

  -- |omnihuman-coroutines|: the help's example, as written.
  local from = #notes + 1
  local omnihuman = require("omnihuman")
  local client = require("omnihuman.nvim").client()
  omnihuman.use("nvim").spawn(function()
    local job = assert(client:create({ image = "face.png", audio = "hello.wav" }))
    local res, err = client:wait(job.id, { interval = 5 })
    vim.notify(res and res.video.url or tostring(err))
  end)
  wait_for(30, function() return notes[from] ~= nil end)
  check(notes[from] and notes[from].msg:find("^https?://.*%.mp4$") ~= nil, "the help's coroutine example notifies the video URL")

  -- generate(): a coroutine at once, done(res, err) on the main loop, raises for an unreadable file.
  local ok, err = pcall(plugin.generate, "missing.png", "hello.wav")
  check(not ok and tostring(err):find("missing.png", 1, true) ~= nil, "generate() raises for an unreadable image: " .. tostring(err))
  local got
  local co = plugin.generate("face.png", "hello.wav", "rel.mp4", function(res, e)
    got = { res = res, err = e, fast = vim.in_fast_event(), buf = vim.api.nvim_get_current_buf() }
  end)
  check(type(co) == "thread", "generate() returns the coroutine")
  local e = plugin.running[#plugin.running]
  check(e and type(e.number) == "number" and type(e.gen) == "table" and e.image == "face.png" and e.audio == "hello.wav"
    and e.output == CWD .. "/rel.mp4" and type(e.started) == "number", "running lists {number, gen, image, audio, output, started}")
  -- setup() again: the generation goes on with its client and stays listed.
  require("omnihuman").setup{ base_url = BASE, poll_interval = 0.2, ledger = CWD .. "/jobs.db" }
  check(plugin.running[#plugin.running] == e, "setup() again leaves the generation listed")
  wait_for(30, function() return got ~= nil end)
  check(got and got.res and got.res.output == CWD .. "/rel.mp4" and size(got.res.output) > 0 and got.fast == false,
    "done(res, err) runs on the main loop with the result")

  -- :OmniHuman with ~ in a path, a relative output: the absolute path in "done in N s".
  local home = H.env("HOME")
  vim.fn.writefile(vim.fn.readfile(CWD .. "/face.png", "b"), home .. "/face.png", "b")
  from = #notes + 1
  vim.cmd("OmniHuman ~/face.png hello.wav tilde.mp4")
  wait_for(30, function() return noted("^omnihuman: done in", nil, from) or noted("", vim.log.levels.ERROR, from) end)
  check(noted("^omnihuman: submitting ~/face.png %+ hello.wav %(:OmniHuman cancel %d+ stops it%)$", nil, from) ~= nil,
    "the submitting message names the generation's number")
  check(noted("^omnihuman: done in [%d.]+ s: " .. vim.pesc(CWD .. "/tilde.mp4") .. "$", nil, from) ~= nil,
    "~ is expanded; the done message has the absolute path")

  -- The ledger file of setup{ ledger = "path" }: :OmniHuman jobs lists its jobs.
  from = #notes + 1
  vim.cmd("OmniHuman jobs")
  local jobs = noted("^omnihuman: jobs %(row id state status output%):\n", nil, from)
  check(jobs ~= nil and jobs.msg:find(vim.pesc(CWD .. "/tilde.mp4")) ~= nil and size(CWD .. "/jobs.db") > 0,
    ":OmniHuman jobs lists the jobs of setup{ ledger = path }")

  -- Cancel with the ledger on: the wait in flight ends at once, naming the
  -- job; nothing downloaded; resume finishes it.
  require("omnihuman").setup{ base_url = BASE, poll_interval = 1, ledger = CWD .. "/jobs.db" }
  from = #notes + 1
  vim.cmd("OmniHuman face.png hello.wav led.mp4")
  wait_for(10, function() return plugin.running[#plugin.running].gen.job_id ~= nil end)
  local led_id = plugin.running[#plugin.running].gen.job_id
  vim.cmd("OmniHuman cancel")
  wait_for(5, function() return #plugin.running == 0 end)
  check(#plugin.running == 0, "with the ledger, a cancelled wait ends at once")
  local cancelled = noted("^omnihuman: cancelled: .*%(job " .. vim.pesc(led_id) .. "%)$", vim.log.levels.ERROR, from)
  check(cancelled ~= nil and size(CWD .. "/led.mp4") == 0, "it names the job; nothing downloaded")
  from = #notes + 1
  vim.cmd("OmniHuman resume " .. led_id)
  wait_for(20, function() return noted("^omnihuman: resumed", nil, from) ~= nil end)
  check(size(CWD .. "/led.mp4") > 0, ":OmniHuman resume <id> downloads it to its output")

  -- Cancel: one number, then all; each generation counted once.
  require("omnihuman").setup{ base_url = BASE, poll_interval = 30, ledger = false }
  from = #notes + 1
  vim.cmd("OmniHuman face.png hello.wav c1.mp4")
  vim.cmd("OmniHuman face.png hello.wav c2.mp4")
  local n1, n2 = plugin.running[#plugin.running - 1].number, plugin.running[#plugin.running].number
  wait_for(10, function() return plugin.running[#plugin.running].gen.job_id ~= nil end)
  check(plugin.cancel(n2) == 1, "cancel(n) returns 1")
  check(plugin.cancel() == 1, "cancel() then counts only the one still running")
  check(plugin.cancel(n1) == 0, "cancel(n) of a cancelled generation returns 0")
  wait_for(10, function() return #plugin.running == 0 end)
  check(noted("^omnihuman: cancelled: .*%(job %S+%)$", vim.log.levels.ERROR, from) ~= nil,
    "a cancelled wait names the job id")
  check(size(CWD .. "/c1.mp4") == 0 and size(CWD .. "/c2.mp4") == 0, "nothing at the outputs of cancelled generations")

  -- A create that hangs, cancelled: reported as possibly billed.
  require("omnihuman").setup{ base_url = HANG, poll_interval = 0.2, ledger = false }
  from = #notes + 1
  vim.cmd("OmniHuman face.png hello.wav hang.mp4")
  wait_for(1, function() return false end)
  vim.cmd("OmniHuman cancel all")
  check(noted("^omnihuman: cancelled 1 generation%(s%)$", nil, from) ~= nil, ":OmniHuman cancel all says how many")
  wait_for(10, function() return #plugin.running == 0 end)
  check(noted("^omnihuman: cancelled: .*billed", vim.log.levels.ERROR, from) ~= nil, "a cancelled create is possibly billed")

  -- An error once the job exists names its id.
  require("omnihuman").setup{ base_url = FAIL, poll_interval = 0.2, max_retries = 0, ledger = false }
  from = #notes + 1
  vim.cmd("OmniHuman face.png hello.wav fail.mp4")
  wait_for(20, function() return #plugin.running == 0 end)
  check(noted("^omnihuman: server: .*%(job %S+%)$", vim.log.levels.ERROR, from) ~= nil, "an error after the create names the job")

  -- output_dir with ~, and a model's video named after the model.
  vim.fn.mkdir(home .. "/videos", "p")
  require("omnihuman").setup{ base_url = BASE, poll_interval = 0.2, output_dir = "~/videos", ledger = false }
  from = #notes + 1
  vim.cmd("OmniHuman face.png hello.wav")
  vim.cmd("OmniHuman model=google/veo-3.1-t2v prompt=lighthouse duration=8")
  wait_for(30, function() return #plugin.running == 0 end)
  check(size(home .. "/videos/face.mp4") > 0, "output_dir = '~/videos': <output_dir>/<image name>.mp4")
  check(size(home .. "/videos/veo-3-1-t2v.mp4") > 0, "without an image the video is named after the model")
  check(noted("^omnihuman: submitting google/veo%-3%.1%-t2v %(:OmniHuman cancel %d+ stops it%)$", nil, from) ~= nil,
    "its submitting message names the model")

  -- URLs as {image} and {audio}: the default output is named after the image.
  from = #notes + 1
  vim.cmd("OmniHuman https://x/pics/ann.png?size=2 https://x/a.mp3")
  wait_for(30, function() return #plugin.running == 0 end)
  check(size(home .. "/videos/ann.mp4") > 0, "http(s) URLs as inputs; the output is named after the image")

  -- The proxy variables are those Neovim had when setup() made the client.
  vim.env.http_proxy = "http://127.0.0.1:9"
  local _, perr = plugin.client():poll("no-such-job")
  check(perr and perr.kind == "not_found", "a proxy variable set after setup() is not used")
  require("omnihuman").setup{ base_url = BASE, ledger = false, connect_timeout = 2 }
  _, perr = plugin.client():poll("no-such-job")
  check(perr and perr.kind == "network", "setup() again takes it: " .. tostring(perr))
  vim.env.http_proxy = nil
  require("omnihuman").setup{ base_url = BASE, ledger = false }

  -- :checkhealth names the adapter and how many operations it awaits.
  vim.cmd("checkhealth omnihuman")
  local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout!")
  check(health:find("adapter nvim, 0 operation%(s%) awaited") ~= nil, ":checkhealth names the adapter and its count")
end

-- docs/embedding.md: an error in a spawned coroutine goes to vim.notify, or
-- nv.on_error when set, and is kept in nv.errors.
local function adapter_steps()
  local nv = require("omnihuman").use("nvim")
  local from, before = #notes + 1, #nv.errors
  nv.spawn(function()
    require("omnihuman").sleep(0.05)
    error("boom-notify")
  end)
  wait_for(5, function() return #nv.errors > before end)
  check(noted("boom%-notify", vim.log.levels.ERROR, from) ~= nil and nv.errors[#nv.errors]:find("boom-notify", 1, true) ~= nil,
    "an error in nv.spawn is notified and kept in nv.errors")
  -- A raised omnihuman error is notified with one "omnihuman: " prefix.
  from = #notes + 1
  nv.spawn(function()
    local _, err = require("omnihuman").new{ base_url = BASE }:poll("no-such-job")
    error(err)
  end)
  wait_for(5, function() return noted("not_found", nil, from) ~= nil end)
  check(noted("^omnihuman: not_found:", vim.log.levels.ERROR, from) ~= nil, "a raised error object: one prefix")
  local taken
  nv.on_error = function(msg) taken = msg end
  from = #notes + 1
  nv.spawn(function()
    require("omnihuman").sleep(0.05)
    error("boom-taken")
  end)
  wait_for(5, function() return taken ~= nil end)
  nv.on_error = nil
  check(taken and taken:find("boom-taken", 1, true) ~= nil and noted("boom%-taken", nil, from) == nil,
    "nv.on_error takes it instead of vim.notify")
end

-- docs/embedding.md: callbacks run on the main loop; any coroutine can
-- await; in a fast (libuv) callback a wait blocks in the loop.
local function context_steps()
  local omnihuman = require("omnihuman")
  local seen, fast, done = {}, false, nil
  local function note(name)
    return function()
      seen[name] = true
      fast = fast or vim.in_fast_event()
      vim.api.nvim_get_current_buf()
    end
  end
  local client = omnihuman.new{ base_url = BASE, poll_interval = 0.2, on_event = note("on_event") }
  omnihuman.use("nvim").spawn(function()
    local res, gerr = client:generate{ image = "face.png", audio = "hello.wav", output = CWD .. "/cb.mp4",
      on_status = note("on_status"), on_progress = note("on_progress") }
    done = res ~= nil
    if gerr then H.out("generate: %s", tostring(gerr)) end
  end)
  wait_for(30, function() return done ~= nil end)
  check(done and seen.on_status and seen.on_progress and seen.on_event and not fast,
    "on_status, on_progress and on_event run on the main loop, vim.api allowed")

  local got
  coroutine.wrap(function()
    local st, err = client:poll("no-such-job")
    got = { st = st, err = err, fast = vim.in_fast_event() }
  end)()
  check(got == nil, "a coroutine of its own is parked by the wait")
  wait_for(10, function() return got ~= nil end)
  check(got and got.err and got.err.kind == "not_found" and got.fast == false,
    "and resumed on the main loop with the answer")

  local in_fast
  local t = (vim.uv or vim.loop).new_timer()
  -- A client without callbacks: callbacks would run in this fast context.
  local plain = omnihuman.new{ base_url = BASE }
  t:start(0, 0, function()
    t:close()
    local st, err = plain:poll("no-such-job")
    in_fast = { st = st, err = err, fast = vim.in_fast_event() }
  end)
  wait_for(10, function() return in_fast ~= nil end)
  check(in_fast and in_fast.fast and in_fast.err and in_fast.err.kind == "not_found",
    "a wait in a fast (libuv) callback blocks in the loop and returns the answer")
end

H.run(function()
  vim.schedule(function()
    H.run(function()
      plugin_steps()
      adapter_steps()
      context_steps()
      H.judge()
    end)
  end)
end)
