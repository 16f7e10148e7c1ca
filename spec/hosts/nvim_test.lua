-- Host test: Neovim (headless, -u NONE). Run by spec/hosts/run.sh, which
-- starts the test server and sets OMH_* and AIMLAPI_KEY. The generations run
-- while the editor's own main loop runs; the harness ends the editor.
local H = dofile(assert(os.getenv("OMH_ROOT"), "OMH_ROOT not set") .. "/spec/hosts/nvim_harness.lua")("nvim", 60)
local uv = vim.uv or vim.loop
local env, now, out, check = H.env, H.now, H.out, H.check
package.path = env("OMH_LUA_PATH") .. ";" .. package.path
package.cpath = env("OMH_LUA_CPATH") .. ";" .. package.cpath

local ROOT, API, WORK = env("OMH_ROOT"), env("OMH_API"), env("OMH_WORK")

H.run(function()
  local omnihuman = require("omnihuman")
  out("%s, module %s, adapter %s", vim.version and tostring(vim.version().major .. "." .. vim.version().minor
    .. "." .. vim.version().patch) or "?", tostring(omnihuman._VERSION), omnihuman.adapter().name)
  check(omnihuman.adapter().name == "nvim", "adapter picked automatically inside Neovim")
  local nv = omnihuman.use("nvim")

  local client = omnihuman.new{ base_url = API .. "/n/nvim/v2", poll_interval = 0.2, timeout = 10 }

  -- A Vim timer on the editor's main loop: it only fires while that loop runs.
  local ticks = 0
  local timer_id = vim.fn.timer_start(20, function() ticks = ticks + 1 end, { ["repeat"] = -1 })

  local statuses, api_in_cb = {}, true
  local function gen(i)
    local res, gerr = client:generate{
      image = ROOT .. "/examples/media/portrait.png",
      audio = ROOT .. "/examples/media/hello.wav",
      output = ("%s/nvim-%d.mp4"):format(WORK, i),
      interval = 0.2,
      sandbox_polls = 5,           -- the test server: completed after 5 status checks
      on_status = function(st)
        statuses[#statuses + 1] = st.status
        -- Callbacks run on the main loop, where the API is allowed.
        api_in_cb = api_in_cb and pcall(vim.api.nvim_get_current_buf)
      end,
    }
    return res, gerr
  end

  local results, t_start, ticks_start = {}, now(), ticks
  local N = 3
  local left = N
  for i = 1, N do
    nv.spawn(function()
      local res, gerr = gen(i)
      results[i] = { res = res, err = gerr }
      out("generation %d: %s", i, res and (res.status .. " -> " .. tostring(res.output)) or tostring(gerr))
      left = left - 1
      if left > 0 then return end

      -- All done: judge.
      local elapsed = now() - t_start
      local during = ticks - ticks_start
      out("%d generations in %.2f s; main-loop timer ticked %d times meanwhile", N, elapsed, during)
      for j = 1, N do
        local r = results[j]
        check(r.res and r.res.status == "completed" and r.res.video and r.res.video.url ~= nil,
          ("generation %d completed with a video url"):format(j))
        local f = r.res and io.open(r.res.output, "rb")
        local size = f and f:seek("end") or 0
        if f then f:close() end
        check(size > 0, ("generation %d downloaded (%d bytes)"):format(j, size))
      end
      check(elapsed >= 0.8, ("the wait took real time (%.2f s >= 0.8 s)"):format(elapsed))
      -- 20 ms timer: expect at least a third of the possible ticks.
      check(during >= math.floor(elapsed / 0.02 / 3),
        ("editor loop kept ticking during the wait (%d ticks in %.2f s)"):format(during, elapsed))
      check(#statuses >= N * 3 and api_in_cb,
        ("%d on_status callbacks, vim.api usable in them"):format(#statuses))

      -- Idle cost: an omnihuman.sleep(1) in flight and nothing else: the
      -- process should sleep too (uv poll + one timer, no spinning).
      vim.fn.timer_stop(timer_id)
      local ru0 = uv.getrusage()
      local w0 = now()
      omnihuman.sleep(1.0)
      local ru1 = uv.getrusage()
      local cpu = (ru1.utime.sec - ru0.utime.sec) + (ru1.utime.usec - ru0.utime.usec) / 1e6
        + (ru1.stime.sec - ru0.stime.sec) + (ru1.stime.usec - ru0.stime.usec) / 1e6
      local wall = now() - w0
      check(wall >= 0.95 and cpu < 0.1,
        ("omnihuman.sleep(1) in a coroutine: %.3f s wall, %.3f s CPU"):format(wall, cpu))
      check(nv.pending(omnihuman.loop()) == 0, "nothing left pending in the adapter")

      -- The main thread (a scheduled callback, not a coroutine): await uses vim.wait.
      vim.schedule(function()
        local job_id = results[1].res and results[1].res.id
        local st, perr = client:poll(job_id or "none")
        check(st and st.status == "completed",
          "client:poll in the main thread (vim.wait path): " .. (st and st.status or tostring(perr)))

        -- A cancel from other code (a deferred callback, not a drive of the
        -- loop) wakes the coroutine awaiting that op at once, with nothing
        -- else in flight to wake the loop by chance.
        local op = omnihuman.core.sleep_op(omnihuman.loop(), 30)
        local t_cancel, woke, werr
        nv.spawn(function()
          local _, e = omnihuman.await(op)
          woke, werr = now(), e
        end)
        vim.defer_fn(function()
          t_cancel = now()
          op:cancel()
        end, 100)
        vim.wait(5000, function() return woke ~= nil end, 10)
        check(woke and werr and werr.kind == "cancelled" and woke - t_cancel < 0.1,
          ("a cancel from a deferred callback woke its waiter in %s s"):format(
            woke and ("%.3f"):format(woke - t_cancel) or "never"))

        -- client:close() from other code ends that client's waits at once
        -- and wakes their coroutines.
        local c2 = omnihuman.new{ base_url = API .. "/n/nvimclose/v2", poll_interval = 0.05, timeout = 10 }
        local job2 = c2:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 100000 }
        local t_close, cwoke, cerr
        nv.spawn(function()
          local _, e = c2:wait(job2.id, { timeout = 60 })
          cwoke, cerr = now(), e
        end)
        vim.defer_fn(function()
          t_close = now()
          c2:close()
        end, 200)
        vim.wait(5000, function() return cwoke ~= nil end, 10)
        check(cwoke and cerr and cerr.kind == "cancelled" and cwoke - t_close < 1,
          ("client:close() woke the coroutine waiting on its job in %s s"):format(
            cwoke and ("%.3f"):format(cwoke - t_close) or "never"))
        local errs = #nv.errors
        check(errs == 0, ("no errors reported by the adapter (%d)"):format(errs))
        H.judge()
      end)
    end)
  end
  out("%d generations started; the editor is idle in its main loop", N)
end)
