-- LÖVE 11 example: generations run while the game keeps drawing frames.
--
--   make LUA=luajit                    -- LÖVE runs LuaJIT: build/luajit/
--   love examples/love                 -- space: start a generation, q: quit
--
-- Key: $AIMLAPI_KEY. Offline sandbox: `make sandbox` in a shell, then
-- OMNIHUMAN_BASE_URL=http://127.0.0.1:8080/v2 AIMLAPI_KEY=x love examples/love
-- The video goes to LÖVE's save directory (love.filesystem.getSaveDirectory()).

-- The repository root from LÖVE's source directory, for the module and its build.
local root = love.filesystem.getSource():match("^(.*)/examples/love/?$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/luajit/?.so;" .. package.cpath

local omnihuman = require("omnihuman")
local ol = omnihuman.use("love") -- what it would pick by itself inside LÖVE

local client
local jobs = {} -- { label, status, started }

local function start()
  client = client or omnihuman.new{ poll_interval = 2 }
  love.filesystem.createDirectory("videos")
  local job = { label = ("video %d"):format(#jobs + 1), status = "submitting", started = love.timer.getTime() }
  jobs[#jobs + 1] = job
  local output = ("%s/videos/talk-%d.mp4"):format(love.filesystem.getSaveDirectory(), #jobs)
  -- A coroutine: each wait parks it; ol.update() in love.update resumes it.
  ol.spawn(function()
    local res, err = client:generate{
      image = root .. "/examples/media/portrait.png",
      audio = root .. "/examples/media/hello.wav",
      output = output,
      on_status = function(st) job.status = st.status end,
      on_progress = function(got, total)
        job.status = total and total > 0 and ("downloading %d%%"):format(math.floor(got * 100 / total)) or "downloading"
      end,
    }
    job.status = res and ("done: " .. res.output) or ("failed: " .. tostring(err))
    job.finished = love.timer.getTime()
  end)
end

function love.keypressed(key)
  if key == "space" then
    local ok, err = pcall(start)
    if not ok then jobs[#jobs + 1] = { label = "error", status = tostring(err), started = love.timer.getTime() } end
  elseif key == "q" or key == "escape" then
    love.event.quit(0)
  end
end

local angle = 0
function love.update(dt)
  ol.update()        -- one non-blocking turn: never holds up the frame
  angle = angle + dt * 2
end

function love.draw()
  local g = love.graphics
  g.print(("space: start a generation   q: quit   %d fps"):format(love.timer.getFPS()), 16, 16)
  -- Something moving, to show the frames keep coming while jobs wait.
  g.circle("fill", 680 + 16 * math.cos(angle), 30 + 16 * math.sin(angle), 6)
  for i, job in ipairs(jobs) do
    local t = (job.finished or love.timer.getTime()) - job.started
    g.print(("%s  %5.1f s  %s"):format(job.label, t, job.status), 16, 40 + 20 * i)
  end
end
