-- Shared by the sockets_*_spec files: a seeded mix of what conn_server.py
-- does with a connection, and the checks of what a poll got back.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local sh = require("spec.support.sh")
local conn = require("spec.support.conn")
local luassert = require("luassert")

local SEED = tonumber(os.getenv("OMH_SEED") or "") or os.time()
print(("sockets_hostile: seed %d (OMH_SEED=%d to repeat)"):format(SEED, SEED))

-- What conn_server.py does with a connection after a request, and what the
-- client must make of it.
local ANSWERED = { "keep", "announced", "silent", "idle-5", "idle-30", "reset", "junk-10", "half", "slow-20" }
local REFUSED = { "rstreq", "partial" } -- no answer: a network error, never another job's answer

local serial = 0
local function fresh_id(policy)
  serial = serial + 1
  return policy .. "~" .. serial
end

local function random_policy(with_refused)
  local n = #ANSWERED + (with_refused and #REFUSED or 0)
  local i = math.random(n)
  return i <= #ANSWERED and ANSWERED[i] or REFUSED[i - #ANSWERED]
end

local function refused(policy)
  return policy == "rstreq" or policy == "partial"
end

-- What is wrong with the outcome of id's poll (nil: nothing). Never
-- another job's answer; never a request left unanswered until curl's
-- timeout (a socket the loop does not watch). A refusing behaviour never
-- ends in an answer. Otherwise id's answer, or an error that curl itself
-- causes whatever the loop does (the same with every socket registered
-- eagerly, as a build whose loop opens no socket shows): a reused
-- connection that the server closes or resets as the request goes out
-- ("Send failure", "Recv failure", "Empty reply", "Connection died" after
-- curl's own 5 tries, "select/poll returned error" when epoll catches the
-- reset between its error and its close), or an unasked answer taken for
-- the next request's ("HTTP 408": curl 7.88 reuses an idle connection with
-- unread bytes in it).
local CURLS_OWN = { "HTTP 408", "Send failure", "Recv failure", "Empty reply", "Connection died",
                    "select/poll returned error" }
local function problem(id, st, err)
  local policy = id:match("^[^~]+")
  if st then
    if refused(policy) then return id .. ": answered " .. tostring(st.id) end
    if st.id ~= id then return id .. ": got the answer of " .. tostring(st.id) end
    return nil
  end
  local msg = tostring(err)
  if msg:find("timed out") then return id .. ": unanswered: " .. msg end
  if refused(policy) and err.kind == "network" then return nil end
  for _, m in ipairs(CURLS_OWN) do
    if msg:find(m, 1, true) then return nil end
  end
  return id .. ": " .. msg
end

local function check(id, st, err)
  local p = problem(id, st, err)
  assert(p == nil, p)
end

-- Polls ids at once (omnihuman.run + spawn; ids[i] through clients[i]
-- when given a list of clients); checks each outcome, and that the burst
-- took less than a request timeout.
local function burst(clients, ids)
  local got = {}
  local t0 = core.now()
  omnihuman.run(function()
    for i, id in ipairs(ids) do
      local client = clients.core and clients or clients[i]
      omnihuman.spawn(function() got[i] = { client:poll(id) } end)
    end
  end)
  local wall = core.now() - t0
  local problems = {}
  for i, id in ipairs(ids) do
    local p = id .. ": never finished"
    if got[i] then p = problem(id, got[i][1], got[i][2]) end
    if p then problems[#problems + 1] = p end
  end
  assert(#problems == 0, table.concat(problems, "\n"))
  assert(wall < 4, ("a burst of %d took %.3f s"):format(#ids, wall))
end

local function new_client(root, extra)
  local opts = { api_key = "k", base_url = root .. "/v2", max_retries = 0, timeout = 5, connect_timeout = 5 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return omnihuman.new(opts)
end

-- Wall and CPU seconds of fn().
local function measure(fn)
  local w0, c0 = core.now(), os.clock()
  fn()
  return core.now() - w0, os.clock() - c0
end

-- With nothing in flight, once the server has ended what it ends (settle
-- seconds) and one turn has dropped those connections from the set: four
-- turns of up to 0.1 s each wait their whole time, on no CPU to speak of.
-- A connection left ready in the set cuts every turn short.
local function idle_turns(loop, settle)
  luassert.equals(0, loop:active())
  sh.sleep(settle)
  loop:run_once(0)
  local wall, cpu = measure(function()
    for _ = 1, 4 do loop:run_once(0.1) end
  end)
  luassert.is_true(wall >= 0.38 and cpu < 0.05, ("4 idle turns: %.3f s wall, %.3f s CPU"):format(wall, cpu))
end

-- Inside a describe: a conn_server.py for its tests (`start` makes it;
-- conn.start() by default; it may return nil to run none), stopped after
-- them, and the seed reset before each. The server is the result's `srv`.
local function serve(start)
  local busted = require("busted") -- a required module does not see the spec's globals
  local fx = {}
  busted.setup(function() fx.srv = (start or conn.start)() end)
  busted.teardown(function() conn.stop(fx.srv) end)
  busted.before_each(function() math.randomseed(SEED) end)
  return fx
end

return {
  SEED = SEED,
  serve = serve,
  ANSWERED = ANSWERED,
  REFUSED = REFUSED,
  fresh_id = fresh_id,
  random_policy = random_policy,
  refused = refused,
  problem = problem,
  check = check,
  burst = burst,
  new_client = new_client,
  measure = measure,
  idle_turns = idle_turns,
}
