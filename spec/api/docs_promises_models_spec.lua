-- docs/api.md "Models" and README "Use", checked as a user reads them, over
-- every model of the table: a create that breaks its model's rules (a field
-- the model does not take, a value outside its enum or range, a value of the
-- wrong type, an array with too many or too few items, a string too long, a
-- missing required field, a local file of the wrong kind) ends with
-- invalid_input before anything is sent, naming the field and the model; a
-- create inside the rules, at their exact ends too, is sent. The server is
-- the offline sandbox, which checks each create against the same table: a
-- create it refuses is a create the library should have refused. Seeded
-- (spec/support/seeded.lua): the seed is printed, OMH_SEED=n repeats a run.
local omnihuman = require("omnihuman")
local cjson = require("cjson")
local fixtures = require("spec.support.fixtures")
local ts = require("spec.support.testserver")
local seeded = require("spec.support.seeded")
local mb = require("spec.support.media_bytes")

local rnd = seeded.rng()
print(("docs_promises_models: seed %d (OMH_SEED=%d repeats this run)"):format(seeded.SEED, seeded.SEED))

local URL = { image = "https://example.com/a.png", audio = "https://example.com/a.wav",
              video = "https://example.com/a.mp4" }

-- A value inside rule r (random where the rule leaves a choice); edge "min"
-- or "max" picks the end of each range, length and item count.
local function valid(r, edge)
  if r.anyOf then return valid(r.anyOf[rnd(#r.anyOf)], edge) end
  if r.enum then return r.enum[rnd(#r.enum)] end
  local t = r.type
  if t == "string" or t == nil then
    if r.file then return URL[r.file] or URL.image end
    local n = math.max(r.minLength or 1, 1)
    if edge == "max" and r.maxLength then n = r.maxLength end
    if edge == "min" and r.minLength then n = r.minLength end
    if r.maxLength and n > r.maxLength then n = r.maxLength end
    -- two-byte characters: a length is counted in characters, as the
    -- reference (JSON Schema) counts it
    return edge == "max" and ("\195\169"):rep(n) or ("p"):rep(n)
  elseif t == "integer" or t == "number" then
    local lo = r.minimum or 0
    local hi = r.maximum or lo + 100
    if edge == "min" and r.minimum then return r.minimum end
    if edge == "max" and r.maximum then return r.maximum end
    if t == "integer" then
      lo, hi = math.ceil(lo), math.floor(hi)
      return lo + rnd(math.min(hi - lo + 1, 1000)) - 1
    end
    return lo + (hi - lo) * (rnd(1000) - 1) / 1000
  elseif t == "boolean" then
    return rnd(2) == 1
  elseif t == "array" then
    local n = math.max(r.minItems or 1, 1)
    if edge == "max" and r.maxItems then n = r.maxItems end
    if edge == "min" and r.minItems then n = r.minItems end
    if r.maxItems and n > r.maxItems then n = r.maxItems end
    local out = {}
    for i = 1, n do out[i] = valid(r.items or { type = "string" }, edge) end
    return out
  elseif t == "object" then
    local out, req = {}, {}
    for _, k in ipairs(r.required or {}) do req[k] = true end
    for k, sub in pairs(r.properties or {}) do
      if req[k] or rnd(3) == 1 then out[k] = valid(sub, edge) end
    end
    return out
  end
end

local sorted_keys = require("spec.support.model_samples").sorted_keys

-- A create of model id inside its rules: the required fields, and about a
-- third of the others (all of them at an edge).
local function valid_create(id, m, edge)
  local f = { model = id }
  local req = {}
  for _, k in ipairs(m.required) do req[k] = true end
  for _, k in ipairs(sorted_keys(m.fields)) do
    if req[k] or edge or rnd(3) == 1 then f[k] = valid(m.fields[k], edge) end
  end
  return f
end

-- Values that break rule r, each with a label: {label, value}.
local function breakers(r)
  local out = {}
  local function add(label, v) out[#out + 1] = { label, v } end
  if r.anyOf then return out end
  local t = r.type
  if r.enum then
    add("outside its enum", type(r.enum[1]) == "number" and 987654.5 or "zz-not-in-the-enum")
  end
  if t == "integer" or t == "number" then
    if r.minimum then add("under its minimum", r.minimum - (t == "integer" and 1 or 0.001)) end
    if r.maximum then add("over its maximum", r.maximum + (t == "integer" and 1 or 0.001)) end
    add("a string for a number", "1")
    if t == "integer" then add("a fraction for a whole number", (r.minimum or 0) + 0.5) end
    add("NaN", 0 / 0)
  elseif t == "string" then
    if r.maxLength and not r.file then
      add("one character too long", ("p"):rep(r.maxLength + 1))
      add("one two-byte character too long", ("\195\169"):rep(r.maxLength + 1))
    end
    add("a number for a string", 7)
    add("a table for a string", { "x" })
  elseif t == "boolean" then
    add("a string for a boolean", "true")
  elseif t == "array" then
    if r.maxItems then
      local v = {}
      for i = 1, r.maxItems + 1 do v[i] = valid(r.items or { type = "string" }) end
      add("one item too many", v)
    end
    if r.minItems and r.minItems >= 2 then
      local v = {}
      for i = 1, r.minItems - 1 do v[i] = valid(r.items or { type = "string" }) end
      add("one item too few", v)
    end
    add("a string for an array", "x")
  elseif t == "object" then
    add("a string for an object", "x")
  end
  return out
end

-- Local files, one of each kind, and one of another kind for each.
local dir = fixtures.tmpdir("omh-docs-models")
local LOCAL = { image = dir .. "/face.png", audio = dir .. "/voice.wav", video = dir .. "/clip.mp4" }
local WRONG = { image = LOCAL.audio, audio = LOCAL.image, video = LOCAL.image }
fixtures.write(LOCAL.image, fixtures.read(fixtures.PNG))
fixtures.write(LOCAL.audio, mb.wav(8000, 1, 8, 2))
fixtures.write(LOCAL.video, fixtures.read(ts.fixture))

-- The sandbox with no ffmpeg on its PATH: it checks creates, and makes no
-- video for any of them (one clip per job would load a shared machine).
local function sandbox()
  local empty = fixtures.tmpdir("omh-docs-nopath")
  local wrapper = empty .. "/python"
  fixtures.write(wrapper, ("#!/bin/sh\nPATH=%s exec %s \"$@\"\n"):format(empty, ts.python))
  assert(os.execute("chmod +x '" .. wrapper .. "'"))
  return fixtures.start{ tls = false, sandbox = true, python = wrapper }, empty
end

describe("docs promises: the model table", function()
  local srv, empty
  setup(function() srv, empty = sandbox() end)
  teardown(function()
    srv:stop()
    fixtures.rm_rf(empty)
    fixtures.rm_rf(dir)
  end)

  -- No case went wrong, and the server got every one of the `sent` creates.
  local function nothing_wrong(wrong, sent, ns)
    assert.same({}, wrong)
    assert.equals(sent, srv:count(ns, "create"))
  end

  it("omnihuman.models() is 141 sorted ids; omnihuman.model(id) a copy with fields, required, limits, source", function()
    local ids = omnihuman.models()
    assert.equals(141, #ids)
    for i = 2, #ids do assert.is_true(ids[i - 1] < ids[i], ids[i]) end
    ids[1] = "changed"
    assert.are_not.equal("changed", omnihuman.models()[1])
    local limited = 0
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      assert.equals("table", type(m.fields), id)
      assert.equals("table", type(m.required), id)
      assert.matches("^docs/api%-references/video%-models/", m.source)
      limited = limited + (m.limits and 1 or 0)
      -- docs/models.md: each limit stated in prose names its reference file
      if m.limits then assert.equals(m.source, m.limits_source:sub(1, #m.source), id) end
      m.fields.zz = true
      m.required[#m.required + 1] = "zz"
      assert.is_nil(omnihuman.model(id).fields.zz)
    end
    assert.is_nil(omnihuman.model("zz/not-a-model"))
    assert.equals(9, limited) -- limits: only where the reference states some
  end)

  it("docs/models.md's table gives each model's required fields and reference file, as omnihuman.model does", function()
    local rows = {}
    for id, req, file in fixtures.read("docs/models.md"):gmatch("\n| `([^`]+)` | ([^|]-) | ([^|]-) |") do
      rows[#rows + 1] = id
      local m = omnihuman.model(id)
      assert.truthy(m, id)
      assert.equals(req == "-" and "" or req, table.concat(m.required, ", "), id)
      assert.equals("docs/api-references/video-models/" .. file, m.source, id)
    end
    assert.same(omnihuman.models(), rows)
  end)

  it("random creates: what the library refuses the sandbox refuses, what it sends the sandbox takes", function()
    local ns = fixtures.ns("diff")
    local c = fixtures.client(srv, ns)
    local core = omnihuman.core.new_client(omnihuman.loop(), { api_key = fixtures.KEY, base_url = srv:base_url(ns),
                                                               max_retries = 0 })
    local odd = { "s", 3, 2.5, true, {}, { 1, 2 }, { a = 1 }, -1, 0 }
    local ids = omnihuman.models()
    local disagree, refused, sent = {}, 0, 0
    for _ = 1, 400 do
      local id = ids[rnd(#ids)]
      local m = omnihuman.model(id)
      local f = valid_create(id, m)
      local names = sorted_keys(m.fields)
      for _ = 1, rnd(2) do -- one or two fields changed at random
        local k = names[rnd(#names)]
        local b, how = breakers(m.fields[k]), rnd(4)
        if how == 1 and #b > 0 then
          f[k] = b[rnd(#b)][2]
        elseif how == 2 then
          f[k] = odd[rnd(#odd)]
        else
          f[k] = valid(m.fields[k], ({ "min", "max" })[rnd(3)]) -- another value inside the rules
        end
      end
      local nan = false -- NaN is no JSON: not sent raw
      for _, v in pairs(f) do if v ~= v then nan = true end end
      if not nan then
        -- strict = false: the sandbox lets fields the table does not list pass
        -- (README), at any depth ({ a = 1 } in an object field)
        local job, err = c:create(fixtures.with(f, { strict = false }))
        local theirs, why = omnihuman.await(core:create_op(f))
        if job then sent = sent + 1 else refused = refused + 1 end
        if (job == nil) ~= (theirs == nil) then
          local shown = cjson.encode(fixtures.with(f, { model = false })):sub(1, 200)
          disagree[#disagree + 1] = ("%s %s: library %s, sandbox %s"):format(id, shown,
            job and "sent it" or tostring(err), theirs and "took it" or tostring(why))
        end
      end
    end
    print(("docs_promises_models: %d random creates refused, %d sent"):format(refused, sent))
    assert.same({}, disagree)
    assert.is_true(refused > 50 and sent > 50, refused .. " " .. sent)
  end)

  it("every model: the sandbox answers a create that breaks a rule 400, naming the field (the README)", function()
    local ns = fixtures.ns("raw")
    -- the core sends what it is given: no model check of its own
    local core = omnihuman.core.new_client(omnihuman.loop(), { api_key = fixtures.KEY, base_url = srv:base_url(ns),
                                                               max_retries = 0 })
    local wrong, sent = {}, 0
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      local base = valid_create(id, m)
      local tries = { { "zz_undocumented", fixtures.with(base, { zz_undocumented = 1 }), true } }
      for _, k in ipairs(m.required) do
        local f = fixtures.with(base)
        f[k] = nil
        tries[#tries + 1] = { k, f }
      end
      for _, k in ipairs(sorted_keys(m.fields)) do
        local b = breakers(m.fields[k])[1]
        if b and b[2] == b[2] then tries[#tries + 1] = { k, fixtures.with(base, { [k] = b[2] }) } end
      end
      for _, t in ipairs(tries) do
        sent = sent + 1
        local job, err = omnihuman.await(core:create_op(t[2]))
        local passes = t[3] -- a field the table does not list passes
        if passes and not job or not passes and (job or err.status ~= 400 or not err.message:find(t[1], 1, true)) then
          wrong[#wrong + 1] = ("%s %s: %s"):format(id, t[1], job and "accepted" or tostring(err))
        end
      end
    end
    nothing_wrong(wrong, sent, ns)
  end)

  it("every model: a create breaking a rule is invalid_input before anything is sent, naming field and model", function()
    local ns = fixtures.ns("bad")
    local sent = {}
    local c = fixtures.client(srv, ns, {
      on_event = function(ev) if ev.type == "request" then sent[#sent + 1] = ev end end })
    local tried, refused_wrong = 0, {}
    -- A rule broken names the field and the model ("Models"); a local file
    -- refused names the place and the file ("Inputs").
    local function expect_refused(id, field, label, f, file)
      tried = tried + 1
      local ok, job, err = pcall(c.create, c, f)
      local what = ("%s: %s %s"):format(id, field, label)
      assert(ok, what .. " raised: " .. tostring(job))
      if job ~= nil or not err or err.kind ~= "invalid_input" or not err.message:find(field, 1, true)
          or not err.message:find(file or id, 1, true) then
        refused_wrong[#refused_wrong + 1] = what .. " -> " .. (job and "a job" or tostring(err))
      end
    end
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      local base = valid_create(id, m)
      expect_refused(id, "zz_undocumented", "(a field the model does not list)",
        fixtures.with(base, { zz_undocumented = 1 }))
      for _, k in ipairs(m.required) do
        local f = fixtures.with(base)
        f[k] = nil
        expect_refused(id, k, "missing (required)", f)
      end
      for _, k in ipairs(sorted_keys(m.fields)) do
        local r = m.fields[k]
        for _, b in ipairs(breakers(r)) do expect_refused(id, k, b[1], fixtures.with(base, { [k] = b[2] })) end
        if r.file and WRONG[r.file] and r.type == "string" then
          local wrong = WRONG[r.file]
          expect_refused(id, k, "a local " .. r.file .. " file of another kind", fixtures.with(base, { [k] = wrong }), wrong)
        end
        if r.type == "array" and r.items and r.items.file and WRONG[r.items.file] then
          local v = valid(r)
          v[#v] = WRONG[r.items.file]
          expect_refused(id, k, "an item of another kind", fixtures.with(base, { [k] = v }), v[#v])
        end
      end
    end
    assert.same({}, refused_wrong)
    assert.is_true(tried > 1000, tried)
    assert.equals(0, #sent)
    assert.equals(0, srv:count(ns, "create") or 0)
  end)

  it("every model: a create inside its rules is sent, at the ends of every range and length too", function()
    local ns = fixtures.ns("good")
    local c = fixtures.client(srv, ns)
    local failed, sends = {}, 0
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      for _, edge in ipairs({ false, "min", "max" }) do
        local f = valid_create(id, m, edge or nil)
        -- one local file of the right kind in place of a URL, now and then
        for _, k in ipairs(sorted_keys(f)) do
          local r = m.fields[k]
          if r and r.type == "string" and LOCAL[r.file] and rnd(2) == 1 then f[k] = LOCAL[r.file] end
        end
        local job, err = c:create(f)
        sends = sends + 1
        if not job then
          failed[#failed + 1] = ("%s (%s): %s; sent %s"):format(id, edge or "random", tostring(err),
            cjson.encode(fixtures.with(f, { model = nil })):sub(1, 300))
        end
      end
    end
    nothing_wrong(failed, sends, ns)
  end)

  it("strict = false sends fields the reference does not list, at any depth", function()
    local ns = fixtures.ns("loose")
    local c = fixtures.client(srv, ns, { strict = false })
    local job, err = c:create(fixtures.url_fields{ zz_extra = "v" })
    assert.is_nil(err)
    assert.truthy(job.id)
    local act = {
      model = "runway/act_two",
      character = { type = "image", url = "https://example.com/a.png", zz_nested = "v" },
      reference = { type = "video", url = "https://example.com/a.mp4" },
    }
    job, err = c:create(act)
    assert.is_nil(err)
    assert.truthy(job and job.id)
    local bodies = {}
    for _, r in ipairs(srv:records(ns).requests) do
      if r.route == "create" then bodies[#bodies + 1] = r.body end
    end
    assert.equals(2, #bodies)
    assert.matches('"zz_extra"', bodies[1])
    assert.matches('"zz_nested"', bodies[2])
    -- strict = true (the default) refuses both, per create too
    local strict = fixtures.client(srv, ns)
    local _, e1 = strict:create(fixtures.url_fields{ zz_extra = "v" })
    local _, e2 = strict:create(act)
    assert.equals("invalid_input", e1.kind)
    assert.equals("invalid_input", e2.kind)
    assert.truthy((c:create(fixtures.with(act, { strict = true })) == nil))
    assert.equals(2, srv:count(ns, "create"))
  end)

  it("a model not in the table is sent as given, after an unchecked_model event; an event that raises stops it", function()
    local ns = fixtures.ns("unk")
    local seen = {}
    local c = fixtures.client(srv, ns, { on_event = function(ev)
      seen[#seen + 1] = ev.type .. (ev.type == "unchecked_model" and (":" .. ev.op .. ":" .. ev.model) or "")
    end })
    local job, err = c:create{ model = "zz/not-in-the-table", anything = { goes = 1 } }
    assert.is_nil(err)
    assert.truthy(job.id)
    assert.equals("unchecked_model:create:zz/not-in-the-table", seen[1])
    assert.equals("request", seen[2])
    assert.matches('"anything":{"goes":1}', srv:records(ns).requests[1].body, 1, true)
    -- its image, audio and mask still take local files, sent as <name>_url
    -- (small files: the server keeps the first 2000 characters of a body)
    local png, wav = dir .. "/tiny.png", dir .. "/tiny.wav"
    fixtures.write(png, fixtures.read(fixtures.PNG):sub(1, 33)) -- the signature and the IHDR chunk
    fixtures.write(wav, mb.wav(8000, 1, 8, 0.01))
    job, err = c:create{ model = "zz/not-in-the-table", image = png, audio = wav, mask = png }
    assert.is_nil(err)
    assert.truthy(job and job.id)
    local sent = cjson.decode(srv:records(ns).requests[2].body)
    assert.matches("^data:image/png;base64,", sent.image_url)
    assert.matches("^data:audio/wav;base64,", sent.audio_url)
    assert.matches("^data:image/png;base64,", sent.mask_url)
    assert.is_nil(sent.image or sent.audio or sent.mask)
    local raiser = fixtures.client(srv, ns, { model = "zz/other", on_event = function(ev)
      if ev.type == "unchecked_model" then error("no unchecked creates here") end
    end })
    assert.has_error(function() raiser:create{ prompt = "x" } end, "no unchecked creates here")
    assert.equals(2, srv:count(ns, "create"))
  end)
end)
