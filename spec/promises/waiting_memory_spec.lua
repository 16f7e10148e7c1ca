-- What a coroutine holds while it waits for its job, on Lua 5.4: a stack of
-- 40 slots, not 80. Lua 5.4 doubles a coroutine's stack when a C function is
-- called more than ~20 slots up it, and shrinks a parked one only past three
-- times what is in use, so a create's checks or a wait's options made deep
-- in the coroutine used to leave 640 more bytes per waiting job. Measured as
-- the Lua heap per parked coroutine (after a full collection) against one
-- parked in omnihuman.sleep: ~870 bytes more (the wait operation, its job id
-- and the create's answer), 1,430-1,500 when the stack had grown.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

local N = 200

describe("a waiting job's Lua heap", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  -- Lua heap per coroutine while N of them are parked in body, measured
  -- once `ready(ns, entered)` says they all are (bounded: 120 s, for a
  -- run under valgrind).
  local function per_job(body, ready)
    local ns = fixtures.ns("mem")
    local c = fixtures.client(srv, ns)
    local entered, during, st = 0, nil, { done = false }
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    omnihuman.run(function()
      for _ = 1, N do
        omnihuman.spawn(function()
          entered = entered + 1
          body(c, st)
        end)
      end
      omnihuman.spawn(function()
        local t0 = omnihuman.core.now()
        repeat omnihuman.sleep(0.1) until ready(ns, entered) or omnihuman.core.now() - t0 > 120
        omnihuman.sleep(0.2)
        collectgarbage()
        collectgarbage()
        during = collectgarbage("count")
        st.done = true
        c:close() -- ends the waits
      end)
    end)
    assert.are.equal(N, entered)
    return (during - before) * 1024 / N
  end

  it("a create and a wait with options park at 40 stack slots (Lua 5.4)", function()
    if _VERSION ~= "Lua 5.4" or jit then
      pending("Lua 5.4's stacks only")
      return
    end
    local sleeping = per_job(function(_, st)
      repeat omnihuman.sleep(0.5) until st.done
    end, function(_, entered) return entered == N end)
    local waiting = per_job(function(c)
      local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 1000 }))
      c:wait(job.id, { interval = 300, timeout = 600 })
    end, function(ns) return (srv:count(ns, "poll") or 0) >= N end)
    local more = waiting - sleeping
    assert.is_true(more > 300 and more < 1150,
      ("a waiting job holds %.0f bytes more than a sleeping coroutine (%.0f against %.0f)"):format(more, waiting, sleeping))
  end)
end)
