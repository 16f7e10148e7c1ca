-- spec/support/testserver.lua: start and steer spec/support/server.py (a fake
-- AI/ML API + CDN) from busted specs.  Lua 5.1-5.4 and LuaJIT.
--
--   local ts = require("spec.support.testserver")
--   local srv                                   -- one per describe block
--   setup(function() srv = ts.start{ tls = true, key = "test-key-123" } end)
--   teardown(function() srv:stop() end)         -- ALWAYS stop it in teardown
--
--   srv.api, srv.cdn       "https://127.0.0.1:P", "http://127.0.0.1:Q"
--   srv.ca_file            throwaway CA (PEM) when tls, else nil
--   srv:base_url(ns)       srv.api .. "/n/" .. ns .. "/v2"  (no ns: srv.api .. "/v2")
--   srv:cdn_base(ns)       srv.cdn .. "/n/" .. ns
--   srv:fault(ns, route, { {status = 500}, {pass = true} })   route: create|poll|cdn
--   srv:records(ns)        decoded /_control/records: {requests=..., counts=..., jobs=n}
--   srv:count(ns, route)   srv:records(ns).counts[route]
--   srv:reset(ns)          forget faults, records and jobs of ns
--   srv:stop()             kill the server, remove its temp files; idempotent
--   srv:control(method, path[, json_text])   any other /_control request
--   srv.flavor             "current" or "legacy" (see server.py --flavor)
--   srv.profile            what that flavor answers: create_status (200|201),
--                          usage_field (credits_used|tokens_used), pending
--                          (the two pending status names, in order),
--                          completed, failed (the final status names)
--   srv.pid, srv.dir (temp dir: certs, server stdout/stderr), srv.log_file,
--   srv.certs (the make_ca table when tls = true or "wrong")
--   ts.make_ca(dir)        throwaway CA + certs (openssl CLI), see below
--   ts.script, ts.fixture, ts.python   paths of server.py, fixture.mp4, python
--
-- ts.start options (all optional):
--   tls      true: fresh CA + cert for 127.0.0.1/localhost; "wrong": serve the
--            cert for wrong.example (hostname checks must fail); or a table
--            {cert=, key=, ca=} of existing files
--   key      the only API key the server accepts (default: any non-empty one)
--   sandbox  true: time-based progress and ffmpeg-made videos (see server.py)
--   flavor   "current" or "legacy"; default: $OMH_TEST_FLAVOR when set, else
--            the two in turn, one server start after the other (so one run
--            of the suite meets both), from "current" ("legacy" when
--            $OMH_TEST_FLAVOR_SWAP is 1: a second run then gives every
--            server start the other flavor)
--   lifetime seconds before the server exits by itself (default 900)
--   verbose  true: the server logs each request (to srv.dir .. "/stderr")
--   port, cdn_port, python (default: $PYTHON, /usr/bin/python3, python3)
--
-- A server also exits by itself within ~1 s when the Lua process that
-- started it (busted) is gone (server.py --watch-pid), so an aborted run
-- leaves nothing behind; a srv that is garbage-collected (Lua 5.2+, also at
-- interpreter exit) is stopped too.  Control requests go through the curl
-- CLI to srv.cdn.

local cjson = require("cjson")
local sh = require("spec.support.sh")
local files = require("spec.support.files")

local M = {}

local START_TIMEOUT = 10

M.FLAVORS = { "current", "legacy" }
local starts = 0 -- server starts so far in this process: picks the next flavor

