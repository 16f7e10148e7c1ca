-- Files and directories from specs.
local sh = require("spec.support.sh")

local files = {}

--- The whole of path, or nil and io.open's message when it cannot be opened.
function files.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes data to path (replacing it); returns path.
function files.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

function files.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- A new empty directory under $TMPDIR (or /tmp), named prefix.XXXXXX.
function files.tmpdir(prefix)
  local p = io.popen("mktemp -d \"${TMPDIR:-/tmp}/" .. (prefix or "omnihuman-spec") .. ".XXXXXX\"")
  local d = p and p:read("*l")
  if p then p:close() end
  if not d or d == "" then error("mktemp -d failed", 2) end
  return d
end

--- Entries of a directory (for "no partial file left behind" checks).
function files.ls(dir)
  return sh.lines("ls -A " .. sh.q(dir))
end

--- Removes path and everything below it.
function files.rm_rf(path)
  sh.exec("rm -rf " .. sh.q(path))
end

return files
