-- bin/omnihuman: the single-job commands, help, exit codes, --json, key handling.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local cjson = require("cjson")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")

describe("omnihuman CLI #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. dir .. '"') end)

  local function run(ns, args, extra_env, limit)
    local a = {}
    for i, v in ipairs(args) do a[i] = v end
    if ns then a[#a + 1] = "--ca-file"; a[#a + 1] = srv.ca_file end
    return cli.run(a, cli.env(srv, ns or "none", extra_env), limit)
  end

  local function no_key(...)
    for _, s in ipairs{ ... } do assert.is_nil(s:find(fixtures.KEY, 1, true), "the key was printed") end
  end

  describe("help and usage", function()
    it("prints the command list and exit codes", function()
      local code, out = run(nil, { "--help" })
      assert.equals(0, code, cli.explain())
      for _, cmd in ipairs{ "generate", "create", "status", "wait", "download", "batch" } do
        assert.matches("\n  " .. cmd .. " ", out)
      end
      assert.matches("Exit codes", out)
    end)

    for _, cmd in ipairs{ "generate", "create", "status", "wait", "download", "batch" } do
      it("has --help for " .. cmd, function()
        local code, out, err = run(nil, { cmd, "--help" })
        assert.equals(0, code, cli.explain())
        assert.matches("^Usage: omnihuman " .. cmd, out)
        assert.matches("%-%-api%-key", out)
        assert.equals("", err)
      end)
    end

    it("exits 2 on an unknown command, option or missing argument", function()
      assert.equals(2, (run(nil, { "frobnicate" })))
      assert.equals(2, (run(nil, { "status", "--bogus", "x" })))
      local code, _, err = run(nil, { "generate", "--image", fixtures.PNG, "--audio", fixtures.WAV })
      assert.equals(2, code, cli.explain())
      assert.matches("%-o/%-%-output is required", err)
      assert.equals(2, (run(nil, { "status" })))
      assert.equals(2, (run(nil, { "batch", "--concurrency", "0", "x.csv" })))
      assert.equals(2, (run(nil, { "batch", "--concurrency", "many", "x.csv" })))
    end)

    it("runs through the /bin/sh launcher from any directory", function()
      if os.getenv("SANLUA") then return end -- the launcher picks a plain interpreter
      local root = io.popen("pwd"):read("*l")
      local ok = sh.exec("cd " .. sh.q(dir) .. " && env -u AIMLAPI_KEY -u LUA_PATH -u LUA_CPATH " .. sh.q(root .. "/bin/omnihuman")
        .. " --help >" .. sh.q(dir .. "/launch.out") .. " 2>&1")
      assert.is_true(ok)
      assert.matches("Usage: omnihuman COMMAND", fixtures.read(dir .. "/launch.out"))
    end)
  end)

  describe("generate", function()
    it("creates, waits and downloads; prints the path; plain timestamped progress", function()
      local ns = fixtures.ns("cli")
      local sub = dir .. "/gen"
      os.execute('mkdir -p "' .. sub .. '"')
      local out = sub .. "/gen.mp4"
      local code, stdout, stderr = run(ns, { "generate", "--image", fixtures.PNG, "--audio", fixtures.WAV, "-o", out,
                                            "--interval", "0.05", "--field", "sandbox_polls=2" })
      assert.equals(0, code, stderr)
      assert.equals(out .. "\n", stdout)
      assert.equals(FIXTURE, fixtures.read(out))
      for line in stderr:gmatch("[^\n]+") do
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ ", line)
      end
      assert.matches("gen.mp4: " .. srv.profile.pending[2], stderr, 1, true)
      assert.matches("gen.mp4: done", stderr)
      no_key(stdout, stderr)
      local counts = srv:records(ns).counts
      assert.same({ 1, 3, 1 }, { counts.create, counts.poll, counts.cdn })
      assert.same({ "gen.mp4" }, fixtures.ls(sub))
    end)

    it("--json prints one result object; extra fields and --model pass through", function()
      local ns = fixtures.ns("cli")
      local out = dir .. "/j.mp4"
      local code, stdout = run(ns, { "generate", "--json", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                                     "-o", out, "--interval", "0.05", "--model", "bytedance/omnihuman/v1.5",
                                     "--field", "sandbox_polls=1", "--field", "prompt=smile", "--field", "turbo_mode:=true",
                                     "--progress", "none", "--no-strict" })
      assert.equals(0, code, cli.explain())
      local r = cjson.decode(stdout)
      assert.is_true(r.ok)
      assert.equals(srv.profile.completed, r.status)
      assert.equals(out, r.output)
      assert.matches(":bytedance/omnihuman/v1.5$", r.id)
      local body = cjson.decode(srv:records(ns).requests[1].body)
      assert.equals("bytedance/omnihuman/v1.5", body.model)
      assert.equals("smile", body.prompt)
      assert.equals(true, body.turbo_mode)
      assert.equals(1, body.sandbox_polls)
      os.remove(out)
    end)

    it("--file puts local files in any file field: single, array items, nested", function()
      local ns = fixtures.ns("cli")
      local png = fixtures.write(dir .. "/tiny.png", "\137PNG\r\n\26\n0123456789")
      local mp4 = fixtures.write(dir .. "/tiny.mp4", FIXTURE:sub(1, 40))
      local code = run(ns, { "create", "--model", "bytedance/seedance-2-0", "--field", "prompt=p",
                             "--field", 'image_urls:=["https://x/u.png"]', "--file", "image_urls[]=" .. png,
                             "--file", "video_urls[]=" .. mp4, "--file", "last_image_url=" .. png,
                             "--progress", "none" })
      assert.equals(0, code, cli.explain())
      local body = cjson.decode(srv:records(ns).requests[1].body)
      local b64png = "data:image/png;base64,iVBORw0KGgowMTIzNDU2Nzg5"
      assert.same({ "https://x/u.png", b64png }, body.image_urls)
      assert.equals(b64png, body.last_image_url)
      assert.matches("^data:video/mp4;base64,AAAAIGZ0eXBpc29t", body.video_urls[1])
      -- Nested: Runway Act-Two's character.url, the rest of it as --field.
      ns = fixtures.ns("cli")
      code = run(ns, { "create", "--model", "runway/act_two", "--field", 'character:={"type":"video"}',
                       "--file", "character.url=" .. mp4, "--field", 'reference:={"type":"video","url":"https://x/r.mp4"}',
                       "--progress", "none" })
      assert.equals(0, code, cli.explain())
      body = cjson.decode(srv:records(ns).requests[1].body)
      assert.equals("video", body.character.type)
      assert.matches("^data:video/mp4;base64,", body.character.url)
      -- A missing file, a wrong kind, or a spec it cannot read: exit 2, nothing sent.
      ns = fixtures.ns("cli")
      for _, bad in ipairs({ "video_url=" .. dir .. "/none.mp4", "video_url=" .. png, "video_url", "a[x]=" .. png }) do
        code = run(ns, { "create", "--model", "magic/video-to-video", "--file", bad, "--progress", "none" })
        assert.equals(2, code, bad .. ": " .. cli.explain())
      end
      assert.equals(0, srv:count(ns, "create") or 0)
    end)

    it("exits 4 when the generation fails, naming the job", function()
      local ns = fixtures.ns("cli")
      local code, stdout, stderr = run(ns, { "generate", "--json", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                                             "-o", dir .. "/f.mp4", "--interval", "0.05", "--field", "sandbox_fail=bad audio" })
      assert.equals(4, code, cli.explain())
      local r = cjson.decode(stdout)
      assert.is_false(r.ok)
      assert.equals("generation_failed", r.error.kind)
      assert.matches("bad audio", r.error.message)
      assert.matches(":bytedance/omnihuman$", r.job_id)
      assert.matches("omnihuman wait ", stderr)
      assert.is_false(fixtures.exists(dir .. "/f.mp4"))
    end)

    it("exits 5 when the wait times out", function()
      local ns = fixtures.ns("cli")
      local code, _, stderr = run(ns, { "generate", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                                        "-o", dir .. "/t.mp4", "--interval", "0.05", "--timeout", "0.3",
                                        "--field", "sandbox_polls=1000" })
      assert.equals(5, code, stderr)
      assert.matches("timeout", stderr)
    end)

    it("exits 2 for a missing input file and for a request the service rejects", function()
      local ns = fixtures.ns("cli")
      local code, _, stderr = run(ns, { "generate", "--image", dir .. "/nope.png", "--audio", fixtures.WAV, "-o", dir .. "/x.mp4" })
      assert.equals(2, code, cli.explain())
      assert.matches("image file not found", stderr)
      code = run(ns, { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3", "--field", "sandbox_polls=-1" })
      assert.equals(2, code, cli.explain())
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("exits 8 when a create may have been billed, without resending it", function()
      local ns = fixtures.ns("cli")
      srv:fault(ns, "create", { { status = 500 } })
      local code, stdout = run(ns, { "create", "--json", "--image", "https://x/a.png", "--audio", "https://x/a.mp3" })
      assert.equals(8, code, cli.explain())
      assert.is_true(cjson.decode(stdout).error.maybe_created)
      assert.equals(1, srv:count(ns, "create"))
    end)
  end)

  describe("keys and connections", function()
    it("exits 3 on a wrong or missing key and never prints the key", function()
      local ns = fixtures.ns("cli")
      local code, stdout, stderr = run(ns, { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3" },
                                       { AIMLAPI_KEY = "sk-wrong-key-0123456789" })
      assert.equals(3, code, cli.explain())
      assert.is_nil((stdout .. stderr):find("sk-wrong-key-0123456789", 1, true))
      local _
      code, _, stderr = run(ns, { "status", "abc" }, { AIMLAPI_KEY = false })
      assert.equals(3, code, cli.explain())
      assert.matches("AIMLAPI_KEY", stderr)
      -- --api-key wins over the environment, and stays unprinted too
      code, stdout, stderr = run(ns, { "create", "--json", "--api-key", fixtures.KEY, "--image", "https://x/a.png",
                                       "--audio", "https://x/a.mp3" }, { AIMLAPI_KEY = "sk-other-1234567" })
      assert.equals(0, code, stderr)
      no_key(stdout, stderr)
    end)

    it("takes --base-url over OMNIHUMAN_BASE_URL, and exits 6 when nothing answers #slow", function()
      local ns = fixtures.ns("cli")
      local code, stdout = run(ns, { "create", "--base-url", srv:base_url(ns), "--image", "https://x/a.png",
                                     "--audio", "https://x/a.mp3" }, { OMNIHUMAN_BASE_URL = "https://127.0.0.1:9/v2" })
      assert.equals(0, code, cli.explain())
      assert.matches(":bytedance/omnihuman\n$", stdout)
      code = run(ns, { "status", "x", "--base-url", "https://127.0.0.1:9/v2" })
      assert.equals(6, code, cli.explain())
    end)

    it("refuses a server whose certificate it cannot verify (no --ca-file)", function()
      local ns = fixtures.ns("cli")
      local code = cli.run({ "status", "x" }, cli.env(srv, ns))
      assert.equals(6, code, cli.explain())
      assert.equals(0, srv:count(ns, "poll"))
    end)
  end)

  describe("create, status, wait, download", function()
    it("work one after the other", function()
      local ns = fixtures.ns("cli")
      local code, id = run(ns, { "create", "--image", fixtures.PNG, "--audio", fixtures.WAV, "--field", "sandbox_polls=2" })
      assert.equals(0, code, cli.explain())
      id = id:gsub("\n$", "")
      local st
      code, st = run(ns, { "status", id })
      assert.equals(0, code, cli.explain())
      assert.equals(srv.profile.pending[1] .. "\n", st)
      local out = dir .. "/w.mp4"
      local stdout
      code, stdout = run(ns, { "wait", id, "-o", out, "--interval", "0.05" })
      assert.equals(0, code, cli.explain())
      assert.equals(out .. "\n", stdout)
      assert.equals(FIXTURE, fixtures.read(out))
      code, stdout = run(ns, { "status", "--json", id })
      assert.equals(0, code, cli.explain())
      local r = cjson.decode(stdout)
      assert.equals(srv.profile.completed, r.status)
      local out2 = dir .. "/d.mp4"
      code = run(ns, { "download", r.video_url, "-o", out2 }, { AIMLAPI_KEY = false })
      assert.equals(0, code, cli.explain())
      assert.equals(FIXTURE, fixtures.read(out2))
      assert.equals(1, srv:count(ns, "create"))
      for _, req in ipairs(srv:records(ns).requests) do
        if req.listener == "cdn" then assert.is_nil(req.headers.authorization) end
      end
      code = run(ns, { "download", srv:cdn_base(ns) .. "/files/nothing.txt", "-o", dir .. "/n.mp4" })
      assert.equals(1, code, cli.explain())
      assert.is_false(fixtures.exists(dir .. "/n.mp4"))
      os.remove(out); os.remove(out2)
    end)

    it("status exits 4 for a failed job; wait prints the URL without -o", function()
      local ns = fixtures.ns("cli")
      local _, id = run(ns, { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                              "--field", "sandbox_polls=0", "--field", "sandbox_fail=nope" })
      id = id:gsub("\n$", "")
      local code, stdout = run(ns, { "status", id })
      assert.equals(4, code, cli.explain())
      assert.equals(srv.profile.failed .. ": nope\n", stdout)
      local _, id2 = run(ns, { "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                               "--field", "sandbox_polls=0" })
      code, stdout = run(ns, { "wait", (id2:gsub("\n$", "")), "-q" })
      assert.equals(0, code, cli.explain())
      assert.matches("^http://127%.0%.0%.1:%d+/n/" .. ns .. "/files/.*%.mp4\n$", stdout)
    end)
  end)
end)
