-- The ledger file itself: schema version and migrations, handles closed
-- once and for all, several processes writing at once, and a ledger that
-- cannot be written stopping a create before anything is sent.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local ledger = require("omnihuman.ledger")
local ledger_db = require("omnihuman.ledger_db")
local files = require("spec.support.files")

local function lua_cmd(script, ...)
  local parts = { cli.LUA, script } -- LUA_PATH and LUA_CPATH: spec/support/helper.lua
  for _, a in ipairs{ ... } do parts[#parts + 1] = sh.q(a) end
  return table.concat(parts, " ")
end

describe("ledger file", function()
  local dir
  setup(function() dir = fixtures.tmpdir() end)
  teardown(function() fixtures.rm_rf(dir) end)

  it("is made at schema version 1 in WAL mode, and refuses a newer schema", function()
    local p = dir .. "/v.db"
    local l = assert(ledger.open(p))
    assert.equals(ledger.SCHEMA_VERSION, l.h:query("PRAGMA user_version")[1].user_version)
    assert.equals("wal", l.h:query("PRAGMA journal_mode")[1].journal_mode)
    assert.equals(2, l.h:query("PRAGMA synchronous")[1].synchronous) -- FULL
    assert(l.h:exec("PRAGMA user_version = 99"))
    l:close()
    local none, err = ledger.open(p)
    assert.is_nil(none)
    assert.equals("io", err.kind)
    assert.truthy(err.message:find("newer", 1, true))
  end)

  it("migrates an empty file made by someone else (version 0)", function()
    local p = dir .. "/m.db"
    local h = assert(ledger_db.open(p))
    assert(h:exec("CREATE TABLE other (x)"))
    h:close()
    local l = assert(ledger.open(p))
    assert.equals(1, l.h:query("PRAGMA user_version")[1].user_version)
    assert(l:begin_create{ fingerprint = "f", model = "m", request = "{}" })
    assert.equals(1, #l:list())
    l:close()
    l = assert(ledger.open(p)) -- and opens again without migrating twice
    assert.equals(1, #l:list())
    l:close()
  end)

  it("closes once; use after close raises", function()
    local l = assert(ledger.open(dir .. "/c.db"))
    local h = l.h
    l:close()
    l:close()
    assert.is_true(l:is_closed())
    assert.is_true(h:is_closed())
    assert.has_error(function() l:list() end, "omnihuman.ledger: the ledger is closed")
    assert.has_error(function() h:query("SELECT 1") end, "omnihuman.ledger: the ledger is closed")
    h:close()
    assert.matches("closed", tostring(h))
  end)

  it("binds and reads back every kind of value", function()
    local h = assert(ledger_db.open(dir .. "/b.db"))
    assert(h:exec("CREATE TABLE t (a, b, c, d, e)"))
    assert(h:query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", 42, 1.5, "x\0y", true, nil))
    local r = h:query("SELECT * FROM t")[1]
    assert.equals(42, r.a)
    assert.equals(1.5, r.b)
    assert.equals("x\0y", r.c)
    assert.equals(1, r.d)
    assert.is_nil(r.e)
    assert.has_error(function() h:query("SELECT ?", {}) end)
    assert.has_error(function() h:query("SELECT 1; SELECT 2") end)
    assert.has_error(function() h:query("SELECT ?, ?", 1) end)
    local none, msg = h:query("SELECT * FROM missing")
    assert.is_nil(none)
    assert.matches("no such table", msg)
    h:close()
  end)

  it("takes writers from several processes at once: each fingerprint recorded once", function()
    local p = dir .. "/multi.db"
    assert(ledger.open(p)):close()
    local N, PROCS = 150, 3
    local outs = {}
    for i = 1, PROCS do
      outs[i] = dir .. "/w" .. i .. ".out"
      sh.exec(lua_cmd("spec/support/ledger_writer.lua", p, tostring(N)) .. " >" .. outs[i] .. " 2>&1 &")
    end
    local ins, dup = 0, 0
    assert.is_true(cli.until_true(function()
      for i = 1, PROCS do
        if not (files.read(outs[i]) or ""):find("\n") then return false end
      end
      return true
    end, 120))
    for i = 1, PROCS do
      local a, b, f = fixtures.read(outs[i]):match("inserted (%d+) duplicate (%d+) failed (%d+)")
      assert.equals("0", f, fixtures.read(outs[i]))
      ins, dup = ins + tonumber(a), dup + tonumber(b)
    end
    assert.equals(N, ins)
    assert.equals(N * (PROCS - 1), dup)
    local l = assert(ledger.open(p))
    assert.equals(N, #l:list())
    l:close()
  end)
end)

describe("a ledger that cannot be written", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("(another process holds the write lock past the busy timeout) refuses the create unsent", function()
    local ns = fixtures.ns("lb")
    local p = dir .. "/busy.db"
    local c = fixtures.client(srv, ns, { ledger = p, ledger_busy_timeout = 0.2 })
    local out = dir .. "/hold.out"
    sh.exec(lua_cmd("spec/support/ledger_writer.lua", p, "4", "hold") .. " >" .. out .. " 2>&1 &")
    assert.is_true(cli.until_true(function() return (files.read(out) or ""):find("holding") ~= nil end, 30))
    local job, err = c:create(fixtures.url_fields())
    assert.is_nil(job)
    assert.equals("io", err.kind)
    assert.matches("locked", err.message)
    assert.equals(0, srv:count(ns, "create"))
    c:close()
  end)

  it("(its disk is full) refuses the create unsent", function()
    local mnt = dir .. "/full"
    sh.exec("mkdir -p " .. sh.q(mnt))
    local _, code = sh.exec("mount -t tmpfs -o size=256k tmpfs " .. sh.q(mnt) .. " 2>/dev/null")
    if code ~= 0 then
      pending("cannot mount a tmpfs here (needs root)")
      return
    end
    finally(function() sh.exec("umount " .. sh.q(mnt)) end)
    local ns = fixtures.ns("ld")
    local c = fixtures.client(srv, ns, { ledger = mnt .. "/jobs.db" })
    sh.exec("dd if=/dev/zero of=" .. sh.q(mnt .. "/fill") .. " bs=4k 2>/dev/null")
    local job, err = c:create(fixtures.url_fields())
    assert.is_nil(job)
    assert.equals("io", err.kind)
    assert.equals(0, srv:count(ns, "create"))
    c:close()
  end)
end)
