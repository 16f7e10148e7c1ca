-- client:close() ends the idle keep-alive connections the client's requests
-- opened: counted as this machine's ESTABLISHED TCP sockets to a server on
-- 127.0.0.1 (spec/support/conn_server.py), before and after. Another
-- client of the same loop keeps its own, and a connection in use (even one
-- the closed client opened) is left alone.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local conn = require("spec.support.conn")
local sh = require("spec.support.sh")

-- This machine's TCP sockets whose far end is 127.0.0.1:port (the clients'
-- ends; the server's own have port as their near end): how many are
-- ESTABLISHED, and how many a descriptor still holds (a socket closed by
-- its process has no inode left in /proc/net/tcp).
local function sockets(port)
  local est, held = 0, 0
  for line in io.lines("/proc/net/tcp") do
    local f = {}
    for w in line:gmatch("%S+") do f[#f + 1] = w end
    local rport = f[3] and f[3]:match("^0100007F:(%x+)$")
    if rport and tonumber(rport, 16) == tonumber(port) then
      if f[4] == "01" then est = est + 1 end
      if f[10] ~= "0" then held = held + 1 end
    end
  end
  return est, held
end

local function established(port) return (sockets(port)) end
local function held(port) return select(2, sockets(port)) end

-- count(port) once it is `want`, waiting up to 2 s; the last count.
local function settle(count, port, want)
  local got = count(port)
  for _ = 1, 40 do
    if got == want then break end
    sh.sleep(0.05)
    got = count(port)
  end
  return got
end

describe("client:close() and the client's connections", function()
  local srv
  setup(function() srv = conn.start() end)
  teardown(function() conn.stop(srv) end)

  local function new_client(loop)
    return core.new_client(loop, { api_key = "k", base_url = srv.root .. "/v2", max_retries = 0, timeout = 10,
                                   connect_timeout = 5, max_connections = 8 })
  end

  -- Polls ids at once on one loop (each on a connection of its own).
  local function poll_all(loop, pairs_)
    local ops = {}
    for i, p in ipairs(pairs_) do ops[i] = p[1]:poll_op(p[2]) end
    for _, op in ipairs(ops) do
      assert(loop:run_until(op))
      assert(op:result())
    end
  end

  it("ends its idle connections, not another client's, and the loop goes on", function()
    local loop = core.new_loop()
    local a, b = new_client(loop), new_client(loop)
    local base, hbase = sockets(srv.port)
    poll_all(loop, { { a, "keep~a1" }, { a, "keep~a2" }, { a, "keep~a3" }, { b, "keep~b1" }, { b, "keep~b2" } })
    assert.equals(base + 5, settle(established, srv.port, base + 5))
    a:close()
    assert.equals(base + 2, settle(established, srv.port, base + 2))
    -- b's connections still serve it, and the ended ones never get a request.
    local answers = conn.stats(srv).answers
    poll_all(loop, { { b, "keep~b3" }, { b, "keep~b4" } })
    assert.equals(answers + 2, conn.stats(srv).answers)
    assert.equals(base + 2, settle(established, srv.port, base + 2))
    -- curl drops the ended ones as it starts a request, once a second at most.
    sh.sleep(1.1)
    poll_all(loop, { { b, "keep~b5" } })
    assert.equals(hbase + 2, settle(held, srv.port, hbase + 2))
    b:close()
    assert.equals(base, settle(established, srv.port, base))
    loop:close()
    assert.equals(hbase, settle(held, srv.port, hbase))
  end)

  it("leaves alone a connection it opened that another client's request is using", function()
    local loop = core.new_loop()
    local a, b = new_client(loop), new_client(loop)
    local base = established(srv.port)
    local accepted = conn.stats(srv).connections -- (each stats call is a connection too)
    poll_all(loop, { { a, "keep~x1" } })
    -- b's request goes out on a's idle connection (no new one accepted) and
    -- is answered 300 ms late: a closes meanwhile.
    local op = b:poll_op("slow-300~x2")
    for _ = 1, 5 do loop:run_once(0.01) end
    assert.is_false(op:done())
    a:close()
    assert(loop:run_until(op))
    local res, err = op:result()
    assert(res, tostring(err))
    assert.equals(accepted + 2, conn.stats(srv).connections)
    assert.equals(base + 1, settle(established, srv.port, base + 1))
    b:close()
    assert.equals(base, settle(established, srv.port, base))
    loop:close()
  end)

  it("closes nothing of a client merely collected (its operations may still run)", function()
    local loop = core.new_loop()
    local base = established(srv.port)
    do
      local a = new_client(loop)
      poll_all(loop, { { a, "keep~y1" } })
    end
    collectgarbage()
    collectgarbage()
    assert.equals(base + 1, settle(established, srv.port, base + 1))
    loop:close()
    assert.equals(base, settle(established, srv.port, base))
  end)
end)
