-- Start and steer spec/support/body_server.py (create bodies checked byte
-- for byte; slow or stalled reads) from specs.
--   local srv = require("spec.support.body_server").start()
--   srv.base                       "http://127.0.0.1:P/v2"
--   srv:script{ statuses = { 503 }, rate = 1e6, stall = true }   (forgets records)
--   srv:release()                  ends a stall
--   srv:client(extra)              an omnihuman client of it
--   srv:records()                  { bodies = { {declared, len, complete, sha256, fields} }, open, busy }
--   srv:stop()
--   M.sha256(path)                 hex digest of a file (to compare with the records)
local cjson = require("cjson")
local testserver = require("spec.support.testserver")
local sh = require("spec.support.sh")
local files = require("spec.support.files")

local M = {}
local Server = {}
Server.__index = Server

function Server:control(method, path, body)
  local cmd = "curl -sS --max-time 15 -X " .. method
  if body then cmd = cmd .. " -H 'Content-Type: application/json' --data-binary " .. sh.q(body) end
  local h = io.popen(cmd .. " " .. sh.q(self.root .. path) .. " 2>&1")
  local out = h:read("*a")
  h:close()
  local ok, doc = pcall(cjson.decode, out)
  if not ok then error("body_server: " .. path .. ": " .. out, 3) end
  return doc
end

function Server:script(t) return self:control("POST", "/_control/script", cjson.encode(t or {})) end
function Server:release() return self:control("POST", "/_control/release", "{}") end
function Server:records() return self:control("GET", "/_control/records") end

-- A client of this server (no retries, a generous timeout); extra overrides.
function Server:client(extra)
  local o = { api_key = require("spec.support.fixtures").KEY, base_url = self.base, timeout = 10, max_retries = 0 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return require("omnihuman").new(o)
end

function Server:stop()
  if self.pid then sh.exec("kill -TERM " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  if self.out then os.remove(self.out) end
end

function M.sha256(path)
  local _, out = sh.run("sha256sum " .. sh.q(path))
  return out:match("^(%x+)")
end

function M.start()
  local out = os.tmpname()
  -- The shell backgrounds the server and exits; the server watches $PPID
  -- (this process) and leaves with it.
  local h = io.popen(sh.q(testserver.python) .. " " .. sh.q(testserver.dir .. "/body_server.py") .. " --watch-pid \"$PPID\" >"
                     .. sh.q(out) .. " 2>/dev/null </dev/null & echo $!")
  local pid = tonumber(h:read("*l"))
  h:close()
  local port
  for _ = 1, 200 do -- at most ~10 s
    local s = files.read(out)
    port = s and s:match("^(%d+)\n")
    if port then break end
    sh.sleep(0.05)
  end
  local self = setmetatable({ pid = pid, out = out }, Server)
  if not port then
    self:stop()
    error("body_server: did not start", 2)
  end
  self.root = "http://127.0.0.1:" .. port
  self.base = self.root .. "/v2"
  return self
end

return M
