-- What spec/hosts/docs_promises_embedding_spec.lua needs to run the code of
-- docs/embedding.md as a user would: the fenced blocks of a section, and
-- child processes started together and awaited (each bounded in time).
--   local ds = require("spec.hosts.docs_snippets")
--   ds.block("docs/embedding.md", "### cqueues", "lua", 1)   -> the text
--   local h = ds.start(dir, "name", "cmd")   -- runs in dir, output kept
--   ds.wait(h, 90) -> exit code (nil: still running), output
local files = require("spec.support.files")
local sh = require("spec.support.sh")

local M = {}

--- The n-th (default 1st) fenced block of language lang in file, after the
--- line that starts with heading and before the next heading of its level.
function M.block(file, heading, lang, n)
  local text = assert(files.read(file), "cannot read " .. file)
  local level = heading:match("^#+")
  local inside, count, code = false, 0, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if code then
      if line == "```" then
        count = count + 1
        if count == (n or 1) then return table.concat(code, "\n") .. "\n" end
        code = nil
      else
        code[#code + 1] = line
      end
    elseif line:sub(1, #heading) == heading then
      inside = true
    elseif inside and line:match("^#+ ") and #line:match("^#+") <= #level then
      break
    elseif inside and line == "```" .. lang then
      code = {}
    end
  end
  error(("no block %d of %s under %q in %s"):format(n or 1, lang, heading, file))
end

--- Starts cmd (a shell command) in dir in the background; its stdout and
--- stderr go to dir/name.out, its exit code to dir/name.rc.
function M.start(dir, name, cmd)
  local h = { out = dir .. "/" .. name .. ".out", rc = dir .. "/" .. name .. ".rc" }
  os.remove(h.rc)
  sh.exec(("cd %s && (%s >%s 2>&1 </dev/null; echo $? >%s) &"):format(sh.q(dir), cmd, sh.q(h.out), sh.q(h.rc)))
  return h
end

--- Waits up to secs for h to end; returns its exit code (nil if it has not
--- ended) and its output.
function M.wait(h, secs)
  local t0 = os.time()
  while os.time() - t0 <= secs do
    local rc = files.read(h.rc)
    if rc and rc:match("%d") then return tonumber(rc:match("%d+")), files.read(h.out) or "" end
    sh.sleep(0.2)
  end
  return nil, files.read(h.out) or ""
end

--- Starts nginx on conf (text) with prefix as its folder: conf is written
--- there, and the pid, error log, daemon and (as root) user lines come
--- from -g. env_cmd is the environment to start it with (an `env ...`
--- prefix). as_nobody: no user line (as root, the workers run as nobody).
--- Returns ok, output.
function M.nginx(prefix, conf, env_cmd, as_nobody)
  sh.exec("mkdir -p " .. sh.q(prefix .. "/logs"))
  files.write(prefix .. "/nginx.conf", conf)
  local g = ("daemon on; pid %s/logs/nginx.pid; error_log %s/logs/error.log warn;%s"):format(prefix, prefix,
    (sh.lines("id -u")[1] == "0" and not as_nobody) and " user root;" or "")
  return sh.run(env_cmd .. " nginx -p " .. sh.q(prefix) .. " -c " .. sh.q(prefix .. "/nginx.conf")
    .. " -g " .. sh.q(g) .. " 2>&1")
end

--- Stops the nginx that M.nginx started in prefix (if it runs).
function M.nginx_stop(prefix)
  local pid = files.read(prefix .. "/logs/nginx.pid")
  if pid and pid:match("%d+") then sh.exec("kill -QUIT " .. pid:match("%d+")) end
end

--- Whether this run of the suite takes the hosts that run LuaJIT (Neovim,
--- LÖVE, nginx): their program is installed, build/luajit is there, and the
--- suite runs Lua 5.4 or LuaJIT without sanitizers (under the other
--- runtimes they would test the same build again).
function M.host(program)
  return sh.lines("command -v " .. program)[1] ~= nil and files.exists("build/luajit/omnihuman/core.so")
    and (_VERSION == "Lua 5.4" or jit ~= nil) and not os.getenv("SANLUA")
end

function M.free_port()
  return sh.lines([[python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()']])[1]
end

return M
