-- Row identity for the batch: a row is its output's canonical path,
-- relative to the manifest's folder when inside it, so that reruns from any
-- folder, with the manifest named by any path, find the same rows, and two
-- spellings of one file are caught before anything is sent.
local util = require("omnihuman.cli.util")
local fs = require("omnihuman.cli.fs")

local Rows = {}

-- path made absolute from home and normalised without the file system
-- ("." and empty segments dropped, ".." taking one back): the output as the
-- manifest spells it, whatever its folders are now.
local function lexical(path, home)
  if path:sub(1, 1) ~= "/" then path = home .. "/" .. path end
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then parts[#parts] = nil
    elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return "/" .. table.concat(parts, "/")
end

-- Sets row.output (canonical absolute path) and row.key on every row;
-- moves rows whose output is unusable or already taken to bad. reserved:
-- canonical path -> what it is (the manifest, the journal): never an output.
function Rows.identify(rows, bad, home, reserved)
  local keep, owner = {}, {}
  for _, row in ipairs(rows) do
    local raw, why = row.output_raw, nil
    local name = util.basename(raw)
    if name == "" or name == "." or name == ".." then
      why = "output " .. raw .. " names a folder, not a file"
    else
      local path, err = fs.canonical(raw, home)
      if not path then
        why = "output " .. raw .. ": " .. tostring(err)
      else
        row.output = path
        row.key = fs.relative(path, home)
        -- the key an earlier run journaled if a folder on the way has since
        -- become a symlink (outputs moved to a bigger disk)
        row.spelled_key = fs.relative(lexical(raw, home), home)
        if reserved[path] then
          why = ("output %s is %s"):format(raw, reserved[path])
        elseif owner[row.key] then
          why = ("output %s is already the target of line %d (%s)"):format(raw, owner[row.key].line,
            owner[row.key].output_raw)
        end
      end
    end
    if why then
      bad[#bad + 1] = { line = row.line, message = why, output = row.output }
    else
      owner[row.key] = row
      keep[#keep + 1] = row
    end
  end
  table.sort(bad, function(a, b) return a.line < b.line end)
  return keep, owner
end

-- The function that names the row of a journal record: current records
-- carry the key; older ones the output as spelled through the manifest's
-- path, relative to the folder that run started in (unknown now). Such a
-- key is resolved from this folder, the manifest's and each folder above
-- it; of the rows it may name, those whose output as spelled in the
-- manifest ends the key are kept. One row left: that row. Several: the
-- record is nobody's, and each of those rows goes in `ambiguous` (key ->
-- true) so the caller can hold it as uncertain (never paid again unasked,
-- never given another row's job).
function Rows.keyof(by_key, home, ambiguous)
  local cwd = fs.cwd()
  local legacy = {}
  local by_path = {}
  for key, row in pairs(by_key) do by_path[row.output] = key end
  local function spelled_end(k, row)
    local raw = (row.output_raw or ""):gsub("^%./+", "")
    if raw == "" then return false end
    return k == raw or (#k > #raw and k:sub(-#raw - 1) == "/" .. raw)
  end
  local function resolve(k)
    local bases = { "/" }
    if k:sub(1, 1) ~= "/" then
      bases = { cwd, home }
      local up = home
      while up ~= "" and up ~= "/" do
        up = util.dirname(up)
        if up == "" then up = "/" end
        bases[#bases + 1] = up
      end
    end
    local found, list = {}, {}
    for _, base in ipairs(bases) do
      local p = fs.canonical(k, base)
      local key = p and by_path[p]
      if key and not found[key] then found[key] = true list[#list + 1] = key end
    end
    if #list <= 1 then return list[1] end
    local kept = {}
    for _, key in ipairs(list) do if spelled_end(k, by_key[key]) then kept[#kept + 1] = key end end
    if #kept == 1 then return kept[1] end
    for _, key in ipairs(#kept > 1 and kept or list) do
      if ambiguous then ambiguous[key] = true end
    end
    return nil
  end
  return function(rec)
    if rec.v ~= nil then return rec.key end
    local k = rec.key
    if type(k) ~= "string" then return nil end
    if legacy[k] == nil then legacy[k] = resolve(k) or false end
    return legacy[k] or nil
  end
end

-- What a row needs, from its journal state: create | resume | download |
-- skip | uncertain | failed.
function Rows.plan(row, st, opts)
  local s = st and st.state or "new"
  if s == "new" then return "create" end
  if s == "uncertain" then return opts["recreate-uncertain"] and "create" or "uncertain" end
  if s == "failed" then return opts["retry-failed"] and "create" or "failed" end
  if s == "pending" then return "resume" end
  if s == "completed" then return "download" end
  if s == "done" then return fs.stat(row.output) == "file" and "skip" or "download" end
  return "create"
end

return Rows
