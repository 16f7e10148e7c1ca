-- What each spec/api/docs_promises_*_spec.lua block shares: a test server
-- (plain HTTP) and a temporary folder, made in setup and removed in
-- teardown (busted's setup and teardown, passed in: a module does not see
-- the spec's own). ctx.srv, ctx.dir; ctx.fresh(extra) -> a namespace of its own
-- and a client on it (fixtures.client with extra).
local fixtures = require("spec.support.fixtures")

return function(prefix, setup, teardown)
  local ctx = {}
  setup(function()
    ctx.srv = fixtures.start{ tls = false }
    ctx.dir = fixtures.tmpdir(prefix)
  end)
  teardown(function()
    ctx.srv:stop()
    fixtures.rm_rf(ctx.dir)
  end)
  function ctx.fresh(extra)
    local ns = fixtures.ns()
    return ns, fixtures.client(ctx.srv, ns, extra)
  end
  return ctx
end
