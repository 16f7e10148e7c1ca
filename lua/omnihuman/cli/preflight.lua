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
  -- A row's own input options, typed as the create will want them (a "yes"
  -- passed the check below as truthy, then made the create raise mid-run).
  local allow, max_s = row.fields.allow_unmeasured_audio, row.fields.max_audio_seconds
  if allow ~= nil and type(allow) ~= "boolean" then
    return "allow_unmeasured_audio must be true or false, got '" .. tostring(allow) .. "'"
  end
  if max_s ~= nil and type(max_s) ~= "number" then
    return "max_audio_seconds must be a number, got '" .. tostring(max_s) .. "'"
  end
  local opts = { model = model, max_audio_seconds = max_s or rules.max_audio_seconds,
                 allow_unmeasured_audio = allow }
  for _, which in ipairs({ "image", "audio", "mask" }) do
    local input = row[which]
    if input and input.path then
      local k = table.concat({ which, tostring(model), tostring(opts.max_audio_seconds), tostring(allow), input.path }, "\0")
      if cache[k] == nil then
        local _, _, tag = fs.stat(input.path)
        local kind = which == "mask" and "image" or which
        opts.max_seconds, opts.max_bytes = catalogue.file_limits(model, which .. "_url", kind)
        opts.field = which
        local ok, why = core.check_input(input.path, which, opts)
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
