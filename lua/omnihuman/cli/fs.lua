-- Paths for the batch: canonical spellings (every symlink, ".", ".." and
-- repeated "/" resolved, also for folders that do not exist yet), folder
-- creation and checks, on top of the file-system helpers of omnihuman.fs.
local core = require("omnihuman.core")
local has_fsc, fsc = pcall(require, "omnihuman.fs")
if not has_fsc then fsc = {} end
local util = require("omnihuman.cli.util")

local fs = {}

-- The build this CLI runs with may predate the helpers: say so plainly.
function fs.available()
  return has_fsc and type(fsc.realpath) == "function" and type(fsc.flock) == "function"
      and type(fsc.append) == "function" and type(fsc.mkdir_p) == "function"
      and type(core.check_input) == "function"
end

function fs.cwd()
  return (fsc.realpath("."))
end

-- Canonical absolute path of path (relative to base, else to the current
-- folder). The leading part that exists is resolved by the kernel; the
-- rest (which cannot hold symlinks) lexically. nil, message on errors other
-- than "does not exist".
function fs.canonical(path, base)
  if path:sub(1, 1) ~= "/" then path = (base or fs.cwd()) .. "/" .. path end
  local real, err, tag = fsc.realpath(path)
  if real then return real end
  if tag ~= "missing" then return nil, err end
  local parent, name = path:match("^(.*)/([^/]*)$")
  if parent == "" then parent = "/" end
  if name == "" or name == "." then return fs.canonical(parent) end
  local p, perr = fs.canonical(parent)
  if not p then return nil, perr end
  if name == ".." then return util.dirname(p) ~= "" and util.dirname(p) or "/" end
  return (p == "/" and "" or p) .. "/" .. name
end

-- key of a canonical path: relative to folder `home` when inside it.
function fs.relative(path, home)
  if home == "/" then return path:sub(2) end
  if path:sub(1, #home + 1) == home .. "/" then return path:sub(#home + 2) end
  return path
end

-- The nearest folder of path that exists (path itself if it does).
function fs.existing_ancestor(path)
  while path ~= "/" and not fsc.stat(path) do
    path = util.dirname(path)
    if path == "" then path = "/" end
  end
  return path
end

-- Removes stale <target>.part-XXXXXX files (left by killed downloads) of
-- the given targets, one listing per folder. Returns how many went.
function fs.clean_parts(targets)
  local by_dir = {}
  for _, path in ipairs(targets) do
    local d = util.dirname(path)
    by_dir[d] = by_dir[d] or {}
    by_dir[d][util.basename(path)] = true
  end
  local n = 0
  for dir, bases in pairs(by_dir) do
    local p = fsc.stat(dir) == "dir" and io.popen("ls -A " .. util.q(dir) .. " 2>/dev/null")
    if p then
      local names = {}
      for name in p:lines() do names[#names + 1] = name end
      p:close()
      for _, name in ipairs(names) do
        local base = name:match("^(.*)%.part%-[%w_]+$")
        if base and bases[base] and #name == #base + 12 then
          if os.remove(dir .. "/" .. name) then n = n + 1 end
        end
      end
    end
  end
  return n
end

fs.stat = fsc.stat
fs.mkdir_p = fsc.mkdir_p
fs.writable = fsc.writable

return fs
