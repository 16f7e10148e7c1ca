-- Starting spec/support/conn_server.py (a status endpoint that ends
-- connections in every way a server may) and looking at this process's
-- descriptors, for the connection specs.
--   local conn = require("spec.support.conn")
--   local srv = conn.start()            -- or conn.start{ host = "::1", tls = certs }
--   srv.root                            "http://127.0.0.1:P" ("http://[::1]:P";
--                                       https with tls = testserver.make_ca(dir))
--   srv.port, srv.pid, srv.ports (with ports = n: n ports, one server)
--   conn.stats(srv)                     {connections = n, answers = n}
--   conn.stop(srv)
--   conn.open_fds()                     descriptors open in this process
--   conn.fds_settle(n)                  open_fds() once <= n (waits up to 1 s)
--   conn.pid()                          this process's id
--   conn.hosts_name(addr)               a name /etc/hosts gives addr that curl
--                                       resolves through its resolver, or nil
local testserver = require("spec.support.testserver")
local sh = require("spec.support.sh")
local files = require("spec.support.files")
local cjson = require("cjson")

local M = {}

function M.start(opts)
  opts = opts or {}
  local host = opts.host or "127.0.0.1"
  local out = os.tmpname()
  local ports = opts.ports and (" --ports " .. opts.ports) or ""
  local tls = opts.tls and (" --tls " .. sh.q(opts.tls.cert) .. " " .. sh.q(opts.tls.key)) or ""
  local h = io.popen(sh.q(testserver.python) .. " " .. sh.q(testserver.dir .. "/conn_server.py") .. tls .. ports
                     .. " --host " .. sh.q(host) .. " --watch-pid \"$PPID\" >" .. sh.q(out)
                     .. " 2>/dev/null </dev/null & echo $!")
  local pid = tonumber(h:read("*l"))
  h:close()
  local line
  for _ = 1, 200 do
    local s = files.read(out)
    line = s and s:match("^([%d ]+)\n")
    if line then break end
    sh.sleep(0.05)
  end
  local port = line and line:match("^%d+")
  os.remove(out)
  assert(port, "conn_server did not start")
  local shown = host:find(":") and "[" .. host .. "]" or host
  local all = {}
  for p in line:gmatch("%d+") do all[#all + 1] = p end
  return { pid = pid, port = port, ports = all, ca = opts.tls and opts.tls.ca,
           root = (opts.tls and "https://" or "http://") .. shown .. ":" .. port }
end

function M.stop(srv)
  if srv then sh.exec("kill -TERM " .. srv.pid .. " 2>/dev/null") end
end

function M.stats(srv)
  local ca = srv.ca and (" --cacert " .. sh.q(srv.ca)) or ""
  local h = io.popen("curl -sS --max-time 5" .. ca .. " " .. sh.q(srv.root .. "/_stats"))
  local doc = cjson.decode(h:read("*a"))
  h:close()
  return doc
end

local PID = files.read("/proc/self/stat"):match("^(%d+)")

function M.pid() return PID end

function M.open_fds()
  local h = io.popen("ls /proc/" .. PID .. "/fd | wc -l")
  local n = tonumber(h:read("*a"))
  h:close()
  return n
end

-- The descriptor count once it is at most n, waiting up to 1 s for it to
-- get there (a count taken amid a close is not a leak); the last count.
function M.fds_settle(n)
  local got = M.open_fds()
  for _ = 1, 20 do
    if got <= n then break end
    sh.sleep(0.05)
    got = M.open_fds()
  end
  return got
end

-- curl answers "localhost" and "*.localhost" itself; any other name goes
-- through its resolver (a thread, and a socketpair curl opens behind us).
function M.hosts_name(addr)
  local f = io.open("/etc/hosts")
  if not f then return nil end
  for line in f:lines() do
    local a, names = line:gsub("#.*", ""):match("^%s*(%S+)%s+(.+)$")
    if a == addr then
      for name in names:gmatch("%S+") do
        local l = name:lower()
        if l ~= "localhost" and not l:find("%.localhost%.?$") and not l:find("%.$") then
          -- Only a name the system resolves to addr and nothing else.
          local ok, out = sh.run("getent ahosts " .. sh.q(name) .. " 2>/dev/null")
          local only = ok and out ~= ""
          for got in out:gmatch("(%S+)%s+STREAM") do
            if got ~= addr then only = false end
          end
          if only then
            f:close()
            return name
          end
        end
      end
    end
  end
  f:close()
  return nil
end

return M
