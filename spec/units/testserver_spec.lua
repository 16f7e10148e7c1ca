-- Checks the fake API server (spec/support/server.py) and its Lua helper with
-- the curl CLI.  Run from the repo root:  busted --lua=lua5.4 spec/units/testserver_spec.lua

local testserver = require("spec.support.testserver")
local cjson = require("cjson")

local sh = require("spec.support.sh")
local files = require("spec.support.files")

local readfile, q, alive = files.read, sh.q, sh.alive

local FIXTURE = readfile(testserver.fixture)
local MODEL = "bytedance/omnihuman"

-- Run curl; returns {rc=, status=, body=, headers={lowercase name=value}, raw_headers=}.
local tmp
local function curl(args, opts)
  opts = opts or {}
  local body_f, hdr_f = tmp .. "/body", tmp .. "/headers"
  os.remove(body_f)
  os.remove(hdr_f)
  local cmd = "curl -sS --max-time " .. (opts.max_time or 5) .. " -o " .. q(body_f)
      .. " -D " .. q(hdr_f) .. " -w '%{http_code}' " .. args .. " 2>/dev/null; echo \" $?\""
  local _, out = sh.run(cmd)
  local code, rc = out:match("^(%d*)%s+(%d+)%s*$")
  local raw = readfile(hdr_f) or ""
  local headers = {}
  for name, value in raw:gmatch("([%w%-]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return { rc = tonumber(rc), status = tonumber(code), body = readfile(body_f) or "",
           headers = headers, raw_headers = raw }
end

