-- curl's sockets in the loop's epoll set, against a hostile server and a
-- hostile process: keep-alive connections stay registered while idle, so a
-- stale registration, a descriptor number reused by another socket or by
-- Lua, a socket curl opens behind the loop (the resolver's socketpair), or a
-- loop that goes away with idle connections must neither hide a socket, nor
-- wake the loop for nothing, nor mix up two connections' answers.
-- Seeded (OMH_SEED=n repeats a run); every loop is bounded in count and time.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local conn = require("spec.support.conn")
local testserver = require("spec.support.testserver")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")

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
-- connection that the server closes as the request goes out ("Send
-- failure", "Recv failure", "Empty reply", "Connection died" after curl's
-- own 5 tries), or an unasked answer taken for the next request's ("HTTP
-- 408": curl 7.88 reuses an idle connection with unread bytes in it).
local CURLS_OWN = { "HTTP 408", "Send failure", "Recv failure", "Empty reply", "Connection died" }
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

-- Polls ids at once (omnihuman.run + spawn); checks each outcome, and
-- that the burst took less than a request timeout.
local function burst(client, ids)
  local got = {}
  local t0 = core.now()
  omnihuman.run(function()
    for i, id in ipairs(ids) do
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

describe("sockets against a hostile server", function()
  local srv
  setup(function() srv = conn.start() end)
  teardown(function() conn.stop(srv) end)
  before_each(function() math.randomseed(SEED) end)

  -- Catches: an answer read from the wrong connection (a number reused while
  -- a stale registration or state lingers), a connection curl waits on that
  -- is not in the set (the burst hangs until its 5 s timeout: "timeout"
  -- instead of an answer), an idle connection's event passed over while
  -- curl wants it (same), descriptors kept after curl closed them.
  it("answers each poll of 50-poll bursts with its own id, over 1 to 3 connections", function()
    local fd0 = conn.open_fds()
    local t0 = core.now()
    for maxc = 1, 3 do
      local client = new_client(srv.root, { max_connections = maxc })
      for _ = 1, 2 do
        assert(core.now() - t0 < 60, "bursts over 60 s")
        local ids = {}
        for i = 1, 50 do ids[i] = fresh_id(random_policy(true)) end
        burst(client, ids)
        sh.sleep(({ 0, 0.02, 0.06 })[math.random(3)]) -- let idle timers on the server fire
      end
      client:close()
    end
    omnihuman.loop():close() -- its pool of connections goes with it
    assert.is_true(conn.open_fds() <= fd0, ("descriptors: %d before, %d after"):format(fd0, conn.open_fds()))
  end)

  -- Catches: an idle registered socket that turned ready (the server sent an
  -- unasked answer, half-closed, closed or reset it) kept in the set, so
  -- every turn returns at once (a host watching loop:pollfd() spins); or
  -- the dead connection reused for the next request.
  it("does not wake the loop for an idle connection the server spoke on, half-closed, closed or reset", function()
    local client = new_client(srv.root)
    local loop = omnihuman.loop()
    for _, policy in ipairs({ "junk-10", "half", "idle-10", "reset", "announced" }) do
      local id = fresh_id(policy)
      check(id, client:poll(id))
      sh.sleep(0.08) -- the server has acted on the idle connection by now
      assert.equals(0, loop:active())
      loop:run_once(0) -- drops it from the set
      local wall, cpu = measure(function()
        for _ = 1, 3 do loop:run_once(0.15) end
      end)
      assert.is_true(wall >= 0.4, ("%s: 3 turns of up to 0.15 s took %.3f s"):format(policy, wall))
      assert.is_true(cpu < 0.1, ("%s: %.3f s of CPU in 3 idle turns"):format(policy, cpu))
      local before = conn.stats(srv).connections
      local next_id = fresh_id("keep")
      local w1 = measure(function() check(next_id, client:poll(next_id)) end)
      assert.is_true(w1 < 1, ("%s: the next poll took %.3f s"):format(policy, w1))
      if policy ~= "junk-10" then -- curl 7.88 reuses that one, and takes the 408 for its answer
        -- A new connection (the stats request had one of its own).
        assert.equals(before + 2, conn.stats(srv).connections, policy .. ": the dead connection was reused")
      end
      local w2, c2 = measure(function() assert(omnihuman.sleep(0.2)) end)
      assert.is_true(w2 >= 0.19 and c2 < 0.08, ("%s: sleep 0.2 s: %.3f s wall, %.3f s CPU"):format(policy, w2, c2))
    end
    client:close()
  end)

  -- Catches: a state kept for a descriptor number after curl closed it, when
  -- Lua files and pipes take those numbers and give them back in between
  -- (the next socket at that number not watched, or watched for the wrong
  -- events: a hang or a wrong answer).
  it("keeps answering while Lua code takes and returns the descriptor numbers curl gave back", function()
    local client = new_client(srv.root, { max_connections = 3 })
    local held = {}
    local t0 = core.now()
    for step = 1, 80 do
      assert(core.now() - t0 < 40, "steps over 40 s")
      -- Connections end often here, so numbers come free often.
      local width = math.random(1, 4)
      local ids = {}
      for i = 1, width do ids[i] = fresh_id(random_policy(step % 5 == 0)) end
      if width == 1 then
        check(ids[1], client:poll(ids[1]))
      else
        burst(client, ids)
      end
      for _ = 1, math.random(0, 3) do
        if #held > 0 and math.random() < 0.5 then
          local i = math.random(#held)
          held[i]:close()
          table.remove(held, i)
        elseif #held < 12 then
          held[#held + 1] = math.random() < 0.7 and assert(io.open("/dev/null")) or assert(io.popen("true"))
        end
      end
    end
    for _, f in ipairs(held) do f:close() end
    client:close()
  end)
end)

describe("sockets curl opens behind the loop (the resolver's socketpair)", function()
  -- A name /etc/hosts gives the loopback address, that curl resolves in its
  -- resolver thread (not "localhost", which curl answers itself).
  local name, addr = conn.hosts_name("127.0.0.1"), "127.0.0.1"
  if not name then name, addr = conn.hosts_name("::1"), "::1" end
  local srv
  setup(function() if name then srv = conn.start{ host = addr } end end)
  teardown(function() conn.stop(srv) end)
  before_each(function() math.randomseed(SEED) end)

  -- Catches: the socketpair's number left with a registration or state after
  -- curl closed it (the next connection, or the next loop's socketpair, at
  -- that number not watched: a hang until the 5 s timeout), and a resolve
  -- whose readiness is dropped as "idle".
  it("answers through a resolved name, a new loop (and resolve) every few requests", function()
    if not name then
      pending("no name in /etc/hosts resolves to 127.0.0.1 or ::1 alone")
      return
    end
    print(("sockets_hostile: resolving %q (%s)"):format(name, addr))
    local root = srv.root:gsub("//[^/]+:", "//" .. name .. ":")
    local fd0 = conn.open_fds()
    local t0 = core.now()
    local client
    for step = 1, 60 do
      assert(core.now() - t0 < 40, "steps over 40 s")
      if step % 4 == 1 then
        if client then client:close() end
        omnihuman.loop():close() -- a new loop: a DNS cache of its own, so a new resolve
        client = new_client(root, { max_connections = math.random(1, 3) })
      end
      local width = math.random(1, 3)
      local ids = {}
      for i = 1, width do ids[i] = fresh_id(random_policy(step % 7 == 0)) end
      if width == 1 then
        check(ids[1], client:poll(ids[1]))
      else
        burst(client, ids)
      end
    end
    client:close()
    omnihuman.loop():close()
    assert.is_true(conn.open_fds() <= fd0, ("descriptors: %d before, %d after"):format(fd0, conn.open_fds()))
  end)
end)

describe("sockets over TLS", function()
  local srv, dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(sh.exec("mkdir -p " .. sh.q(dir)))
    srv = conn.start{ tls = testserver.make_ca(dir) }
  end)
  teardown(function()
    conn.stop(srv)
    if dir then sh.exec("rm -rf " .. sh.q(dir)) end
  end)
  before_each(function() math.randomseed(SEED) end)

  -- Catches, over TLS (bytes that OpenSSL buffers, a close that arrives as
  -- a TLS alert): the same hangs and mix-ups as the plain bursts, and a
  -- socket left ready in the set (idle turns return at once).
  it("answers bursts with their own ids and idles without waking", function()
    local client = new_client(srv.root, { ca_file = srv.ca, max_connections = 2 })
    local loop = omnihuman.loop()
    local t0 = core.now()
    for _ = 1, 4 do
      assert(core.now() - t0 < 40, "bursts over 40 s")
      local ids = {}
      for i = 1, 20 do ids[i] = fresh_id(random_policy(true)) end
      burst(client, ids)
      sh.sleep(0.08)
      loop:run_once(0)
      local wall, cpu = measure(function() loop:run_once(0.15) end)
      assert.is_true(wall >= 0.14 and cpu < 0.05, ("idle turn: %.3f s wall, %.3f s CPU"):format(wall, cpu))
    end
    client:close()
  end)
end)

describe("loops that go away with idle connections registered", function()
  local srv
  setup(function() srv = conn.start() end)
  teardown(function() conn.stop(srv) end)
  before_each(function() math.randomseed(SEED) end)

  local function poll_on(loop, client, id)
    local op = client:poll_op(id)
    assert(loop:run_until(op))
    check(id, op:result())
  end

  -- Catches: curl closing a connection through a loop already freed (a
  -- crash, or an ASan/valgrind report), a connection never closed (the
  -- descriptors grow), a new loop that inherits a stale registration.
  it("closes every connection of loops closed, collected or left, one loop after another and many at once", function()
    local fd0 = conn.open_fds()
    local cfg = { api_key = "k", base_url = srv.root .. "/v2", max_retries = 0, timeout = 5, connect_timeout = 5 }
    local t0 = core.now()
    for round = 1, 3 do
      assert(core.now() - t0 < 40, "rounds over 40 s")
      local loops, clients = {}, {}
      for i = 1, 12 do
        loops[i] = core.new_loop()
        clients[i] = core.new_client(loops[i], cfg)
        -- Idle connections, some of which the server then ends.
        for _ = 1, math.random(1, 3) do poll_on(loops[i], clients[i], fresh_id(random_policy(false))) end
      end
      sh.sleep(0.05)
      for i = 1, 12 do
        local how = (i + round) % 4
        if how == 0 then
          loops[i]:close()
        elseif how == 1 then
          clients[i]:close()
        end
        if how ~= 3 then loops[i], clients[i] = nil, nil end -- collected below
      end
      collectgarbage()
      collectgarbage()
      -- The loops still referenced still work, beside the others' closes.
      for i = 1, 12 do
        if loops[i] then poll_on(loops[i], clients[i], fresh_id("keep")) end
      end
      loops, clients = nil, nil
      collectgarbage()
      collectgarbage()
      assert.is_true(conn.open_fds() <= fd0, ("round %d: descriptors %d before, %d after"):format(round, fd0,
                                                                                              conn.open_fds()))
    end
    -- The module's loop, made after all that, works.
    local client = new_client(srv.root)
    local id = fresh_id("keep")
    check(id, client:poll(id))
    client:close()
  end)

  -- Catches: a crash or a hang at exit (curl closing connections through a
  -- loop that lua_close already freed, or never closing them).
  it("lets the process exit with loops and idle connections open", function()
    local script = [[
      local core = require("omnihuman.core")
      local cfg = { api_key = "k", base_url = arg[1] .. "/v2", max_retries = 0, timeout = 5 }
      keep = {}
      for i = 1, 6 do
        local loop = core.new_loop()
        local c = core.new_client(loop, cfg)
        for _, id in ipairs({ "keep", "junk-10", "idle-30" }) do
          local op = c:poll_op(id .. "~" .. i)
          assert(loop:run_until(op))
          assert(op:result(), "no answer")
        end
        if i % 2 == 0 then keep[#keep + 1] = { loop, c } end
      end
      io.stdout:write("polled\n")
      if arg[2] == "exit-close" then os.exit(0, true) end
      if arg[2] == "exit" then os.exit(0) end
    ]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    for _, how in ipairs({ "end", "exit-close", "exit" }) do
      local ok, out = sh.run("timeout 30 " .. sh.q(cli.LUA) .. " " .. sh.q(path) .. " " .. sh.q(srv.root) .. " "
                             .. how .. " 2>&1; echo \"rc=$?\"")
      assert.is_true(ok)
      assert.equals("polled\nrc=0\n", out, how)
    end
    os.remove(path)
  end)
end)
