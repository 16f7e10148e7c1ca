-- Small helpers shared by the omnihuman CLI modules: JSON, time, files,
-- shell quoting, terminal detection, human-readable sizes and durations.
local cjson = require("cjson")

local util = {}

util.json = cjson.new and cjson.new() or cjson
util.null = cjson.null

-- lua-cjson escapes "/" as "\/"; undo that (an escaped backslash before a
-- slash is "\\\/", which still decodes right after the change). lua-cjson
-- also writes an empty table as {}: a list that may be empty goes through
-- util.array, whose empty stand-in is written as [].
local EMPTY = "omnihuman_empty_array_7c1e" -- no pattern magic characters
function util.encode(v)
  return (util.json.encode(v):gsub("\\/", "/"):gsub('"' .. EMPTY .. '"', "[]"))
end

--- A list for util.encode: written as [] when it is empty.
function util.array(t) return (t == nil or next(t) == nil) and EMPTY or t end

-- Decodes JSON text; returns value or nil, message (never raises).
function util.decode(s)
  local ok, v = pcall(util.json.decode, s)
  if ok then return v end
  return nil, tostring(v):gsub("^.-:%d+: ", "")
end

function util.q(s) -- POSIX shell quoting
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

-- A word to paste into a shell: as it is when it is plain, else quoted
-- (a job id is the service's text: a command printed with it stays safe).
function util.word(s)
  s = tostring(s)
  if s:match("^[%w%-_.:/=@+,]+$") then return s end
  return util.q(s)
end

function util.execute(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

function util.readfile(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

function util.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function util.dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

function util.basename(path)
  return path:match("([^/]*)$")
end

function util.is_url(s)
  return type(s) == "string" and (s:match("^https?://") or s:match("^data:")) ~= nil
end

-- Joins a relative path onto base directory dir ("." keeps it relative).
function util.join(dir, path)
  if path:sub(1, 1) == "/" or dir == "." or dir == "" then return path end
  return dir .. "/" .. path
end

-- UTC timestamp with milliseconds, for journal records and plain progress lines.
local now_fn
do
  local ok, core = pcall(require, "omnihuman.core")
  if ok and core.now then now_fn = core.now end
end
util.now = now_fn or function() return os.time() end -- monotonic seconds when the core has it
function util.timestamp()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

function util.fmt_bytes(n)
  if not n then return "?" end
  if n < 1024 then return ("%d B"):format(n) end
  if n < 1024 * 1024 then return ("%.1f KiB"):format(n / 1024) end
  if n < 1024 * 1024 * 1024 then return ("%.1f MiB"):format(n / 1048576) end
  return ("%.2f GiB"):format(n / 1073741824)
end

function util.fmt_duration(s)
  s = math.max(0, math.floor(s + 0.5))
  local f = math.floor
  if s < 3600 then return ("%d:%02d"):format(f(s / 60), s % 60) end
  return ("%d:%02d:%02d"):format(f(s / 3600), f(s / 60) % 60, s % 60)
end

-- Is file descriptor fd (1 = stdout, 2 = stderr) a terminal? The shell that
-- os.execute starts inherits our descriptors, so `test -t` answers for us.
function util.isatty(fd)
  return util.execute("test -t " .. fd)
end

-- Terminal size (columns, rows): $COLUMNS/$LINES, else stty on /dev/tty, else 80x24.
function util.term_size()
  local c, r = tonumber(os.getenv("COLUMNS") or ""), tonumber(os.getenv("LINES") or "")
  if not (c and r) then
    local p = io.popen("stty size </dev/tty 2>/dev/null")
    local l = p and p:read("*l")
    if p then p:close() end
    local sr, sc = (l or ""):match("^(%d+)%s+(%d+)")
    c, r = c or tonumber(sc), r or tonumber(sr)
  end
  if not c or c < 20 then c = 80 end
  if not r or r < 5 then r = 24 end
  return c, r
end

-- This process's id (the Lua interpreter's): /proc/self where there is one,
-- else the parent pid of a shell we start.
function util.getpid()
  local s = util.readfile("/proc/self/stat")
  local pid = s and tonumber(s:match("^(%d+)"))
  if pid then return pid end
  local p = io.popen("echo $PPID")
  pid = p and tonumber(p:read("*l") or "")
  if p then p:close() end
  return pid
end


-- Masks anything that looks like the key, wherever a message might carry it.
local secrets = {}
function util.add_secret(s) if type(s) == "string" and #s >= 4 then secrets[#secrets + 1] = s end end
function util.redact(s)
  s = tostring(s)
  for _, k in ipairs(secrets) do
    local i = 1
    while true do
      local a, b = s:find(k, i, true)
      if not a then break end
      s = s:sub(1, a - 1) .. "[REDACTED]" .. s:sub(b + 1)
      i = a + 10
    end
  end
  return s
end

return util
