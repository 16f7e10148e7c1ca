-- client:generate_op: a generation that can be cancelled from anywhere, at
-- every step (before it starts, its create on the wire, its wait, its
-- download), from another coroutine or from its own callback; what comes
-- back always says what exists (maybe_created, err.job_id).
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

describe("client:generate_op", function()
  local srv, dir
  setup(function()
    srv = fixtures.start{ tls = false }
    dir = fixtures.tmpdir()
  end)
  teardown(function()
    srv:stop()
    fixtures.rm_rf(dir)
  end)

  it("awaited, it is client:generate", function()
    local ns = fixtures.ns("gen")
    local c = fixtures.client(srv, ns)
    local gen = c:generate_op(fixtures.url_fields{ output = dir .. "/a.mp4", sandbox_polls = 1 })
    assert.equals(0, srv:count(ns, "create") or 0) -- nothing sent before it is awaited
    local res, err = omnihuman.await(gen)
    assert.is_nil(err)
    assert.equals(dir .. "/a.mp4", res.output)
    assert.equals(res.id, gen.job_id)
    assert.is_false(gen:cancel()) -- finished
    assert.has_error(function() gen:await() end, "omnihuman: a generation is awaited once")
  end)

  it("cancelled before it is awaited: nothing is sent", function()
    local ns = fixtures.ns("gen")
    local c = fixtures.client(srv, ns)
    local gen = c:generate_op(fixtures.url_fields())
    assert.is_true(gen:cancel())
    local res, err = gen:await()
    assert.is_nil(res)
    assert.equals("cancelled", err.kind)
    assert.is_nil(err.maybe_created)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  local steps = {
    { "create on the wire", function(ns) return (srv:count(ns, "create") or 0) >= 1 end },
    { "wait", function(ns) return (srv:count(ns, "poll") or 0) >= 1 end },
    { "download", function(ns) return (srv:count(ns, "cdn") or 0) >= 1 end },
  }
  for _, step in ipairs(steps) do
    for _, from in ipairs({ "another coroutine", "its own callback" }) do
      local name, reached = step[1], step[2]
      if not (from == "its own callback" and name == "create on the wire") then
        it(("cancelled during its %s from %s"):format(name, from), function()
          local ns = fixtures.ns("gen")
          local c = fixtures.client(srv, ns)
          if name == "create on the wire" then srv:fault(ns, "create", { { delay = 1 } }) end
          if name == "download" then srv:fault(ns, "cdn", { { delay = 1 } }) end
          local gen
          local args = fixtures.url_fields{ output = dir .. "/" .. ns .. ".mp4",
            sandbox_polls = name == "wait" and 1000 or 1 }
          if from == "its own callback" then
            if name == "wait" then args.on_status = function() gen:cancel() end end
            if name == "download" then args.on_progress = function() gen:cancel() end end
          end
          gen = c:generate_op(args)
          local res, err
          omnihuman.run(function()
            omnihuman.spawn(function() res, err = omnihuman.await(gen) end)
            if from == "another coroutine" then
              omnihuman.spawn(function()
                local deadline = fixtures.now() + 10
                while not reached(ns) and fixtures.now() < deadline do omnihuman.sleep(0.01) end
                assert.is_true(gen:cancel())
              end)
            end
          end)
          assert.is_nil(res)
          assert.equals("cancelled", err.kind)
          assert.equals(1, srv:count(ns, "create"))
          if name == "create on the wire" then
            assert.is_true(err.maybe_created)
          else
            assert.truthy(err.job_id)
            assert.equals(err.job_id, gen.job_id)
            assert.truthy(assert(c:poll(err.job_id)).status) -- the service's job
          end
          assert.is_false(fixtures.exists(dir .. "/" .. ns .. ".mp4"))
        end)
      end
    end
  end
end)