local function pick_flavor(f)
  f = f or os.getenv("OMH_TEST_FLAVOR")
  if f == "" then f = nil end
  if f == nil then
    starts = starts + 1
    local swap = os.getenv("OMH_TEST_FLAVOR_SWAP") == "1" and 1 or 0
    return M.FLAVORS[(starts - 1 + swap) % #M.FLAVORS + 1]
  end
  for _, known in ipairs(M.FLAVORS) do
    if f == known then return f end
  end
  error("testserver: unknown flavor " .. tostring(f) .. " (want current or legacy)", 3)
end

local q, execute, sleep, alive = sh.q, sh.exec, sh.sleep, sh.alive
local readfile, writefile = files.read, files.write

local function module_dir()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local d = src:sub(2):match("^(.*)[/\\][^/\\]*$")
    if d then return d end
  end
  return "spec/support"
end

M.dir = module_dir()
M.script = M.dir .. "/server.py"
M.fixture = M.dir .. "/fixture.mp4"
-- $PYTHON, else the system python3 (a pyenv shim costs ~0.4 s per start)
M.python = os.getenv("PYTHON")
if not M.python then
  local f = io.open("/usr/bin/python3", "rb")
  if f then f:close() end
  M.python = f and "/usr/bin/python3" or "python3"
end

local function check_ns(ns)
  ns = ns or ""
  if type(ns) ~= "string" or not ns:match("^[%w_.%-]*$") then
    error("testserver: bad namespace " .. tostring(ns) .. " (want [A-Za-z0-9_.-]*)", 3)
  end
  return ns
end

---------------------------------------------------------------------------
-- throwaway CA

local CA_CNF = [[
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = lua-omnihuman throwaway test CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
]]

local function leaf_ext(san)
  return "basicConstraints = CA:FALSE\n"
      .. "keyUsage = critical,digitalSignature\n"
      .. "extendedKeyUsage = serverAuth\n"
      .. "subjectKeyIdentifier = hash\n"
      .. "authorityKeyIdentifier = keyid,issuer\n"
      .. "subjectAltName = " .. san .. "\n"
end

local serial_seq = 0
local function serial()
  serial_seq = serial_seq + 1
  return string.format("0x%x%04x%04x", os.time(), math.random(0, 0xffff), serial_seq)
end

-- Make a throwaway CA and two server certs signed by it (EC P-256, 3 days):
-- cert/key for 127.0.0.1 (SAN IP:127.0.0.1, DNS:localhost) and
-- wrong_cert/wrong_key for DNS:wrong.example.  Returns the file paths.
function M.make_ca(dir)
  assert(type(dir) == "string", "make_ca(dir): dir must be a directory path")
  local p = function(name) return dir .. "/" .. name end
  writefile(p("ca.cnf"), CA_CNF)
  writefile(p("server.ext"), leaf_ext("IP:127.0.0.1,DNS:localhost"))
  writefile(p("wrong.ext"), leaf_ext("DNS:wrong.example"))
  local newkey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
  local cmds = {
    "openssl req -x509 " .. newkey .. " -config ca.cnf -days 3 -keyout ca.key -out ca.pem",
  }
  for _, leaf in ipairs{ { "server", "/CN=127.0.0.1" }, { "wrong", "/CN=wrong.example" } } do
    local n = leaf[1]
    cmds[#cmds + 1] = "openssl req -new " .. newkey .. " -config ca.cnf -subj " .. q(leaf[2])
        .. " -keyout " .. n .. ".key -out " .. n .. ".csr"
    cmds[#cmds + 1] = "openssl x509 -req -in " .. n .. ".csr -CA ca.pem -CAkey ca.key -set_serial "
        .. serial() .. " -days 3 -extfile " .. n .. ".ext -out " .. n .. ".pem"
  end
  local script = "cd " .. q(dir) .. " && " .. table.concat(cmds, " && ")
      .. " && rm -f server.csr wrong.csr"
  if not execute("(" .. script .. ") >" .. q(p("openssl.log")) .. " 2>&1") then
    error("testserver.make_ca: openssl failed: " .. (readfile(p("openssl.log")) or "?"), 2)
  end
  return {
    dir = dir,
    ca = p("ca.pem"), ca_key = p("ca.key"),
    cert = p("server.pem"), key = p("server.key"),
    wrong_cert = p("wrong.pem"), wrong_key = p("wrong.key"),
  }
end

---------------------------------------------------------------------------
-- server object

local Server = {}
Server.__index = Server

function Server:base_url(ns)
  ns = check_ns(ns)
  if ns == "" then return self.api .. "/v2" end
  return self.api .. "/n/" .. ns .. "/v2"
end

function Server:cdn_base(ns)
  ns = check_ns(ns)
  if ns == "" then return self.cdn end
  return self.cdn .. "/n/" .. ns
end

-- One control request through the curl CLI; returns the decoded JSON answer.
function Server:control(method, path, body)
  if self.stopped then error("testserver: server already stopped", 3) end
  local cmd = "curl -sS --max-time 15 -X " .. method .. " -w '\\n%{http_code}'"
  if body then
    local f = self.dir .. "/control-body.json"
    writefile(f, body)
    cmd = cmd .. " -H 'Content-Type: application/json' --data-binary @" .. q(f)
  end
  cmd = cmd .. " " .. q(self.cdn .. path) .. " 2>&1"
  local h = io.popen(cmd)
  local out = h:read("*a")
  h:close()
  local text, code = out:match("^(.*)\n(%d%d%d)$")
  if code ~= "200" then
    error("testserver: " .. method .. " " .. path .. " failed: " .. out, 3)
  end
  return cjson.decode(text)
end

function Server:fault(ns, route, faults)
  ns = check_ns(ns)
  if route ~= "create" and route ~= "poll" and route ~= "cdn" then
    error("testserver: route must be create, poll or cdn, got " .. tostring(route), 2)
  end
  assert(type(faults) == "table", "testserver: faults must be a list of fault tables")
  local body = cjson.encode({ ns = ns, route = route, faults = faults })
  return self:control("POST", "/_control/faults", body)
end

function Server:records(ns)
  return self:control("GET", "/_control/records?ns=" .. check_ns(ns))
end

function Server:count(ns, route)
  return self:records(ns).counts[route]
end

function Server:reset(ns)
  return self:control("POST", "/_control/reset?ns=" .. check_ns(ns))
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = self.pid
  if pid and alive(pid) then
    execute("kill -TERM " .. pid .. " 2>/dev/null")
    local t0 = os.time()
    for _ = 1, 100 do                       -- at most ~5 s
      if not alive(pid) or os.time() - t0 > 5 then break end
      sleep(0.05)
    end
    if alive(pid) then execute("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  if self.dir and self.dir:match("omnihuman%-test%.") then
    execute("rm -rf " .. q(self.dir))
  end
end

Server.__gc = function(self) pcall(Server.stop, self) end

---------------------------------------------------------------------------
-- start

function M.start(opts)
  opts = opts or {}
  local flavor = pick_flavor(opts.flavor)
  local dir = files.tmpdir("omnihuman-test") -- the only kind Server:stop removes
  local self = setmetatable({ dir = dir, stopped = false }, Server)
  local args = { opts.python or M.python, M.script, "--flavor", flavor }

  local ok, err = pcall(function()
    if opts.tls then
      local cert, key
      if type(opts.tls) == "table" then
        cert, key, self.ca_file = opts.tls.cert, opts.tls.key, opts.tls.ca
      else
        self.certs = M.make_ca(dir)
        self.ca_file = self.certs.ca
        if opts.tls == "wrong" then
          cert, key = self.certs.wrong_cert, self.certs.wrong_key
        else
          cert, key = self.certs.cert, self.certs.key
        end
      end
      args[#args + 1] = "--tls"
      args[#args + 1] = cert
      args[#args + 1] = key
    end
    if opts.key then args[#args + 1] = "--key"; args[#args + 1] = opts.key end
    if opts.sandbox then args[#args + 1] = "--sandbox" end
    if opts.verbose then args[#args + 1] = "--verbose" end
    if opts.port then args[#args + 1] = "--port"; args[#args + 1] = opts.port end
    if opts.cdn_port then args[#args + 1] = "--cdn-port"; args[#args + 1] = opts.cdn_port end
    args[#args + 1] = "--lifetime"
    args[#args + 1] = opts.lifetime or 900
  end)
  if not ok then
    self:stop()
    error(err, 2)
  end

  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = q(a) end
  local out, log = dir .. "/stdout", dir .. "/stderr"
  -- The shell that io.popen runs starts the server in the background, prints
  -- its pid and exits, so closing the popen handle never waits for the
  -- server.  The server watches $PPID (this Lua process) and exits when it
  -- is gone, so a crashed or killed test run leaves no server behind.
  local cmd = table.concat(quoted, " ") .. " --watch-pid \"$PPID\" >" .. q(out)
      .. " 2>" .. q(log) .. " </dev/null & echo $!"
  local h = io.popen(cmd, "r")
  self.pid = h and tonumber((h:read("*l") or ""):match("^%s*(%d+)"))
  if h then h:close() end
  if not self.pid then
    self:stop()
    error("testserver: could not start " .. M.script, 2)
  end

  local line
  local t0 = os.time()
  local nap = 0.01
  for _ = 1, 400 do                         -- bounded: ~10 s by the clock or 400 naps
    local s = readfile(out)
    if s then line = s:match("^([^\n]*)\n") end
    if line then break end
    if not alive(self.pid) then break end
    if os.time() - t0 > START_TIMEOUT then break end
    sleep(nap)
    nap = math.min(nap * 2, 0.1)
  end

  local info = line and (select(2, pcall(cjson.decode, line)))
  if type(info) ~= "table" or not info.api then
    local why = readfile(log) or ""
    local running = alive(self.pid)
    self:stop()
    local what = running
        and string.format("did not print its address line within %d s", START_TIMEOUT)
        or "exited during startup"
    error(string.format("testserver: %s %s%s%s", M.script, what,
      line and (" (got: " .. line .. ")") or "",
      why ~= "" and (": " .. why) or ""), 2)
  end
  self.api, self.cdn = info.api, info.cdn
  self.flavor, self.profile = info.flavor, info.profile
  self.pid = math.floor(tonumber(info.pid))  -- the same as $! unless a wrapper did not exec
  self.log_file = log
  return self
end

return M
