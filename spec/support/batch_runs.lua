-- Batch runs from the batch specs: a test server and a scratch folder, the
-- CLI's `batch` on a manifest, CSV manifests whose rows tag their creates
-- (sandbox_tag r1, r2, ...), and the checks made after a run.
--   local runs = batch_runs.new()
--   setup(function() runs.start() end)  teardown(function() runs.stop() end)
--   runs.srv, runs.root                  set by start()
--   runs.batch(ns, manifest, extra_args, cli_opts, env)  code, stdout, stderr
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local cjson = require("cjson")
local assert = require("luassert")

local batch_runs = {}

batch_runs.FIXTURE = fixtures.read("spec/support/fixture.mp4")
batch_runs.IMG, batch_runs.AUD = "https://x/a.png", "https://x/a.mp3"

function batch_runs.new()
  local runs = {}

  function runs.start()
    runs.srv = fixtures.start()
    runs.root = fixtures.tmpdir()
  end

  function runs.stop()
    runs.srv:stop()
    sh.exec("rm -rf " .. sh.q(runs.root))
  end

  -- A fresh folder under root: s1, s2, ...
  runs.newdir = cli.dirs(function() return runs.root end, "s")

  -- The CLI's arguments for a batch of manifest against the test server.
  function runs.args(manifest, extra)
    local a = { "batch", manifest, "--ca-file", runs.srv.ca_file, "--interval", "0.05", "--progress", "plain" }
    for _, v in ipairs(extra or {}) do a[#a + 1] = v end
    return a
  end

  function runs.batch(ns, manifest, extra, opts, env)
    return cli.run(runs.args(manifest, extra), cli.env(runs.srv, ns, env), 60, opts)
  end

  -- A CSV manifest: one row per output as spelled, row i tagged r<i>.
  function runs.manifest(path, outputs, polls)
    local lines = { "image,audio,output,sandbox_polls,sandbox_tag" }
    for i, out in ipairs(outputs) do
      lines[#lines + 1] = ("%s,%s,%s,%d,r%d"):format(batch_runs.IMG, batch_runs.AUD, out, polls or 1, i)
    end
    fixtures.write(path, table.concat(lines, "\n") .. "\n")
    return path
  end

  -- Jobs the server made per tag.
  function runs.jobs_per_tag(ns) return (cli.tags(runs.srv, ns)) end

  function runs.assert_one_job_each(ns, rows, why)
    local jobs = runs.jobs_per_tag(ns)
    for i = 1, rows do
      assert.equals(1, jobs["r" .. i] or 0, (why or "") .. ": jobs made for row r" .. i)
    end
  end

  -- Every line of the journal at path is a whole record.
  function runs.journal_lines_ok(path)
    local text = fixtures.read(path)
    for line in text:gmatch("[^\n]+") do
      local ok, v = pcall(cjson.decode, line)
      assert.is_true(ok and type(v) == "table" and type(v.ev) == "string", "torn journal line: " .. line)
    end
  end

  -- The rows of the ledger at path (default: the CLI's) for the outputs
  -- of folder d, by file name (relative to d); one per output, unless
  -- newest: then the newest row of each output whose create was not
  -- certainly refused (the one a batch plans from).
  function runs.ledger_rows(d, path, newest)
    local store = assert(require("omnihuman.ledger").open(path or (cli.STATE .. "/omnihuman/jobs.db")))
    local real = require("omnihuman.fs").realpath(d)
    local out = {}
    for _, r in ipairs(assert(store:list())) do
      local name = r.output and r.output:sub(1, #real + 1) == real .. "/" and r.output:sub(#real + 2)
      if name and newest then
        if r.state ~= "not_created" then out[name] = r end
      elseif name then
        assert.is_nil(out[name], "two ledger rows for " .. name)
        out[name] = r
      end
    end
    store:close()
    return out
  end

  -- Ledger rows of folder d that name a job.
  function runs.ledger_jobs(d, path)
    local n = 0
    for _, r in pairs(runs.ledger_rows(d, path, true)) do if r.job_id then n = n + 1 end end
    return n
  end

  return runs
end

return batch_runs
