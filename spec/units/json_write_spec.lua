-- The create body's JSON for any fields table (src/json_write.c) against
-- lua-cjson, on seeded random values of every kind at any depth: the same
-- structure once decoded, refused exactly when lua-cjson refuses, and every
-- number sent with all its digits (lua-cjson keeps 14 significant ones).
-- OMH_SEED=n repeats a run (the seed is in the test's name).
local core = require("omnihuman.core")
local cjson = require("cjson")
local seeded = require("spec.support.seeded")
local SEED, rng = seeded.SEED, seeded.rng

local body_text = core._body_text
local URLS = { image_url = "https://127.0.0.1/a.png", audio_url = "https://127.0.0.1/a.wav" }
local HAS_INTEGERS = math.type ~= nil

-- The body the table path writes for { x = v } (plus the URLs): decoded,
-- or nil and the error.
local function ours(v)
  local f = { x = v }
  for k, u in pairs(URLS) do f[k] = u end
  local ok, body, err = pcall(body_text, f, "table")
  if not ok then return nil, tostring(body) end
  if not body then return nil, tostring(err) end
  return assert(cjson.decode(body), body).x, body
end

local function number(r)
  local pick = r(8)
  if pick == 1 then return r(2000) - 1000 end
  if pick == 2 then return (r(2) == 1 and -1 or 1) * (2 ^ 53 - r(1000)) end -- every digit counts
  if pick == 3 then return r(1000000) / 7 end
  if pick == 4 then return (r(2000) - 1000) * 10 ^ (r(40) - 20) / 3 end
  if pick == 5 then return 0.1 * r(9) + 0.2 end
  if pick == 6 and HAS_INTEGERS then return math.tointeger(123456789012345 * r(70000)) end
  if pick == 7 then return 1e300 * r(100) end
  return r(1000) + 0.5
end

local function value(r, depth)
  local pick = r(depth > 4 and 6 or 10)
  if pick == 1 then return ("s%d\"/\\\n"):format(r(100)) end
  if pick == 2 then return r(2) == 1 end
  if pick <= 4 then return number(r) end
  if pick == 5 then return cjson.null end
  if pick == 6 then return ({ function() end, math.huge, -math.huge, 0 / 0, coroutine.create(function() end) })[r(5)] end
  local t = {}
  local shape = r(4)
  if shape == 1 then -- an array
    for i = 1, r(5) - 1 do t[i] = value(r, depth + 1) end
  elseif shape == 2 then -- an array with holes, sometimes too many
    for _ = 1, r(4) do t[r(r(2) == 1 and 8 or 40)] = value(r, depth + 1) end
  elseif shape == 3 then -- an object
    for _ = 1, r(4) do t["k" .. r(50)] = value(r, depth + 1) end
  else -- number keys of every sort, mixed
    for _ = 1, r(4) do t[({ 0, -1, 1.5, 3, "k" })[r(5)]] = value(r, depth + 1) end
  end
  return t
end

-- Does decoded (our body's) hold exactly v, as lua-cjson's layout would?
local function holds(decoded, v, cj)
  -- lua-cjson decodes every number as a double: an integer past 2^53 is
  -- compared as the double nearest to it (its digits: the test below).
  if type(v) == "number" then return decoded == v + 0.0 end
  if type(v) ~= "table" then return decoded == v end
  if type(decoded) ~= "table" or type(cj) ~= "table" then return false end
  for k, sub in pairs(cj) do
    local orig = v[k]
    if orig == nil and type(k) == "string" then
      orig = v[tonumber(k)]
      if orig == nil then -- a number key lua-cjson wrote with 14 digits
        for vk, vv in pairs(v) do
          if type(vk) == "number" and ("%.14g"):format(vk) == k then orig = vv end
        end
      end
    end
    if orig == nil then orig = cjson.null end -- a hole of an array
    local mine = decoded[k]
    if mine == nil and type(k) == "string" then
      for dk, dv in pairs(decoded) do
        if tonumber(dk) and tonumber(dk) == tonumber(k) then mine = dv end
      end
    end
    if not holds(mine, orig, sub) then return false end
  end
  local n = 0
  for _ in pairs(decoded) do n = n + 1 end
  for _ in pairs(cj) do n = n - 1 end
  return n == 0
end

describe("create bodies of any fields table", function()
  it(("decode as lua-cjson's do, refused where it refuses, numbers whole (seed %d)"):format(SEED), function()
    local r = rng(SEED)
    local written, refused, numbers = 0, 0, 0
    for i = 1, 3000 do
      local v = value(r, 0)
      local where = ("value %d (OMH_SEED=%d)"):format(i, SEED)
      local cok, ctext = pcall(cjson.encode, v)
      local mine, body = ours(v)
      if cok then
        assert(mine ~= nil, where .. ": refused what lua-cjson writes: " .. tostring(body) .. "\n" .. ctext)
        assert(holds(mine, v, cjson.decode(ctext)), where .. ": not the same value:\n" .. body .. "\n" .. ctext)
        written = written + 1
        if type(v) == "number" then numbers = numbers + 1 end
      else
        assert(mine == nil, where .. ": wrote what lua-cjson refuses (" .. tostring(ctext) .. "): " .. tostring(body))
        assert.matches("create fields cannot be sent as JSON: ", body, 1, true)
        refused = refused + 1
      end
    end
    print(("json write: seed %d, 3000 values: %d written (%d numbers), %d refused alike"):format(
      SEED, written, numbers, refused))
    assert.is_true(written > 1000 and refused > 100 and numbers > 200)
  end)

  it("sends numbers with every digit: integers, doubles, by either path", function()
    local cases = { 123456789012345, 2 ^ 53, -(2 ^ 53), 0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, 12.5, -0.5 }
    if HAS_INTEGERS then
      cases[#cases + 1] = math.maxinteger
      cases[#cases + 1] = math.mininteger
    end
    for _, n in ipairs(cases) do
      for _, how in ipairs{ "table", false } do
        local f = { seed = n, image_url = URLS.image_url, audio_url = URLS.audio_url }
        local body = assert(body_text(f, how or nil))
        local text = body:match('"seed":([^,}]+)')
        assert(cjson.decode(body).seed == n or tonumber(text) == n, ("%s by %s: %s"):format(n, tostring(how), body))
        if HAS_INTEGERS and math.type(n) == "integer" then assert.equals(tostring(n), text) end
      end
    end
  end)

  it("refuses what JSON cannot hold, naming why, before anything is sent", function()
    local cycle = {}
    cycle.self = cycle
    local deep = {}
    for _ = 1, 1001 do deep = { deep } end
    for _, v in ipairs{ math.huge, 0 / 0, { 1, math.huge }, { f = print }, cycle, deep, { [1] = 1, [40] = 2 } } do
      for _, how in ipairs{ "table", false } do
        local f = { x = v, image_url = URLS.image_url, audio_url = URLS.audio_url }
        local ok, err = pcall(body_text, f, how or nil)
        assert.is_false(ok)
        assert.matches("create fields cannot be sent as JSON: ", tostring(err), 1, true)
      end
    end
  end)
end)
