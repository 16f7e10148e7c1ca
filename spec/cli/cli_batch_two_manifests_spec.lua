-- Two manifests naming the same outputs, run at once: each output is made
-- by one run; the other leaves those rows pending ("another omnihuman run
-- is making this output now") and creates nothing for them. On the main of
-- 2026-12-05 every output was paid twice.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local batch_runs = require("spec.support.batch_runs")
local cjson = require("cjson")

describe("omnihuman batch, two manifests at once #slow", function()
  local runs = batch_runs.new()
  setup(function() runs.start() end)
  teardown(function() runs.stop() end)

  it("makes each shared output once", function()
    local srv = runs.srv
    local ns, d = fixtures.ns("two"), runs.newdir()
    sh.exec("mkdir -p " .. sh.q(d .. "/a") .. " " .. sh.q(d .. "/b") .. " " .. sh.q(d .. "/out"))
    local outs = { "../out/r1.mp4", "../out/r2.mp4" }
    local ma = runs.manifest(d .. "/a/jobs.csv", outs, 40) -- slow jobs: A is still at work when B starts
    local mb = runs.manifest(d .. "/b/jobs.csv", outs, 1)
    local env = cli.env(srv, ns)
    local ha = cli.spawn(runs.args(ma), env, d, { code = true }, "a")
    assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 2 end, 30))
    local code, out, err = runs.batch(ns, mb, { "--json" })
    assert.equals(7, code, err)
    local rep = cjson.decode(out)
    assert.equals(2, rep.counts.pending, out)
    assert.truthy(out:find("another omnihuman run is making this output now", 1, true), out)
    assert.equals(2, srv:count(ns, "create"))
    local acode, _, aerr = cli.wait(ha, 60)
    assert.equals(0, acode, aerr)
    runs.assert_one_job_each(ns, 2)
    assert.equals(batch_runs.FIXTURE, fixtures.read(d .. "/out/r1.mp4"))
  end)
end)
