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

    it("says why the default ledger cannot be opened, without a Lua source position", function()
      local ns, env = fresh("np")
      env.XDG_STATE_HOME, env.HOME = false, false
      local code, _, err = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3" }, env)
      assert.equals(1, code, cli.explain())
      assert.matches("XDG_STATE_HOME", err)
      assert.is_nil(err:find("%.lua:%d+"), err)
      assert.equals(0, srv:count(ns, "create"))
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
