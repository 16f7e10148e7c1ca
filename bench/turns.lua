-- How long one turn of the loop takes while many creates with local files
-- are sent over TLS: the cost a host pays per frame (LÖVE's love.update) or
-- per timer tick (Neovim, luv) when it drives the loop with run_once(0).
-- 50 creates of a local image + audio against the test server (TLS, on
-- 127.0.0.1), at max_connections 8 and 32, driven turn by turn until all
-- are answered; each turn timed. Baseline in the same run: the loop with no
-- bounds (loop:set_turn_budget(0), loop:upload_budget(0)) against the
-- defaults. cpu: the process's CPU time in a turn (os.clock); the rest of a
-- turn's wall time went to other processes (the server too, on 2 cores).
--   lua5.4 bench/turns.lua [creates]
local omnihuman = require("omnihuman")
local testserver = require("spec.support.testserver")
local now = omnihuman.core.now

local N = tonumber(arg[1]) or 50
local KEY = "sk-bench-turns-0123456789"
local srv = testserver.start{ tls = true, key = KEY, flavor = "current" }

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

local function measure(budget, maxc, round)
  local loop = omnihuman.loop()
  loop:set_turn_budget(budget)
  local bytes = loop:upload_budget()
  loop:upload_budget(budget == 0 and 0 or bytes)
  local c = omnihuman.new{ api_key = KEY, base_url = srv:base_url("turns" .. round), ca_file = srv.ca_file,
                           max_connections = maxc, timeout = 60 }
  local ops = {}
  for i = 1, N do
    ops[i] = c:create_op{ image = "examples/media/portrait.png", audio = "examples/media/hello.wav" }
  end
  local turns, cpus, t_start = {}, {}, now()
  local left = N
  while left > 0 and now() - t_start < 120 and #turns < 200000 do
    local t, t_cpu = now(), os.clock()
    loop:run_once(0)
    turns[#turns + 1] = now() - t
    cpus[#cpus + 1] = os.clock() - t_cpu
    left = 0
    for i = 1, N do if not ops[i]:done() then left = left + 1 end end
  end
  local wall = now() - t_start
  local ok = 0
  for i = 1, N do
    if ops[i]:done() and ops[i]:result() then ok = ok + 1 end
    ops[i]:close()
  end
  c:close()
  loop:set_turn_budget(0.002)
  loop:upload_budget(bytes)
  table.sort(turns)
  table.sort(cpus)
  return { p50 = percentile(turns, 0.5), p99 = percentile(turns, 0.99), max = turns[#turns], turns = #turns,
           cpu99 = percentile(cpus, 0.99), cpumax = cpus[#cpus],
           wall = wall, ok = ok }
end

print(("## Turn length during %d inline uploads (TLS, 127.0.0.1)"):format(N))
print("")
print("| bounds | max_connections | turns | p50 ms | p99 ms | max ms | cpu p99 ms | cpu max ms | wall s | answered |")
print("|---|---|---|---|---|---|---|---|---|---|")
local round, results = 0, {}
for _, maxc in ipairs({ 8, 32 }) do
  for _, budget in ipairs({ 0, 0.002 }) do
    round = round + 1
    local r = measure(budget, maxc, round)
    results[maxc .. ":" .. budget] = r
    print(("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d/%d |"):format(
      budget == 0 and "none" or "defaults", maxc, r.turns, r.p50 * 1e3, r.p99 * 1e3, r.max * 1e3, r.cpu99 * 1e3,
      r.cpumax * 1e3, r.wall, r.ok, N))
  end
end
print("")
for _, maxc in ipairs({ 8, 32 }) do
  local a, b = results[maxc .. ":0"], results[maxc .. ":0.002"]
  print(("max_connections %d: longest turn with the budget %.2fx the unbounded one's; wall %.2fx"):format(
    maxc, b.max / a.max, b.wall / a.wall))
end
srv:stop()
