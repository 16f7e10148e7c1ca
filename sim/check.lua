-- The invariants the simulation checks. Each function returns a list of
-- violations (strings); empty when the world is as it must be.
local fixtures = require("spec.support.fixtures")
local sh = require("spec.support.sh")
local cjson = require("cjson")

local check = {}

local FIXTURE = fixtures.read("spec/support/fixture.mp4")

-- Jobs the server made per row, once no create is still being answered
-- (a killed run's create can still make its job after the kill).
function check.server_jobs(srv, ns)
  local recs
  for _ = 1, 200 do
    recs = srv:records(ns)
    if (recs.inflight or {}).create == 0 then break end
    sh.exec("sleep 0.05")
  end
  return recs.tags or {}, recs
end

-- Every line of the journal is a whole record.
function check.journal(world)
  local v = {}
  local f = io.open(world.journal, "rb")
  if not f then return v end
  local n = 0
  for line in f:lines() do
    n = n + 1
    local ok, rec = pcall(cjson.decode, line)
    if not (ok and type(rec) == "table" and type(rec.ev) == "string" and type(rec.key) == "string") then
      v[#v + 1] = ("journal line %d is not a record: %q"):format(n, line:sub(1, 120))
    end
  end
  f:close()
  return v
end

-- At most one job per row, ever.
function check.at_most_one(world, tags)
  local v = {}
  for _, r in ipairs(world.rows) do
    local ids = tags[r.tag] or {}
    if #ids > 1 then v[#v + 1] = ("row %s: %d jobs made (%s)"):format(r.tag, #ids, table.concat(ids, " ")) end
  end
  return v
end

-- The end: every row done with exactly one job, the plan (from the ledger,
-- or the journal with --no-ledger) naming it,
-- every output the fixture byte for byte, no .part file left.
function check.final(world, tags, plan)
  local v = check.at_most_one(world, tags)
  local planned = {}
  for _, row in ipairs(plan and plan.rows or {}) do planned[row.key] = row end
  for _, r in ipairs(world.rows) do
    local ids = tags[r.tag] or {}
    if #ids ~= 1 then v[#v + 1] = ("row %s: %d jobs at the end"):format(r.tag, #ids) end
    local p = planned[r.key]
    if not p then
      v[#v + 1] = ("row %s: not in the final plan"):format(r.tag)
    else
      if p.plan ~= "skip" then v[#v + 1] = ("row %s: final plan %s, not skip"):format(r.tag, p.plan) end
      if ids[1] and p.id ~= ids[1] then
        v[#v + 1] = ("row %s: the plan names job %s, the server made %s"):format(r.tag, tostring(p.id), ids[1])
      end
    end
    local f = io.open(r.path, "rb")
    local data = f and f:read("*a")
    if f then f:close() end
    if data ~= FIXTURE then
      v[#v + 1] = ("row %s: output %s is %s"):format(r.tag, r.path,
        data and ("%d bytes, not the served %d"):format(#data, #FIXTURE) or "missing")
    end
  end
  for _, name in ipairs(world:parts()) do v[#v + 1] = "stale download file " .. name end
  for _, x in ipairs(check.journal(world)) do v[#v + 1] = x end
  return v
end

-- The ledger at path after the final run: every row's output has a ledger
-- row, downloaded, naming the job the server made for it.
function check.ledger(world, tags, path)
  local v = {}
  local has, ledger = pcall(require, "omnihuman.ledger")
  if not has then return v end -- built without the ledger: the journal alone
  local store, err = ledger.open(path)
  if not store then return { "cannot open the ledger: " .. tostring(err) } end
  local newest = {}
  for _, r in ipairs(store:list() or {}) do
    if r.output and r.state ~= "not_created" then newest[r.output] = r end -- oldest first: the last wins
  end
  store:close()
  local fsc = require("omnihuman.fs")
  for _, r in ipairs(world.rows) do
    local lr = newest[fsc.realpath(r.path) or r.path]
    local id = (tags[r.tag] or {})[1]
    if not lr then
      v[#v + 1] = ("row %s: not in the ledger"):format(r.tag)
    elseif lr.state ~= "downloaded" or lr.job_id ~= id then
      v[#v + 1] = ("row %s: the ledger has %s, job %s; the server made %s"):format(r.tag, lr.state,
        tostring(lr.job_id), tostring(id))
    end
  end
  return v
end

-- A plan (a dry run's --json) against the server: nothing paid is missing
-- from the ledger (or the journal), and the ids it names are the server's.
function check.plan(world, tags, plan)
  local v = {}
  for _, row in ipairs(plan.rows or {}) do
    local r = world.by_key[row.key]
    local ids = r and tags[r.tag] or {}
    if not r then
      v[#v + 1] = "plan names an unknown row " .. tostring(row.key)
    elseif row.plan == "create" and #ids > 0 then
      v[#v + 1] = ("row %s: planned for a create, but job %s exists and the plan does not know it"):format(r.tag,
        ids[1])
    elseif (row.plan == "resume" or row.plan == "download" or row.plan == "skip") and row.id ~= ids[1] then
      v[#v + 1] = ("row %s: the plan names job %s, the server made %s"):format(r.tag, tostring(row.id),
        tostring(ids[1]))
    elseif row.plan == "bad" or row.plan == "failed" then
      v[#v + 1] = ("row %s: planned %s: %s"):format(r.tag, row.plan, tostring(row.message))
    end
  end
  return v
end

return check
