-- docs/api.md "Options", read from the page itself: every row of its options
-- table (type, default, range) and of its error-kinds table is tried as a
-- user would. A value of the wrong type raises, naming the option; a number
-- at either end of its range is taken and the closest numbers past it, NaN
-- and the infinities raise; a whole number's fraction raises; a misspelt
-- name raises. wait's interval and timeout have the ranges of poll_interval
-- and wait_timeout, download's max_bytes 0 to 2^53, a create's
-- max_audio_seconds that of the option (generate should check its own at
-- once: pending, see below). The defaults the table gives are the ones used. Seeded
-- (spec/support/seeded.lua): OMH_SEED=n repeats a run.
local omnihuman = require("omnihuman")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")
local seeded = require("spec.support.seeded")
local sh = require("spec.support.sh")

local rnd = seeded.rng()
print(("docs_promises_options: seed %d (OMH_SEED=%d repeats this run)"):format(seeded.SEED, seeded.SEED))

local function between(text, first, last)
  local a = assert(text:find(first, 1, true), first)
  local b = assert(text:find(last, a, true), last)
  return text:sub(a, b)
end

-- The rows of docs/api.md's options table: name -> {type, default, lo, hi}.
local function option_rows()
  local rows, order = {}, {}
  local page = fixtures.read("docs/api.md")
  for line in between(page, "<!-- options:begin", "<!-- options:end"):gmatch("[^\n]+") do
    local name, ty, default, range = line:match("^| `([%w_]+)` | (%w+) | ([^|]*) | ([^|]*) |")
    if name then
      local lo, hi = range:match("^([%d.]+) to ([%d.]+)")
      rows[name] = { type = ty, default = default, lo = tonumber(lo), hi = tonumber(hi) }
      order[#order + 1] = name
    end
  end
  return rows, order
end

local function kind_rows()
  local kinds = {}
  local page = fixtures.read("docs/api.md")
  for kind in between(page, "<!-- error-kinds:begin", "<!-- error-kinds:end"):gmatch("\n| `([%w_]+)` |") do
    kinds[#kinds + 1] = kind
  end
  return kinds
end

-- The closest doubles below and above x (x finite, not 0 for below).
local function below(x) return x == 0 and -5e-324 or x - math.abs(x) * 2 ^ -52 end
local function above(x) return x == 0 and 5e-324 or x + math.abs(x) * 2 ^ -52 end

local WRONG = {
  string = { 5, true, {} }, number = { "1", true, {} }, whole = { "1", false },
  boolean = { 1, "true", {} }, ["function"] = { true, "print", {} },
}

-- A name close to `name`, not an option: one character dropped, doubled or changed case.
local function misspelt(name)
  local i = rnd(#name)
  local how = rnd(3)
  if how == 1 then return name:sub(1, i - 1) .. name:sub(i + 1) end
  if how == 2 then return name:sub(1, i) .. name:sub(i) end
  return name:upper()
end

describe("docs promises: options", function()
  local ctx = shared("omh-docs-options", setup, teardown)
  local ROWS, ORDER = option_rows()

  it("the table lists the sixteen options of the C declaration, and the thirteen kinds", function()
    assert.equals(16, #ORDER)
    for _, name in ipairs(ORDER) do assert.truthy(omnihuman.core.options[name], name) end
    for name in pairs(omnihuman.core.options) do assert.truthy(ROWS[name], name) end
    assert.same(omnihuman.core.error_kinds, kind_rows())
  end)

  it("each option: a value of the wrong type raises, naming it; so does a misspelt name", function()
    for _, name in ipairs(ORDER) do
      for _, v in ipairs(WRONG[ROWS[name].type]) do
        local ok, msg = pcall(omnihuman.new, { [name] = v })
        assert.is_false(ok, name .. " = " .. tostring(v))
        assert.matches("option '" .. name .. "'", msg, 1, true)
      end
      local typo = misspelt(name)
      if not ROWS[typo] then
        assert.has_error(function() omnihuman.new{ [typo] = 1 } end, "omnihuman.new: unknown option '" .. typo .. "'")
      end
    end
  end)

  it("each number: both ends of its range are taken; the closest numbers past them, NaN and infinities raise", function()
    local checked = 0
    for _, name in ipairs(ORDER) do
      local r = ROWS[name]
      if r.type == "number" or r.type == "whole" then
        checked = checked + 1
        assert.truthy(r.lo and r.hi, name .. " has a range")
        assert.truthy(omnihuman.new{ [name] = r.lo })
        assert.truthy(omnihuman.new{ [name] = r.hi })
        assert.truthy(omnihuman.new{ [name] = (r.lo + r.hi) / 2 - (r.type == "whole" and (r.lo + r.hi) / 2 % 1 or 0) })
        local bad = { below(r.lo), above(r.hi), 0 / 0, math.huge, -math.huge }
        if r.type == "whole" then
          bad[#bad + 1] = r.lo + 0.5
          bad[#bad + 1] = r.lo - 1
          bad[#bad + 1] = r.hi + 1
        end
        for _, v in ipairs(bad) do
          local ok, msg = pcall(omnihuman.new, { [name] = v })
          assert.is_false(ok, ("%s = %.17g"):format(name, v))
          assert.matches("option '" .. name .. "'", msg, 1, true)
        end
      end
    end
    assert.equals(7, checked)
  end)

  it("wait, download and create check their numbers at once, with the ranges the page gives", function()
    local _, c = ctx.fresh()
    local function ends(what, lo, hi, call)
      assert.has_no_error(function() call(lo) end, what .. " " .. lo)
      assert.has_no_error(function() call(hi) end, what .. " " .. hi)
      for _, v in ipairs({ below(lo), above(hi), 0 / 0, math.huge }) do
        assert.has_error(function() call(v) end, nil, ("%s %.17g"):format(what, v))
      end
    end
    local poll, wait = ROWS.poll_interval, ROWS.wait_timeout
    ends("wait interval", poll.lo, poll.hi, function(v) c:wait_op("j", { interval = v }):close() end)
    ends("wait timeout", wait.lo, wait.hi, function(v) c:wait_op("j", { timeout = v }):close() end)
    ends("max_bytes", 0, 2 ^ 53, function(v)
      c:download_op("http://127.0.0.1:9/a.mp4", ctx.dir .. "/d.mp4", { max_bytes = v }):close()
    end)
    assert.has_error(function() c:download_op("http://127.0.0.1:9/a.mp4", ctx.dir .. "/d.mp4", { max_bytes = 1.5 }) end)
    local audio = ROWS.max_audio_seconds
    ends("create max_audio_seconds", audio.lo, audio.hi, function(v)
      c:create_op(fixtures.url_fields{ max_audio_seconds = v }):close()
    end)
  end)

  it("generate and generate_op check interval and timeout at once, before the create is paid for", function()
    local ns, c = ctx.fresh()
    for _, bad in ipairs({ { interval = -1 }, { timeout = 0 / 0 }, { interval = 86401 } }) do
      local args = fixtures.url_fields(fixtures.with({ output = ctx.dir .. "/g.mp4" }, bad))
      assert.has_error(function() c:generate_op(args) end)
      assert.has_error(function() c:generate(args) end)
    end
    assert.equals(0, ctx.srv:count(ns, "create") or 0)
  end)

  it("timeout, poll_interval and wait_timeout are honoured: nothing ends or repeats before its time", function()
    local ns, c = ctx.fresh{ timeout = 0.3, poll_interval = 0.25, wait_timeout = 0.6, max_retries = 0 }
    ctx.srv:fault(ns, "create", { { hang = true } })
    local t0 = fixtures.now()
    local job, err = c:create(fixtures.url_fields())
    local took = fixtures.now() - t0
    assert.is_nil(job)
    assert.equals("timeout", err.kind)
    assert.is_true(took >= 0.29 and took < 10, took)
    job = assert(c:create(fixtures.url_fields{ sandbox_polls = 2 }))
    t0 = fixtures.now()
    assert(c:wait(job.id))
    took = fixtures.now() - t0
    assert.equals(3, ctx.srv:count(ns, "poll"))
    assert.is_true(took >= 2 * 0.25 - 0.01, took) -- two intervals between three polls
    job = assert(c:create(fixtures.url_fields{ sandbox_polls = 100000 }))
    t0 = fixtures.now()
    local res
    res, err = c:wait(job.id)
    took = fixtures.now() - t0
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_true(took >= 0.59 and took < 10, took)
  end)

  it("max_connections counts per kind of host: a download does not wait for API requests in flight", function()
    local ns, c = ctx.fresh{ max_connections = 1 }
    local job = assert(c:create(fixtures.url_fields{ sandbox_polls = 0 }))
    local url = assert(c:wait(job.id, { interval = 0 })).video.url
    ctx.srv:fault(ns, "create", { { delay = 1.5 } })
    local order = {}
    omnihuman.run(function()
      omnihuman.spawn(function()
        assert(c:create(fixtures.url_fields()))
        order[#order + 1] = "create"
      end)
      omnihuman.spawn(function()
        local t0 = fixtures.now()
        repeat omnihuman.sleep(0.02) until ctx.srv:count(ns, "create") == 2 or fixtures.now() - t0 > 10
        assert(c:download(url, ctx.dir .. "/pool.mp4"))
        order[#order + 1] = "download"
      end)
    end)
    assert.same({ "download", "create" }, order)
  end)

  it("the defaults of the table are the ones used: model, user_agent, base_url", function()
    local ns, c = ctx.fresh{ user_agent = nil }
    assert.equals("`bytedance/omnihuman`", ROWS.model.default)
    assert.equals("`lua-omnihuman/0.1`", ROWS.user_agent.default)
    assert(c:create{ image_url = "https://example.com/a.png", audio_url = "https://example.com/a.wav" })
    local req = ctx.srv:records(ns).requests[1]
    assert.matches('"model":"bytedance/omnihuman"', req.body, 1, true)
    assert.equals("lua-omnihuman/0.1", req.headers["User-Agent"] or req.headers["user-agent"])
    if not os.getenv("OMNIHUMAN_BASE_URL") then
      assert.matches("https://api.aimlapi.com/v2", ROWS.base_url.default, 1, true)
      assert.matches("(https://api.aimlapi.com/v2,", tostring(omnihuman.new()), 1, true)
    end
  end)

  it("api_key and base_url default to $AIMLAPI_KEY and $OMNIHUMAN_BASE_URL; the options win over them", function()
    local ns = fixtures.ns()
    local lua = require("spec.support.cli").LUA
    local script = [[
      local omnihuman = require("omnihuman")
      local c = omnihuman.new(arg[1] == "own" and { api_key = "wrong-key", base_url = "http://127.0.0.1:9/v2" } or nil)
      local job, err = c:create{ image_url = "https://example.com/a.png", audio_url = "https://example.com/a.wav" }
      print(job and "job" or tostring(err))
    ]]
    local path = ctx.dir .. "/env.lua"
    fixtures.write(path, script)
    local env = ("AIMLAPI_KEY=%s OMNIHUMAN_BASE_URL=%s "):format(sh.q(fixtures.KEY), sh.q(ctx.srv:base_url(ns)))
    local ok, out = sh.run(env .. lua .. " " .. sh.q(path) .. " 2>&1")
    assert.is_truthy(ok, out)
    assert.equals("job\n", out)
    ok, out = sh.run(env .. lua .. " " .. sh.q(path) .. " own 2>&1")
    assert.is_truthy(ok, out)
    assert.matches("^omnihuman: network: ", out)
    assert.equals(1, ctx.srv:count(ns, "create"))
  end)
end)
