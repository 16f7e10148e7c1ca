-- A script with a ledger SIGKILLed at each point of the create path, then
-- finished the way docs/ledger.md says: `resume` when the row has a job id
-- (no create), a rerun otherwise (refused as a duplicate once the row
-- exists; `again` pays). Creates are counted on the fake API.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local ledger = require("omnihuman.ledger")

local FIXTURE = fixtures.read("spec/support/fixture.mp4")

-- point -> the row state it leaves, creates the service saw at the kill,
-- and the creates in all once finished.
local POINTS = {
  { at = "before_record", state = nil, seen = 0, total = 1 },
  { at = "recorded", state = "creating", seen = 0, total = 1 },
  { at = "sent", state = "creating", seen = 1, total = 2 },   -- the service holds the answer
  { at = "answered", state = "creating", seen = 1, total = 2 },
  { at = "id_recorded", state = "created", seen = 1, total = 1 },
}

local function child(srv, ns, db, out, kill_at, again)
  local env = { LEDGER = db, BASE_URL = srv:base_url(ns), CA_FILE = srv.ca_file, OUT = out,
                KILL_AT = kill_at or "", AGAIN = again and "1" or "0" }
  local parts = { "env" }
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh.q(v) end
  local cmd = table.concat(parts, " ") .. " " .. cli.LUA .. " spec/support/ledger_child.lua"
  return io.popen(cmd .. " >/dev/null 2>&1 & echo $!"):read("*l")
end

local function rows(db)
  local l = assert(ledger.open(db))
  local r = assert(l:list())
  l:close()
  return r
end

describe("a script with a ledger killed at each point of the create path", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  for _, p in ipairs(POINTS) do
    it("at " .. p.at .. ": nothing paid is lost, nothing paid twice unasked", function()
      local ns = fixtures.ns("lc")
      local db, out = dir .. "/" .. p.at .. ".db", dir .. "/" .. p.at .. ".mp4"
      local pid
      if p.at == "sent" then
        srv:fault(ns, "create", { { after = { hang = true } } })
        pid = tonumber(child(srv, ns, db, out, nil))
        assert.is_true(cli.until_true(function() return srv:count(ns, "create") == 1 end, 30))
        sh.exec("kill -9 " .. pid)
      else
        pid = tonumber(child(srv, ns, db, out, p.at))
      end
      assert.is_true(cli.until_true(function() return not sh.alive(pid) end, 30), "the script did not die")
      assert.equals(p.seen, srv:count(ns, "create"))
      local r = rows(db)
      assert.equals(p.state and 1 or 0, #r)
      if p.state then assert.equals(p.state, r[1].state) end
      local c = fixtures.client(srv, ns, { ledger = db })
      if r[1] and r[1].job_id then
        local res = assert(c:resume(r[1].job_id))
        assert.equals(out, res.output)
      else
        local res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = out }
        if p.state then
          assert.is_nil(res)
          assert.equals("duplicate", err.kind)
          assert.equals(p.seen, srv:count(ns, "create"))
          res = assert(c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = out, again = true })
        end
        assert.truthy(res)
      end
      assert.equals(p.total, srv:count(ns, "create"))
      assert.equals(FIXTURE, fixtures.read(out))
      c:close()
    end)
  end
end)
