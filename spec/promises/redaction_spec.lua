-- Redaction that no shape of answer can get around: a seeded generator puts
-- pieces of the key (every length from 4 to the whole key, cut from any
-- position) at random places of strings, keys and values, at random depths
-- (up to past cjson's limit), spelled plain or JSON-escaped, and checks that
-- no piece of 4 or more characters survives anywhere but the job id of the
-- answer (its top-level `id`, redacted only when it holds the whole key).
-- OMH_SEED=n repeats a run.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local seeded = require("spec.support.seeded")

-- A key of the service's shape, and one that shares a window with the marker.
local KEYS = { "sk-or-v1-4f9Ab3Xq72LmZr8Tn0Kd5EwYp6Jc1Hs", "zz[redacted]yy-0123456789" }
local MIN = 4

local function piece_of(key, s)
  for len = #key, MIN, -1 do
    for i = 1, #key - len + 1 do
      local p = key:sub(i, i + len - 1)
      if s:find(p, 1, true) then return p end
    end
  end
end

-- Every string in v, with whether it is the top-level id.
local function each_string(v, fn, depth)
  depth = depth or 0
  if type(v) == "string" then return fn(v) end
  if type(v) ~= "table" then return end
  for k, x in pairs(v) do
    each_string(k, fn, depth + 1)
    if not (depth == 0 and k == "id") then each_string(x, fn, depth + 1) end
  end
end

local function escape_all(s)
  return (s:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end))
end

local function json_escape(s, r)
  -- Plain, every byte as \u00XX, or a random mix (the mix cuts pieces across escapes).
  local how = r(3)
  if how == 2 then return escape_all(s) end
  return (s:gsub('[%c"\\/]', function(c) return ("\\u%04x"):format(c:byte()) end):gsub(".", function(c)
    if how == 3 and c:match("%w") and r(3) == 1 then return ("\\u%04x"):format(c:byte()) end
    return c
  end))
end

local function random_text(r, key)
  local parts = {}
  for _ = 1, r(4) do
    local filler = ("abc def 012 "):sub(1, r(12))
    parts[#parts + 1] = filler
    local len = MIN - 1 + r(#key - MIN + 1)
    local at = r(#key - len + 1)
    parts[#parts + 1] = key:sub(at, at + len - 1)
  end
  return table.concat(parts)
end

describe("redaction #slow", function()
  local seed = seeded.SEED
  print(("redaction: seed %d (OMH_SEED=%d repeats it)"):format(seed, seed))

  it("leaves no piece of the key in any string a cut of the redactor keeps", function()
    local r = seeded.rng(seed)
    for _, key in ipairs(KEYS) do
      for n = 1, 2000 do
        local s = random_text(r, key)
        local cap = r(#s + 24)
        local out = core._redact(key, s, cap)
        assert.is_true(#out < cap)
        local p = piece_of(key, out)
        assert(not p, ("key %q case %d: %q -> %q keeps %q"):format(key, n, s, out, p or ""))
      end
    end
    -- Text with no piece passes unchanged; a middle piece alone is caught.
    assert.equals("plain text, no key", core._redact(KEYS[1], "plain text, no key", 100))
    assert.equals("Incorrect key [redacted] ...", core._redact(KEYS[1], "Incorrect key " .. KEYS[1]:sub(9, 18) .. " ...", 100))
  end)

  it("walks answers to any depth cjson accepts and refuses deeper ones", function()
    local r = seeded.rng(seed + 1)
    local key = KEYS[1]
    for n = 1, 300 do
      local depth = r(n % 10 == 0 and 990 or 60)
      local secret = random_text(r, key)
      local inner = ('{"message":"%s","n":%d,"nothing":null,"id":"%s","%s":1}'):format(
        json_escape(secret, r), r(1000), json_escape(random_text(r, key), r), json_escape(random_text(r, key), r))
      local text = inner
      for d = 1, depth do
        if d % 2 == 0 then text = "[" .. text .. ',"' .. json_escape(random_text(r, key), r) .. '"]'
        else text = '{"error":' .. text .. ',"id":"' .. json_escape(random_text(r, key), r) .. '"}' end
      end
      local job = "2f3c" .. key:sub(1, 4) .. "-0000:bytedance/omnihuman"
      text = '{"id":"' .. job .. '","status":"queued","deep":' .. text .. "}"
      local t = core._json_decode(text, key)
      assert(type(t) == "table", ("case %d (depth %d) did not decode"):format(n, depth))
      assert.equals(job, t.id) -- the job id is kept even though it starts with a piece
      each_string(t, function(s)
        local p = piece_of(key, s)
        assert(not p, ("case %d depth %d: %q survives in %q"):format(n, depth, p or "", s))
      end)
      -- Nulls dropped and whole numbers made integers at the bottom too.
      local node = t.deep
      while type(node) == "table" and (node.error or node[1]) do node = node.error or node[1] end
      assert.is_nil(node.nothing)
      if math.type then assert.equals("integer", math.type(node.n)) end
    end
    -- Past cjson's limit: not an answer (the operation reports `protocol`).
    local deep = ("["):rep(1100) .. '"' .. key .. '"' .. ("]"):rep(1100)
    assert.is_nil(core._json_decode(deep, key))
  end)

  it("redacts an id anywhere but the top level, and the top-level one only when it holds the whole key", function()
    local key = KEYS[1]
    local piece = key:sub(2, #key - 1)
    local t = core._json_decode(('{"id":"%s","error":{"id":"%s"},"items":[{"id":"%s"}]}'):format(piece, piece, piece), key)
    assert.equals(piece, t.id)
    assert.is_nil(piece_of(key, t.error.id))
    assert.is_nil(piece_of(key, t.items[1].id))
    t = core._json_decode(('{"id":"x%sy"}'):format(key), key)
    assert.is_nil(piece_of(key, t.id))
  end)
end)
