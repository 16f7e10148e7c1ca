-- Line coverage of the library's Lua files for `make coverage` (Debian has
-- no luacov): a busted helper (--helper) that counts, through a line hook,
-- which lines of lua/omnihuman/ ran in this process (coroutines inherit the
-- hook on Lua 5.4), and appends "path\tline" records to $OMH_COVERAGE when
-- the suite ends. Child processes (the CLI's runs) are not counted.
local out = os.getenv("OMH_COVERAGE")
if not out then return end

local hits = {}
local getinfo = debug.getinfo
debug.sethook(function(_, line)
  local src = getinfo(2, "S").source
  local lines = hits[src]
  if not lines then
    if not src:find("lua/omnihuman/", 1, true) then
      hits[src] = false
      return
    end
    lines = {}
    hits[src] = lines
  end
  if lines then lines[line] = true end
end, "l")

local function flush()
  debug.sethook()
  local f = io.open(out, "a")
  if not f then return end
  for src, lines in pairs(hits) do
    if lines then
      local path = src:gsub("^@", ""):gsub("^%./", "")
      for line in pairs(lines) do f:write(path, "\t", line, "\n") end
    end
  end
  f:close()
  hits = {}
end

-- busted ends with os.exit (no lua_close): write when its suite ends.
local ok, busted = pcall(require, "busted")
if ok and type(busted) == "table" and busted.subscribe then
  busted.subscribe({ "suite", "end" }, function()
    flush()
    return nil, true
  end)
end
