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
local hostile = require("spec.support.hostile")
local SEED = hostile.SEED
local fresh_id = hostile.fresh_id
local random_policy = hostile.random_policy
local check = hostile.check
local burst = hostile.burst
local new_client = hostile.new_client
local measure = hostile.measure
local idle_turns = hostile.idle_turns

describe("sockets against a hostile server #slow", function()
  local fx = hostile.serve()

  -- Catches: an answer read from the wrong connection (a number reused while
  -- a stale registration or state lingers), a connection curl waits on that
  -- is not in the set (the burst hangs until its 5 s timeout: "timeout"
  -- instead of an answer), an idle connection's event passed over while
  -- curl wants it (same), descriptors kept after curl closed them.
  it("answers each poll of 50-poll bursts with its own id, over 1 to 3 connections", function()
    local fd0 = conn.open_fds()
    local t0 = core.now()
    for maxc = 1, 3 do
      local client = new_client(fx.srv.root, { max_connections = maxc })
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
    local fds = conn.fds_settle(fd0)
    assert.is_true(fds <= fd0, ("descriptors: %d before, %d after"):format(fd0, fds))
  end)

  -- Catches: a connection that a cancel mid-request closes, or hands back
  -- to curl's cache, left registered with a state that hides the next
  -- socket at its number (a hang), or freed twice (ASan, valgrind).
  it("answers bursts where a third of the polls are cancelled mid-request", function()
    local client = new_client(fx.srv.root, { max_connections = 3 })
    local t0 = core.now()
    for _ = 1, 6 do
      assert(core.now() - t0 < 40, "bursts over 40 s")
      local ids, cancel, got = {}, {}, {}
      for i = 1, 30 do
        ids[i] = fresh_id(math.random() < 0.5 and "slow-40" or random_policy(false))
        cancel[i] = math.random() < 0.33 and math.random() * 0.06 or nil
      end
      local w = measure(function()
        omnihuman.run(function()
          for i = 1, #ids do
            omnihuman.spawn(function()
              local op = client:poll_op(ids[i])
              if cancel[i] then
                omnihuman.sleep(cancel[i])
                op:cancel()
              end
              got[i] = { omnihuman.await(op) }
            end)
          end
        end)
      end)
      assert.is_true(w < 4, ("a burst took %.3f s"):format(w))
      for i, id in ipairs(ids) do
        local st, err = got[i][1], got[i][2]
        if not (cancel[i] and err and err.kind == "cancelled") then check(id, st, err) end
      end
      local id = fresh_id("keep")
      check(id, client:poll(id))
    end
    client:close()
  end)

  -- Catches: an idle registered socket that turned ready (the server sent an
  -- unasked answer, half-closed, closed or reset it) kept in the set, so
  -- every turn returns at once (a host watching loop:pollfd() spins); or
  -- the dead connection reused for the next request.
  it("does not wake the loop for an idle connection the server spoke on, half-closed, closed or reset", function()
    omnihuman.loop():close() -- a loop with no connection from the tests before
    local client = new_client(fx.srv.root, { max_connections = 1 })
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
      local before = conn.stats(fx.srv).connections
      local next_id = fresh_id("keep")
      local w1 = measure(function() check(next_id, client:poll(next_id)) end)
      assert.is_true(w1 < 1, ("%s: the next poll took %.3f s"):format(policy, w1))
      if policy ~= "junk-10" then -- curl 7.88 reuses that one, and takes the 408 for its answer
        -- A new connection (the stats request had one of its own).
        assert.equals(before + 2, conn.stats(fx.srv).connections, policy .. ": the dead connection was reused")
      end
      local w2, c2 = measure(function() assert(omnihuman.sleep(0.2)) end)
      assert.is_true(w2 >= 0.19 and c2 < 0.08, ("%s: sleep 0.2 s: %.3f s wall, %.3f s CPU"):format(policy, w2, c2))
    end
    client:close()
  end)

  -- Catches: idle connections the server ends left ready in the set: a host
  -- that watches loop:pollfd() (luv here) wakes without end while an
  -- operation sleeps. In a child process: luv's one uv loop per Lua state
  -- is left alone by (and leaves alone) the other specs.
  it("lets a luv host sleep beside idle connections the server ends (child process)", function()
    if not pcall(require, "luv") then
      pending("no luv")
      return
    end
    if _VERSION == "Lua 5.1" and not rawget(_G, "jit") then
      pending("the child yields across a C call, which Lua 5.1 cannot (LuaJIT can)")
      return
    end
    local script = [[
      local uv = require("luv")
      local omnihuman = require("omnihuman")
      local core = omnihuman.core
      local client = omnihuman.new{ api_key = "k", base_url = arg[1] .. "/v2", max_retries = 0, timeout = 5,
                                    max_connections = 4 }
      local policies = { "idle-20", "junk-20", "half", "idle-60" }
      local answered, failure = 0, nil
      local start = uv.new_timer()
      start:start(0, 0, function()
        start:close()
        for i, policy in ipairs(policies) do -- four connections at once
          coroutine.wrap(function()
            local ok, e = pcall(function()
              local id = policy .. "~" .. i
              local st, err = client:poll(id)
              assert(st and st.id == id, id .. ": " .. tostring(err))
              answered = answered + 1
              if answered < #policies then return end
              -- All four idle now; the server ends them during this sleep.
              local w0, c0 = core.now(), os.clock()
              assert(omnihuman.sleep(0.4))
              io.stdout:write(("slept %.3f %.3f\n"):format(core.now() - w0, os.clock() - c0))
              -- Inside uv.run, so the adapter's uv handles finish closing
              -- there (luv 1.44 crashes at exit on handles closed after it).
              client:close()
              omnihuman.loop():close()
            end)
            if not ok then failure = failure or tostring(e) end
          end)()
        end
      end)
      local dog = uv.new_timer()
      dog:start(10000, 0, function() uv.stop() end)
      dog:unref()
      uv.run()
      dog:close()
      uv.run("nowait")
      if failure then io.stdout:write("failed: ", failure, "\n") end
    ]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local ok, out = sh.run("timeout 30 " .. sh.q(cli.LUA) .. " " .. sh.q(path) .. " " .. sh.q(fx.srv.root) .. " 2>&1")
    os.remove(path)
    assert.is_true(ok, out)
    local wall, cpu = out:match("^slept (%S+) (%S+)\n$")
    assert(wall, "child: " .. out)
    wall, cpu = tonumber(wall), tonumber(cpu)
    assert.is_true(wall >= 0.39 and cpu < 0.1, ("sleep 0.4 s under luv: %.3f s wall, %.3f s CPU"):format(wall, cpu))
  end)

  -- Catches: a state kept for a descriptor number after curl closed it, when
  -- Lua files and pipes take those numbers and give them back in between
  -- (the next socket at that number not watched, or watched for the wrong
  -- events: a hang or a wrong answer).
  it("keeps answering while Lua code takes and returns the descriptor numbers curl gave back", function()
    local client = new_client(fx.srv.root, { max_connections = 3 })
    -- Many numbers taken first, given back one by one: curl's sockets start
    -- far above the loop's first table size and come down.
    local held = {}
    for i = 1, 300 do held[i] = assert(io.open("/dev/null")) end
    local t0 = core.now()
    for step = 1, 80 do
      for _ = 1, math.min(40, #held - 12) do table.remove(held):close() end
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

describe("sockets curl opens behind the loop (the resolver's socketpair) #slow", function()
  -- A name /etc/hosts gives the loopback address, that curl resolves in its
  -- resolver thread (not "localhost", which curl answers itself). curl
  -- caches a name per port and per loop: a server on many ports makes many
  -- resolves in one loop, so socketpairs and connections take each other's
  -- descriptor numbers.
  local name, addr = conn.hosts_name("127.0.0.1"), "127.0.0.1"
  if not name then name, addr = conn.hosts_name("::1"), "::1" end
  local fx = hostile.serve(function() return name and conn.start{ host = addr, ports = 40 } or nil end)

  -- Catches: a socketpair's number left registered, or with a state, after
  -- curl closed it, and a connection's number likewise (the next
  -- socketpair or connection at that number not watched: the request hangs
  -- until its 5 s timeout); a resolve whose readiness is taken for an idle
  -- connection's and dropped.
  it("answers through a resolved name, many resolves per loop among connections that come and go", function()
    if not name then
      pending("no name in /etc/hosts resolves to 127.0.0.1 or ::1 alone")
      return
    end
    print(("sockets_hostile: resolving %q (%s) on %d ports"):format(name, addr, #fx.srv.ports))
    local fd0 = conn.open_fds()
    local t0 = core.now()
    local clients, unused = {}, {}
    for step = 1, 60 do
      assert(core.now() - t0 < 40, "steps over 40 s")
      if step % 20 == 1 then -- a new loop: a DNS cache of its own
        for _, c in pairs(clients) do c:close() end
        omnihuman.loop():close()
        clients, unused = {}, {}
        for i = 1, #fx.srv.ports do unused[i] = i end
      end
      local width = math.random(1, 4)
      local ids, via = {}, {}
      for i = 1, width do
        -- Mostly a port not asked yet in this loop (a resolve), else one that was.
        local p
        if #unused > 0 and math.random() < 0.7 then
          p = table.remove(unused, math.random(#unused))
        else
          p = math.random(#fx.srv.ports)
        end
        if not clients[p] then
          clients[p] = new_client("http://" .. name .. ":" .. fx.srv.ports[p],
                                  { max_connections = math.random(1, 3) })
        end
        ids[i], via[i] = fresh_id(random_policy(step % 7 == 0)), clients[p]
      end
      burst(via, ids)
    end
    for _, c in pairs(clients) do c:close() end
    omnihuman.loop():close()
    local fds = conn.fds_settle(fd0)
    assert.is_true(fds <= fd0, ("descriptors: %d before, %d after"):format(fd0, fds))
  end)
end)

describe("sockets over TLS #slow", function()
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
      idle_turns(loop, 0.15) -- the server ends idle connections within 60 ms
    end
    client:close()
  end)
end)
