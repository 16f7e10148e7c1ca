-- The lua-omnihuman side of each benchmark; bench/run.py starts the servers
-- and runs this once per measurement, in a fresh process.
--
--   lua bench/client.lua poll   BASE N MAXSECS         client:poll in a loop
--   lua bench/client.lua many   BASE N INTERVAL        N x (create + wait) in one run
--   lua bench/client.lua idle   BASE N INTERVAL WINDOW N waits on never-ending jobs
--   lua bench/client.lua idle_ops BASE N INTERVAL WINDOW the same as N wait_op, no coroutine
--   lua bench/client.lua upload BASE FILE REPS         create with a local image
--   lua bench/client.lua uploads BASE FILE N           N concurrent creates, each with FILE
--   lua bench/client.lua drain FILE REPS               a create body with FILE read as curl reads it
--
-- Prints "key=value" lines. CPU is this process's own (os.clock: user+system
-- of the process); wall time is core.now() (monotonic); RSS from /proc/self/status.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local now = core.now

local mode, base = arg[1], arg[2]

local status_kb = require("bench.procstat")

local function out(k, v)
  if type(v) == "number" and v ~= math.floor(v) then
    io.write(("%s=%.6f\n"):format(k, v))
  else
    io.write(("%s=%s\n"):format(k, tostring(v)))
  end
end

-- What the idle modes print: the window's CPU and wall time, the answers
-- seen, and RSS and Lua heap around the waiting jobs.
local function idle_report(n, t, c, polls, timeouts, other, rss0, lua_kb)
  out("jobs", n)
  out("wall", t)
  out("cpu", c)
  out("status_answers", polls)
  out("timeouts", timeouts)
  if other then out("unexpected", other) end
  out("rss0_kb", rss0)
  out("hwm_kb", status_kb("VmHWM"))
  out("lua_kb", lua_kb)
end

local function new_client(extra)
  local opts = { api_key = "bench-key", base_url = base, max_retries = 0 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return omnihuman.new(opts)
end

if mode == "poll" then
  local n, maxs = tonumber(arg[3]), tonumber(arg[4])
  local client = new_client()
  for _ = 1, 50 do assert(client:poll("x")) end -- warm-up: connect, fill pools
  local done = 0
  local c0, t0 = os.clock(), now()
  while done < n and now() - t0 < maxs do
    local st, err = client:poll("x")
    if not st then error("poll failed: " .. tostring(err)) end
    done = done + 1
  end
  local t, c = now() - t0, os.clock() - c0
  out("requests", done)
  out("wall", t)
  out("cpu", c)

elseif mode == "many" then
  local n, interval = tonumber(arg[3]), tonumber(arg[4])
  local client = new_client({ poll_interval = interval, wait_timeout = 600, timeout = 120 })
  collectgarbage()
  local rss0 = status_kb("VmRSS")
  local created, completed, failed, first_err, waiting = 0, 0, 0, nil, 0
  local best_inflight, best_rss, best_lua = 0, 0, 0
  local lua0 = collectgarbage("count")
  local c0, t0 = os.clock(), now()
  local t_created
  omnihuman.run(function()
    for _ = 1, n do
      omnihuman.spawn(function()
        local job, err = client:create{ image_url = "https://127.0.0.1/face.png",
                                        audio_url = "https://127.0.0.1/hello.wav" }
        if not job then
          failed = failed + 1
          first_err = first_err or tostring(err)
          return
        end
        created = created + 1
        if created + failed == n then t_created = now() end
        local res
        waiting = waiting + 1
        res, err = client:wait(job.id)
        waiting = waiting - 1
        if res then
          completed = completed + 1
        else
          failed = failed + 1
          first_err = first_err or tostring(err)
        end
      end)
    end
    -- Sampler: RSS while jobs wait, to find the point with the most in flight.
    while completed + failed < n do
      omnihuman.sleep(0.1)
      if waiting >= best_inflight then
        best_inflight = waiting
        best_rss = status_kb("VmRSS")
        best_lua = collectgarbage("count")
      end
    end
  end)
  local t, c = now() - t0, os.clock() - c0
  out("jobs", n)
  out("completed", completed)
  out("failed", failed)
  if first_err then out("first_error", first_err) end
  out("wall", t)
  out("create_phase", (t_created or now()) - t0)
  out("cpu", c)
  out("rss0_kb", rss0)
  out("hwm_kb", status_kb("VmHWM"))
  out("inflight_max", best_inflight)
  out("rss_at_inflight_max_kb", best_rss)
  out("lua_kb0", lua0)
  out("lua_kb_at_inflight_max", best_lua)

elseif mode == "idle" or mode == "idle_ops" then
  -- idle: a coroutine per job under omnihuman.run; idle_ops: no coroutine,
  -- N wait operations (client:wait_op) the main thread drives by awaiting
  -- them one after another (what a waiting job costs the library alone).
  local n, interval, window = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])
  local client = new_client()
  local polls, timeouts, other = 0, 0, nil
  local function on_status() polls = polls + 1 end
  local function count(res, err)
    if not res and err.kind == "timeout" then timeouts = timeouts + 1
    else other = other or tostring(err or "finished?") end
  end
  local wopts = { interval = interval, timeout = window, on_status = on_status }
  collectgarbage()
  local rss0, lua0, lua_kb = status_kb("VmRSS"), collectgarbage("count"), nil
  -- Once every job has been checked and sleeps: the Lua heap they hold
  -- (coroutines, operations, tables), garbage collected first.
  local function heap_once_asleep()
    omnihuman.sleep(math.min(interval * 1.5, window / 2))
    collectgarbage()
    lua_kb = collectgarbage("count") - lua0
  end
  local c0, t0 = os.clock(), now()
  if mode == "idle" then
    omnihuman.run(function()
      for i = 1, n do
        omnihuman.spawn(function() count(client:wait("idle-" .. i, wopts)) end)
      end
      omnihuman.spawn(heap_once_asleep)
    end)
  else
    local ops = {}
    for i = 1, n do ops[i] = client:wait_op("idle-" .. i, wopts) end
    heap_once_asleep()
    for i = 1, n do
      count(omnihuman.await(ops[i]))
      ops[i]:close()
    end
  end
  idle_report(n, now() - t0, os.clock() - c0, polls, timeouts, other, rss0, lua_kb)

