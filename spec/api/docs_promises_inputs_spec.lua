-- docs/api.md "Inputs", checked as a user reads it: URLs in any case are
-- sent unchanged, <name> stands for <name>_url at every place of every model
-- (both at once raise), the caller's table is never modified, a refused file
-- is named by its place, and every limit the model table states holds at
-- its exact end (as long as the limit or longer: refused; shorter: sent),
-- for audio seconds and bytes, max_audio_seconds on the client and per
-- create, and WAV data sizes of 0 or 0xFFFFFFFF counted to the end.
local omnihuman = require("omnihuman")
local cjson = require("cjson")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")
local mb = require("spec.support.media_bytes")
local sorted_keys = require("spec.support.model_samples").sorted_keys

local RATE = 8000 -- 8-bit mono: one byte a frame, so seconds are exact

local deep_copy = require("spec.support.model_samples").deep_copy

-- Create `refused` ends as invalid_input (nothing sent), create `sent` is sent.
local function refused_then_sent(c, refused, sent)
  local job, err = c:create(refused)
  assert.is_nil(job)
  assert.equals("invalid_input", err.kind)
  job, err = c:create(sent)
  assert.is_nil(err)
  assert.truthy(job.id)
end

describe("docs promises: inputs", function()
  local ctx = shared("omh-docs-inputs", setup, teardown)
  local fresh = ctx.fresh

  local n = 0
  local function wav(frames, opts)
    n = n + 1
    local path = ("%s/a%d.wav"):format(ctx.dir, n)
    fixtures.write(path, mb.wav(RATE, 1, 8, frames / RATE, opts))
    return path
  end

  -- The body of the last create of ns, decoded.
  local function last_body(ns)
    local body
    for _, r in ipairs(ctx.srv:records(ns).requests) do
      if r.route == "create" then body = r.body end
    end
    return body and cjson.decode(body)
  end

  it("a URL in any case of https://, http:// or data: is sent unchanged; anything else is a local path", function()
    local ns, c = fresh()
    for _, url in ipairs({ "HTTPS://EXAMPLE.com/A.png", "Http://example.com/a.png", "DATA:image/png;base64,AAAA",
                           "https://example.com/a.png?x=1#y" }) do
      local job, err = c:create{ image = url, audio_url = "hTtPs://example.com/a.wav" }
      assert.is_nil(err)
      assert.truthy(job.id)
      local sent = last_body(ns)
      assert.equals(url, sent.image_url)
      assert.equals("hTtPs://example.com/a.wav", sent.audio_url)
      assert.is_nil(sent.image)
    end
    local sent_before = ctx.srv:count(ns, "create")
    for _, path in ipairs({ "https:/example.com/a.png", "ftp://example.com/a.png", "data", ctx.dir .. "/missing.png" }) do
      local job, err = c:create{ image = path, audio_url = "https://example.com/a.wav" }
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches(path, err.message, 1, true)
    end
    assert.equals(sent_before, ctx.srv:count(ns, "create"))
  end)

  it("every model: <name> is sent as <name>_url unchanged; <name> and <name>_url together raise, sending nothing", function()
    local ns, c = fresh()
    local places, wrong = 0, {}
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      for _, k in ipairs(sorted_keys(m.fields)) do
        local short = k:match("^(.+)_url$")
        if short and m.fields[k].file and m.fields[short] == nil and m.fields[k].type == "string" then
          places = places + 1
          local url = "https://example.com/" .. short .. "?" .. places
          local before = ctx.srv:count(ns, "create") or 0
          assert.has_error(function() c:create{ model = id, [short] = url, [k] = url, strict = false } end)
          assert.equals(before, ctx.srv:count(ns, "create") or 0)
          -- the other required fields, where a string does (strict = false: the others are not checked)
          local f = { model = id, [short] = url, strict = false }
          for _, req in ipairs(m.required) do
            if req ~= k and m.fields[req].type == "string" then f[req] = "https://example.com/x" end
          end
          c:create(f)
          local sent = last_body(ns)
          if ctx.srv:count(ns, "create") == before or sent[k] ~= url or sent[short] ~= nil then
            wrong[#wrong + 1] = id .. " " .. short
          end
        end
      end
    end
    assert.same({}, wrong)
    assert.is_true(places > 100, places)
  end)

  it("the caller's table is never modified, local files in nested arrays and objects included", function()
    local _, c = fresh()
    local calls = {
      { model = "bytedance/seedance-2-0", prompt = "p", image_urls = { fixtures.PNG, "https://example.com/b.png" },
        audio = fixtures.WAV },
      { model = "runway/act_two", character = { type = "image", url = fixtures.PNG },
        reference = { type = "video", url = "https://example.com/r.mp4" } },
      { image = fixtures.PNG, audio = fixtures.WAV, max_audio_seconds = 29, allow_unmeasured_audio = false, strict = true },
    }
    for _, f in ipairs(calls) do
      local before = deep_copy(f)
      local job, err = c:create(f)
      assert.is_nil(err)
      assert.truthy(job.id)
      assert.same(before, f)
      f.output = ctx.dir .. "/out.mp4"
      before = deep_copy(f)
      local res
      res, err = c:generate(f)
      assert.is_nil(err)
      assert.equals(f.output, res.output)
      assert.same(before, f)
    end
  end)

  it("a refused local file is named by its place (image, image_urls[2], character.url) and its path", function()
    local ns, c = fresh()
    local bad = ctx.dir .. "/not-an-image.png"
    fixtures.write(bad, "plain text, not an image")
    local cases = {
      { "image", { image = bad, audio = fixtures.WAV } },
      { "image_urls[2]", { model = "bytedance/seedance-2-0", prompt = "p", image_urls = { fixtures.PNG, bad } } },
      { "character.url", { model = "runway/act_two", character = { type = "image", url = bad },
                           reference = { type = "video", url = "https://example.com/r.mp4" } } },
    }
    for _, case in ipairs(cases) do
      local job, err = c:create(case[2])
      assert.is_nil(job)
      assert.equals("invalid_input", err.kind)
      assert.matches(case[1], err.message, 1, true)
      assert.matches(bad, err.message, 1, true)
    end
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
  end)

  it("every model's audio limit holds at its exact end: as long or longer refused, shorter sent", function()
    local ns, c = fresh()
    local checked, sends = 0, 0
    local function try(id, m, path, want_sent, extra)
      -- a model not in the table takes a local file as `audio` only
      local f = fixtures.with({ model = id, [m and "audio_url" or "audio"] = path }, extra)
      for _, req in ipairs(m and m.required or {}) do
        if req == "image_url" then f.image_url = "https://example.com/a.png" elseif req == "prompt" then f.prompt = "p" end
      end
      local job, err = c:create(f)
      if want_sent then
        sends = sends + 1
        assert.is_nil(err, id .. " " .. path)
        assert.truthy(job.id)
      else
        assert.is_nil(job, id .. " " .. path)
        assert.equals("invalid_input", err.kind)
        assert.matches(m and "audio_url" or "audio", err.message, 1, true)
      end
    end
    for _, id in ipairs(omnihuman.models()) do
      local m = omnihuman.model(id)
      local lim = m.limits and m.limits.audio_url
      if lim and lim.audio_seconds then
        checked = checked + 1
        local frames = math.floor(lim.audio_seconds * RATE + 0.5)
        try(id, m, wav(frames), false)
        try(id, m, wav(frames + 1), false)
        try(id, m, wav(frames - 1), true)
        -- max_audio_seconds replaces the limit, either way, at its exact end too
        try(id, m, wav(frames + RATE), true, { max_audio_seconds = lim.audio_seconds + 1.001 })
        try(id, m, wav(RATE), false, { max_audio_seconds = 1 })
        try(id, m, wav(RATE - 1), true, { max_audio_seconds = 1 })
      end
      if lim and lim.audio_bytes then
        checked = checked + 1
        -- 44 bytes of header; no duration limit stated, so a long one is sent
        try(id, m, wav(lim.audio_bytes - 44), true)
        try(id, m, wav(lim.audio_bytes - 43), false)
      end
    end
    assert.equals(9, checked)
    -- a model not in the table: 30 s
    try("zz/not-in-the-table", nil, wav(30 * RATE), false)
    try("zz/not-in-the-table", nil, wav(30 * RATE - 1), true)
    assert.equals(sends, ctx.srv:count(ns, "create"))
  end)

  it("max_audio_seconds on the client holds at its end; neither audio option is sent", function()
    local ns, c = fresh{ max_audio_seconds = 2 }
    refused_then_sent(c, { image = fixtures.PNG, audio = wav(2 * RATE) }, { image = fixtures.PNG, audio = wav(2 * RATE - 1) })
    assert.truthy(c:create(fixtures.url_fields{ max_audio_seconds = 5, allow_unmeasured_audio = true }))
    local sent = last_body(ns)
    assert.is_nil(sent.max_audio_seconds)
    assert.is_nil(sent.allow_unmeasured_audio)
    assert.truthy(c:create(fixtures.url_fields{ strict = false, zz = 1 }))
    assert.is_nil(last_body(ns).strict)
    assert.equals(3, ctx.srv:count(ns, "create"))
  end)

  it("the rules are the create's model's, else the client's, else bytedance/omnihuman's; mask needs strict = false", function()
    local ns, c = fresh{ model = "google/veo-3.1-t2v" }
    local job, err = c:create{ duration = 8 }
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("prompt", err.message, 1, true)
    assert.truthy(c:create{ prompt = "p", duration = 8 })
    assert.equals("google/veo-3.1-t2v", last_body(ns).model)
    job, err = c:create(fixtures.url_fields{ model = "bytedance/omnihuman", duration = 8 })
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    local _, plain = fresh()
    job, err = plain:create{ prompt = "p" }
    assert.is_nil(job)
    assert.matches("image_url", err.message, 1, true)
    job, err = plain:create(fixtures.url_fields{ mask = fixtures.PNG })
    assert.is_nil(job)
    assert.equals("invalid_input", err.kind)
    assert.matches("mask", err.message, 1, true)
    assert.truthy(plain:create(fixtures.url_fields{ mask = fixtures.PNG, strict = false }))
    assert.equals(1, ctx.srv:count(ns, "create"))
  end)

  it("a WAV data size of 0 or 0xFFFFFFFF counts to the end of the file", function()
    local ns, c = fresh()
    for _, field in ipairs({ 0, 0xFFFFFFFF }) do
      refused_then_sent(c, { image = fixtures.PNG, audio = wav(30 * RATE, { data_len_field = field }) },
                        { image = fixtures.PNG, audio = wav(30 * RATE - 1, { data_len_field = field }) })
    end
    assert.equals(2, ctx.srv:count(ns, "create"))
  end)
end)
