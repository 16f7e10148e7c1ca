-- Pre-flight of batch rows, before the first create is sent: local inputs
-- pass the create's own check; the output's folder exists (or is created),
-- the output is not a folder and the folder is writable. Each check returns
-- nil (fine) or the reason.
local core = require("omnihuman.core")
local util = require("omnihuman.cli.util")
local fs = require("omnihuman.cli.fs")
local catalogue = require("omnihuman.catalogue")
local Manifest = require("omnihuman.cli.manifest")

local Preflight = {}

-- A row's local inputs, checked as the create will check them (the core's
-- own check: regular file, sendable size, recognised media, audio measured
-- under the model's limit). rules: { model, max_audio_seconds } of the
-- client; cache (key -> reason or false) spares files that many rows share
-- a second read. Sets input.real (canonical path). nil, or the reason.
function Preflight.inputs(row, cache, rules)
  local model = type(row.fields.model) == "string" and row.fields.model or rules.model
  for _, which in ipairs({ "image", "audio", "mask" }) do
    local input = row[which]
    if input and input.path then
      local k = which .. "\0" .. tostring(model) .. "\0" .. input.path
      if cache[k] == nil then
        local _, _, tag = fs.stat(input.path)
        local ok, why = core.check_input(input.path, which,
          { model = model, max_audio_seconds = rules.max_audio_seconds })
        if ok then cache[k] = false
        elseif tag == "missing" or tag == "notdir" then cache[k] = which .. " file not found: " .. input.path
        else cache[k] = which .. " file " .. input.path .. ": " .. why end
      end
      if cache[k] then return cache[k] end
      input.real = fs.canonical(input.path) or input.path
    end
  end
  return nil
end

-- A row's create fields against its model's documented fields (the
-- library's model table), as the create will check them. rules: { model,
-- strict } of the client. nil, or the reason.
function Preflight.fields(row, rules)
  local model = type(row.fields.model) == "string" and row.fields.model or rules.model or "bytedance/omnihuman"
  return (catalogue.check(model, Manifest.create_fields(row), rules.strict))
end

-- A row's output (row.output: canonical path). create_dirs: make a missing
-- folder (mkdir -p); without it (a dry run) only check that it could be.
-- Returns nil, or the reason; row.new_dir is set when the folder is missing.
function Preflight.output(row, create_dirs)
  local kind = fs.stat(row.output)
  if kind == "dir" then return "output " .. row.output .. " is a folder" end
  if kind == "other" then return "output " .. row.output .. " is not a regular file" end
  local dir = util.dirname(row.output)
  if dir == "" then dir = "/" end
  local dkind, derr = fs.stat(dir)
  if dkind and dkind ~= "dir" then return "output folder " .. dir .. " is not a folder" end
  if not dkind then
    row.new_dir = dir
    if create_dirs then
      local ok, merr = fs.mkdir_p(dir)
      if not ok then return "cannot create the output folder: " .. tostring(merr) end
    else
      local base = fs.existing_ancestor(dir)
      local bkind = fs.stat(base)
      if bkind ~= "dir" then return "output folder " .. dir .. " cannot be created: " .. base .. " is not a folder" end
      dir = base
    end
  end
  local ok, werr = fs.writable(dir)
  if not ok then return "output folder is not writable: " .. tostring(werr or derr) end
  return nil
end

return Preflight
