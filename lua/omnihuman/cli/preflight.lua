-- Pre-flight of batch rows, before the first create is sent: local inputs
-- exist, are regular files and recognised media (sniffed by the core, the
-- way its create checks them), audio is under the service's limit; the
-- output's folder exists (or is created), the output is not a folder and
-- the folder is writable. Each check returns nil (fine) or the reason.
local core = require("omnihuman.core")
local U = require("omnihuman.cli.util")
local FS = require("omnihuman.cli.fs")

local PF = {}

local MAX_AUDIO_SECONDS = 30
local MAX_AUDIO_BYTES = 256 * 1024 * 1024 -- read whole to measure; far beyond a 30 s clip
local IMAGE = { png = true, jpeg = true, webp = true, gif = true }
local AUDIO = { wav = true, mp3 = true, ogg = true, m4a = true, aac = true }

local function read_head(path, n)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read(n) or ""
  f:close()
  return s
end

-- One local input file: nil, or why it cannot be sent.
local function check_media(path, audio)
  local what = audio and "audio" or "image"
  local kind, size_or_err, tag = FS.stat(path)
  if not kind then
    if tag == "missing" or tag == "notdir" then return what .. " file not found: " .. path end
    return what .. " file " .. size_or_err
  end
  if kind ~= "file" then return what .. " file " .. path .. ": not a regular file" end
  if audio and size_or_err > MAX_AUDIO_BYTES then
    return what .. " file " .. path .. ": too large for a clip under 30 s"
  end
  local data, err = read_head(path, audio and math.max(1, size_or_err) or 4096)
  if not data then return what .. " file " .. path .. ": " .. tostring(err) end
  local name = core._sniff(data:sub(1, 4096))
  if audio and not AUDIO[name] then
    return what .. " file " .. path .. ": not a recognised audio file (WAV, MP3, OGG, M4A/AAC)"
  elseif not audio and not IMAGE[name] then
    return what .. " file " .. path .. ": not a recognised image (PNG, JPEG, WebP, GIF)"
  end
  if audio then
    local secs = core._duration(data, name)
    if secs and secs >= MAX_AUDIO_SECONDS then
      return ("%s file %s: audio is %.1f s long; the service takes clips under 30 s"):format(what, path, secs)
    end
  end
  return nil
end

-- A row's local inputs; cache (path -> reason or false) spares files that
-- many rows share a second read. Sets input.real (canonical path).
function PF.inputs(row, cache)
  for _, which in ipairs({ "image", "audio" }) do
    local input = row[which]
    if input.path then
      local k = which .. "\0" .. input.path
      if cache[k] == nil then cache[k] = check_media(input.path, which == "audio") or false end
      if cache[k] then return cache[k] end
      input.real = FS.canonical(input.path) or input.path
    end
  end
  return nil
end

-- A row's output (row.output: canonical path). create_dirs: make a missing
-- folder (mkdir -p); without it (a dry run) only check that it could be.
-- Returns nil, or the reason; row.new_dir is set when the folder is missing.
function PF.output(row, create_dirs)
  local kind = FS.stat(row.output)
  if kind == "dir" then return "output " .. row.output .. " is a folder" end
  if kind == "other" then return "output " .. row.output .. " is not a regular file" end
  local dir = U.dirname(row.output)
  if dir == "" then dir = "/" end
  local dkind, derr = FS.stat(dir)
  if dkind and dkind ~= "dir" then return "output folder " .. dir .. " is not a folder" end
  if not dkind then
    row.new_dir = dir
    if create_dirs then
      local ok, merr = FS.mkdir_p(dir)
      if not ok then return "cannot create the output folder: " .. tostring(merr) end
    else
      local base = FS.existing_ancestor(dir)
      local bkind = FS.stat(base)
      if bkind ~= "dir" then return "output folder " .. dir .. " cannot be created: " .. base .. " is not a folder" end
      dir = base
    end
  end
  local ok, werr = FS.writable(dir)
  if not ok then return "output folder is not writable: " .. tostring(werr or derr) end
  return nil
end

return PF
