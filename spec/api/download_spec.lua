-- client:download and client:generate: streaming to a temporary file, renamed
-- into place only when complete; no credentials to the result host.
local fixtures = require("spec.support.fixtures")

describe("download #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  local function video_url(c)
    local job = assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 0 })
    return assert(c:wait(job.id)).video.url
  end

  it("writes the whole file, reports progress, sends no Authorization", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local url = video_url(c)
    local target = dir .. "/a.mp4"
    local calls, last_got, last_total = 0, 0, nil
    local path, err = c:download(url, target, { on_progress = function(got, total)
      calls = calls + 1; last_got = got; last_total = total end })
    assert.is_nil(err)
    assert.equals(target, path)
    local want = fixtures.read("spec/support/fixture.mp4")
    assert.equals(want, fixtures.read(target))
    assert.is_true(calls >= 1)
    assert.equals(#want, last_got)
    assert.equals(#want, last_total)
    for _, r in ipairs(srv:records(ns).requests) do
      if r.listener == "cdn" then assert.is_nil(r.headers.authorization) end
    end
    assert.same({ "a.mp4" }, fixtures.ls(dir))
  end)

  it("leaves nothing at the target when the connection drops, after retrying", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns, { max_retries = 1 })
    local url = video_url(c)
    srv:fault(ns, "cdn", { { drop = true }, { drop = true } })
    local target = dir .. "/dropped.mp4"
    local path, err = c:download(url, target)
    assert.is_nil(path)
    assert.equals("network", err.kind)
    assert.is_false(fixtures.exists(target))
    for _, name in ipairs(fixtures.ls(dir)) do assert.is_nil(name:find("dropped", 1, true)) end
    assert.equals(2, srv:count(ns, "cdn"))
  end)

  it("recovers from a dropped download by starting again", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local url = video_url(c)
    srv:fault(ns, "cdn", { { drop = true }, { status = 503 } })
    local target = dir .. "/retried.mp4"
    assert(c:download(url, target))
    assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(target))
  end)

  it("fails with not_found on 404 and leaves no file", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local path, err = c:download(srv.cdn .. "/n/" .. ns .. "/nothing/here.mp4", dir .. "/missing.mp4")
    assert.is_nil(path)
    assert.equals("not_found", err.kind)
    assert.is_false(fixtures.exists(dir .. "/missing.mp4"))
  end)

  it("fails with io when the target directory does not exist", function()
    local c = fixtures.client(srv, fixtures.ns())
    local path, err = c:download(srv.cdn .. "/files/x.mp4", dir .. "/no/such/dir/x.mp4")
    assert.is_nil(path)
    assert.equals("io", err.kind)
    assert.matches("no/such/dir", err.message)
  end)

  it("generate creates, waits and downloads", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local statuses = {}
    local res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = dir .. "/gen.mp4",
                                 sandbox_polls = 2, interval = 0.02,
                                 on_status = function(st) statuses[#statuses + 1] = st.status end }
    assert.is_nil(err)
    assert.equals(dir .. "/gen.mp4", res.output)
    assert.equals(srv.profile.completed, res.status)
    assert.same(srv.profile.pending, statuses)
    assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(dir .. "/gen.mp4"))
    local counts = srv:records(ns).counts
    assert.same({ 1, 3, 1 }, { counts.create, counts.poll, counts.cdn })
  end)

  it("generate reports the job id when the wait fails", function()
    local c = fixtures.client(srv, fixtures.ns())
    local res, err = c:generate{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3",
                                 sandbox_fail = "bad audio", output = dir .. "/never.mp4" }
    assert.is_nil(res)
    assert.equals("generation_failed", err.kind)
    assert.matches(":bytedance/omnihuman$", err.job_id)
    assert.is_false(fixtures.exists(dir .. "/never.mp4"))
  end)
end)

describe("download limits", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("refuses a body larger than max_bytes, without retrying, leaving nothing", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local url = srv.cdn .. "/n/" .. ns .. "/files/big.mp4"
    local path, err = c:download(url, dir .. "/big.mp4", { max_bytes = 1000 })
    assert.is_nil(path)
    assert.equals("protocol", err.kind)
    assert.matches("max_bytes", err.message)
    assert.equals(1, srv:count(ns, "cdn"))
    assert.same({}, fixtures.ls(dir))
  end)

  it("stops an endless chunked body at max_bytes", function()
    local ns = fixtures.ns()
    srv:fault(ns, "cdn", { { chunked_forever = true } })
    local c = fixtures.client(srv, ns)
    local t0 = fixtures.now()
    local path, err = c:download(srv.cdn .. "/n/" .. ns .. "/files/endless.mp4", dir .. "/endless.mp4",
                                 { max_bytes = 4 * 1024 * 1024 })
    assert.is_nil(path)
    assert.equals("protocol", err.kind)
    assert.is_true(fixtures.now() - t0 < 10)
    assert.same({}, fixtures.ls(dir))
  end)
end)
