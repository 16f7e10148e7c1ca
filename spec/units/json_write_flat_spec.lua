-- Create bodies written straight from a plain fields table (src/json_write.c,
-- body.c prepare_plain) against the table path (a copy of the table, encoded
-- by lua-cjson), on seeded random fields tables of that shape and just
-- outside it: the same JSON once decoded, the same error for the same
-- misuse, the caller's table untouched. OMH_SEED=n repeats a run (the seed is in
-- the test's name).
local core = require("omnihuman.core")
local cjson = require("cjson")

local body_text = core._body_text
local seeded = require("spec.support.seeded")
local SEED, rng = seeded.SEED, seeded.rng
local TABLES = 3000

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Any bytes, with quotes, backslashes, slashes, control bytes and DEL often.
local function text(r)
  local pool = { '"', "\\", "/", "\n", "\t", "\0", "\1", "\31", "\127", "\200", "\255", "é", "a", "z", "0", " " }
  local out = {}
  for i = 1, r(12) - 1 do
    out[i] = r(3) == 1 and string.char(r(256) - 1) or pool[r(#pool)]
  end
  return table.concat(out)
end

local function random_fields(r)
  local f = { route = "p/t" } -- which path wrote the body shows here (below)
  if r(20) > 1 then f.image_url = "https://127.0.0.1/" .. text(r) .. ".png" end
  if r(20) > 1 then f.audio_url = (r(4) == 1 and "data:audio/wav;base64,UklG" or "https://127.0.0.1/a.wav") .. text(r) end
  if r(3) == 1 then f.mask_url = "https://127.0.0.1/m" .. text(r) end
  if r(3) == 1 then f.model = r(2) == 1 and "bytedance/omnihuman" or text(r) end
  for _ = 1, r(4) - 1 do
    local v
    if r(3) == 1 then v = r(2) == 1 else v = text(r) end
    f[text(r)] = v
  end
  -- Just outside the plain shape: the table path must take these.
  local out = r(6)
  if out == 1 then
    f.seed = r(1000)
  elseif out == 6 then
    f.weights = { r(9), r(2) == 1 }
  elseif out == 2 then
    f[r(5)] = "a number key"
  elseif out == 3 then
    f.extra = { nested = true }
  elseif out == 4 then
    local odd = ({ "image", "audio", "mask", "max_audio_seconds", "allow_unmeasured_audio", "model", "image_url" })[r(7)]
    f[odd] = ({ "https://127.0.0.1/x.png", 5, true, false, "/nonexistent/file.png" })[r(5)]
  end
  return f
end

-- The shape the plain path is for: string keys other than a create option's
-- (local files reach the core as a list of their own, never as fields),
-- string, boolean or number values, the URLs and model strings.
local RESERVED = { max_audio_seconds = true, allow_unmeasured_audio = true }
local function plain_shape(f)
  for k, v in pairs(f) do
    local t = type(v)
    if type(k) ~= "string" or RESERVED[k] or (t ~= "string" and t ~= "boolean" and t ~= "number") then return false end
  end
  return f.model == nil or type(f.model) == "string"
end

local function outcome(f, how)
  local ok, body, err = pcall(body_text, f, how)
  if not ok then return { raised = tostring(body) } end
  if not body then return { failed = tostring(err) } end
  local dok, decoded = pcall(cjson.decode, body)
  assert(dok, "not JSON: " .. body)
  return { body = body, decoded = decoded }
end

describe("create bodies from plain fields", function()
  it(("give the table path's JSON and errors, and leave the table as it was (seed %d)"):format(SEED), function()
    local r = rng(SEED)
    local plain, table_path, same_error = 0, 0, 0
    for i = 1, TABLES do
      local f = random_fields(r)
      local before = copy(f)
      local a, b = outcome(f, nil), outcome(f, "table")
      local where = ("table %d (OMH_SEED=%d)"):format(i, SEED)
      assert.is_true(same(before, f), where .. ": the fields table was changed")
      if a.decoded then
        assert(b.decoded, where .. ": only the plain path made a body: " .. tostring(b.raised or b.failed))
        assert(same(a.decoded, b.decoded), where .. ": bodies differ:\n" .. a.body .. "\n" .. b.body)
        if plain_shape(f) then plain = plain + 1 else table_path = table_path + 1 end
      else
        assert(not b.decoded, where .. ": only the table path made a body")
        assert.are.equal(b.raised, a.raised, where)
        assert.are.equal(b.failed, a.failed, where)
        same_error = same_error + 1
      end
    end
    print(("json flat: seed %d, %d tables: %d by the plain path, %d by the table path, %d errors alike"):format(
      SEED, TABLES, plain, table_path, same_error))
    assert.is_true(plain > TABLES / 4 and table_path > TABLES / 10 and same_error > 10)
  end)

  it("reads the table raw, as the table path does (metatables, __index, __pairs)", function()
    local base = { image_url = "https://127.0.0.1/a.png", audio_url = "https://127.0.0.1/a.wav" }
    local cases = {
      setmetatable({ image_url = "https://127.0.0.1/a.png" }, { __index = { audio_url = "https://127.0.0.1/b.wav" } }),
      setmetatable(copy(base), { __index = function() error("__index ran") end }),
      setmetatable(copy(base), { __pairs = function() error("__pairs ran") end }),
      setmetatable(copy(base), { __newindex = function() error("__newindex ran") end }),
    }
    for i, f in ipairs(cases) do
      local a, b = outcome(f, nil), outcome(f, "table")
      assert.are.equal(b.raised, a.raised, "case " .. i)
      assert.are.equal(b.failed, a.failed, "case " .. i)
      if a.decoded then assert.is_true(same(a.decoded, b.decoded), "case " .. i) end
    end
  end)

  it("escapes every byte JSON needs escaped, and only those", function()
    local short = { [34] = '\\"', [92] = "\\\\", [10] = "\\n", [13] = "\\r", [9] = "\\t", [8] = "\\b", [12] = "\\f" }
    local all, want = {}, {}
    for c = 0, 255 do
      all[#all + 1] = string.char(c)
      if short[c] then
        want[#want + 1] = short[c]
      elseif c < 32 or c == 127 then
        want[#want + 1] = ("\\u%04x"):format(c)
      else
        want[#want + 1] = string.char(c)
      end
    end
    local s = table.concat(all)
    local body = assert(body_text({ image_url = s, audio_url = "https://127.0.0.1/a.wav", [s] = true, no = false }))
    local decoded = cjson.decode(body)
    assert.are.equal(s, decoded.image_url)
    assert.is_true(decoded[s])
    assert.is_false(decoded.no)
    -- Byte for byte: each needed escape, every other byte as it is.
    assert.is_truthy(body:find('"image_url":"' .. table.concat(want) .. '"', 1, true), body)
    assert.are.equal("bytedance/omnihuman", decoded.model)
  end)
end)
