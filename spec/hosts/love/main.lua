-- Host test: LÖVE 11 (headless, see conf.lua). Run by spec/hosts/run.sh.
-- One generation is started from love.update and stepped by the adapter's
-- update() every frame; the game quits with 0 when every check passed, 1 on
-- a failed check or an error, 2 on the watchdog.
local function env(k)
  local v = os.getenv(k)
  if not v then error(k .. " not set (run spec/hosts/run.sh)", 2) end
  return v
end
package.path = env("OMH_LUA_PATH") .. ";" .. package.path
package.cpath = env("OMH_LUA_CPATH") .. ";" .. package.cpath
local ROOT, API, WORK = env("OMH_ROOT"), env("OMH_API"), env("OMH_WORK")

local T0 = love.timer.getTime()
local function out(fmt, ...)
  io.stdout:write(("[love %6.3f] " .. fmt .. "\n"):format(love.timer.getTime() - T0, ...))
  io.stdout:flush()
end

local omnihuman, ol, client
local frames, frames_waiting, longest = 0, 0, 0
local started, done, t_start, t_done
local result, gen_err
local statuses = 0
local sleeper, cancel_frame, cancel_woke_frame
local closer, close_frame, close_woke_frame, close_kind
local checks, failures = 0, 0
local quitting = false

local function check(ok, what)
  checks = checks + 1
  if not ok then failures = failures + 1 end
  out("%s %s", ok and "ok  " or "FAIL", what)
end

local function quit(code, why)
  if quitting then return end
  quitting = true
  out("%s %s", code == 0 and "PASS" or "FAIL", why)
  love.event.quit(code)
end

function love.load()
  local ok, err = pcall(function()
    omnihuman = require("omnihuman")
    local major, minor, rev, codename = love.getVersion()
    out("LÖVE %d.%d.%d (%s) on %s, module %s, adapter %s", major, minor, rev, codename,
      jit and jit.version or _VERSION, tostring(omnihuman._VERSION), omnihuman.adapter().name)
    check(omnihuman.adapter().name == "love", "adapter picked automatically inside LÖVE")
    ol = omnihuman.use("love")
    ol.on_error = function(msg) out("coroutine error: %s", msg); quit(1, "error in a coroutine") end
    client = omnihuman.new{ base_url = API .. "/n/love/v2", poll_interval = 0.2, timeout = 10 }
  end)
  if not ok then out("error: %s", tostring(err)); quit(1, "love.load raised") end
end

local function judge()
  local elapsed = t_done - t_start
  out("generation: %s", result and (result.status .. " -> " .. tostring(result.output)) or tostring(gen_err))
  out("%d frames while it ran (%.2f s), longest update() %.1f ms", frames_waiting, elapsed, longest * 1000)
  check(result and result.status == "completed" and result.video and result.video.url ~= nil,
    "generation completed with a video url")
  local f = result and result.output and io.open(result.output, "rb")
  local size = f and f:seek("end") or 0
  if f then f:close() end
  check(size > 0, ("video downloaded (%d bytes)"):format(size))
  check(statuses >= 3, ("%d on_status callbacks"):format(statuses))
  check(frames_waiting >= 20, ("frames kept coming during the wait (%d)"):format(frames_waiting))
  check(longest < 0.05, ("no frame blocked: longest update() %.1f ms < 50 ms"):format(longest * 1000))
  check(ol.pending() == 0, "nothing left pending in the adapter")
  check(close_woke_frame ~= nil and close_woke_frame == close_frame and close_kind == "cancelled",
    ("client:close() in love.update woke the wait on its job in the same frame (closed in %s, woken in %s, %s)"):format(
      tostring(close_frame), tostring(close_woke_frame), tostring(close_kind)))
  check(cancel_woke_frame ~= nil and cancel_woke_frame == cancel_frame,
    ("a cancel in love.update woke its waiter in the same frame (cancelled in %s, woken in %s)"):format(
      tostring(cancel_frame), tostring(cancel_woke_frame)))
  if failures == 0 then quit(0, ("%d checks"):format(checks)) else quit(1, ("%d of %d checks failed"):format(failures, checks)) end
end

function love.update()
  if quitting then return end
  frames = frames + 1
  local ok, err = pcall(function()
    if not started then
      started = true
      t_start = love.timer.getTime()
      -- Started from love.update: the coroutine runs until its first wait.
      ol.spawn(function()
        result, gen_err = client:generate{
          image = ROOT .. "/examples/media/portrait.png",
          audio = ROOT .. "/examples/media/hello.wav",
          output = WORK .. "/love.mp4",
          interval = 0.2,
          sandbox_polls = 5,       -- the test server: completed after 5 status checks
          on_status = function() statuses = statuses + 1 end,
        }
        done = true
        t_done = love.timer.getTime()
      end)
      out("generation started in frame %d", frames)
      -- A second coroutine awaits an op that another part of the game
      -- cancels a few frames later.
      -- A third waits on a job of a client that the game closes later.
      closer = omnihuman.new{ base_url = API .. "/n/loveclose/v2", poll_interval = 0.05, timeout = 10 }
      ol.spawn(function()
        local job = assert(closer:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3",
                                          sandbox_polls = 100000 })
        local _, e = closer:wait(job.id, { timeout = 60 })
        close_woke_frame, close_kind = frames, e and e.kind
      end)
      sleeper = omnihuman.core.sleep_op(omnihuman.loop(), 30)
      ol.spawn(function()
        omnihuman.await(sleeper)
        cancel_woke_frame = frames
      end)
    end
    if frames == 30 and closer then
      close_frame = frames
      closer:close()
    end
    if frames == 10 and sleeper then
      cancel_frame = frames
      sleeper:cancel()
    end
    local u0 = love.timer.getTime()
    ol.update()
    local took = love.timer.getTime() - u0
    if took > longest then longest = took end
    if not done then frames_waiting = frames_waiting + 1 end
    if done then judge() end
  end)
  if not ok then out("error: %s", tostring(err)); quit(1, "love.update raised") end
  if not quitting and love.timer.getTime() - T0 > 60 then quit(2, "watchdog: not done within 60 s") end
end
