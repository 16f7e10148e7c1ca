-- Soak: N create/poll/wait cycles against the test server in one process,
-- through omnihuman.run with a bounded number of coroutines. After a warm-up
-- (10% of a long run, half of a short one) resident memory may grow by at most
-- 5% and the number of open descriptors must stay flat.
--
--   lua5.4 soak/soak.lua [cycles] [concurrency]     (env SOAK_TLS=1: over HTTPS)
--   make soak / make soak-short                     (100,000 / 24,000 cycles)
--
-- Prints a sample line every 5% and a final verdict; exits non-zero on a
-- failed check, a failed cycle, or when SOAK_MAX_SECONDS (default 1800) pass.
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
local omnihuman = require("omnihuman")
local testserver = require("spec.support.testserver")

local N = tonumber(arg[1]) or 100000
local CONC = tonumber(arg[2]) or 16
local MAX_SECONDS = tonumber(os.getenv("SOAK_MAX_SECONDS") or "") or 1800
local TLS = os.getenv("SOAK_TLS") == "1"
local KEY = "sk-omh-soak-0000000000"
-- Warm-up: 10% of a long run; half of a short one. RSS climbs ~1.5 MB in the
-- first few thousand cycles (the allocator's heap and the pools reach their
-- working size) and when the second client starts (cycle NS_EVERY), then
-- stays flat. How high it settles follows the Lua heap that stays alive (the
-- collector waits for garbage in proportion to it) and the large blocks made
-- per request: the whole model table held (~350 KB) and a 256 KiB upload
-- buffer per create made it ~2 MB higher (until 2026-12-05).
-- SOAK_WARM: cycles before the baseline sample.
-- SOAK_LIMIT: the RSS growth allowed after the warm-up, in percent (5).
local LIMIT = tonumber(os.getenv("SOAK_LIMIT") or "") or 5
local WARM = tonumber(os.getenv("SOAK_WARM") or "") or (N >= 20000 and math.floor(N / 10) or math.floor(N / 2))
-- Samples (RSS and a popen) every 5% of the run, but no closer than 2,500
-- cycles. Only the first and the last force a full collection (for the Lua
-- heap figure): a forced one mid-run frees a burst at once, and the blocks
-- made after it scatter over the heap: RSS then stepped up by 0.5-1.7 MB at
-- random points as late as 40,000 cycles (4-14 % in runs of 40,000).
local SAMPLE_EVERY = math.max(2500, math.floor(N / 20))
local NS_EVERY = 10000 -- a fresh server namespace every so many cycles keeps the server lean

local read = require("spec.support.files").read

local PID = tonumber(read("/proc/self/stat"):match("^(%d+)"))
local function rss_kb()
  return tonumber(read("/proc/self/status"):match("VmRSS:%s*(%d+)"))
end
-- Open descriptors of this process; the popen pipe is one of them, every time.
local function fds()
  local p = io.popen("ls /proc/" .. PID .. "/fd")
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n - 1
end
local function sample(collect)
  if collect then
    collectgarbage("collect")
    collectgarbage("collect")
  end
  return rss_kb(), fds()
end

local srv = testserver.start{ tls = TLS or nil, key = KEY, lifetime = MAX_SECONDS + 60 }
local clients = {}
local function client_for(i)
  local ns = "soak" .. math.floor(i / NS_EVERY)
  local c = clients[ns]
  if not c then
    c = omnihuman.new{ api_key = KEY, base_url = srv:base_url(ns), ca_file = srv.ca_file,
                       poll_interval = 0.001, timeout = 10, connect_timeout = 5, max_retries = 3 }
    clients[ns] = c
    -- Forget the namespace before the previous one: the server's jobs stay few.
    local old = "soak" .. (math.floor(i / NS_EVERY) - 2)
    if clients[old] then
      clients[old]:close()
      clients[old] = nil
      srv:reset(old)
    end
  end
  return c
end

local FIELDS = { image_url = "https://example.test/a.png", audio_url = "https://example.test/a.mp3",
                 sandbox_polls = 1 }
