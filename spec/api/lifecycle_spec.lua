-- Userdata lifecycles: close is idempotent, use after close raises, closing
-- a loop ends its work, and dropped operations are collected cleanly.
local omnihuman = require("omnihuman")
local core = omnihuman.core

describe("lifecycle", function()
  it("closing a loop cancels what is in flight, once", function()
    local loop = core.new_loop()
    local op = core.sleep_op(loop, 5)
    loop:close()
    loop:close()
    local res, err = op:result()
    assert.is_nil(res)
    assert.equals("cancelled", err.kind)
    assert.has_error(function() loop:run_once(0) end, "omnihuman: loop is closed")
    assert.has_error(function() core.sleep_op(loop, 1) end, "omnihuman: loop is closed")
  end)

  it("a closed operation: every method raises but is_closed and loop", function()
    local loop = core.new_loop()
    local op = core.sleep_op(loop, 5)
    assert.equals(loop, op:loop())          -- in flight
    op:close()
    op:close()
    local closed, maybe = op:is_closed()
    assert.is_true(closed)
    assert.is_false(maybe)
    assert.is_nil(op:loop())
    for _, m in ipairs({ "step", "done", "result", "cancel", "pollfd", "events", "timeout", "kind", "settle" }) do
      assert.has_error(function() op[m](op) end, "omnihuman: operation is closed")
    end
    local done = core.sleep_op(loop, 0)
    loop:run_until(done)
    assert.is_nil(done:loop())              -- finished: no loop to wait on
    loop:close()
  end)

  it("a closed client raises clearly", function()
    local c = omnihuman.new{ api_key = "k", base_url = "http://127.0.0.1:9/v2" }
    c:close()
    c:close()
    assert.has_error(function() c:poll("x") end, "omnihuman: client is closed")
  end)

  it("dropped operations and loops are collected without leaks or crashes", function()
    for _ = 1, 200 do
      local loop = core.new_loop()
      core.sleep_op(loop, 0)
      core.sleep_op(loop, 10)
    end
    collectgarbage()
    collectgarbage()
    local loop = omnihuman.loop()
    local before = loop:active()
    for _ = 1, 100 do core.sleep_op(loop, 0) end
    assert.equals(before + 100, loop:active())   -- in flight: the loop keeps them
    loop:run_once(0)
    assert.equals(before, loop:active())
    loop:take_done()
    collectgarbage()
  end)

  it("drop_done forgets finish notices without handing them out", function()
    local loop = core.new_loop()
    local fd = loop:pollfd() -- watched: notices now also make the descriptor readable
    assert.equals("number", type(fd))
    local ops = {}
    for i = 1, 5 do ops[i] = core.sleep_op(loop, 0) end
    loop:run_once(0)
    assert.equals(0, loop:timeout()) -- notices wait
    loop:drop_done()
    assert.is_nil(loop:timeout())    -- nothing armed, nothing waiting
    assert.is_nil(next(loop:take_done()))
    loop:drop_done()                 -- nothing to drop: fine
    -- Later notices still arrive, and take_done hands them out.
    local op = core.sleep_op(loop, 0)
    loop:run_once(0)
    local done = loop:take_done()
    assert.is_true(done[op])
    for _, o in ipairs(ops) do assert.is_nil(done[o]) end
    -- A closing loop ends what is in flight: those notices drop like any.
    core.sleep_op(loop, 60)
    loop:close()
    loop:drop_done()
    assert.is_nil(next(loop:take_done()))
  end)

  it("supports to-be-closed variables on Lua 5.4", function()
    if _VERSION ~= "Lua 5.4" then pending("Lua 5.4 only") return end
    local chunk = assert(load([[
      local core = ...
      local loop = core.new_loop()
      do
        local op <close> = core.sleep_op(loop, 5)
      end
      return loop:active()
    ]]))
    assert.equals(0, chunk(core))
  end)
end)

describe("omnihuman.fs, the command line's file helpers (not in the core)", function()
  it("locks, appends whole records and syncs a folder; a closed handle raises", function()
    local fsc = require("omnihuman.fs")
    assert.is_nil(core.fsync_dir)
    assert.is_nil(core.flock)
    local path = os.tmpname()
    local f = assert(io.open(path, "a"))
    assert.is_true(fsc.flock(f))
    assert.is_true(fsc.append(f, "journal line\n", true))
    -- Written past Lua's buffer: another handle sees the bytes before f is closed.
    local r = assert(io.open(path, "r"))
    assert.equals("journal line\n", r:read("*a"))
    r:close()
    f:close()
    assert.has_error(function() fsc.append(f, "x") end)
    assert.is_true(fsc.fsync_dir("/tmp"))
    local ok, err = fsc.fsync_dir("/no/such/dir")
    assert.is_nil(ok)
    assert.matches("No such file", err)
    os.remove(path)
  end)
end)
