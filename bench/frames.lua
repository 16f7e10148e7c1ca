-- A game's frames while many creates with local files upload: each frame
-- is one ol.update() of the LÖVE adapter (timed), then a 16 ms gap in
-- which nothing drives the loop, so the sockets' work piles up as it does
-- between two love.update calls. 50 creates (a ~200 KB local PNG and
-- examples/media/hello.wav, inline as base64) against the test server (TLS,
-- 127.0.0.1), at max_connections 8 and 32; in the same run, the loop with
-- no bounds (no turn budget, no upload budget) against the defaults (or an
-- upload budget of the given bytes).
--   lua5.4 bench/frames.lua [creates] [image bytes] [frame ms] [rounds] [upload budget]
local omnihuman = require("omnihuman")
local testserver = require("spec.support.testserver")
local core = omnihuman.core
local now = core.now

local N = tonumber(arg[1]) or 50
local IMG_BYTES = tonumber(arg[2]) or 200000
local FRAME_MS = tonumber(arg[3]) or 16
local ROUNDS = tonumber(arg[4]) or 3
local BYTES = tonumber(arg[5]) -- the upload budget to measure (default: the loop's)
local KEY = "sk-bench-frames-0123456789"
local WAV = "examples/media/hello.wav"

-- A PNG signature and pseudo-random bytes: incompressible, like a photo.
local function make_png(path, n)
  local f = assert(io.open(path, "wb"))
  f:write("\137PNG\r\n\26\n")
  local left, chunk = n - 8, {}
  math.randomseed(n)
  while left > 0 do
    local k = math.min(left, 4096)
    for i = 1, k do chunk[i] = math.random(0, 255) end
    f:write(string.char((table.unpack or unpack)(chunk, 1, k)))
    left = left - k
  end
  f:close()
  return path
end

local img = make_png(os.tmpname(), IMG_BYTES)
local srv = testserver.start{ tls = true, key = KEY, flavor = "current" }

-- The frame gap: a real sleep that drives nothing of the measured loop.
local gap_loop = core.new_loop()
local function sleep(s) if s > 0 then gap_loop:run_until(core.sleep_op(gap_loop, s)) end end

local function percentile(sorted, p) return sorted[math.max(1, math.ceil(#sorted * p))] end

local function measure(bounded, maxc, round)
  local ol = omnihuman.use("love")
  local loop = omnihuman.loop()
  loop:set_turn_budget(bounded and 0.002 or 0)
  local default_bytes
  if loop.upload_budget then
    default_bytes = loop:upload_budget()
    loop:upload_budget(bounded and (BYTES or default_bytes) or 0)
  end
  local c = omnihuman.new{ api_key = KEY, base_url = srv:base_url("frames" .. round), ca_file = srv.ca_file,
                           max_connections = maxc, timeout = 120, max_retries = 0 }
  local ok, failed, first_err = 0, 0, nil
  for _ = 1, N do
    ol.spawn(function()
      local job, err = c:create{ image = img, audio = WAV }
      if job then ok = ok + 1 else failed, first_err = failed + 1, first_err or tostring(err) end
    end)
  end
  local steps, cpus, t_start = {}, {}, now()
  while ok + failed < N and now() - t_start < 120 and #steps < 100000 do
    local t, t_cpu = now(), os.clock()
    ol.update()
    steps[#steps + 1] = now() - t
    cpus[#cpus + 1] = os.clock() - t_cpu
    sleep(FRAME_MS / 1000)
  end
  local wall = now() - t_start
  local most, pauses
  if default_bytes then
    local _
    _, most, pauses = loop:upload_budget()
    loop:upload_budget(default_bytes)
  end
  c:close()
  loop:set_turn_budget(0.002)
  table.sort(steps)
  table.sort(cpus)
  return { p50 = percentile(steps, 0.5), p99 = percentile(steps, 0.99), max = steps[#steps], steps = #steps,
           cpu99 = percentile(cpus, 0.99), cpumax = cpus[#cpus],
           wall = wall, ok = ok, err = first_err, most = most, pauses = pauses }
end

local function median(xs)
  table.sort(xs)
  return xs[math.ceil(#xs / 2)]
end

print(("## Frames during %d inline uploads (LÖVE adapter, TLS, 127.0.0.1)"):format(N))
print("")
print(("Each create: a %d-byte PNG and hello.wav, inline; one `ol.update()` per frame, then %d ms of nothing."
  .. " Median of %d rounds (max: the longest step of all rounds); cpu: the process's CPU time in the step"
  .. " (os.clock), the rest of a step is time the kernel gave to other processes."):format(IMG_BYTES, FRAME_MS,
  ROUNDS))
print("")
print("| bounds | max_connections | frames | p50 ms | p99 ms | max ms | cpu p99 ms | cpu max ms | wall s | answered"
  .. " | most bytes a turn | pauses |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
local round = 0
for _, maxc in ipairs({ 8, 32 }) do
  for _, bounded in ipairs({ false, true }) do
    local rs = {}
    for r = 1, ROUNDS do
      round = round + 1
      rs[r] = measure(bounded, maxc, round)
      if rs[r].err then io.stderr:write("frames: " .. rs[r].err .. "\n") end
    end
    local function col(k)
      local xs = {}
      for i, r in ipairs(rs) do xs[i] = r[k] or 0 end
      return median(xs)
    end
    local worst, cpuworst, answered = 0, 0, N
    for _, r in ipairs(rs) do
      if r.max > worst then worst = r.max end
      if r.cpumax > cpuworst then cpuworst = r.cpumax end
      if r.ok < answered then answered = r.ok end
    end
    print(("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d/%d | %s | %s |"):format(
      bounded and (BYTES and BYTES .. " B" or "defaults") or "none", maxc, col("steps"), col("p50") * 1e3,
      col("p99") * 1e3, worst * 1e3, col("cpu99") * 1e3, cpuworst * 1e3, col("wall"), answered, N,
      bounded and rs[1].most and tostring(col("most")) or "-", bounded and rs[1].pauses and tostring(col("pauses")) or "-"))
  end
end
srv:stop()
os.remove(img)
