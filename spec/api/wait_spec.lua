-- client:poll and client:wait: the status state machine in C.
local fixtures = require("spec.support.fixtures")

local fields = fixtures.url_fields

describe("poll and wait #slow", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  it("poll returns the decoded status, with JSON nulls left out", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create(fields()))
    local st, err = c:poll(job.id)
    assert.is_nil(err)
    assert.equals(job.id, st.id)
    assert.equals(srv.profile.pending[1], st.status)
    assert.is_nil(st.video)   -- null in JSON (or left out): absent, not a truthy cjson.null
  end)

  it("wait polls until completed, reporting each pending status", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local job = assert(c:create(fields{ sandbox_polls = 3 }))
    local seen = {}
    local res, err = c:wait(job.id, { interval = 0.05, on_status = function(st) seen[#seen + 1] = st.status end })
    assert.is_nil(err)
    local P = srv.profile
    assert.equals(P.completed, res.status)
    assert.matches("^" .. srv.cdn:gsub("%p", "%%%0") .. "/n/" .. ns .. "/files/", res.video.url)
    assert.same({ P.pending[1], P.pending[2], P.pending[2] }, seen)
    assert.equals(4, srv:count(ns, "poll"))
  end)

  it("sleeps the interval between polls", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create(fields{ sandbox_polls = 2 }))
    local t0 = fixtures.now()
    assert(c:wait(job.id, { interval = 0.3 }))
    local dt = fixtures.now() - t0
    -- At least the two intervals; far less than the default 10 s interval.
    assert.is_true(dt >= 0.55 and dt < 8, "took " .. dt)
  end)

  it("ends with generation_failed and the service's message when the job fails", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create(fields{ sandbox_fail = "face not detected", sandbox_polls = 1 }))
    local res, err = c:wait(job.id)
    assert.is_nil(res)
    assert.equals("generation_failed", err.kind)
    assert.matches("face not detected", err.message)
    assert.equals(srv.profile.failed, err.result.status)
  end)

  it("a wait shorter than the job ends with kind timeout", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create(fields{ sandbox_polls = 1000 }))
    local t0 = fixtures.now()
    local res, err = c:wait(job.id, { interval = 0.1, timeout = 0.5 })
    local dt = fixtures.now() - t0
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.matches("still " .. srv.profile.pending[2], err.message, 1, true)
    -- It says how long it waited, to the tenth below 10 s (not "after 1 s").
    local said = tonumber(err.message:match("after (%d+%.%d) s$"))
    assert.is_truthy(said, err.message)
    assert.is_true(said >= 0.4 and said <= dt + 0.1, err.message)
    -- The deadline, not the job (1000 polls: 100 s), ended it.
    assert.is_true(dt >= 0.45 and dt < 10, "took " .. dt)
  end)

  it("the deadline also bounds a status request that hangs", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { timeout = 30 })
    local job = assert(c:create(fields()))
    srv:fault(ns, "poll", { { hang = true } })
    local t0 = fixtures.now()
    local res, err = c:wait(job.id, { timeout = 0.5 })
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_true(fixtures.now() - t0 < 3)
  end)

  it("retries status checks on 429, 5xx, HTML pages, drops and truncated JSON #slow", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { max_retries = 3 })
    local job = assert(c:create(fields{ sandbox_polls = 1 }))
    srv:fault(ns, "poll", { { status = 429, headers = { ["Retry-After"] = "0" } }, { html = 502 },
                            { status = 500 }, { pass = true }, { drop = true }, { status = 504 },
                            { truncate = true } })
    local res, err = c:wait(job.id, { interval = 0.01 })
    assert.is_nil(err)
    assert.equals(srv.profile.completed, res.status)
    -- 7 faulted answers, the pass, and the final one (a cut answer may
    -- already have advanced the fake job, so 8 is as right as 9).
    local n = srv:count(ns, "poll")
    assert.is_true(n == 8 or n == 9, "polls: " .. n)
  end)

  it("gives up after max_retries consecutive failures #slow", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { max_retries = 2 })
    local job = assert(c:create(fields()))
    srv:fault(ns, "poll", { { status = 503 }, { status = 503 }, { status = 503 } })
    local res, err = c:wait(job.id)
    assert.is_nil(res)
    assert.equals("server", err.kind)
    assert.equals(503, err.status)
    assert.is_true(err.retryable)
    assert.equals(3, srv:count(ns, "poll"))
  end)

  it("does not retry a 404 and names it not_found", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local st, err = c:poll("no-such-job:bytedance/omnihuman")
    assert.is_nil(st)
    assert.equals("not_found", err.kind)
    assert.equals(404, err.status)
    assert.truthy(err.request_id)
    assert.equals(1, srv:count(ns, "poll"))
  end)

  it("escapes the job id in the query", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local job = assert(c:create(fields()))
    assert(c:poll(job.id))
    local rec = srv:records(ns).requests[2]
    assert.matches("generation_id=[%w%-]+%%3Abytedance%%2Fomnihuman", rec.query)
  end)
end)
