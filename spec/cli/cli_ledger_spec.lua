-- The CLI on the ledger: generate/create recorded in the default ledger,
-- `jobs`, `resume`, duplicates refused (exit 12) unless --again; a generate
-- SIGKILLed after its create, or stopped by SIGTERM, SIGHUP or two Ctrl-Cs
-- while the create is out, is finished by `resume` with no new create.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local cjson = require("cjson")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")

-- Under the sanitizer interpreter, LeakSanitizer's own tracer now and then
-- crashes (signal 11 in its stop-the-world step) as these CLI runs exit,
-- failing a run that has no error. ASan stays on for them; the ledger's
-- leaks are checked by the in-process ledger specs (spec/units, spec/api).
local function env_of(srv, ns, extra) return cli.env(srv, ns, extra) end -- (cli.env turns LSan off there)

describe("omnihuman CLI with the ledger #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  local function gen_args(out, extra)
    local a = { "generate", "--image", fixtures.PNG, "--audio", fixtures.WAV, "-o", out, "--ca-file", srv.ca_file,
                "--interval", "0.05", "--progress", "plain" }
    for _, x in ipairs(extra or {}) do a[#a + 1] = x end
    return a
  end

  local function jobs(env, extra)
    local a = { "jobs", "--json" }
    for _, x in ipairs(extra or {}) do a[#a + 1] = x end
    local code, out, err = cli.run(a, env)
    assert.equals(0, code, err)
    return cjson.decode(out).jobs
  end

  it("records generate in the default ledger, lists it, refuses the same request unless --again", function()
    local ns = fixtures.ns("cl")
    local state = fixtures.tmpdir()
    local env = env_of(srv, ns, { XDG_STATE_HOME = state })
    local out = dir .. "/g1.mp4"
    local code, _, err = cli.run(gen_args(out), env)
    assert.equals(0, code, err)
    assert.is_true(fixtures.exists(state .. "/omnihuman/jobs.db"))
    assert.equals("700", sh.lines("stat -c %a " .. sh.q(state .. "/omnihuman"))[1])
    local rows = jobs(env)
    assert.equals(1, #rows)
    assert.equals("downloaded", rows[1].state)
    assert.equals(out, rows[1].output)
    assert.equals(#FIXTURE, rows[1].bytes)
    -- the table: a header and the row with its id and output
    local tcode, table_out = cli.run({ "jobs" }, env)
    assert.equals(0, tcode)
    assert.truthy(table_out:find(rows[1].job_id, 1, true))
    assert.truthy(table_out:find(out, 1, true))
    assert.truthy(table_out:find("downloaded", 1, true))

    -- the same request to the same output (its image reached another way)
    local copy = dir .. "/face-copy.png"
    fixtures.write(copy, fixtures.read(fixtures.PNG))
    local again = gen_args(out)
    again[3] = copy
    code, _, err = cli.run(again, env)
    assert.equals(12, code)
    assert.truthy(err:find(rows[1].job_id, 1, true))
    assert.equals(1, srv:count(ns, "create"))
    again[#again + 1] = "--again"
    code = cli.run(again, env)
    assert.equals(0, code)
    assert.equals(2, srv:count(ns, "create"))
    code = cli.run(gen_args(dir .. "/g2.mp4"), env) -- another output: another video
    assert.equals(0, code)
    assert.equals(3, srv:count(ns, "create"))
    code = cli.run(gen_args(out, { "--no-ledger" }), env)
    assert.equals(0, code)
    assert.equals(4, srv:count(ns, "create"))
    assert.equals(3, #jobs(env))
    local other = dir .. "/other.db"
    code = cli.run(gen_args(dir .. "/g4.mp4", { "--ledger", other }), env)
    assert.equals(0, code)
    assert.equals(1, #jobs(env, { "--ledger", other }))
    assert.equals(1, #jobs(env, { "--state", "downloaded", "--ledger", other }))
    assert.equals(0, #jobs(env, { "--state", "created", "--ledger", other }))
  end)

  it("stops before the create when the ledger cannot be opened", function()
    local ns = fixtures.ns("cu")
    local env = env_of(srv, ns)
    local code, _, err = cli.run(gen_args(dir .. "/u.mp4", { "--ledger", dir .. "/missing/dir/jobs.db" }), env)
    assert.equals(1, code)
    assert.truthy(err:find("--no-ledger", 1, true), err)
    code = cli.run({ "create", "--image", fixtures.PNG, "--audio", fixtures.WAV, "--ca-file", srv.ca_file,
                     "--ledger", dir .. "/missing/dir/jobs.db" }, env)
    assert.equals(1, code)
    assert.equals(0, srv:count(ns, "create"))
  end)

  it("stops before the create when the ledger cannot record it (a full disk, a failing write)", function()
    local ns = fixtures.ns("cw")
    local state = fixtures.tmpdir()
    local env = env_of(srv, ns, { XDG_STATE_HOME = state, OMNIHUMAN_SIM_LEDGER = "fail_from=1" })
    local code, _, err = cli.run(gen_args(dir .. "/w.mp4"), env)
    assert.equals(1, code, err)
    assert.matches("disk is full", err)
    code, _, err = cli.run({ "create", "--image", fixtures.PNG, "--audio", fixtures.WAV, "--ca-file", srv.ca_file },
      env)
    assert.equals(1, code, err)
    -- every write failing inside SQLite (the fault VFS) on a ledger that opens
    local p = state .. "/own.db"
    local l = assert(require("omnihuman.ledger").open(p))
    l:close()
    code, _, err = cli.run(gen_args(dir .. "/w.mp4", { "--ledger", p }),
      env_of(srv, ns, { XDG_STATE_HOME = state, OMNIHUMAN_SIM_SQLITE = "fail_write_from=1" }))
    assert.equals(1, code, err)
    assert.matches("ledger: ", err)
    assert.equals(0, srv:count(ns, "create"))
    fixtures.rm_rf(state)
  end)

  it("finishes a generate killed with SIGKILL after its create, with resume and no new create", function()
    local ns = fixtures.ns("ck")
    local env = env_of(srv, ns, { XDG_STATE_HOME = fixtures.tmpdir() })
    local out = dir .. "/k.mp4"
    srv:fault(ns, "poll", { { hang = true } })
    local h = cli.spawn(gen_args(out), env, dir, nil, "k")
    assert.is_true(cli.until_true(function() return srv:count(ns, "poll") >= 1 end, 30),
                   fixtures.read(h.err))
    cli.kill9(h)
    assert.equals(1, srv:count(ns, "create"))
    local rows = jobs(env)
    assert.equals("created", rows[1].state)
    local code, stdout, err = cli.run({ "resume", "--all", "--ca-file", srv.ca_file, "--interval", "0.05" }, env)
    assert.equals(0, code, err)
    assert.truthy(stdout:find(out, 1, true))
    assert.equals(FIXTURE, fixtures.read(out))
    assert.equals(1, srv:count(ns, "create"))
    assert.equals("downloaded", jobs(env)[1].state)
    -- resume by id, to another file: still no create
    code, stdout, err = cli.run({ "resume", rows[1].job_id, "-o", dir .. "/k2.mp4", "--ca-file", srv.ca_file,
                     "--interval", "0.05" }, env)
    assert.equals(0, code, err)
    assert.truthy(stdout:find(dir .. "/k2.mp4", 1, true))
    assert.equals(FIXTURE, fixtures.read(dir .. "/k2.mp4"))
    assert.equals(1, srv:count(ns, "create"))
  end)

  for _, signals in ipairs{ { "TERM" }, { "HUP" }, { "INT", "INT" } } do
    local name = table.concat(signals, "+")
    it("records the job of a create answered after SIG" .. name .. " and resume finishes it", function()
      if os.getenv("SANLUA") then
        pending("the sanitizer interpreter (tools/sanlua.c) has no SIGINT handler to route signals to")
        return
      end
      local ns = fixtures.ns("cs")
      local env = env_of(srv, ns, { XDG_STATE_HOME = fixtures.tmpdir() })
      local out = dir .. "/s" .. name .. ".mp4"
      srv:fault(ns, "create", { { delay = 1.5 } })
      local h = cli.spawn(gen_args(out), env, dir, { code = true }, "s" .. name)
      assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 1 end, 30))
      for _, sig in ipairs(signals) do
        sh.exec("pkill -" .. sig .. " -P " .. h.pid) -- the CLI, child of the wrapper that keeps its code
        sh.sleep(0.1)
      end
      local code, _, err = cli.wait(h, 30)
      assert.equals(130, code, err)
      assert.truthy(err:find("recorded in the ledger", 1, true), err)
      local rows = jobs(env)
      assert.equals(1, #rows)
      assert.equals("created", rows[1].state)
      code, _, err = cli.run({ "resume", "--all", "--ca-file", srv.ca_file, "--interval", "0.05" }, env)
      assert.equals(0, code, err)
      assert.equals(FIXTURE, fixtures.read(out))
      assert.equals(1, srv:count(ns, "create"))
    end)
  end
end)