local function json_body(model, extra)
  local t = { model = model or MODEL, image_url = "https://example.invalid/face.png",
              audio_url = "https://example.invalid/hello.wav" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return cjson.encode(t)
end

local function create(srv, ns, key, body, extra_args)
  local args = "-X POST -H 'Content-Type: application/json' --data-binary " .. q(body or json_body())
  if key then args = args .. " -H " .. q("Authorization: Bearer " .. key) end
  if srv.ca_file then args = args .. " --cacert " .. q(srv.ca_file) end
  return curl(args .. " " .. (extra_args or "") .. " " .. q(srv:base_url(ns) .. "/video/generations"))
end

local function poll(srv, ns, key, id)
  local args = "-G --data-urlencode " .. q("generation_id=" .. id)
  if key then args = args .. " -H " .. q("Authorization: Bearer " .. key) end
  if srv.ca_file then args = args .. " --cacert " .. q(srv.ca_file) end
  return curl(args .. " " .. q(srv:base_url(ns) .. "/video/generations"))
end

local function assert_error_json(r, status)
  assert.equal(status, r.status)
  local e = cjson.decode(r.body)
  assert.equal(tostring(status), e.statusCode) -- a string, as the service's docs write it
  assert.is_string(e.message)
  assert.is_string(e.path)
  assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", e.requestId)
  assert.matches("^%d%d%d%d%-%d%d%-%d%dT", e.timestamp)
  return e
end

setup(function() tmp = files.tmpdir() end)
teardown(function() if tmp then files.rm_rf(tmp) end end)

describe("server.py over plain HTTP #slow", function()
  local srv
  setup(function() srv = testserver.start() end)
  teardown(function() if srv then srv:stop() end end)

  it("reports its two listeners", function()
    assert.matches("^http://127%.0%.0%.1:%d+$", srv.api)
    assert.matches("^http://127%.0%.0%.1:%d+$", srv.cdn)
    assert.not_equal(srv.api, srv.cdn)
    assert.is_nil(srv.ca_file)
    assert.equal(srv.api .. "/n/x/v2", srv:base_url("x"))
    assert.equal(srv.api .. "/v2", srv:base_url())
  end)

  it("checks the key and the body", function()
    assert_error_json(create(srv, "auth", nil), 401)
    assert_error_json(create(srv, "auth", "k", cjson.encode{ model = MODEL, image_url = "x" }), 400)
    assert_error_json(create(srv, "auth", "k", "not json"), 400)
    assert_error_json(poll(srv, "auth", "k", "no-such-id"), 404)
    assert_error_json(curl(q(srv.api .. "/v2/nothing/here")), 404)
    assert.equal(0, srv:records("auth").jobs)
  end)

  it("runs a job: create, poll to completion, download the video", function()
    local P = srv.profile
    local r = create(srv, "flow", "any-key")
    assert.equal(P.create_status, r.status)
    local job = cjson.decode(r.body)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+:bytedance/omnihuman$", job.id)
    assert.equal("queued", job.status)
    assert.same({ usage = { [P.usage_field] = 5880000 } }, job.meta)

    local seen = {}
    local st
    for _ = 1, 5 do
      st = cjson.decode(poll(srv, "flow", "any-key", job.id).body)
      seen[#seen + 1] = st.status
      if st.status == P.completed then break end
    end
    assert.same({ P.pending[1], P.pending[2], P.completed }, seen)
    assert.equal(job.id, st.id)
    assert.equal(P.nulls and cjson.null or nil, st.error)
    local uuid = job.id:match("^([^:]+)")
    -- the v1 CDN's path shape (v3b.fal.media/files/b/<animal>/<id>_video.mp4)
    assert.matches("^" .. srv.cdn:gsub("%p", "%%%0") .. "/n/flow/files/b/%l+/" .. uuid:gsub("%p", "%%%0")
      .. "_video%.mp4$", st.video.url)

    local d = curl(q(st.video.url))
    assert.equal(200, d.status)
    assert.equal("video/mp4", d.headers["content-type"])
    assert.equal(#FIXTURE, tonumber(d.headers["content-length"]))
    assert.is_true(d.body == FIXTURE, "downloaded bytes differ from fixture.mp4")

    local h = curl("-I " .. q(st.video.url))
    assert.equal(200, h.status)
    assert.equal(#FIXTURE, tonumber(h.headers["content-length"]))
    local part = curl("-r 0-99 " .. q(st.video.url))
    assert.equal(206, part.status)
    assert.equal(FIXTURE:sub(1, 100), part.body)

    local rec = srv:records("flow")
    assert.same({ create = 1, poll = 3, cdn = 3 }, rec.counts)
    assert.equal(1, rec.jobs)
    assert.equal(7, #rec.requests)
    local c = rec.requests[1]
    assert.equal("api", c.listener)
    assert.equal("POST", c.method)
    assert.equal("/n/flow/v2/video/generations", c.path)
    assert.equal("Bearer any-key", c.headers.authorization)
    assert.equal(json_body(), c.body)
    assert.equal(#json_body(), c.body_len)
    assert.equal("GET", rec.requests[2].method)
    assert.matches("generation_id=", rec.requests[2].query)
    assert.equal("cdn", rec.requests[5].listener)
    assert.is_nil(rec.requests[5].headers.authorization)
    assert.equal(3, srv:count("flow", "poll"))
    assert.equal(0, srv:records("other-ns").counts.create)

    srv:reset("flow")
    rec = srv:records("flow")
    assert.equal(0, #rec.requests)
    assert.equal(0, rec.jobs)
    assert_error_json(poll(srv, "flow", "k", job.id), 404)
  end)

  it("fails jobs on request and honours sandbox_polls", function()
    local r = create(srv, "fail", "k", json_body(nil, { sandbox_polls = 0, sandbox_fail = "no face found" }))
    local st = cjson.decode(poll(srv, "fail", "k", cjson.decode(r.body).id).body)
    assert.equal(srv.profile.failed, st.status)
    assert.equal(srv.profile.nulls and cjson.null or nil, st.video)
    assert.same({ name = "GenerationError", message = "no face found" }, st.error)
    -- jobs are per namespace
    assert_error_json(poll(srv, "elsewhere", "k", cjson.decode(r.body).id), 404)
  end)

  it("keeps connections alive", function()
    local url = q(srv:base_url("ka") .. "/video/generations?generation_id=x")
    local _, out = sh.run("curl -s -o /dev/null -o /dev/null -w '%{num_connects}\\n' --max-time 5 "
      .. url .. " " .. url)
    assert.equal("1\n0\n", out)
  end)

  it("serves status faults in order, then normal answers", function()
    srv:fault("f1", "create", { { status = 500 }, { status = 429, headers = { ["Retry-After"] = "2" } },
                                { html = 502 }, { pass = true } })
    assert_error_json(create(srv, "f1", "k"), 500)
    local r = create(srv, "f1", "k")
    assert_error_json(r, 429)
    assert.equal("2", r.headers["retry-after"])
    r = create(srv, "f1", "k")
    assert.equal(502, r.status)
    assert.matches("text/html", r.headers["content-type"])
    assert.matches("<html>", r.body)
    assert.equal(srv.profile.create_status, create(srv, "f1", "k").status)
    assert.equal(srv.profile.create_status, create(srv, "f1", "k").status)
    assert.equal(5, srv:count("f1", "create"))
    assert.equal(2, srv:records("f1").jobs)
  end)

  it("truncates, redirects, answers after creating, drops, closes, hangs", function()
    srv:fault("f2", "create", { { truncate = true }, { redirect = "cdn" }, { after = { status = 504 } },
                                { drop = true }, { close = true }, { hang = true },
                                { status = 200, body = "{\"id\": 1" }, { huge = 2 } })
    local r = create(srv, "f2", "k")
    assert.equal(srv.profile.create_status, r.status)
    assert.equal(#r.body, tonumber(r.headers["content-length"]))
    assert.is_false(pcall(cjson.decode, r.body))

    r = create(srv, "f2", "k")
    assert.equal(302, r.status)
    assert.equal(srv.cdn .. "/n/f2/files/redirected.mp4", r.headers.location)
    assert.is_true(curl(q(r.headers.location)).body == FIXTURE)

    local jobs = srv:records("f2").jobs
    assert_error_json(create(srv, "f2", "k"), 504)
    assert.equal(jobs + 1, srv:records("f2").jobs)       -- the job exists all the same

    assert.equal(18, create(srv, "f2", "k").rc)         -- partial body, then closed
    assert.equal(52, create(srv, "f2", "k").rc)         -- empty reply
    local t = curl("--max-time 0.5 -H 'Authorization: Bearer k' --data-binary " .. q(json_body())
      .. " " .. q(srv:base_url("f2") .. "/video/generations"))
    assert.equal(28, t.rc)                              -- timed out waiting

    r = create(srv, "f2", "k")
    assert.equal(200, r.status)
    assert.equal("{\"id\": 1", r.body)

    r = create(srv, "f2", "k")
    assert.equal(200, r.status)
    assert.equal(2 * 1024 * 1024, #r.body)
    assert.equal(2 * 1024 * 1024 - 15, #cjson.decode(r.body).padding)
    assert.equal(8, srv:count("f2", "create"))
  end)

  it("faults the CDN and the poll route too, with delays and endless bodies", function()
    srv:fault("f3", "cdn", { { status = 503 }, { delay = 0.2 }, { chunked_forever = true } })
    local url = srv:cdn_base("f3") .. "/files/x.mp4"
    assert_error_json(curl(q(url)), 503)
    assert.is_true(curl(q(url)).body == FIXTURE)
    local r = curl("--limit-rate 1M " .. q(url), { max_time = 0.5 })
    assert.equal(28, r.rc)
    assert.matches("chunked", r.headers["transfer-encoding"])
    assert.is_true(#r.body > 65536)
    assert.is_true(curl(q(url)).body == FIXTURE)

    srv:fault("f3", "poll", { { status = 500, body = { custom = true } } })
    r = poll(srv, "f3", "k", "whatever")
    assert.equal(500, r.status)
    assert.same({ custom = true }, cjson.decode(r.body))
    assert_error_json(poll(srv, "f3", "k", "whatever"), 404)
  end)

  it("rejects malformed fault lists", function()
    assert.has_error(function() srv:fault("bad", "create", { { stauts = 500 } }) end)
    assert.has_error(function() srv:fault("bad", "nowhere", { { pass = true } }) end)
    assert.has_error(function() srv:fault("bad ns", "create", {}) end)
  end)
end)

describe("server.py over TLS #slow", function()
  local srv
  setup(function() srv = testserver.start{ tls = true, key = "test-key-123" } end)
  teardown(function() if srv then srv:stop() end end)

  it("serves HTTPS that curl trusts with the throwaway CA", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", srv.api)
    assert.matches("^http://", srv.cdn)
    assert.is_string(readfile(srv.ca_file))
    local r = create(srv, "tls", "test-key-123")
    assert.equal(0, r.rc)
    assert.equal(srv.profile.create_status, r.status)
    assert_error_json(create(srv, "tls", "wrong-key"), 401)
    -- the cert also names localhost
    local port = srv.api:match(":(%d+)$")
    local l = curl("--cacert " .. q(srv.ca_file) .. " --resolve localhost:" .. port .. ":127.0.0.1 "
      .. q("https://localhost:" .. port .. "/v2/x"))
    assert.equal(0, l.rc)
    assert.equal(404, l.status)
  end)

  it("fails verification without the CA", function()
    local r = curl("-H 'Authorization: Bearer test-key-123' --data-binary " .. q(json_body()) .. " "
      .. q(srv:base_url("tls2") .. "/video/generations"))
    assert.equal(60, r.rc)
    assert.equal(0, srv:count("tls2", "create"))
  end)

  it("fails verification for a cert with the wrong name", function()
    local other = testserver.start{ tls = { cert = srv.certs.wrong_cert, key = srv.certs.wrong_key, ca = srv.ca_file } }
    local ok, err = pcall(function()
      local r = create(other, "w", "k")
      assert.equal(60, r.rc)
      assert.equal(0, other:count("w", "create"))
    end)
    other:stop()
    assert(ok, err)
  end)
end)

describe("server lifecycle #slow", function()
  it("stops idempotently and says why it cannot start", function()
    local srv = testserver.start{ sandbox = true }
    local log = readfile(srv.log_file)
    assert.matches("OMNIHUMAN_BASE_URL=" .. srv.api:gsub("%p", "%%%0") .. "/v2", log)
    assert.matches("lip%-sync", log)
    local pid, dir = srv.pid, srv.dir
    srv:stop()
    srv:stop()
    assert.is_false(alive(pid))
    assert.is_nil(readfile(dir .. "/stdout"))

    local ok, err = pcall(testserver.start, { tls = { cert = "/nonexistent.pem", key = "/nonexistent.key" } })
    assert.is_false(ok)
    assert.matches("cannot load TLS cert", err)
  end)

  it("exits after --lifetime, when its parent dies and when the watched pid dies", function()
    local short = testserver.start{ lifetime = 1 }
    local orphan_f, watcher_f = tmp .. "/orphan.json", tmp .. "/watcher.json"
    local py = q(testserver.python) .. " " .. q(testserver.script) .. " --lifetime 30 "
    -- the shell that starts this server exits 0.5 s later
    os.execute("sh -c " .. q(py .. ">" .. q(orphan_f) .. " 2>/dev/null & sleep 0.5"))
    -- this one watches a process that is gone 0.3 s later
    os.execute("sh -c " .. q("sleep 0.3 & " .. py .. "--watch-pid $! >" .. q(watcher_f)
      .. " 2>/dev/null &"))
    -- Generous bounds: a loaded CI machine starts python slowly.
    local function first_line(path)
      for _ = 1, 200 do                    -- at most ~10 s
        local s = readfile(path)
        if s and s:match("\n") then return cjson.decode(s) end
        sh.sleep(0.05)
      end
    end
    local orphan = first_line(orphan_f)
    local watcher = first_line(watcher_f)
    assert.is_table(orphan)
    assert.is_table(watcher)
    local pids = { short.pid, orphan.pid, watcher.pid }
    local gone
    for _ = 1, 100 do                      -- at most ~10 s
      gone = true
      for _, pid in ipairs(pids) do gone = gone and not alive(pid) end
      if gone then break end
      sh.sleep(0.1)
    end
    short:stop()
    for _, pid in ipairs(pids) do
      if alive(pid) then os.execute("kill " .. pid) end
    end
    assert.is_true(gone)
  end)

  it("stops a server that is never stopped when its Lua process exits", function()
    local out = tmp .. "/forgotten"
    local script = "package.path = './?.lua;' .. package.path "
      .. "local srv = require('spec.support.testserver').start() "
      .. "io.open('" .. out .. "', 'w'):write(srv.pid):close()"
    local t0 = os.time()
    -- lua5.4 whatever runtime runs the suite: not the suite's module paths
    os.execute("env -u LUA_PATH -u LUA_CPATH timeout 20 lua5.4 -e " .. q(script))
    assert.is_true(os.time() - t0 < 10)
    local pid = tonumber(readfile(out))
    for _ = 1, 30 do
      if not alive(pid) then break end
      sh.sleep(0.1)
    end
    assert.is_false(alive(pid))
  end)
end)