local started, done, failures = 0, 0, 0
local first_err
local t0 = omnihuman.core.now()
local samples = {}
local warm_rss, warm_fds
local next_sample = WARM
local timed_out = false

local function cycle(i)
  local c = client_for(i)
  local job, err = c:create(FIELDS)
  if job then
    local st
    st, err = c:poll(job.id)
    if st then
      local res
      res, err = c:wait(job.id, { interval = 0.001, timeout = 30 })
      if res and tostring(res.status):lower() == "completed" then return true end
      err = err or "wait ended with " .. tostring(res and res.status)
    end
  end
  failures = failures + 1
  first_err = first_err or tostring(err)
  return false
end

-- The Lua heap is printed as counted: with its garbage, but at start and end.
local function report(label, collect)
  local rss, nfd = sample(collect)
  local el = omnihuman.core.now() - t0
  samples[#samples + 1] = { done = done, rss = rss, fds = nfd }
  io.write(("%-8s cycles %7d  rss %7d KB  fds %3d  lua heap %6.0f KB  %6.1f s  %6.0f cycles/s\n"):format(
    label, done, rss, nfd, collectgarbage("count"), el, done / el))
  io.flush()
  return rss, nfd
end

report("start", true)
omnihuman.run(function()
  for _ = 1, CONC do
    omnihuman.spawn(function()
      while started < N and not timed_out do
        started = started + 1
        cycle(started)
        done = done + 1
        if done >= next_sample then
          if not warm_rss then
            warm_rss, warm_fds = report("warm")
          else
            report("sample")
          end
          next_sample = next_sample + SAMPLE_EVERY
        end
        if omnihuman.core.now() - t0 > MAX_SECONDS then timed_out = true end
      end
    end)
  end
end)
for _, c in pairs(clients) do c:close() end
clients = {}
local end_rss, end_fds = report("end", true)
-- CPU seconds of this process and of the server: which one is the bottleneck.
local client_cpu = os.clock()
local server_cpu
do
  local st = read("/proc/" .. srv.pid .. "/stat")
  local rest = st and st:match("%) (.*)$")
  if rest then
    local f = {}
    for w in rest:gmatch("%S+") do f[#f + 1] = w end
    local hz = 100 -- USER_HZ on Linux
    server_cpu = (tonumber(f[12]) + tonumber(f[13])) / hz
  end
end
srv:stop()

local el = omnihuman.core.now() - t0
local growth = warm_rss and (end_rss - warm_rss) / warm_rss * 100 or 0
-- The loop's connection cache holds one connection more or less from one
-- moment to the next (a create's fresh one): seen 18 and 19 at either
-- sample. A descriptor leaked per cycle, or per few hundred, still fails.
local ok = failures == 0 and not timed_out and done == N and warm_rss ~= nil
    and growth <= LIMIT and end_fds <= warm_fds + 1
io.write(("soak: %d cycles (%d requests) in %.1f s, %.0f cycles/s, concurrency %d, %s\n"):format(
  done, done * 3, el, done / el, CONC, TLS and "HTTPS" or "HTTP"))
io.write(("soak: cpu: client %.1f s (%.0f us per request), server %s s, wall %.1f s\n"):format(
  client_cpu, client_cpu / math.max(1, done * 3) * 1e6,
  server_cpu and ("%.1f"):format(server_cpu) or "?", el))
io.write(("soak: rss start %d KB, after warm-up (%d cycles) %d KB, end %d KB: %+.2f%% (limit +%g%%)\n"):format(
  samples[1].rss, WARM, warm_rss or -1, end_rss, growth, LIMIT))
io.write(("soak: fds start %d, after warm-up %d, end %d; failures %d%s%s\n"):format(
  samples[1].fds, warm_fds or -1, end_fds, failures, first_err and (" (first: " .. first_err .. ")") or "",
  timed_out and "; STOPPED at SOAK_MAX_SECONDS" or ""))
io.write(ok and "soak: PASS\n" or "soak: FAIL\n")
os.exit(ok and 0 or 1)
