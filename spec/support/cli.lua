-- Running bin/omnihuman from specs: in the foreground (exit code, stdout,
-- stderr) or in the background (a pid to kill -9). The interpreter is the
-- suite's own ($SANLUA under sanitizers, else $LUA, else the running one) and the
-- core is the build the suite tests ($BUILD), so every run is bounded by a
-- `timeout` and talks only to the local test server.
local fixtures = require("spec.support.fixtures")

local cli = {}

cli.LUA = os.getenv("SANLUA") or os.getenv("LUA") or (jit and "luajit" or "lua" .. _VERSION:match("%d+%.%d+"))
cli.BUILD = os.getenv("BUILD")
cli.BIN = "bin/omnihuman"

local sh = require("spec.support.sh")

-- The CLI's default ledger lives under $XDG_STATE_HOME: one folder per
-- test process, never the user's own.
cli.STATE = fixtures.tmpdir()

-- Environment for a run against srv's namespace ns (the key from the env).
function cli.env(srv, ns, extra)
  local e = { AIMLAPI_KEY = fixtures.KEY, OMNIHUMAN_BASE_URL = srv and srv:base_url(ns) or nil,
              XDG_STATE_HOME = cli.STATE,
              OMNIHUMAN_BUILD = cli.BUILD, COLUMNS = "120", LINES = "40" }
  -- Under the sanitizer interpreter, CLI children keep ASan and UBSan but not
  -- LeakSanitizer, whose tracer now and then crashes as a child exits
  -- (exit 86 with no leak named); leaks are checked by the in-process specs.
  if os.getenv("SANLUA") then e.ASAN_OPTIONS = "detect_leaks=0:abort_on_error=0:exitcode=86" end
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

