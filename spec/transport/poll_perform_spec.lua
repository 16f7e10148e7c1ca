-- client:poll in the main thread, with nothing else in its loop, performs
-- its request on the spot (curl_easy_perform) instead of through the multi
-- handle. It must use the loop's own pool of connections: one keep-alive
-- connection serves such checks and the loop's other requests alike, a
-- client's close ends the connections its checks opened, a loop's close
-- closes them, and a request with other work in flight takes the loop's
-- usual path. Connections are counted by the server (spec/support/conn_server.py)
-- and as this process's descriptors.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local conn = require("spec.support.conn")
local sh = require("spec.support.sh")

-- Established TCP sockets whose far end is 127.0.0.1:port (the clients' ends).
local function established(port)
  local n = 0
  for line in io.lines("/proc/net/tcp") do
    local f = {}
    for w in line:gmatch("%S+") do f[#f + 1] = w end
    local rport = f[3] and f[3]:match("^0100007F:(%x+)$")
    if rport and tonumber(rport, 16) == tonumber(port) and f[4] == "01" then n = n + 1 end
  end
  return n
end

-- established(port) once it is `want` (up to 2 s of 50 ms naps); the last count.
local function settle(port, want)
  local deadline = core.now() + 2
  while established(port) ~= want and core.now() < deadline do sh.sleep(0.05) end
  return established(port)
end

describe("client:poll performed on the spot #slow", function()
  local srv
  setup(function() srv = conn.start() end)
  teardown(function() conn.stop(srv) end)

  local function new_client(timeout)
    return omnihuman.new({ api_key = "k", base_url = srv.root .. "/v2", max_retries = 0, timeout = timeout or 10 })
  end

  -- Connections the server accepted so far (each stats call is one too).
  local function accepted() return conn.stats(srv).connections end

  it("shares one keep-alive connection with the loop's other requests", function()
    local c = new_client()
    local before = accepted()
    for i = 1, 5 do
      local st, err = c:poll("keep~p" .. i)
      assert(st, tostring(err))
      assert.equals("keep~p" .. i, st.id)
    end
    -- The loop's path (an awaited op) reuses the connection the checks used,
    -- and the checks after it reuse it again.
    local st, err = omnihuman.await(c:poll_op("keep~q1"))
    assert(st, tostring(err))
    for i = 6, 8 do assert(c:poll("keep~p" .. i)) end
    -- One connection for all nine, plus the second stats call's own.
    assert.equals(before + 2, accepted())
    c:close()
  end)

  it("leaves the connections its checks opened to client:close and loop:close", function()
    local base = established(srv.port)
    local c = new_client()
    assert(c:poll("keep~c1"))
    assert.equals(base + 1, settle(srv.port, base + 1))
    c:close()
    assert.equals(base, settle(srv.port, base))
    local loop = core.new_loop()
    local c2 = core.new_client(loop, { api_key = "k", base_url = srv.root .. "/v2", max_retries = 0 })
    local res, err, _, op = c2:poll_now("keep~c2")
    assert(res and not op, tostring(err))
    assert.equals(base + 1, settle(srv.port, base + 1))
    loop:close()
    assert.equals(base, settle(srv.port, base))
  end)

  it("goes through the loop while another request is in flight, and both answer", function()
    local c = new_client()
    local slow = c:poll_op("slow-300~r1")
    local t0 = core.now()
    local st, err = c:poll("keep~r2")
    assert(st, tostring(err))
    -- Not held behind the slow answer: the two were in flight together.
    assert.is_true(core.now() - t0 < 0.29)
    local st2, err2 = omnihuman.await(slow)
    assert(st2, tostring(err2))
    assert.equals("slow-300~r1", st2.id)
    c:close()
  end)

  it("ends a check that outlasts timeout with a timeout error", function()
    local c = new_client(0.3)
    local t0 = core.now()
    local st, err = c:poll("slow-3000~t1")
    assert.is_nil(st)
    assert.equals("timeout", err.kind)
    assert.is_true(core.now() - t0 < 2.5)
    c:close()
  end)
end)
