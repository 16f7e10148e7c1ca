-- User callbacks run in C's drive of the loop: an error in one stops its
-- operation (no half-done work) and is raised from where the result is read.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")

describe("callbacks", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("an on_progress that raises aborts the download and leaves no file", function()
    local c = fixtures.client(srv, fixtures.ns())
    local job = assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 0 })
    local url = assert(c:wait(job.id)).video.url
    local target = dir .. "/aborted.mp4"
    assert.has_error(function()
      c:download(url, target, { on_progress = function() error("stop here") end })
    end)
    assert.is_false(fixtures.exists(target))
    assert.same({}, fixtures.ls(dir))
  end)

  it("an on_status that raises ends the wait; the error reaches the caller", function()
    local ns = fixtures.ns()
    local c = fixtures.client(srv, ns)
    local job = assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 5 })
    local ok, err = pcall(c.wait, c, job.id, { on_status = function() error("seen enough") end })
    assert.is_false(ok)
    assert.matches("seen enough", tostring(err))
    assert.equals(1, srv:count(ns, "poll"))
    assert.equals(0, omnihuman.loop():active())
  end)

  it("an on_event that raises stops its create before it is sent, and nothing else", function()
    local calls = 0
    local ns = fixtures.ns()
    local noisy = fixtures.client(srv, ns, { on_event = function() calls = calls + 1; error("noisy") end })
    local quiet = fixtures.client(srv, fixtures.ns())
    local results = {}
    omnihuman.run(function()
      omnihuman.spawn(function()
        results.noisy = { pcall(noisy.create, noisy, { image_url = "https://x/u.png", audio_url = "https://x/u.mp3" }) }
      end)
      omnihuman.spawn(function() results.quiet = { quiet:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" } } end)
    end)
    assert.is_true(calls >= 1)
    assert.is_false(results.noisy[1])
    assert.truthy(results.quiet[1].id)
    assert.equals(0, srv:count(ns, "create") or 0)   -- never billed
  end)
end)
