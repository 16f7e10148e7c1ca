-- docs/ledger.md, sentence by sentence, through the omnihuman.ledger API
-- and a client made with a ledger, against the test server.
local fixtures = require("spec.support.fixtures")
local omnihuman = require("omnihuman")
local db = require("omnihuman.ledger_db")
local canon = require("omnihuman.ledger_canon")

describe("docs/ledger.md promises", function()
  local ctx = require("spec.support.docs_promises")("ledgerdocs", setup, teardown)

  describe("the fingerprint", function()
    it("is the SHA-256 of the canonical JSON the doc spells out", function()
      local ns = fixtures.ns("fp")
      local path = ctx.dir .. "/fp.db"
      local c = fixtures.client(ctx.srv, ns, { ledger = path })
      local out = ctx.dir .. "/fp.mp4"
      local res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = out, label = "intro",
                                   max_audio_seconds = 29 }
      assert.is_nil(err)
      assert.equals(out, res.output)
      local row = c:jobs()[1]
      c:close()
      local img, aud = db.sha256_file(fixtures.PNG), db.sha256_file(fixtures.WAV)
      -- keys sorted, no spaces, "/" as "\/", each local file {"sha256": hex}
      -- under its short name; label and max_audio_seconds left out
      local text = ('{"fields":{"audio":{"sha256":"%s"},"image":{"sha256":"%s"}},"model":"bytedance\\/omnihuman"}')
        :format(aud, img)
      assert.equals(db.sha256(text), row.fingerprint)
      assert.equals("intro", row.label)
    end)

    it("spells a URL given as image/audio as <name>_url and numbers as documented", function()
      local fp = canon.fingerprint(nil, { image = "https://x/a.png", audio_url = "https://x/a.mp3",
                                          seed = 7, guidance = 0.1, max_audio_seconds = 3, again = true })
      local text = '{"fields":{"audio_url":"https:\\/\\/x\\/a.mp3","guidance":0.10000000000000001,'
        .. '"image_url":"https:\\/\\/x\\/a.png","seed":7},"model":"bytedance\\/omnihuman"}'
      assert.equals(db.sha256(text), fp)
    end)

    it("files_of finds the local files of every file field of the model", function()
      local files = canon.files_of({ model = "bytedance/seedance-2-0", prompt = "p",
                                     image_urls = { fixtures.PNG, "https://x/style.png" },
                                     last_image_url = fixtures.PNG })
      local where = {}
      for _, f in ipairs(files) do where[#where + 1] = f.field .. "=" .. f.path end
      table.sort(where)
      assert.same({ "image_urls[1]=" .. fixtures.PNG, "last_image_url=" .. fixtures.PNG }, where)
      -- the model as the second argument, else OmniHuman
      local second = canon.files_of({ prompt = "p", last_image_url = fixtures.PNG }, "bytedance/seedance-2-0")
      assert.equals(1, #second)
      local oh = canon.files_of({ image = fixtures.PNG, audio = "https://x/a.mp3" })
      assert.equals(1, #oh)
      assert.equals(fixtures.PNG, oh[1].path)
      assert.equals(require("omnihuman.ledger_client").files_of, canon.files_of)
    end)
  end)

  it("lets a reader open and list the ledger while another process holds its write lock", function()
    local cli = require("spec.support.cli")
    local sh = require("spec.support.sh")
    local path = ctx.dir .. "/shared.db"
    local l = assert(require("omnihuman.ledger").open(path))
    assert(l:begin_create{ fingerprint = "fp", model = "m", request = "{}" })
    l:close()
    local out = ctx.dir .. "/hold.out"
    sh.exec(cli.LUA .. " spec/support/ledger_writer.lua " .. sh.q(path) .. " 5 hold >" .. sh.q(out) .. " 2>&1 &")
    assert.is_true(cli.until_true(function() return (require("spec.support.files").read(out) or ""):find("holding") ~= nil end, 30))
    -- a busy timeout of 0: any wait for the writer would fail at once
    local ok, c = pcall(omnihuman.new, { api_key = "k", ledger = path, ledger_busy_timeout = 0 })
    assert.is_true(ok, tostring(c))
    local rows = assert(c:jobs())
    assert.equals(1, #rows)
    assert.equals("creating", rows[1].state)
    c:close()
  end)

  it("records a generation of client:generate_op like client:generate's", function()
    local ns = fixtures.ns("go")
    local c = fixtures.client(ctx.srv, ns, { ledger = ctx.dir .. "/go.db" })
    local out = ctx.dir .. "/go.mp4"
    local res, err
    omnihuman.run(function()
      res, err = c:generate_op{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", output = out }:await()
    end)
    assert.is_nil(err)
    local rows = c:jobs()
    assert.equals(1, #rows)
    local sh = require("spec.support.sh")
    local real = sh.lines("realpath " .. sh.q(out))[1]
    assert.same({ "downloaded", res.id, real }, { rows[1].state, rows[1].job_id, rows[1].output })
    assert.is_true((pcall(c.create_op, c, fixtures.url_fields())) == false)
    c:close()
  end)

  it("refuses a ledger whose schema is newer, and a busy timeout out of range", function()
    local path = ctx.dir .. "/newer.db"
    local h = assert(db.open(path, 1000))
    assert(h:exec("PRAGMA user_version = 2"))
    h:close()
    local ok, err = pcall(omnihuman.new, { api_key = "k", ledger = path })
    assert.is_false(ok)
    assert.matches("newer", tostring(err))
    for _, bad in ipairs{ -1, 86401, "5" } do
      assert.is_false((pcall(omnihuman.new, { api_key = "k", ledger = ctx.dir .. "/bt.db", ledger_busy_timeout = bad })))
    end
    assert.is_true((pcall(omnihuman.new, { api_key = "k", ledger = ctx.dir .. "/bt.db", ledger_busy_timeout = 0 })))
  end)
end)
