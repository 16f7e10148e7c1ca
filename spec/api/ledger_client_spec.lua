-- A client made with `ledger = PATH`: each create recorded before it is
-- sent, its id, statuses, result URL, download and credits; duplicates
-- refused; resume finishes a job without a create.
local fixtures = require("spec.support.fixtures")
local omnihuman = require("omnihuman")
local ledger = require("omnihuman.ledger")

local function rows_of(path)
  local l = assert(ledger.open(path))
  local rows = assert(l:list())
  l:close()
  return rows
end

describe("client with a ledger #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("records a generate from create to download, and refuses the same request again", function()
    local ns = fixtures.ns("lg")
    local db = dir .. "/a.db"
    local c = fixtures.client(srv, ns, { ledger = db })
    local out = dir .. "/a.mp4"
    local res = assert(c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = out, label = "first" })
    assert.equals(out, res.output)
    local rows = rows_of(db)
    assert.equals(1, #rows)
    local r = rows[1]
    assert.equals("downloaded", r.state)
    assert.equals(res.id, r.job_id)
    assert.equals(out, r.output)
    assert.equals(#fixtures.read(out), r.bytes)
    assert.equals("first", r.label)
    assert.equals(res.video.url, r.result_url)
    assert.equals(res.credits, r.credits)
    local req = require("cjson").decode(r.request)
    assert.equals(require("omnihuman.ledger_db").cwd() .. "/" .. fixtures.PNG, req.fields.image.path)
    assert.equals(64, #req.fields.image.sha256)
    assert.equals("bytedance/omnihuman", req.model)
    assert.equals(1, srv:count(ns, "create"))

    -- the same bytes through another path to the same output: the same
    -- request, refused unsent
    local copy = dir .. "/copy.png"
    fixtures.write(copy, fixtures.read(fixtures.PNG))
    local job, err = c:generate{ image = copy, audio = fixtures.WAV, output = out }
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
    assert.equals(r.row, err.existing.row)
    assert.truthy(tostring(err):find(res.id, 1, true))
    assert.equals(1, srv:count(ns, "create"))
    -- again = true pays again, on a new row
    job = assert(c:create({ image = copy, audio = fixtures.WAV, again = true }, out))
    assert.equals(2, srv:count(ns, "create"))
    assert.equals(2, #rows_of(db))
    assert.equals(job.id, c:jobs{ state = "created" }[1].job_id)
    -- the same request to another output (or to none) is another video
    assert(c:create({ image = copy, audio = fixtures.WAV }, dir .. "/other.mp4"))
    assert(c:create{ image = copy, audio = fixtures.WAV })
    assert.equals(4, srv:count(ns, "create"))
    job, err = c:create{ image = fixtures.PNG, audio = fixtures.WAV }
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
    assert.equals(4, srv:count(ns, "create"))
    -- the service never saw the ledger's own fields
    local body = srv:records(ns).requests
    for _, rec in ipairs(body) do
      if rec.route == "create" then assert.falsy(rec.body:find('"again"', 1, true)) end
    end
    c:close()
  end)

  it("knows a request by its files' bytes in any file field, nested or in arrays", function()
    local ns = fixtures.ns("lg")
    local c = fixtures.client(srv, ns, { ledger = dir .. "/files.db" })
    local a, b = dir .. "/ref-a.png", dir .. "/ref-b.png"
    fixtures.write(a, fixtures.read(fixtures.PNG))
    fixtures.write(b, fixtures.read(fixtures.PNG) .. "x") -- other bytes: another request
    local function seedance(refs, extra)
      local f = { model = "bytedance/seedance-2-0", prompt = "p", image_urls = refs, sandbox_polls = 1 }
      for k, v in pairs(extra or {}) do f[k] = v end
      return f
    end
    assert(c:create(seedance({ a, "https://x/u.png" })))
    -- the same bytes under another name, in the same place: refused unsent
    local copy = dir .. "/ref-copy.png"
    fixtures.write(copy, fixtures.read(a))
    local job, err = c:create(seedance({ copy, "https://x/u.png" }))
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
    -- other bytes, or the same file in another place of the array: other requests
    assert(c:create(seedance({ b, "https://x/u.png" })))
    assert(c:create(seedance({ "https://x/u.png", a })))
    -- a nested file: Act-Two's character.url
    local act = { model = "runway/act_two", character = { type = "image", url = a },
                  reference = { type = "video", url = "https://x/r.mp4" }, sandbox_polls = 1 }
    assert(c:create(act))
    job, err = c:create{ model = "runway/act_two", character = { type = "image", url = copy },
                         reference = { type = "video", url = "https://x/r.mp4" }, sandbox_polls = 1 }
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
    assert.equals(4, srv:count(ns, "create"))
    -- image = path and image_url = path are one request
    assert(c:create{ image = a, audio_url = "https://x/a.mp3" })
    job, err = c:create{ image_url = copy, audio_url = "https://x/a.mp3" }
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
  end)

  it("records a create the service refused as not_created, one that may exist as maybe_created", function()
    local ns = fixtures.ns("lf")
    local db = dir .. "/b.db"
    local c = fixtures.client(srv, ns, { ledger = db, max_retries = 0 })
    srv:fault(ns, "create", { { status = 400 } })
    local job = c:create(fixtures.url_fields())
    assert.is_nil(job)
    assert.equals("not_created", rows_of(db)[1].state)
    local err
    srv:fault(ns, "create", { { after = { hang = true } } })
    c = fixtures.client(srv, ns, { ledger = db, max_retries = 0, timeout = 0.5 })
    job, err = c:create(fixtures.url_fields())
    assert.is_nil(job)
    assert.is_true(err.maybe_created)
    local rows = rows_of(db)
    assert.equals("maybe_created", rows[2].state)
    -- a maybe-made job blocks the same request; resume refuses to pay
    job, err = c:create(fixtures.url_fields())
    assert.is_nil(job)
    assert.equals("duplicate", err.kind)
    job, err = c:resume(rows[2].row)
    assert.is_nil(job)
    assert.truthy(err.message:find("no job id", 1, true))
    assert.equals(2, srv:count(ns, "create"))
  end)

  it("resume waits and downloads again without a create", function()
    local ns = fixtures.ns("lr")
    local db = dir .. "/c.db"
    local c = fixtures.client(srv, ns, { ledger = db })
    local job = assert(c:create(fixtures.url_fields(), dir .. "/c.mp4"))
    assert.equals("created", rows_of(db)[1].state)
    local seen = {}
    local res = assert(c:resume(job.id, { on_status = function(st) seen[#seen + 1] = st.status end }))
    assert.equals(dir .. "/c.mp4", res.output)
    assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(dir .. "/c.mp4"))
    local r = rows_of(db)[1]
    assert.equals("downloaded", r.state)
    assert.equals(res.status, r.status)
    assert.is_true(#seen >= 1)
    assert.equals(1, srv:count(ns, "create"))
    -- by row table too, to another output
    res = assert(c:resume(r, { output = dir .. "/c2.mp4" }))
    assert.equals(dir .. "/c2.mp4", res.output)
    assert.equals(1, srv:count(ns, "create"))
  end)

  it("lists rows by state, model, label and age", function()
    local ns = fixtures.ns("ll")
    local db = dir .. "/d.db"
    local c = fixtures.client(srv, ns, { ledger = db })
    for i = 1, 3 do
      assert(c:create(fixtures.url_fields{ sandbox_tag = "p" .. i, label = i == 2 and "two" or nil }))
    end
    assert(c:create(fixtures.url_fields{ model = "bytedance/omnihuman/v1.5" }))
    assert.equals(4, #c:jobs())
    assert.equals(1, #c:jobs{ label = "two" })
    assert.equals(1, #c:jobs{ model = "bytedance/omnihuman/v1.5" })
    assert.equals(3, #c:jobs{ model = "bytedance/omnihuman" })
    assert.equals(4, #c:jobs{ state = "created" })
    assert.equals(4, #c:jobs{ since = os.time() - 3600 })
    assert.equals(0, #c:jobs{ since = os.time() + 3600 })
  end)

  it("records a create whose coroutine was cut short, when the client is closed", function()
    local ns = fixtures.ns("lx")
    local db = dir .. "/x.db"
    local c = fixtures.client(srv, ns, { ledger = db })
    srv:fault(ns, "create", { { delay = 0.5 } })
    local ok, err = pcall(omnihuman.run, function()
      omnihuman.spawn(function() c:create(fixtures.url_fields()) end)
      omnihuman.spawn(function()
        omnihuman.sleep(0.1)
        error("boom")
      end)
    end)
    assert.is_false(ok)
    assert.matches("boom", tostring(err))
    assert.equals("creating", rows_of(db)[1].state)
    c:close()
    local r = rows_of(db)[1]
    assert.equals("created", r.state)
    assert.is_string(r.job_id)
    assert.equals(1, srv:count(ns, "create"))
  end)

  it("never stores the key", function()
    local ns = fixtures.ns("lk")
    local db = dir .. "/k.db"
    local c = fixtures.client(srv, ns, { ledger = db })
    assert(c:generate(fixtures.url_fields{ output = dir .. "/k.mp4" }))
    c:close()
    for _, f in ipairs{ db, db .. "-wal" } do
      local data = io.open(f, "rb")
      if data then
        assert.falsy(data:read("*a"):find(fixtures.KEY, 1, true), f)
        data:close()
      end
    end
  end)

  it("refuses create_op, and jobs/resume without a ledger raise", function()
    local c = fixtures.client(srv, fixtures.ns("lo"), { ledger = dir .. "/o.db" })
    assert.has_error(function() c:create_op(fixtures.url_fields()) end)
    local plain = fixtures.client(srv, fixtures.ns("lo"))
    assert.has_error(function() plain:jobs() end)
    assert.has_error(function() plain:resume("x") end)
    assert.has_error(function() omnihuman.new{ ledger = 5 } end)
  end)
end)

describe("gen:cancel() on a client with a ledger #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("ends the wait in flight at once, keeps the job in the ledger, and resume finishes it", function()
    local ns = fixtures.ns("lc")
    local db, out = dir .. "/c.db", dir .. "/c.mp4"
    local queued = {}
    for i = 1, 400 do queued[i] = { status = 200, body = '{"id":"x","status":"queued"}' } end
    srv:fault(ns, "poll", queued) -- the job never finishes while the fault lasts
    local c = fixtures.client(srv, ns, { ledger = db })
    local gen = c:generate_op{ image = fixtures.PNG, audio = fixtures.WAV, output = out, interval = 0.2,
                               timeout = 300 }
    local res, err, took, order = nil, nil, nil, {}
    omnihuman.run(function()
      omnihuman.spawn(function()
        res, err = gen:await()
        order[#order + 1] = "returned"
      end)
      omnihuman.spawn(function()
        local deadline = fixtures.now() + 20
        while (not gen.job_id or (srv:count(ns, "poll") or 0) < 2) and fixtures.now() < deadline do
          omnihuman.sleep(0.05)
        end
        local t0 = fixtures.now()
        order[#order + 1] = "cancel"
        assert.is_true(gen:cancel())
        while not err and not res and fixtures.now() - t0 < 30 do omnihuman.sleep(0.01) end
        took = fixtures.now() - t0
      end)
    end)
    assert.same({ "cancel", "returned" }, order)
    assert.is_nil(res)
    assert.equals("cancelled", err.kind)
    assert.equals(gen.job_id, err.job_id)
    assert.is_true(took < 10, "the wait went on after the cancel: " .. tostring(took) .. " s") -- its timeout is 300 s
    assert.is_nil(io.open(out))
    local rows = rows_of(db)
    assert.equals(1, #rows)
    assert.equals(gen.job_id, rows[1].job_id)
    assert.are_not.equal("downloaded", rows[1].state)
    srv:fault(ns, "poll", {}) -- the job goes on as the server plays it
    local done = assert(c:resume(gen.job_id))
    assert.equals(out, done.output)
    assert.equals(1, srv:count(ns, "create")) -- resume paid nothing
    c:close()
  end)
end)
