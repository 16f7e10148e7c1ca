-- The one-pass reader of the common answer shape (src/json_read_fast.c) against
-- lua-cjson and its normalising walk, on seeded random texts of that shape
-- and just outside it: whatever the fast reader takes, it must read exactly
-- as the cjson path does (keys, values, math.type, -0, duplicates, nulls,
-- nesting); it must never take a text cjson rejects; and the status it finds
-- without a table must be the cjson table's string status.
-- OMH_SEED=n repeats a run (the seed is in the test's name).
local core = require("omnihuman.core")
local fixtures = require("spec.support.fixtures")

local decode, status_of = core._json_decode, core._json_status
local KEY = fixtures.KEY
local seeded = require("spec.support.seeded")
local SEED, rng = seeded.SEED, seeded.rng
local TEXTS = 3000

local function num_type(v) return math.type and math.type(v) or "number" end

-- Equal values of equal types; -0 is not 0; NaN equals NaN.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if num_type(a) ~= num_type(b) then return false end
    if a ~= a then return b ~= b end
    return a == b and (a ~= 0 or 1 / a == 1 / b)
  end
  if type(a) ~= "table" then return rawequal(a, b) end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do
    if not same(v, rawget(b, k)) then return false end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return false end
  end
  return true
end

-- Keys sorted, numbers with their math.type and all their digits.
local function show(v)
  if type(v) == "number" then return ("%s:%.17g"):format(num_type(v), v) end
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys, parts = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%q=%s"):format(tostring(k), show(v[k])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- Checks one text; returns what the fast reader and cjson said, for the tallies.
local function check(s, seed)
  local where = ("seed %s, text %q"):format(tostring(seed), s)
  local cj = decode(s, nil, "cjson")
  local fast = decode(s, nil, "fast")
  local st = status_of(s)
  if fast ~= false then
    assert(type(fast) == "table", where .. ": the fast reader gave a " .. type(fast))
    if cj == nil then error(where .. ": the fast reader took a text cjson rejects: " .. show(fast), 0) end
    if not same(fast, cj) then error(("%s: fast %s, cjson %s"):format(where, show(fast), show(cj)), 0) end
  end
  local want = fast ~= false and type(cj.status) == "string" and cj.status or nil
  if st ~= want then error(("%s: status %s, want %s"):format(where, show(st), show(want)), 0) end
  local ops = decode(s)
  if not same(ops, cj) then error(("%s: as operations %s, cjson %s"):format(where, show(ops), show(cj)), 0) end
  if fast ~= false then -- with the key: the fast path only where it cannot change a thing
    local keyed, cj_keyed = decode(s, KEY), decode(s, KEY, "cjson")
    if not same(keyed, cj_keyed) then
      error(("%s: with the key, as operations %s, cjson %s"):format(where, show(keyed), show(cj_keyed)), 0)
    end
  end
  return fast ~= false, cj ~= nil, want ~= nil
end

-- Texts of the common shape (plain = the fast reader's to take) and, with
-- `odd` > 0, tokens just outside it one time in `odd`: tokens cjson still
-- reads (ok), and with `wild` also tokens that make the text invalid (bad).
local function generator(r, odd, wild)
  local g = { plain = true }
  local function pick(list) return list[r(#list)] end
  local function weird(l)
    if odd > 0 and r(odd) == 1 then
      local list = (wild and r(2) == 1) and l.bad or l.ok
      if #list == 0 then return nil end
      g.plain = false
      return pick(list)
    end
  end
  local WS = { " ", "\t", "\n", "\r" }
  local ODD_WS = { ok = {}, bad = { "\f", "\v", "\0", "\194\160", "\226\128\168", "\t\f" } }
  local function ws()
    local w = weird(ODD_WS)
    if w then return w end
    if r(3) > 1 then return "" end
    local t = {}
    for i = 1, r(3) do t[i] = pick(WS) end
    return table.concat(t)
  end
  local CHARS = { "a", "Z", "0", "9", " ", "-", "_", ":", "/", ".", "'", "{", "}", "[", "]", ",",
    "null", "status", "é", "日本", "😀", "\127", "\255", "\192", "\237\160\128", KEY, KEY:sub(1, 5), KEY:sub(-5) }
  local ODD_STR = { ok = { '"a\\nb"', '"\\u00e9"', '"\\""', '"\\/"', '"\\\\"', '"\\ud83d\\ude00"', '"a\1b"', '"\t"',
    '"\31"' }, bad = { '"\\x"', '"\0"', '"abc', "'a'", '"\\u12"' } }
  local function str()
    local w = weird(ODD_STR)
    if w then return w end
    local t = {}
    for i = 1, r(6) - 1 do t[i] = pick(CHARS) end
    return '"' .. table.concat(t) .. '"'
  end
  local KEYS = { '"a"', '"b"', '"id"', '"status"', '"video"', '""', '"status "', '"Status"', '"é"' }
  local function key()
    if r(3) == 1 then return str() end
    return weird({ ok = {}, bad = { "a", "1", "'a'", "null", '"status' } }) or pick(KEYS)
  end
  local ODD_NUM = { ok = { "01", "-01", "00", "1.5", "1.0", "-0.0", "0.0", "1e2", "1E+2", "-1e-2", "0e0",
    "1234567890123456", "-1000000000000000", "9007199254740993", "12345678901234567890", "+1", "1.",
    "0x1F", "Infinity", "-Infinity", "NaN", "inf", "1e400" }, bad = { ".5", "-", "1 2", "- 1" } }
  local function digits(n)
    local t = { tostring(r(9)) }
    for i = 2, n do t[i] = tostring(r(10) - 1) end
    return table.concat(t)
  end
  local function num()
    local w = weird(ODD_NUM)
    if w then return w end
    local k = r(8)
    if k == 1 then return "0" end
    if k == 2 then return "-0" end
    if k == 3 then return pick({ "999999999999999", "-999999999999999", "100000000000000" }) end
    return (r(3) == 1 and "-" or "") .. digits(r(15))
  end
  local ODD_VAL = { ok = { "[]", '[1,"a",null,{"b":2}]', "[[[]]]", '[{"status":"x"}]' }, bad = { "[1,]", "tru",
    "nul", "True", "NULL", "falsey", "undefined", "{,}", '{"a"}', '{"a":}', '{"a":1,}', '{"a" 1}', '{"a":1 "b":2}',
    "{a:1}" } }
  local value
  local function object(depth)
    local n = r(6) - 1
    if depth > 4 then n = r(2) - 1 end
    local t = {}
    for i = 1, n do
      local k = (i == 1 and r(2) == 1) and '"status"' or key() -- often a status, at the top and inside
      t[i] = ws() .. k .. ws() .. ":" .. ws() .. value(depth + 1) .. ws()
    end
    return "{" .. (n == 0 and ws() or table.concat(t, ",")) .. "}"
  end
  function value(depth)
    local w = weird(ODD_VAL)
    if w then return w end
    local k = r(12)
    if k <= 3 then return str() end
    if k <= 6 then return num() end
    if k == 7 then return pick({ "true", "false" }) end
    if k == 8 then return "null" end
    if k <= 10 and depth < 7 then return object(depth) end
    return str()
  end
  -- Objects nested n deep around the fast reader's limit, status, numbers and nulls inside too.
  local function chain(n)
    local open, close = {}, {}
    for i = 1, n do
      open[i] = "{" .. ws() .. '"status":"s' .. i .. '",' .. ws() .. '"n":' .. num() .. ',"z":null,"' .. pick({ "a", "b" })
        .. '":' .. ws()
      close[i] = ws() .. "}"
    end
    return table.concat(open) .. value(99) .. table.concat(close)
  end
  function g.text()
    g.plain = true
    local top = weird({ ok = { '"s"', "1", "-0", "[]", "[{}]", "null", "true", '"status"' }, bad = { "", "   " } })
    if not top then
      if r(10) == 1 then
        local n = r(40) -- past the depth cjson's walk normalises, too
        top = chain(n)
        if n > 14 then g.plain = false end -- the depth limit is the fast reader's own choice
      else
        top = object(0)
      end
    end
    return ws() .. top .. ws() .. (weird({ ok = { "\0", "\0junk" }, bad = { ",", "}", "x", "{}", " 1", "]", '""' } }) or "")
  end
  return g
end

-- One or two bytes changed, dropped or added where r says.
local BYTES = { "{", "}", "[", "]", ",", ":", '"', "\\", " ", "0", "1", "-", ".", "e", "n", "t", "\0", "\f", "\v",
  "\1", "\127", "\255", "x" }
local function mutate(r, s)
  for _ = 1, r(2) do
    local i, b = r(#s + 1), BYTES[r(#BYTES)]
    local how = r(3)
    if how == 1 then s = s:sub(1, i - 1) .. b .. s:sub(i + 1) end
    if how == 2 then s = s:sub(1, i - 1) .. s:sub(i + 1) end
    if how == 3 then s = s:sub(1, i - 1) .. b .. s:sub(i) end
  end
  return s
end

describe("json fast reader", function()
  it(("reads every text it takes as cjson does, and takes none cjson rejects (seed %d)"):format(SEED), function()
    local r = rng(SEED)
    local plain_gen, odd_gen, wild_gen = generator(r, 0), generator(r, 10), generator(r, 40, true)
    local t0, n = os.clock(), 0
    -- fast: taken by the fast reader; left: left to cjson, which reads it;
    -- bad: rejected by cjson; status: a string status found without a table.
    local tally = { fast = 0, left = 0, bad = 0, status = 0, plain = 0, cut = 0 }
    local function run(s, cut)
      n = n + 1
      local took, cj_ok, st = check(s, SEED)
      if cut then return end
      tally.fast = tally.fast + (took and 1 or 0)
      tally.left = tally.left + ((cj_ok and not took) and 1 or 0)
      tally.bad = tally.bad + (cj_ok and 0 or 1)
      tally.status = tally.status + (st and 1 or 0)
      return took
    end
    for i = 1, TEXTS do
      local kind = i % 4
      if kind == 0 then -- the common shape: the fast reader's own
        local s = plain_gen.text()
        if plain_gen.plain then
          tally.plain = tally.plain + 1
          assert(run(s), ("seed %d: the fast reader left a text of the common shape to cjson: %q"):format(SEED, s))
          if i % 100 == 0 then -- cut at every byte
            for j = 0, #s - 1 do run(s:sub(1, j), true) end
            tally.cut = tally.cut + #s
          end
        else
          run(s)
        end
      elseif kind == 1 then
        run(mutate(r, plain_gen.text()))
      else
        run((kind == 2 and odd_gen or wild_gen).text())
      end
      if os.clock() - t0 > 20 then break end -- a bound, far above the usual second or two
    end
    local report = ("seed %d: %d texts (%d cuts) in %.2f s: fast took %d (%d plain), left to cjson %d, cjson rejected %d,"
      .. " status found %d"):format(SEED, n, tally.cut, os.clock() - t0, tally.fast, tally.plain, tally.left, tally.bad,
      tally.status)
    print("json fast reader, " .. report)
    -- The generators must reach every side of the promise.
    local m = n - tally.cut
    assert(m > TEXTS / 10 and tally.plain > m / 8 and tally.cut > 50, report)
    assert(tally.fast > m / 4 and tally.left > m / 10 and tally.bad > m / 10 and tally.status > m / 10, report)
  end)

  -- Each rule by name: the fast reader's answer, and cjson's (the same).
  local is53 = math.type ~= nil
  -- More members than the reader remembers keys of, then nulls for the first and last.
  local many = {}
  for i = 1, 20 do many[i] = ('"k%d":%d'):format(i, i) end
  local MANY_KEYS = "{" .. table.concat(many, ",") .. ',"k1":null,"k20":null,"z":null}'
  local cases = {
    { "minus zero", '{"a":-0}', function(t) -- cjson's -0.0: an integer 0 once whole numbers are integers
      if is53 then return math.type(t.a) == "integer" and t.a == 0 end
      return t.a == 0 and 1 / t.a < 0
    end },
    { "zero", '{"a":0,"b":-7}', function(t) return 1 / t.a > 0 and t.b == -7 and num_type(t.b) == num_type(1) end },
    { "15 digits", '{"n":-999999999999999}', function(t) return t.n == -999999999999999 end },
    { "16 digits", '{"n":1000000000000000}' },
    { "leading zero", '{"n":01}' },
    { "fraction", '{"n":1.0}' },
    { "exponent", '{"n":1e2}' },
    { "last of two keys", '{"a":1,"a":"x"}', function(t) return t.a == "x" end },
    { "null after a value", '{"a":1,"b":{"c":2,"c":null},"a":null}', function(t) return t.a == nil and next(t.b) == nil end },
    { "value after a null", '{"a":null,"a":{"b":true}}', function(t) return t.a.b == true end },
    { "null after 20 other keys", MANY_KEYS,
      function(t) return t.k1 == nil and t.k20 == nil and t.k2 == 2 and t.k19 == 19 and t.z == nil end },
    { "nested object replaced", '{"a":{"b":1},"a":{"c":false}}', function(t) return t.a.b == nil and t.a.c == false end },
    { "empty object", " \t\r\n{ \n}\r\n", function(t) return next(t) == nil end },
    { "escape", '{"a":"x\\ny"}' },
    { "control byte", '{"a":"x\1y"}' },
    { "form feed", '\f{"a":1}' },
    { "vertical tab", '{"a":1}\v' },
    { "NUL after the object", '{"a":1}\0' },
    { "array", '{"a":[1]}' },
    { "top array", "[{}]" },
    { "40 deep", ('{"a":'):rep(40) .. "1" .. ("}"):rep(40) },
    { "trailing garbage", '{"a":1}x' },
  }
  for _, c in ipairs(cases) do
    it("named: " .. c[1], function()
      local fast, cj = decode(c[2], nil, "fast"), decode(c[2], nil, "cjson")
      if c[3] then
        assert(type(fast) == "table" and c[3](fast), "fast: " .. show(fast))
        assert.is_true(same(fast, cj), show(cj))
      else
        assert.is_false(fast)
      end
      check(c[2], "named")
    end)
  end

  it("named: the status the fast reader finds is the table's top-level string status", function()
    for s, want in pairs({
      ['{"status":"queued"}'] = "queued",
      ['{"status":"a","status":"b"}'] = "b",
      ['{"status":"a","x":{"status":"b"}}'] = "a",
      ['{"status":"a","status":null}'] = false,
      ['{"status":"a","status":1}'] = false,
      ['{"status":"a","status":{"status":"b"}}'] = false,
      ['{"x":{"status":"a"}}'] = false,
      ['{"status":"a\\n"}'] = false, -- left to cjson
      ['{"status":"a"}}'] = false,
    }) do
      assert.equals(want or nil, status_of(s), s)
      check(s, "named")
    end
  end)

  it("named: with the key, an answer that holds it is redacted (the fast path is not taken)", function()
    for _, s in ipairs({
      '{"id":"job-1","status":"queued","message":"bad key ' .. KEY .. '"}',
      '{"status":"queued","note":"cut ' .. KEY:sub(1, 6) .. '"}',
      '{"status":"queued","' .. KEY .. '":1}',
      '{"status":"' .. KEY:sub(-5) .. ' tail"}',
    }) do
      -- The fast reader alone would take it, the key and all.
      local raw = assert(decode(s, nil, "fast"), s)
      assert.is_truthy(show(raw):find(KEY:sub(1, 5), 1, true) or show(raw):find(KEY:sub(-5), 1, true))
      local t = assert(decode(s, KEY))
      local seen = show(t)
      for len = 4, #KEY do
        for i = 1, #KEY - len + 1 do
          assert.is_nil(seen:find(KEY:sub(i, i + len - 1), 1, true), seen)
        end
      end
      assert.is_true(same(t, decode(s, KEY, "cjson")))
    end
  end)
end)
