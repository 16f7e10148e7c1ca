-- What a coroutine holds while it waits for its job, on Lua 5.4: a stack of
-- 40 slots, not 80. Lua 5.4 doubles a coroutine's stack when a C function is
-- called more than ~20 slots up it, and shrinks a parked one only past three
-- times what is in use, so a create's checks or a wait's options made deep
-- in the coroutine used to leave 640 more bytes per waiting job. Measured as
-- the Lua heap per parked coroutine (after a full collection) against one
-- parked in omnihuman.sleep: ~940 bytes more (the wait operation, its job id
-- and the create's answer), ~1,450 when the stack had grown.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

local N = 200

describe("a waiting job's Lua heap", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  -- Lua heap per coroutine while N of them are parked in body.
  local function per_job(body)
    local c = fixtures.client(srv, fixtures.ns("mem"))
    local parked, during = 0, nil
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    omnihuman.run(function()
      for _ = 1, N do
        omnihuman.spawn(function()
          parked = parked + 1
          body(c)
        end)
      end
      omnihuman.spawn(function()
        omnihuman.sleep(1.5)
        collectgarbage()
        collectgarbage()
        during = collectgarbage("count")
        c:close() -- ends the waits
      end)
    end)
    assert.are.equal(N, parked)
    return (during - before) * 1024 / N
  end

  it("a create and a wait with options park at 40 stack slots (Lua 5.4)", function()
    if _VERSION ~= "Lua 5.4" or jit then
      pending("Lua 5.4's stacks only")
      return
    end
    local sleeping = per_job(function() omnihuman.sleep(4) end)
    local waiting = per_job(function(c)
      local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 1000 }))
      c:wait(job.id, { interval = 30, timeout = 60 })
    end)
    local more = waiting - sleeping
    assert.is_true(more > 300 and more < 1150,
      ("a waiting job holds %.0f bytes more than a sleeping coroutine (%.0f against %.0f)"):format(more, waiting, sleeping))
  end)
end)
