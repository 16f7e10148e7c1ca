-- Keep-alive connections stay in the loop's epoll set between requests
-- (no epoll_ctl per request). Whatever the server does with an idle
-- connection (keeps it, closes it with or without saying so, closes it
-- after an idle time while it sits registered and unwanted, resets it),
-- the next request must go out and be answered: a stale registration must
-- never hide a socket, nor a closed one stay registered.
local omnihuman = require("omnihuman")
local sh = require("spec.support.sh")
local conn = require("spec.support.conn")

describe("keep-alive connections between requests #slow", function()
  local srv, client
  setup(function()
    srv = conn.start()
    client = omnihuman.new{ api_key = "k", base_url = srv.root .. "/v2", max_retries = 2, timeout = 5,
                            connect_timeout = 5 }
  end)
  teardown(function()
    client:close()
    conn.stop(srv)
  end)

  local function poll_ok(id)
    local st, err = client:poll(id)
    assert(st, "poll " .. id .. ": " .. tostring(err))
    assert.equals(id, st.id)
  end

  it("reuses one connection for sequential requests", function()
    poll_ok("keep")
    local before = conn.stats(srv).connections
    for _ = 1, 30 do poll_ok("keep") end
    -- The stats request itself was a connection of its own.
    assert.equals(before + 1, conn.stats(srv).connections)
  end)

  it("sends the next request after the server closed an idle registered connection", function()
    for _, pause in ipairs({ 0.08, 0.15 }) do
      poll_ok("idle-20") -- the server closes it 20 ms later: it sits registered, unwanted
      sh.sleep(pause)
      poll_ok("keep")
      poll_ok("keep")
    end
  end)

  it("costs no CPU while the loop waits beside a connection the server closed", function()
    poll_ok("idle-20") -- closed by the server 20 ms later, while it sits registered
    sh.sleep(0.08)
    local c0 = os.clock()
    assert(omnihuman.sleep(0.4)) -- drives the loop for 0.4 s with that socket in its set
    local cpu = os.clock() - c0
    assert.is_true(cpu < 0.1, ("%.3f s of CPU in a 0.4 s wait"):format(cpu))
    poll_ok("keep")
  end)

  it("survives every way a server ends connections, in a seeded random mix", function()
    local seed = tonumber(os.getenv("OMH_SEED") or "") or os.time()
    print(("keepalive mix: seed %d (OMH_SEED=%d to repeat)"):format(seed, seed))
    math.randomseed(seed)
    local policies = { "keep", "announced", "silent", "idle-5", "idle-30", "reset" }
    local fd0 = conn.open_fds()
    local t0 = omnihuman.core.now()
    local steps = 0
    for _ = 1, 120 do
      if omnihuman.core.now() - t0 > 40 then break end
      local width = math.random(1, 4)
      if width == 1 then
        poll_ok(policies[math.random(#policies)])
      else
        local ids = {}
        for i = 1, width do ids[i] = policies[math.random(#policies)] end
        omnihuman.run(function()
          for i = 1, width do omnihuman.spawn(function() poll_ok(ids[i]) end) end
        end)
      end
      steps = steps + 1
      local pause = ({ 0, 0, 0.01, 0.04 })[math.random(4)]
      if pause > 0 then sh.sleep(pause) end
    end
    assert.is_true(steps >= 60, "only " .. steps .. " steps in 40 s")
    -- Closed connections are not kept: at most the pool's connections remain.
    assert.is_true(conn.open_fds() <= fd0 + 16, ("descriptors: %d before, %d after"):format(fd0, conn.open_fds()))
  end)
end)
