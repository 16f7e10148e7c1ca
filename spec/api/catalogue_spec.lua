-- The model catalogue: the committed table is what the generator makes from
-- the pinned facts; every model of it, in a generated matrix, takes a
-- minimal create built from its own rules and refuses, before anything is
-- sent, each way of breaking them (a required field missing, a value out of
-- its enum or range, an array too long or too short, a string too long, a
-- field the model does not document) with invalid_input naming the field,
-- the model and what is allowed. Against the fake service: a valid create
-- of every model arrives with exactly its fields, an invalid one never
-- leaves, a model not in the table is sent as given with an event.
local omnihuman = require("omnihuman")
local catalogue = require("omnihuman.catalogue")
local fixtures = require("spec.support.fixtures")
local cjson = require("cjson")

local samples = require("spec.support.model_samples")
local sample, minimal = samples.sample, samples.minimal

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- Every way to break one field's rule, as { label, value }.
local function breakers(r)
  local out = {}
  if r.enum then
    out[#out + 1] = { "outside its enum", type(r.enum[1]) == "string" and "no-such-option" or 987654 }
  end
  if r.type == "integer" or r.type == "number" then
    if r.maximum then out[#out + 1] = { "above its maximum", r.maximum + 1 } end
    if r.minimum then out[#out + 1] = { "below its minimum", r.minimum - 1 } end
    out[#out + 1] = { "of the wrong type", "12" }
  elseif r.type == "string" then
    if r.maxLength then out[#out + 1] = { "too long", ("a"):rep(r.maxLength + 1) } end
    out[#out + 1] = { "of the wrong type", 12 }
  elseif r.type == "array" then
    if r.maxItems then
      local v = {}
      for i = 1, r.maxItems + 1 do v[i] = sample(r.items or { type = "string" }) end
      out[#out + 1] = { "with too many items", v }
    end
    if r.minItems and r.minItems > 1 then out[#out + 1] = { "with too few items", { sample(r.items) } } end
  elseif r.type == "boolean" then
    out[#out + 1] = { "of the wrong type", "yes" }
  end
  return out
end

describe("the model catalogue #slow", function()
  local ids = omnihuman.models()

  it("has facts that the extractor makes from the pinned reference (make models-extract)", function()
    local out = os.tmpname()
    local ok = os.execute("python3 tools/models/extract.py models/reference > " .. out)
    assert(ok == true or ok == 0, "tools/models/extract.py failed")
    local got = fixtures.read(out)
    os.remove(out)
    assert(got == fixtures.read("models/catalogue.json"),
      "models/catalogue.json differs from what tools/models/extract.py makes of models/reference")
  end)

  it("is the table the generator makes from the pinned facts (make models)", function()
    local gen = dofile("tools/models/generate.lua")
    local want = gen.render(".")
    assert(want == fixtures.read("lua/omnihuman/models_data.lua"),
      "lua/omnihuman/models_data.lua differs from what tools/models/generate.lua makes: run make models")
    assert(gen.render_doc(".") == fixtures.read("docs/models.md"),
      "docs/models.md differs from what tools/models/generate.lua makes: run make models")
  end)

  it("lists every model of /v2/video/generations, sorted, OmniHuman included", function()
    local facts = cjson.decode(fixtures.read("models/catalogue.json")).models
    local n = 0
    for _ in pairs(facts) do n = n + 1 end
    assert.equals(n, #ids)
    assert.is_true(#ids >= 140, #ids)
    for i = 2, #ids do assert.is_true(ids[i - 1] < ids[i]) end
    local om = omnihuman.model("bytedance/omnihuman")
    assert.same({ "image_url", "audio_url" }, om.required)
    assert.equals("image", om.fields.image_url.file)
    assert.equals("audio", om.fields.audio_url.file)
    assert.equals(30, om.limits.audio_url.audio_seconds)
    assert.is_nil(omnihuman.model("no/such-model"))
    om.required[1] = "changed" -- a copy: the table itself stays
    assert.equals("image_url", omnihuman.model("bytedance/omnihuman").required[1])
  end)

  it("accepts a minimal create of every model and refuses every broken field, naming it", function()
    local cells = 0
    for _, id in ipairs(ids) do
      local m = catalogue.model(id)
      local base = minimal(id, m)
      local why = catalogue.check(id, base, true)
      assert(why == nil, id .. ": the minimal create is refused: " .. tostring(why))
      for _, k in ipairs(m.required or {}) do
        local f = copy(base)
        f[k] = nil
        why = catalogue.check(id, f, true)
        assert(why and why:find(k, 1, true) and why:find(id, 1, true), id .. " without " .. k .. ": " .. tostring(why))
        cells = cells + 1
      end
      for k, r in pairs(m.fields) do
        for _, b in ipairs(breakers(r)) do
          local f = copy(base)
          f[k] = b[2]
          why = catalogue.check(id, f, true)
          assert(why and why:find(k, 1, true) and why:find(id, 1, true),
            ("%s: %s %s passed: %s"):format(id, k, b[1], tostring(why)))
          if b[1] == "outside its enum" then
            assert(why:find(tostring(r.enum[1]), 1, true), id .. ": the allowed values are not named: " .. why)
          end
          cells = cells + 1
        end
      end
      local f = copy(base)
      f.no_such_field = "x"
      why = catalogue.check(id, f, true)
      assert(why and why:find('unknown field "no_such_field"', 1, true) and why:find(id, 1, true), tostring(why))
      assert.is_nil(catalogue.check(id, f, false))
      cells = cells + 2
    end
    print(("catalogue: %d models, %d refusal cells"):format(#ids, cells))
    assert.is_true(cells > 1000, cells)
  end)

  describe("against the fake service", function()
    local srv
    setup(function() srv = fixtures.start{ tls = false } end)
    teardown(function() srv:stop() end)

    it("sends a valid create of every model with exactly its fields #slow", function()
      local ns = fixtures.ns("cat")
      local c = fixtures.client(srv, ns, { strict = true })
      for _, id in ipairs(ids) do
        local f = minimal(id, catalogue.model(id))
        local job, err = c:create(f)
        assert(job, id .. ": " .. tostring(err))
        local recs = srv:records(ns).requests
        local body = cjson.decode(recs[#recs].body)
        for k, v in pairs(f) do
          if type(v) ~= "table" then assert.equals(v, body[k], id .. " " .. k) end
        end
      end
      assert.equals(#ids, srv:count(ns, "create"))
    end)

    it("sends nothing for an invalid create, and says what is wrong", function()
      local ns = fixtures.ns("cat")
      local events = {}
      local c = fixtures.client(srv, ns, { on_event = function(ev) events[#events + 1] = ev.type end })
      local cases = {
        { { model = "google/veo-3.1-t2v", prompt = "a cat", duration = 7 }, "duration must be one of" },
        { { model = "google/veo-3.1-t2v" }, "requires prompt" },
        { { model = "google/veo-3.1-t2v", prompt = "a cat", durration = 8 }, 'unknown field "durration"' },
        { { image_url = "https://x/a.png" }, "requires audio_url" },
        { { image_url = "no/such/face.png", audio_url = "https://x/a.mp3" }, "image_url file 'no/such/face.png'" },
        { { image_url = "https://x/a.png", audio_url = "https://x/a.mp3", prompt = "hi" }, 'unknown field "prompt"' },
      }
      for _, case in ipairs(cases) do
        local job, err = c:create(case[1])
        assert.is_nil(job)
        assert.equals("invalid_input", err.kind)
        assert.matches(case[2], err.message, 1, true)
      end
      assert.equals(0, srv:count(ns, "create") or 0)
      assert.same({}, events) -- nothing was even attempted
      -- strict = false, per call or per client, sends the unknown field.
      assert(c:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", prompt = "hi", strict = false })
      local body = cjson.decode(srv:records(ns).requests[1].body)
      assert.equals("hi", body.prompt)
      assert.is_nil(body.strict)
      local loose = fixtures.client(srv, ns, { strict = false })
      assert(loose:create{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", prompt = "hi" })
      assert.equals(2, srv:count(ns, "create"))
    end)

    it("the CLI lists models, shows one, and refuses a bad create with exit 2 before any request", function()
      local cli = require("spec.support.cli")
      local ns = fixtures.ns("cat")
      local env = cli.env(srv, ns)
      local code, out = cli.run({ "models" }, env)
      assert.equals(0, code)
      local listed = {}
      for line in out:gmatch("[^\n]+") do listed[#listed + 1] = line end
      assert.same(ids, listed)
      code, out = cli.run({ "models", "--json" }, env)
      assert.equals(0, code)
      assert.same(ids, cjson.decode(out))
      code, out = cli.run({ "models", "google/veo-3.1-t2v" }, env)
      assert.equals(0, code)
      assert.matches("duration%s+integer, one of 4, 6, 8", out)
      assert.matches("prompt%s+required%s+string", out)
      code, out = cli.run({ "models", "bytedance/omnihuman", "--json" }, env)
      assert.equals(0, code)
      assert.same({ "image_url", "audio_url" }, cjson.decode(out).required)
      local err, _
      code, _, err = cli.run({ "models", "no/such" }, env)
      assert.equals(2, code)
      assert.matches("not in the table", err)
      code, _, err = cli.run({ "create", "--model", "google/veo-3.1-t2v", "--field", "prompt=a cat",
                               "--field", "duration=7" }, env)
      assert.equals(2, code)
      assert.matches("duration must be one of 4, 6, 8", err)
      code, _, err = cli.run({ "create", "--image", "https://x/a.png", "--audio", "https://x/a.mp3",
                               "--field", "prompt=hi" }, env)
      assert.equals(2, code)
      assert.matches('unknown field "prompt"', err)
      assert.equals(0, srv:count(ns, "create") or 0)
      code = cli.run({ "create", "--model", "google/veo-3.1-t2v", "--field", "prompt=a cat",
                       "--field", "duration=8" }, env)
      assert.equals(0, code)
      assert.equals(1, srv:count(ns, "create"))
    end)

    it("examples/models.lua runs its five models as documented (a child process)", function()
      local sh = require("spec.support.sh")
      local ns = fixtures.ns("cat")
      local dir = fixtures.tmpdir()
      local lua = require("spec.support.cli").LUA -- the suite's own interpreter (sanitizers included)
      local ok, out = sh.run(("OMNIHUMAN_BASE_URL=%q AIMLAPI_KEY=%q %s examples/models.lua %q 2>&1")
        :format(srv:base_url(ns), fixtures.KEY, lua, dir))
      assert.is_truthy(ok, out)
      assert.matches("5 of 5 generations done", out)
      assert.equals(5, srv:count(ns, "create"))
      local models = {}
      for model in out:gmatch("\n?%S+%s+(%S+/%S+)%s+/") do models[#models + 1] = model end
      table.sort(models)
      assert.same({ "bytedance/seedance-2-0", "google/veo-3.1-first-last-image-to-video", "google/veo-3.1-t2v",
                    "klingai/avatar-standard", "pixverse/lip-sync" }, models)
      for _, name in ipairs({ "veo-t2v", "veo-first-last", "kling-avatar", "seedance-refs", "pixverse-lipsync" }) do
        assert.is_true(#fixtures.read(dir .. "/" .. name .. ".mp4") > 0, name)
      end
      fixtures.rm_rf(dir)
    end)

    it("refuses a local file larger than the model's stated limit (Kling Avatar audio: 5 MB)", function()
      local ns = fixtures.ns("cat")
      local c = fixtures.client(srv, ns)
      local dir = fixtures.tmpdir()
      local big = dir .. "/big.wav"
      local f = assert(io.open(big, "wb"))
      f:write(fixtures.read(fixtures.WAV))
      f:write(("\0"):rep(5 * 1048576))
      f:close()
      local job, err = c:create{ model = "klingai/avatar-standard", image = fixtures.PNG, audio = big }
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches("at most 5242880 bytes", err.message, 1, true)
      assert.equals(0, srv:count(ns, "create") or 0)
      assert(c:create{ model = "klingai/avatar-standard", image = fixtures.PNG, audio = fixtures.WAV })
      fixtures.rm_rf(dir)
    end)

    it("sends a model not in the table as given, with an event saying it was not checked", function()
      local ns = fixtures.ns("cat")
      local events = {}
      local c = fixtures.client(srv, ns, { on_event = function(ev) events[#events + 1] = ev end })
      local job = assert(c:create{ model = "vendor/brand-new-model", anything = 1, prompt = "p" })
      assert.matches("vendor/brand%-new%-model", job.id)
      assert.equals("unchecked_model", events[1].type)
      assert.equals("vendor/brand-new-model", events[1].model)
      local body = cjson.decode(srv:records(ns).requests[1].body)
      assert.equals(1, body.anything)
    end)
  end)
end)
