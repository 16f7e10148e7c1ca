-- The shell from specs: quoting, running commands, processes.
--   local sh = require("spec.support.sh")
--   sh.exec("kill -0 " .. pid)            true, 0 | false, code
--   sh.run(sh.q(lua) .. " x.lua 2>&1")    ok, output
--   sh.lines("ls -A " .. sh.q(dir))       { line, ... }
local sh = {}

--- s (any value, via tostring) as one single-quoted shell word.
function sh.q(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

--- Runs cmd; returns whether it exited 0, and its exit code (128 + signal
--- when a signal ended it, under Lua 5.1).
function sh.exec(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then -- Lua 5.1 / LuaJIT: system()'s wait status
    local code = a % 256 == 0 and a / 256 or 128 + a % 128
    return code == 0, code
  end
  return a == true and (c == nil or c == 0), c
end

--- Runs cmd; returns whether it succeeded (what its pipe's close says) and
--- everything it wrote to stdout.
function sh.run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

--- The lines cmd writes to stdout.
function sh.lines(cmd)
  local out, p = {}, assert(io.popen(cmd))
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

function sh.sleep(seconds)
  sh.exec("sleep " .. seconds)
end

--- Is process pid still running (a zombie counts as gone)?
function sh.alive(pid)
  local f = io.open("/proc/" .. pid .. "/status", "rb")
  if f then
    local st = f:read("*a")
    f:close()
    return not st:match("State:%s*Z")
  end
  f = io.open("/proc/self/status", "rb")
  if f then -- Linux: no entry = gone
    f:close()
    return false
  end
  return (sh.exec("kill -0 " .. pid .. " 2>/dev/null")) -- elsewhere
end

return sh
