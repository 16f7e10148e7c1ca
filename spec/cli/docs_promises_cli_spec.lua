-- docs/cli.md, sentence by sentence, run as a user would: the CLI against
-- the test server, each run with a ledger of its own under XDG_STATE_HOME.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local cjson = require("cjson")

describe("docs/cli.md promises #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir("clidocs") end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  -- A namespace and an environment of their own (a fresh default ledger).
  local function fresh(prefix)
    local ns = fixtures.ns(prefix)
    local state = fixtures.tmpdir()
    return ns, cli.env(srv, ns, { XDG_STATE_HOME = state }), state
  end

  local function one_json(out)
    local text = out:gsub("\n$", "")
    assert.is_nil(text:find("\n", 1, true), "more than one line on stdout: " .. out)
    return cjson.decode(text)
  end

  it("the launcher finds its checkout when it is reached through a symlink (one in $PATH)", function()
    if os.getenv("SANLUA") then return end -- the launcher picks a plain interpreter
    local sh = require("spec.support.sh")
    local bin = dir .. "/path bin"
    assert(sh.exec("mkdir -p " .. sh.q(bin) .. " && ln -sf " .. sh.q(cli.PWD .. "/bin/omnihuman") .. " "
      .. sh.q(bin .. "/omnihuman")))
    local clean = "cd / && env -u LUA_PATH -u LUA_CPATH "
    for _, how in ipairs{ sh.q(bin .. "/omnihuman"), "PATH=" .. sh.q(bin) .. ":\"$PATH\" omnihuman",
                          sh.q(cli.LUA) .. " " .. sh.q(bin .. "/omnihuman") } do
      local out = dir .. "/launch.out"
      assert.is_true(sh.exec(clean .. how .. " --help >" .. sh.q(out) .. " 2>&1"), how)
      assert.matches("^Usage: omnihuman COMMAND", fixtures.read(out))
    end
  end)

  describe("--json: one JSON object on stdout", function()
    it("for an unknown option, an unknown command and an unknown model too", function()
      local _, env = fresh("jo")
      for _, argv in ipairs{ { "generate", "--json", "--bogus" }, { "frobnicate", "--json" },
                             { "status", "-j", "--bogus", "x" }, { "models", "no/such-model", "--json" } } do
        local code, out = cli.run(argv, env)
        assert.equals(2, code, cli.explain())
        local o = one_json(out)
        assert.is_false(o.ok)
        assert.equals("invalid_input", o.error.kind)
        assert.equals("string", type(o.error.message))
      end
    end)

    it("status --json of a failed job has the error shape of every command: kind and message, job_id", function()
      local ns, env = fresh("sj")
      local code, id = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--no-ledger", "-q",
                                 "--field", "sandbox_fail=boom", "--field", "sandbox_polls=0" }, env)
      assert.equals(0, code, cli.explain())
      id = id:gsub("\n$", "")
      srv:fault(ns, "poll", { { pass = true }, { status = 200, body = cjson.encode{ id = id, status = "failed",
                                                                                   error = "a string" } } })
      for _, said in ipairs{ "boom", "a string" } do
        local out
        code, out = cli.run({ "status", id, "--json" }, env)
        assert.equals(4, code, cli.explain())
        local o = one_json(out)
        assert.is_false(o.ok)
        assert.equals(id, o.job_id)
        assert.equals("generation_failed", o.error.kind)
        assert.truthy(o.error.message:find(said, 1, true), o.error.message)
      end
    end)

    it("resume --json of a job the ledger does not have prints one object", function()
      local _, env = fresh("jr")
      local code, out = cli.run({ "resume", "--json", "999" }, env)
      assert.equals(2, code, cli.explain())
      local o = one_json(out)
      assert.is_false(o.ok)
    end)

    it("jobs --json of an empty ledger has \"jobs\": [] (a list)", function()
      local _, env = fresh("je")
      local code, out = cli.run({ "jobs", "--json" }, env)
      assert.equals(0, code, cli.explain())
      assert.matches('"jobs":%[%]', out)
      local o = one_json(out)
      assert.is_true(o.ok)
      assert.equals("string", type(o.ledger))
    end)
  end)

  it("models NAME --json writes a model's required fields as a list, [] when none is", function()
    local _, env = fresh("mr")
    local code, out = cli.run({ "models", "--json", "x-ai/grok-imagine-video" }, env)
    assert.equals(0, code, cli.explain())
    assert.matches('"required":%[%]', out)
    assert.equals("x-ai/grok-imagine-video", one_json(out).id)
  end)

  it("--field: true/false and plain numbers of at most 15 digits become JSON values, the rest strings", function()
    local ns, env = fresh("fv")
    local code = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--no-ledger",
                           "--no-strict", "-q", "--field", "a=8", "--field", "b=-0.5", "--field", "c=true",
                           "--field", "d=1e3", "--field", "e=+3", "--field", "f=null",
                           "--field", "g=12345678901234", "--field", "h=123456789012345",
                           "--field", "i=0.123456789012345", "--field", "j:=[1,\"x\"]",
                           "--field", "k=1234567890123456", "--field", "l=-98765.4321098765" }, env)
    assert.equals(0, code, cli.explain())
    local text = srv:records(ns).requests[1].body
    local body = cjson.decode(text)
    assert.same({ 8, -0.5, true, "1e3", "+3", "null", 12345678901234, 123456789012345, "0.123456789012345",
                  { 1, "x" }, "1234567890123456", -98765.4321098765 },
                { body.a, body.b, body.c, body.d, body.e, body.f, body.g, body.h, body.i, body.j, body.k, body.l })
    -- Sent with every digit (lua-cjson would write 1.2345678901234e+14).
    assert.truthy(text:find('"h":123456789012345[,}]'), text)
    assert.truthy(text:find('"l":%-98765%.4321098765[,}]'), text)
  end)

  it("checks generate's output (and -o of wait, download, resume) before anything is sent: exit 2", function()
    local ns, env = fresh("oc")
    fixtures.write(dir .. "/afile", "x")
    local gen = { "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--progress", "none", "-o" }
    for _, argv in ipairs{
      { gen, dir .. "/missing/a.mp4", "output folder " .. dir .. "/missing does not exist" },
      { gen, dir, "is a folder" },
      { gen, dir .. "/afile/a.mp4", "is not a folder" },
      { { "wait", "someid", "-o" }, dir .. "/missing/a.mp4", "does not exist" },
      { { "download", "http://127.0.0.1:1/v.mp4", "-o" }, dir .. "/missing/a.mp4", "does not exist" },
      { { "resume", "1", "-o" }, dir .. "/missing/a.mp4", "does not exist" },
    } do
      local a = {}
      for i, x in ipairs(argv[1]) do a[i] = x end
      a[#a + 1] = argv[2]
      local code, _, err = cli.run(a, env)
      assert.equals(2, code, cli.explain())
      assert.truthy(err:find(argv[3], 1, true), err)
    end
    local r = srv:records(ns)
    assert.same({ 0, 0 }, { r.counts.create, r.counts.poll })
    assert.is_false(fixtures.exists(dir .. "/missing"))
  end)

  it("an interrupted create --json still prints one object, naming the job it recorded", function()
    if os.getenv("SANLUA") then
      pending("the sanitizer interpreter has no SIGINT handler to route signals to")
      return
    end
    local ns, env = fresh("ij")
    srv:fault(ns, "create", { { delay = 1.5 } })
    local h = cli.spawn({ "create", "--json", "--image", "https://x/a.png", "--audio", "https://x/a.mp3" }, env, dir,
                        { code = true }, "ij")
    assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 1 end, 30))
    require("spec.support.sh").exec("pkill -TERM -P " .. h.pid)
    local code, out, err = cli.wait(h, 30)
    assert.equals(130, code, err)
    local o = one_json(out)
    assert.is_false(o.ok)
    assert.equals("interrupted", o.error.kind)
    assert.matches(":bytedance/omnihuman$", o.job_id)
    assert.truthy(err:find("job " .. o.job_id .. " was created: recorded in the ledger (row 1)", 1, true), err)
  end)

  it("quotes a hostile job id in the command it prints to wait for it", function()
    local ns, env = fresh("hq")
    local id = "x; touch " .. dir .. "/pwned 'q"
    srv:fault(ns, "create", { { status = 200, body = cjson.encode{ id = id, status = "queued" } } })
    local fail = {}
    for i = 1, 8 do fail[i] = { status = 500 } end
    srv:fault(ns, "poll", fail)
    local code, _, err = cli.run({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--no-ledger",
                                   "-o", dir .. "/hq.mp4", "-q", "--interval", "0.05", "--timeout", "2" }, env)
    assert.equals(6, code, cli.explain())
    local printed = err:match("wait for it with: omnihuman wait (.-)%)\n")
    assert.truthy(printed, err)
    local sh = require("spec.support.sh")
    local words = sh.lines("for a in " .. printed .. "; do printf '%s\\n' \"$a\"; done")
    assert.same({ id }, words)
    assert.is_false(fixtures.exists(dir .. "/pwned"))
  end)

  describe("batch credits", function()
    local function manifest(name, rows)
      local lines = { "image,audio,output" }
      for _, o in ipairs(rows) do lines[#lines + 1] = "https://x/a.png,https://x/a.mp3," .. o end
      return fixtures.write(dir .. "/" .. name, table.concat(lines, "\n") .. "\n")
    end
    -- The create's answer (the job is made; its answer says body).
    local made = 0
    local function answer(ns, usage)
      made = made + 1
      srv:fault(ns, "create", { { after = { status = 200, body = cjson.encode{ id = "zz-" .. ns .. "-" .. made,
                                                                                status = "queued", meta = usage } } } })
    end

    it("read as generate reads them: credits_used when a number, else tokens_used", function()
      local ns, env = fresh("bc")
      answer(ns, { usage = { credits_used = "12", tokens_used = 7 } })
      local code, out = cli.run({ "batch", manifest("bc.csv", { "bc.mp4" }), "--json", "--interval", "0.05" }, env)
      assert.equals(7, code, cli.explain())
      local o = one_json(out)
      assert.same({ 1, 7 }, { o.creates, o.credits })
    end)

    it("none reported: null with --json; no create sent: 0", function()
      local ns, env = fresh("bn")
      answer(ns, nil)
      local m = manifest("bn.csv", { "bn.mp4" })
      local code, out = cli.run({ "batch", m, "--interval", "0.05", "-q" }, env)
      assert.equals(7, code, cli.explain())
      assert.matches("this run: 1 creates sent, credits used: none reported", out)
      fixtures.write(m, "image,audio,output\nhttps://x/c.png,https://x/c.mp3,bn2.mp4\n")
      answer(ns, nil)
      code, out = cli.run({ "batch", m, "--interval", "0.05", "--json" }, env)
      assert.equals(7, code, cli.explain())
      assert.matches('"credits":null', out)
      fixtures.write(m, "image,audio,output\nhttps://x/c.png,,bn3.mp4\n") -- a bad row: nothing sent
      code, out = cli.run({ "batch", m, "-q" }, env)
      assert.equals(7, code, cli.explain())
      assert.matches("this run: 0 creates sent, credits used: 0\n", out)
      code, out = cli.run({ "batch", m, "--json" }, env)
      assert.equals(7, code, cli.explain())
      local o = one_json(out)
      assert.same({ 0, 0, {}, {}, {} }, { o.creates, o.credits, o.unrecorded, o.ledger_errors, o.journal_errors })
      assert.matches('"unrecorded":%[%]', out)
      assert.same({ 4, 4, {} }, { o.concurrency.max, o.concurrency.limit, o.concurrency.changes })
      assert.equals(1, #o.rows)
      assert.equals(2, srv:count(ns, "create"))
    end)
  end)

  it("batch --dry-run names a bad row by its output as it names the others (relative to the manifest's folder)", function()
    local _, env = fresh("bk")
    local sub = dir .. "/bk"
    assert(require("spec.support.sh").exec("mkdir -p " .. sub))
    local m = fixtures.write(sub .. "/jobs.csv", "image,audio,output\nhttps://x/a.png,https://x/a.mp3,a.mp4\n"
      .. "https://x/b.png,,b.mp4\n")
    local code, out = cli.run({ "batch", m, "--dry-run", "--json" }, env)
    assert.equals(7, code, cli.explain())
    local o = one_json(out)
    assert.same({ "a.mp4", "create" }, { o.rows[1].key, o.rows[1].plan })
    assert.same({ "b.mp4", "bad", m .. ":3" }, { o.rows[2].key, o.rows[2].plan, o.rows[2].where })
    code, out = cli.run({ "batch", m, "--dry-run" }, env)
    assert.equals(7, code, cli.explain())
    assert.matches("\nbad +jobs%.csv:3 +%- +b%.mp4  model bytedance/omnihuman requires audio_url", out)
  end)

  it("batch: a completed row is downloaded after one status check, with no create", function()
    local ns, env = fresh("bd")
    local sub = dir .. "/bd"
    assert(require("spec.support.sh").exec("mkdir -p " .. sub))
    local m = fixtures.write(sub .. "/jobs.csv", "image,audio,output\nhttps://x/a.png,https://x/a.mp3,a.mp4\n")
    srv:fault(ns, "cdn", { { chunked_forever = true } })
    local h = cli.spawn({ "batch", m, "--interval", "0.05", "-q" }, env, dir, nil, "bd")
    assert.is_true(cli.until_true(function() return srv:count(ns, "cdn") == 1 end, 30), fixtures.read(h.err))
    cli.kill9(h)
    local polls = srv:count(ns, "poll")
    local code, out = cli.run({ "batch", m, "--dry-run" }, env)
    assert.equals(0, code, cli.explain())
    assert.matches("\ndownload +jobs%.csv:2 ", out)
    code = cli.run({ "batch", m, "--interval", "0.05", "-q" }, env)
    assert.equals(0, code, cli.explain())
    local r = srv:records(ns)
    assert.same({ 1, polls + 1, 2 }, { r.counts.create, r.counts.poll, r.counts.cdn })
    assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(sub .. "/a.mp4"))
  end)

  describe("the ledger", function()
    it("names --again when it refuses the same request (exit 12)", function()
      local ns, env = fresh("ag")
      local argv = { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--progress", "none" }
      assert.equals(0, (cli.run(argv, env)), cli.explain())
      local code, _, err = cli.run(argv, env)
      assert.equals(12, code, cli.explain())
      assert.matches("%-%-again", err)
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("refuses the same request to the same output however it is spelled (exit 12)", function()
      local ns, env = fresh("sp")
      local sub = dir .. "/sp"
      local sh = require("spec.support.sh")
      assert(sh.exec("mkdir -p " .. sub .. "/in && ln -sfn " .. sub .. " " .. dir .. "/splink"))
      local function gen(o, cwd)
        return cli.run({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-o", o,
                         "--interval", "0.05", "--progress", "none" }, env, 30, { cwd = cwd })
      end
      assert.equals(0, (gen("a.mp4", sub)), cli.explain())
      for _, o in ipairs{ "./a.mp4", "in/../a.mp4", sub .. "//a.mp4", dir .. "/splink/a.mp4", sub .. "/a.mp4" } do
        local code, _, err = gen(o, sub)
        assert.equals(12, code, o .. ": " .. cli.explain())
        assert.matches("%-%-again", err)
      end
      assert.equals(1, srv:count(ns, "create"))
      local code, out = cli.run({ "jobs", "--json" }, env)
      assert.equals(0, code, cli.explain())
      assert.equals(sh.lines("realpath " .. sh.q(sub))[1] .. "/a.mp4", one_json(out).jobs[1].output)
    end)

    it("generate/create whose job id the ledger cannot record: the id on stderr, exit 10, row 'creating'", function()
      local ns, env = fresh("lu")
      -- commit 1: the row; commit 2 (the id) fails as on a full disk
      local fenv = fixtures.with(env, { OMNIHUMAN_SIM_LEDGER = "fail=2" })
      local out = dir .. "/lu.mp4"
      local code, stdout, err = cli.run({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-o", out,
                                          "--interval", "0.05", "-q" }, fenv)
      assert.equals(10, code, cli.explain())
      assert.equals(out .. "\n", stdout)
      assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(out))
      local id = err:match("job (%S+) was created but the ledger could not record it")
      assert.truthy(id, err)
      code, stdout = cli.run({ "create", "--image", "https://x/b.png", "--audio", "https://x/b.mp3", "--json" }, fenv)
      assert.equals(10, code, cli.explain())
      local o = one_json(stdout)
      assert.is_true(o.ok)
      assert.matches("disk is full", o.ledger_error)
      local listed
      code, listed = cli.run({ "jobs", "--json" }, env)
      assert.equals(0, code, cli.explain())
      local jobs = one_json(listed).jobs
      assert.same({ "creating", "creating" }, { jobs[1].state, jobs[2].state })
      assert.equals(2, srv:count(ns, "create"))
    end)

    it("says why the default ledger cannot be opened, without a Lua source position", function()
      local ns, env = fresh("np")
      env.XDG_STATE_HOME, env.HOME = false, false
      local code, _, err = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3" }, env)
      assert.equals(1, code, cli.explain())
      assert.matches("XDG_STATE_HOME", err)
      assert.is_nil(err:find("%.lua:%d+"), err)
      assert.equals(0, srv:count(ns, "create"))
    end)

    it("resume of a job of create (no output) prints its video URL; with -o downloads it there", function()
      local ns, env = fresh("rc")
      local code, id = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-q" }, env)
      assert.equals(0, code, cli.explain())
      id = id:gsub("\n$", "")
      local out
      code, out = cli.run({ "resume", id, "--interval", "0.05", "-q" }, env)
      assert.equals(0, code, cli.explain())
      assert.matches("^https?://[^\n]+%.mp4\n$", out)
      code, out = cli.run({ "resume", "1", "-o", dir .. "/rc.mp4", "--interval", "0.05", "-q" }, env)
      assert.equals(0, code, cli.explain())
      assert.equals(dir .. "/rc.mp4\n", out)
      assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(dir .. "/rc.mp4"))
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("names the ledger it cannot open once, without repeating the error's prefix (batch)", function()
      local ns, env = fresh("bl")
      local m = fixtures.write(dir .. "/bl.csv", "image,audio,output\nhttps://x/a.png,https://x/a.mp3,bl.mp4\n")
      local code, _, err = cli.run({ "batch", m, "--ledger", dir .. "/no/such/dir/jobs.db" }, env)
      assert.equals(1, code, cli.explain())
      assert.truthy(err:find("cannot open the ledger (--no-ledger runs without one): ledger: ", 1, true), err)
      assert.equals(0, srv:count(ns, "create"))
    end)

    it("resume --all finishes a generate killed mid-download and removes the .part file it left", function()
      local ns, env = fresh("pk")
      local sub = dir .. "/pk"
      assert(require("spec.support.sh").exec("mkdir -p " .. sub))
      srv:fault(ns, "cdn", { { chunked_forever = true } })
      local h = cli.spawn({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-o", sub .. "/a.mp4",
                            "--interval", "0.05", "-q" }, env, dir, nil, "pk")
      assert.is_true(cli.until_true(function() return #fixtures.ls(sub) > 0 end, 30), fixtures.read(h.err))
      cli.kill9(h)
      assert.matches("^a%.mp4%.part%-", fixtures.ls(sub)[1])
      local code, out = cli.run({ "resume", "--all", "--interval", "0.05", "-q" }, env)
      assert.equals(0, code, cli.explain())
      assert.equals(sub .. "/a.mp4\n", out)
      assert.same({ "a.mp4" }, fixtures.ls(sub))
      assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(sub .. "/a.mp4"))
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("of two runs downloading one output at once, the second exits 11 and the first finishes", function()
      local ns, env = fresh("tw")
      local sub = dir .. "/tw"
      assert(require("spec.support.sh").exec("mkdir -p " .. sub))
      local out = sub .. "/a.mp4"
      srv:fault(ns, "poll", { { hang = true } })
      local h = cli.spawn({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-o", out,
                            "--interval", "0.05", "-q" }, env, dir, nil, "tw1")
      assert.is_true(cli.until_true(function() return srv:count(ns, "poll") >= 1 end, 30), fixtures.read(h.err))
      cli.kill9(h)
      srv:fault(ns, "cdn", { { delay = 3 } }) -- the first resume downloads slowly
      local first = cli.spawn({ "resume", "--all", "--interval", "0.05", "-q" }, env, dir, { code = true }, "tw2")
      assert.is_true(cli.until_true(function() return #fixtures.ls(sub) > 0 end, 30), fixtures.read(first.err))
      for _, argv in ipairs{ { "resume", "--all", "--interval", "0.05" }, { "resume", "1", "--interval", "0.05" },
                             { "generate", "--image", "https://x/b.png", "--audio", "https://x/b.mp3", "-o", out },
                             { "wait", "someid", "-o", out }, { "download", "http://127.0.0.1:1/v.mp4", "-o", out } } do
        local code, _, err = cli.run(argv, env)
        assert.equals(11, code, cli.explain())
        assert.truthy(err:find("another omnihuman run is making " .. out .. " now", 1, true), err)
      end
      local code, stdout, err = cli.wait(first, 60)
      assert.equals(0, code, err)
      assert.equals(out .. "\n", stdout)
      assert.same({ "a.mp4" }, fixtures.ls(sub))
      assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(out))
      local r = srv:records(ns)
      assert.same({ 1, 1 }, { r.counts.create, r.counts.cdn })
    end)

    it("resume --all reports a row without a job id and does not resend it", function()
      local ns, env = fresh("ra")
      local out = dir .. "/ra.mp4"
      -- SIGKILLed right after the row is committed: the create never left
      local kenv = fixtures.with(env, { OMNIHUMAN_SIM_LEDGER = "crash_after=1" })
      local code = cli.run({ "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "-o", out,
                             "--progress", "none" }, kenv)
      assert.equals(137, code, cli.explain())
      local stdout, err
      code, stdout, err = cli.run({ "resume", "--all", "--interval", "0.05" }, env)
      assert.equals(0, code, cli.explain())
      assert.equals("", stdout)
      assert.matches("row 1 %(" .. out:gsub("%p", "%%%0") .. "%) has no job id", err)
      assert.equals(0, srv:count(ns, "create"))
      code, stdout = cli.run({ "resume", "--all", "--json" }, env)
      assert.equals(0, code, cli.explain())
      local o = one_json(stdout)
      assert.same({}, o.jobs)
      assert.equals(1, o.no_job_id[1].row)
      assert.equals("creating", o.no_job_id[1].state)
      assert.equals(0, srv:count(ns, "create"))
    end)
  end)
end)
