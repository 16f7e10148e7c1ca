-- The library against each documented generation of the service, one test
-- server per flavor (see spec/support/server.py --flavor): create, poll,
-- wait and download; the usage a create reports, through generate and the
-- CLI; the documented error answers (403, 429 without Retry-After, 500, 504).
local fixtures = require("spec.support.fixtures")
local testserver = require("spec.support.testserver")
local cli = require("spec.support.cli")
local cjson = require("cjson")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")
local MODELS = {
  -- model, what the docs' example reports it cost, the path shape of its CDN
  { "bytedance/omnihuman", 5880000, "/files/b/%l+/(%x+%-%x+%-%x+%-%x+%-%x+)_video%.mp4$" },
  { "bytedance/omnihuman/v1.5", 5040000, "/generations/%l+/%d+%-(%x+%-%x+%-%x+%-%x+%-%x+)%.mp4$" },
}

local fields = fixtures.url_fields

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- An error body as the service's docs show it (statusCode a string).
local function error_json(status, message, rid)
  return cjson.encode{ message = message, path = "/v2/video/generations", requestId = rid or "rid-1",
                       statusCode = tostring(status), timestamp = "2026-01-01T00:00:00.000Z" }
end

for _, flavor in ipairs(testserver.FLAVORS) do
  describe("against the " .. flavor .. " service #slow", function()
    local srv, dir, P
    setup(function()
      srv = fixtures.start{ flavor = flavor }
      P = srv.profile
      dir = fixtures.tmpdir()
    end)
    teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

    it("is the flavor asked for", function()
      assert.equals(flavor, srv.flavor)
      assert.equals(flavor == "current" and 200 or 201, P.create_status)
      assert.equals(flavor == "current" and "credits_used" or "tokens_used", P.usage_field)
    end)

    for _, m in ipairs(MODELS) do
      local model, cost, shape = m[1], m[2], m[3]
      it("creates, polls, waits and downloads a " .. model .. " job", function()
        local ns = fixtures.ns("cf")
        local c = fixtures.client(srv, ns, { model = model })
        local job = assert(c:create(fields{ sandbox_polls = 2 }))
        assert.equals("queued", job.status)
        assert.matches(":" .. esc(model) .. "$", job.id)
        assert.same({ usage = { [P.usage_field] = cost } }, job.meta)
        local st = assert(c:poll(job.id))
        assert.equals(P.pending[1], st.status)
        assert.is_nil(st.video)
        assert.is_nil(st.error)
        local seen = {}
        local res = assert(c:wait(job.id, { interval = 0.01, on_status = function(s) seen[#seen + 1] = s.status end }))
        assert.equals(P.completed, res.status)
        assert.same({ P.pending[2] }, seen)
        assert.is_nil(res.error)
        -- the path shape of the model's CDN, on the local CDN listener
        local uuid = res.video.url:match("^" .. esc(srv:cdn_base(ns)) .. shape)
        assert.equals(job.id:match("^([^:]+)"), uuid)
        local path = assert(c:download(res.video.url, dir .. "/" .. flavor .. ".mp4"))
        assert.equals(FIXTURE, fixtures.read(path))
        os.remove(path)
        assert.same({ 1, 3, 1 }, { srv:count(ns, "create"), srv:count(ns, "poll"), srv:count(ns, "cdn") })
      end)

      it("generate reports what the " .. model .. " create cost: res.usage and res.credits", function()
        local c = fixtures.client(srv, fixtures.ns("cf"), { model = model })
        local res = assert(c:generate(fields{ sandbox_polls = 1, interval = 0.01 }))
        assert.same({ [P.usage_field] = cost }, res.usage)
        assert.equals(cost, res.credits)
        if math.type then assert.equals("integer", math.type(res.credits)) end
      end)
    end

    it("the sandbox plays the same flavor", function()
      local sb = testserver.start{ sandbox = true, flavor = flavor }
      local ok, err = pcall(function()
        local c = fixtures.client(sb, "", { poll_interval = 1 })
        local job = assert(c:create(fields()))
        assert.same({ usage = { [P.usage_field] = 5880000 } }, job.meta)
        assert.equals(P.pending[1], assert(c:poll(job.id)).status)
        assert.matches("answers as the " .. flavor .. " API reference", fixtures.read(sb.log_file), 1, true)
      end)
      sb:stop()
      assert(ok, err)
    end)

    it("a failed job ends with generation_failed and the status as the service wrote it", function()
      local c = fixtures.client(srv, fixtures.ns("cf"))
      local job = assert(c:create(fields{ sandbox_polls = 1, sandbox_fail = "no face found" }))
      local res, err = c:wait(job.id, { interval = 0.01 })
      assert.is_nil(res)
      assert.equals("generation_failed", err.kind)
      assert.matches("ended with status " .. P.failed .. ": no face found", err.message, 1, true)
      assert.equals(P.failed, err.result.status)
    end)

    it("403: forbidden, the service's out-of-credits message, the create not sent again", function()
      local ns = fixtures.ns("cf")
      srv:fault(ns, "create", { { status = 403 } })
      local job, err = fixtures.client(srv, ns):create(fields())
      assert.is_nil(job)
      assert.equals("forbidden", err.kind)
      assert.equals(403, err.status)
      assert.matches("run out of credits", err.message)
      assert.is_nil(err.maybe_created)
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("429 without Retry-After: the create backs off by itself and goes again", function()
      local ns = fixtures.ns("cf")
      srv:fault(ns, "create", { { status = 429 }, { pass = true } })
      local retries = {}
      local c = fixtures.client(srv, ns, { on_event = function(ev)
        if ev.type == "retry" then retries[#retries + 1] = ev end
      end })
      local job = assert(c:create(fields()))
      assert.matches(":bytedance/omnihuman$", job.id)
      assert.equals(1, #retries)
      assert.equals(429, retries[1].status)
      assert.is_true(retries[1].delay >= 0.25 and retries[1].delay <= 0.5, "delay " .. retries[1].delay)
      assert.equals(2, srv:count(ns, "create"))
      -- with no retries left it is a rate_limited error
      ns = fixtures.ns("cf")
      srv:fault(ns, "create", { { status = 429 } })
      local _, err = fixtures.client(srv, ns, { max_retries = 0 }):create(fields())
      assert.equals("rate_limited", err.kind)
      assert.equals(429, err.status)
      assert.matches("Too Many Requests", err.message)
    end)

    it("500 (model under maintenance) and 504 (generation timeout) on a create: may exist, not resent", function()
      for _, case in ipairs{ { 500, "under maintenance" }, { 504, "Generation timeout" } } do
        local ns = fixtures.ns("cf")
        srv:fault(ns, "create", { { status = case[1] } })
        local job, err = fixtures.client(srv, ns):create(fields())
        assert.is_nil(job)
        assert.equals("server", err.kind)
        assert.equals(case[1], err.status)
        assert.matches(case[2], err.message)
        assert.is_true(err.maybe_created)
        assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", err.request_id) -- the body's requestId
        assert.equals(1, srv:count(ns, "create"))
      end
    end)

    it("500 and 504 on a status check are retried", function()
      local ns = fixtures.ns("cf")
      local c = fixtures.client(srv, ns)
      local job = assert(c:create(fields{ sandbox_polls = 0 }))
      srv:fault(ns, "poll", { { status = 500 }, { status = 504 } })
      local st = assert(c:poll(job.id))
      assert.equals(P.completed, st.status)
      assert.equals(3, srv:count(ns, "poll"))
    end)

    it("the CLI's generate and create print the credits, and carry them in --json", function()
      local ns = fixtures.ns("cf")
      local env = cli.env(srv, ns)
      -- the same request again and again: no ledger (it would refuse the repeats)
      local base = { "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--ca-file", srv.ca_file,
                     "--field", "sandbox_polls=1", "--no-ledger" }
      local function args(...)
        local a = { ... }
        for _, v in ipairs(base) do a[#a + 1] = v end
        return a
      end
      local out = dir .. "/cli.mp4"
      local code, stdout, stderr = cli.run(args("generate", "-o", out, "--interval", "0.01", "--progress", "plain"), env)
      assert.equals(0, code, stderr)
      assert.equals(out .. "\n", stdout)
      assert.matches("Z created job %x+%-[%x%-]+:bytedance/omnihuman: 5880000 credits used\n", stderr)

      code, stdout = cli.run(args("generate", "-o", out, "--interval", "0.01", "--json", "-q"), env)
      assert.equals(0, code)
      local r = cjson.decode(stdout)
      assert.equals(5880000, r.credits)
      assert.same({ [P.usage_field] = 5880000 }, r.usage)

      code, stdout, stderr = cli.run(args("create", "--progress", "plain"), env)
      assert.equals(0, code)
      local id = stdout:match("^(%x+%-[%x%-]+:bytedance/omnihuman)\n$")
      assert.is_string(id, stdout)
      assert.matches("Z created job " .. esc(id) .. ": 5880000 credits used\n$", stderr)

      code, stdout, stderr = cli.run(args("create", "--progress", "none"), env)
      assert.equals(0, code)
      assert.matches("^%x+%-[%x%-]+:bytedance/omnihuman\n$", stdout)
      assert.equals("", stderr)

      code, stdout, stderr = cli.run(args("create", "-q", "--json"), env)
      assert.equals(0, code)
      assert.equals("", stderr)
      r = cjson.decode(stdout)
      assert.equals(5880000, r.credits)
      assert.same({ [P.usage_field] = 5880000 }, r.usage)
      assert.same({ usage = r.usage }, r.meta)
      os.remove(out)
    end)
  end)
end

-- A create answered 2xx without a usable job id: the job may exist, and no
-- status check could name it, so the create fails as a protocol error
-- that may have made a job (never a result with a useless id).
describe("a create answer without a usable job id", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  for _, answer in ipairs{ '{"id":"","status":"queued"}', '{"status":"queued"}', '{"id":null}', '{"id":7}',
                           '{"id":["a"]}', '[]', '"x"' } do
    it(answer, function()
      local ns = fixtures.ns("ni")
      srv:fault(ns, "create", { { status = 200, body = answer } })
      local job, err = fixtures.client(srv, ns, { max_retries = 2 }):create(fields())
      assert.is_nil(job)
      assert.equals("protocol", err.kind)
      assert.is_true(err.maybe_created)
      assert.equals(1, srv:count(ns, "create")) -- never sent again
    end)
  end
end)

-- What credits a create answer reports, over the shapes it may take.
describe("usage in generate's result #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  local CASES = {
    -- meta in the create answer (JSON), expected credits (nil: none)
    { '{"usage":{"credits_used":7}}', 7 },
    { '{"usage":{"tokens_used":9}}', 9 },
    { '{"usage":{"credits_used":7,"tokens_used":9}}', 7 },
    { '{"usage":{"credits_used":"7","tokens_used":9}}', 9 },
    { '{"usage":{"credits_used":1.5}}', 1.5 },
    { '{"usage":{"credits_used":null}}', nil },
    { '{"usage":{}}', nil },
    { '{"usage":null}', nil },
    { 'null', nil },
    { nil, nil },
  }
  for i, case in ipairs(CASES) do
    it(("meta %s gives credits %s"):format(tostring(case[1]), tostring(case[2])), function()
      local ns = fixtures.ns("us")
      local id = "u" .. i
      local answer = '{"id":"' .. id .. '","status":"queued"' .. (case[1] and (',"meta":' .. case[1]) or "") .. "}"
      srv:fault(ns, "create", { { status = 200, body = answer } })
      srv:fault(ns, "poll", { { status = 200, body = cjson.encode{ id = id, status = "completed",
        video = { url = srv:cdn_base(ns) .. "/files/x.mp4" } } } })
      local res = assert(fixtures.client(srv, ns):generate(fields{ output = dir .. "/u.mp4", interval = 0.01 }))
      assert.equals(case[2], res.credits)
      local meta = case[1] and cjson.decode(case[1])
      local want = type(meta) == "table" and type(meta.usage) == "table" and meta.usage or nil
      if want and want.credits_used == cjson.null then want.credits_used = nil end
      assert.same(want, res.usage)
      assert.equals(FIXTURE, fixtures.read(res.output))
    end)
  end
end)

describe("the CLI when a create answer reports no credits", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  for _, case in ipairs{ { nil, nil }, { '{"usage":{"credits_used":"7"}}', { credits_used = "7" } } } do
    it("create prints the bare line and leaves out what is missing: meta " .. tostring(case[1]), function()
      local ns = fixtures.ns("cn")
      local answer = '{"id":"j-1","status":"queued"' .. (case[1] and (',"meta":' .. case[1]) or "") .. "}"
      srv:fault(ns, "create", { { status = 201, body = answer }, { status = 201, body = answer } })
      local args = { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--ca-file", srv.ca_file,
                     "--progress", "plain", "--no-ledger" } -- run twice: no ledger to refuse the repeat
      local code, stdout, stderr = cli.run(args, cli.env(srv, ns))
      assert.equals(0, code)
      assert.equals("j-1\n", stdout)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ created job j%-1\n$", stderr)
      args[#args + 1] = "--json"
      code, stdout = cli.run(args, cli.env(srv, ns))
      assert.equals(0, code)
      local r = cjson.decode(stdout)
      assert.equals("j-1", r.id)
      assert.is_nil(r.credits)
      assert.same(case[2], r.usage)
    end)
  end
end)

describe("inline audio the service refuses", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  local REFUSAL = "Body validation error: audio_url: Invalid url"

  local function refused_create(ns, create_fields, status)
    srv:fault(ns, "create", { { status = status or 400, body = error_json(status or 400, REFUSAL) } })
    return fixtures.client(srv, ns):create(create_fields)
  end

  it("an invalid_input answer to a create that sent audio inline says so in its message", function()
    -- A local file, and a data: URI given as audio_url (the fields-only path).
    for _, inline in ipairs({ { image_url = "https://x/a.png", audio = fixtures.WAV },
                              { image_url = "https://x/a.png", audio_url = "data:audio/wav;base64,UklGRg==" } }) do
      local job, err = refused_create(fixtures.ns("ia"), inline)
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.equals(400, err.status)
      assert.matches(REFUSAL, err.message, 1, true)        -- the service's own words stay
      assert.matches("may not accept inline audio", err.message, 1, true)
      assert.matches("audio_url", err.message:match("inline audio(.*)$"), 1, true)
    end
  end)

  it("no such note when the audio went as a URL, or for an answer other than invalid_input", function()
    local _, err = refused_create(fixtures.ns("ia"), { image = fixtures.PNG, audio_url = "https://x/a.mp3" })
    assert.equals("invalid_input", err.kind)
    assert.matches(REFUSAL, err.message, 1, true)
    assert.is_nil(err.message:find("inline audio", 1, true))
    _, err = refused_create(fixtures.ns("ia"), { image_url = "https://x/a.png", audio = fixtures.WAV }, 403)
    assert.equals("forbidden", err.kind)
    assert.is_nil(err.message:find("inline audio", 1, true))
  end)
end)
