-- The Lua examples of README.md ("Use") and docs/api.md ("Example"), run as
-- written: each code block is cut from its page and run by a child process
-- in a folder holding the files it names, with AIMLAPI_KEY and
-- OMNIHUMAN_BASE_URL pointing at the test server. Every status check is
-- answered "completed" at once, so the examples' 10 s poll interval costs
-- nothing.
local cjson = require("cjson")
local fixtures = require("spec.support.fixtures")
local shared = require("spec.support.docs_promises")
local sh = require("spec.support.sh")

-- The first ```lua block of a page after the given heading.
local function block(page, heading)
  local text = fixtures.read(page)
  local from = assert(text:find(heading, 1, true), heading)
  return assert(text:match("```lua\n(.-)```", from), page .. ": no lua block after " .. heading)
end

-- package.path / cpath with every relative entry made absolute (the child runs elsewhere).
local function absolute(paths, root)
  local out = {}
  for entry in paths:gmatch("[^;]+") do
    out[#out + 1] = entry:sub(1, 1) == "/" and entry or root .. "/" .. entry:gsub("^%./", "")
  end
  return table.concat(out, ";")
end

-- The suite's interpreter, usable from another folder (SANLUA is a relative path).
local function interpreter(root)
  local lua = require("spec.support.cli").LUA
  return lua:find("/", 1, true) and absolute(lua, root) or lua
end

describe("docs promises: the examples run as written", function()
  local ctx = shared("omh-docs-examples", setup, teardown)

  local function run_example(page, heading, prelude)
    local ns = fixtures.ns()
    local work = fixtures.tmpdir("omh-docs-example")
    for _, name in ipairs({ "face.png", "me.png", "ann.png", "bob.png" }) do
      fixtures.write(work .. "/" .. name, fixtures.read(fixtures.PNG))
    end
    fixtures.write(work .. "/hello.wav", fixtures.read(fixtures.WAV))
    fixtures.write(work .. "/hello.mp3", fixtures.read(fixtures.MP3))
    fixtures.write(work .. "/example.lua", (prelude or "") .. block(page, heading))
    local done = cjson.encode({ id = "any", status = ctx.srv.profile.completed,
                                video = { url = ctx.srv:cdn_base(ns) .. "/files/example.mp4" } })
    local answers = {}
    for i = 1, 40 do answers[i] = { status = 200, body = done } end
    ctx.srv:fault(ns, "poll", answers)
    local root = sh.lines("pwd")[1]
    local cmd = ("cd %s && LUA_PATH=%s LUA_CPATH=%s AIMLAPI_KEY=%s OMNIHUMAN_BASE_URL=%s %s example.lua 2>&1")
      :format(sh.q(work), sh.q(absolute(package.path, root)), sh.q(absolute(package.cpath, root)),
              sh.q(fixtures.KEY), sh.q(ctx.srv:base_url(ns)), interpreter(root))
    local ok, out = sh.run(cmd)
    local made = fixtures.ls(work)
    fixtures.rm_rf(work)
    return ok, out, ns, made
  end

  it("README.md's Use", function()
    local ok, out, ns, made = run_example("README.md", "## Use")
    assert.is_truthy(ok, out)
    assert.equals(5, ctx.srv:count(ns, "create"))
    table.sort(made)
    for _, name in ipairs({ "1.mp4", "2.mp4", "a.mp4", "b.mp4", "out.mp4" }) do
      assert.truthy(table.concat(made, " "):find(name, 1, true), name .. " in " .. table.concat(made, " "))
    end
    assert.matches("ann.png\t1.mp4", out, 1, true)
  end)

  it("docs/api.md's Example", function()
    local ok, out, ns = run_example("docs/api.md", "## Example")
    assert.is_truthy(ok, out)
    assert.equals(4, ctx.srv:count(ns, "create"))
    assert.matches("bob.png\t2.mp4", out, 1, true)
  end)

  it("docs/api.md's Models (a fragment: its client made first), each create checked and sent", function()
    local ok, out, ns = run_example("docs/api.md", "## Models", 'local client = require("omnihuman").new{}\n')
    assert.is_truthy(ok, out)
    assert.equals(2, ctx.srv:count(ns, "create"))
  end)
end)