elseif mode == "upload" then
  local file, reps = arg[3], tonumber(arg[4])
  local f = assert(io.open(file, "rb"))
  local size = f:seek("end")
  f:close()
  local client = new_client({ timeout = 120 })
  assert(client:poll("warm-up")) -- connect and load everything before measuring
  collectgarbage()
  local rss0 = status_kb("VmRSS")
  out("file_bytes", size)
  out("rss0_kb", rss0)
  for r = 1, reps do
    local c0, t0 = os.clock(), now()
    local op = client:create_op{ image = file, audio_url = "https://127.0.0.1/hello.wav" }
    local t1, c1 = now(), os.clock()
    local job, err = omnihuman.await(op)
    local t2 = now()
    if not job then error("upload failed: " .. tostring(err)) end
    out("rep" .. r .. "_encode_wall", t1 - t0)
    out("rep" .. r .. "_encode_cpu", c1 - c0)
    out("rep" .. r .. "_total_wall", t2 - t0)
    if r == 1 then out("hwm1_kb", status_kb("VmHWM")) end
    op = nil -- luacheck: ignore 311 (drops the last reference before collectgarbage)
    collectgarbage()
  end
  out("hwm_kb", status_kb("VmHWM"))
elseif mode == "uploads" then
  -- N creates at once under omnihuman.run, each sending FILE as its image:
  -- the README's pattern with local files. Body bytes are counted by the server.
  local file, n = arg[3], tonumber(arg[4])
  local client = new_client({ timeout = 600 })
  assert(client:poll("warm-up"))
  collectgarbage()
  local rss0 = status_kb("VmRSS")
  local ok, failed, first_err, peak_rss = 0, 0, nil, 0
  local t0, c0 = now(), os.clock()
  local t_called
  omnihuman.run(function()
    for _ = 1, n do
      omnihuman.spawn(function()
        local job, err = client:create{ image = file, audio_url = "https://127.0.0.1/hello.wav" }
        if job then ok = ok + 1 else failed = failed + 1; first_err = first_err or tostring(err) end
      end)
    end
    t_called = now()
    while ok + failed < n do
      omnihuman.sleep(0.05)
      local r = status_kb("VmRSS")
      if r > peak_rss then peak_rss = r end
    end
  end)
  out("jobs", n)
  out("created", ok)
  out("failed", failed)
  if first_err then out("first_error", first_err) end
  out("wall", now() - t0)
  out("call_phase", t_called - t0)
  out("cpu", os.clock() - c0)
  out("rss0_kb", rss0)
  out("rss_peak_sampled_kb", peak_rss)
  out("hwm_kb", status_kb("VmHWM"))
elseif mode == "drain" then
  -- The streamed body alone: FILE read and encoded through a 256 KiB buffer
  -- (the upload buffer curl is given), no network.
  local file, reps = arg[2], tonumber(arg[3])
  local best, first, bytes = math.huge, nil, 0
  for _ = 1, reps do
    local n, t = core._body_drain({ image_url = "omh-file:bench:1", audio_url = "https://127.0.0.1/hello.wav" }, 262144,
      { { token = "omh-file:bench:1", path = file, kind = "image", label = "image" } })
    if not n then error("drain failed: " .. tostring(t)) end
    bytes, first = n, first or t
    if t < best then best = t end
  end
  out("body_bytes", bytes)
  out("first", first)
  out("best", best)
else
  io.stderr:write("usage: lua bench/client.lua poll|many|idle|upload|uploads|drain ...\n")
  os.exit(64)
end