local PWD = io.popen("pwd"):read("*l")
cli.PWD = PWD
local function with_exec(opts)
  local o = { exec = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end

local function abs(p) return p and (p:sub(1, 1) == "/" and p or PWD .. "/" .. p) end

-- opts.cwd: run in that folder (the CLI and its build named by absolute
-- paths); opts.pre: shell commands run first, in the same shell (ulimit, trap);
-- opts.wrap: a command the CLI runs under (setpriv ...); opts.exec: the
-- shell becomes the CLI (so that its pid and a kill are the CLI's).
local function command(args, env, opts)
  opts = opts or {}
  local parts = { opts.pre or "", opts.cwd and ("cd " .. sh.q(opts.cwd) .. " &&") or "",
                  opts.exec and "exec" or "", opts.wrap or "", "env -u AIMLAPI_KEY -u OMNIHUMAN_BASE_URL" }
  -- Every run's default ledger is the suite's own (cli.STATE), never the
  -- user's, unless the caller names one (or unsets it with false).
  local e = { XDG_STATE_HOME = cli.STATE }
  for k, v in pairs(env or {}) do e[k] = v end
  if opts.cwd and e.OMNIHUMAN_BUILD then e.OMNIHUMAN_BUILD = abs(e.OMNIHUMAN_BUILD) end
  env = e
  local keys = {}
  for k in pairs(env or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do -- env wants its -u options before the assignments
    if env[k] == false then parts[#parts + 1] = "-u " .. k end
  end
  for _, k in ipairs(keys) do
    if env[k] ~= false then parts[#parts + 1] = k .. "=" .. sh.q(env[k]) end
  end
  local lua = (opts.cwd and cli.LUA:find("/")) and abs(cli.LUA) or cli.LUA -- a path ($SANLUA) or a name
  parts[#parts + 1] = sh.q(lua) .. " " .. (opts.cwd and sh.q(abs(cli.BIN)) or cli.BIN)
  for _, a in ipairs(args) do parts[#parts + 1] = sh.q(a) end
  return table.concat(parts, " ")
end
cli.command = command

-- Runs the CLI to completion (at most `limit` seconds, default 30).
-- Returns code, stdout, stderr. opts: see command().
function cli.run(args, env, limit, opts)
  local dir = fixtures.tmpdir()
  local out, err = dir .. "/out", dir .. "/err"
  local _, code = sh.exec("timeout -s KILL " .. (limit or 30) .. " sh -c " .. sh.q(command(args, env, with_exec(opts)))
      .. " >" .. sh.q(out) .. " 2>" .. sh.q(err) .. " </dev/null")
  local o, e = fixtures.read(out), fixtures.read(err)
  sh.exec("rm -rf " .. sh.q(dir))
  cli.last = { args = args, code = code, out = o, err = e }
  return code, o, e
end

-- What the last cli.run printed, for an assertion's message: a failing exit
-- code then names its cause (a flake on a busy machine shows what it was).
function cli.explain()
  local l = cli.last
  if not l then return "(no run)" end
  return ("omnihuman %s -> exit %s\n--- stdout:\n%s\n--- stderr:\n%s"):format(
    table.concat(l.args, " "), tostring(l.code), l.out, l.err)
end

-- Starts the CLI in the background; returns a handle {pid, out, err}.
-- name: the stdout/stderr files' stem in dir (default "bg").
-- opts.code: keep the exit code for cli.wait (h.pid is then a wrapper shell's).
function cli.spawn(args, env, dir, opts, name)
  local stem = dir .. "/" .. (name or "bg")
  local h = { out = stem .. ".out", err = stem .. ".err" }
  local p
  if opts and opts.code then
    h.code = stem .. ".code"
    p = io.popen("(sh -c " .. sh.q(command(args, env, with_exec(opts))) .. " >" .. sh.q(h.out) .. " 2>" .. sh.q(h.err)
      .. " </dev/null; echo $? >" .. sh.q(h.code) .. ") >/dev/null 2>&1 & echo $!")
  else
    p = io.popen(command(args, env, with_exec(opts)) .. " >" .. sh.q(h.out) .. " 2>" .. sh.q(h.err)
      .. " </dev/null & echo $!")
  end
  h.pid = tonumber(p:read("*l"))
  p:close()
  assert(h.pid, "could not start the CLI")
  return h
end

function cli.kill9(h)
  sh.exec("kill -9 " .. h.pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not sh.alive(h.pid) then return end
    sh.exec("sleep 0.02")
  end
end

-- Polls cond() every 20 ms until it returns true or `limit` seconds pass.
function cli.until_true(cond, limit)
  local t0 = fixtures.now()
  while fixtures.now() - t0 < (limit or 10) do
    if cond() then return true end
    sh.exec("sleep 0.02")
  end
  return false
end

-- Journal records (decoded), skipping unreadable lines.
function cli.journal(path)
  local cjson = require("cjson")
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for l in f:lines() do
    local ok, v = pcall(cjson.decode, l)
    if ok and type(v) == "table" then out[#out + 1] = v end
  end
  f:close()
  return out
end

-- Waits for a background run to end (at most `limit` seconds); its exit
-- code, stdout and stderr. The exit code comes through a wrapper file.
function cli.wait(h, limit)
  cli.until_true(function() return not sh.alive(h.pid) end, limit or 30)
  local code = tonumber(fixtures.read(h.code or "/dev/null") or "")
  return code, fixtures.read(h.out), fixtures.read(h.err)
end

-- A maker of fresh numbered folders under root (root() gives root itself).
function cli.dirs(root, prefix)
  local n = 0
  return function()
    n = n + 1
    local d = root() .. "/" .. prefix .. n
    assert(sh.exec("mkdir -p " .. sh.q(d)))
    return d
  end
end

-- Jobs the server made per sandbox_tag, and creates it received per tag.
function cli.tags(srv, ns)
  local r = srv:records(ns)
  local jobs = {}
  for t, ids in pairs(r.tags or {}) do jobs[t] = #ids end
  return jobs, r.tag_creates or {}, r
end

function cli.count(records, ev)
  local n = 0
  for _, r in ipairs(records) do if r.ev == ev then n = n + 1 end end
  return n
end

-- A minimal terminal: replays a byte stream (printable text, \r, \n, and
-- the CSI sequences the progress display uses: A, J, K) on a grid of
-- `width` columns; returns the screen's lines (trailing spaces removed) and
-- a list of anything it did not understand.
function cli.vt(stream, width)
  local lines, row, col, unknown = { "" }, 1, 0, {}
  local function put(ch)
    local l = lines[row] or ""
    if #l < col then l = l .. (" "):rep(col - #l) end
    lines[row] = l:sub(1, col) .. ch .. l:sub(col + 2)
    col = col + 1
    if col >= width then col = 0; row = row + 1; lines[row] = lines[row] or "" end
  end
  local i = 1
  while i <= #stream do
    local c = stream:sub(i, i)
    if c == "\27" then
      local params, final = stream:match("^%[([%d;?]*)(%a)", i + 1)
      if not final then unknown[#unknown + 1] = stream:sub(i, i + 5); i = i + 1
      else
        local n = tonumber(params) or 1
        if final == "A" then row = math.max(1, row - n)
        elseif final == "J" then
          lines[row] = (lines[row] or ""):sub(1, col)
          for r = row + 1, #lines do lines[r] = nil end
        elseif final == "K" then
          if params == "2" then lines[row] = "" else lines[row] = (lines[row] or ""):sub(1, col) end
        else unknown[#unknown + 1] = "CSI " .. params .. final end
        i = i + 2 + #params
      end
    elseif c == "\r" then col = 0
    elseif c == "\n" then row = row + 1; col = 0; lines[row] = lines[row] or "" -- onlcr
    elseif c:byte() >= 32 then put(c)
    end
    i = i + 1
  end
  for r = 1, #lines do lines[r] = (lines[r] or ""):gsub("%s+$", "") end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  return lines, unknown
end

return cli
