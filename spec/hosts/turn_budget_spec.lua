-- The loop's turn budget: a drive past its budget leaves ready sockets and
-- queued requests to the next drive; nothing is lost or starved. Counted,
-- not timed (bench/turns.lua measures the turns' lengths).
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

describe("the loop's turn budget", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  local function start(n)
    local c = fixtures.client(srv, fixtures.ns("tb"), { max_connections = n })
    local ops = {}
    for i = 1, n do ops[i] = c:create_op(fixtures.url_fields{ sandbox_polls = 1 }) end
    return c, ops
  end

  local function finish(loop, c, ops)
    for _ = 1, 20000 do
      local left = 0
      for _, op in ipairs(ops) do if not op:done() then left = left + 1 end end
      if left == 0 then break end
      loop:run_once(0.05)
    end
    for _, op in ipairs(ops) do
      assert(op:result())
      op:close()
    end
    c:close()
  end

  it("a spent budget still finishes everything: the rest waits for the next drive, not forever", function()
    local loop = omnihuman.loop()
    loop:set_turn_budget(1e-9) -- spent by the first thing a drive does
    local c, ops = start(20)
    -- Drives that never block: each does one socket's work, then stops.
    local drives = 0
    for _ = 1, 100000 do
      local left = 0
      for _, op in ipairs(ops) do if not op:done() then left = left + 1 end end
      if left == 0 then break end
      loop:run_once(0)
      drives = drives + 1
    end
    loop:set_turn_budget(0.002)
    for _, op in ipairs(ops) do assert.is_true(op:done()) end
    assert(drives > 20, "one drive did the work of many: " .. drives)
    finish(loop, c, ops)
  end)

  it("checks its argument", function()
    local loop = omnihuman.loop()
    assert.has_error(function() loop:set_turn_budget(-1) end)
    assert.has_error(function() loop:set_turn_budget(61) end)
    assert.has_error(function() loop:set_turn_budget("x") end)
  end)
end)
