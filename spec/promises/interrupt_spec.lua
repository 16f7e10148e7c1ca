-- Ctrl-C reaches a script that waits in the main thread. The stand-alone
-- interpreter answers SIGINT by setting a debug hook that raises
-- "interrupted!" at the next Lua instruction; a wait that blocked in C until
-- its job or request ended (a status check against a server that never
-- answers: the request's whole timeout; client:wait: its whole timeout)
-- kept the script deaf to it. Each case: a real interpreter, a real server
-- that holds its answer, SIGINT after the request is out; the script must
-- end with "interrupted!" long before any timeout could end it.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local paths = require("spec.support.paths")

-- A file's text, "" while it does not exist yet.
local function text(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local SCRIPT = [[
local omnihuman = require("omnihuman")
local how, base, ca = arg[1], arg[2], arg[3]
local c = omnihuman.new{ api_key = "test-key-123", base_url = base, ca_file = ca ~= "" and ca or nil,
                         max_retries = 0, timeout = 120 }
io.stderr:write("start\n")
if how == "poll" then
  print(c:poll("job-1"))
elseif how == "wait" then
  print(c:wait("job-1", { interval = 0.2, timeout = 120 }))
else
  print(c:create{ image_url = "https://127.0.0.1/a.png", audio_url = "https://127.0.0.1/a.mp3" })
end
print("returned") -- never: the interrupt ends the script
]]

describe("Ctrl-C during a wait in the main thread #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ key = "test-key-123" }; dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  -- what the script waits on, and the fault that keeps it waiting
  local CASES = {
    { how = "poll", route = "poll", fault = { { hang = true } } },
    { how = "wait", route = "poll", fault = { { status = 200, body = '{"id":"job-1","status":"queued"}' } } },
    { how = "create", route = "create", fault = { { hang = true } } },
  }
  for _, case in ipairs(CASES) do
    it(case.how .. ": the script ends at once with interrupted!", function()
      if os.getenv("SANLUA") then
        pending("the sanitizer interpreter (tools/sanlua.c) has no SIGINT handler: Ctrl-C just kills it")
        return
      end
      local ns = fixtures.ns("int")
      local faults = {}
      for i = 1, 200 do faults[i] = case.fault[1] end -- every request alike
      srv:fault(ns, case.route, faults)
      local script = dir .. "/" .. case.how .. ".lua"
      fixtures.write(script, SCRIPT)
      local out, err = dir .. "/" .. case.how .. ".out", dir .. "/" .. case.how .. ".err"
      local env = ("env -u LUA_INIT LUA_PATH=%s LUA_CPATH=%s "):format(sh.q(paths.lpath .. ";;"),
        sh.q(paths.cpath .. ";;"))
      local p = io.popen(env .. sh.q(cli.LUA) .. " " .. sh.q(script) .. " " .. case.how .. " "
        .. sh.q(srv:base_url(ns)) .. " " .. sh.q(srv.ca_file or "") .. " >" .. sh.q(out) .. " 2>" .. sh.q(err) .. " </dev/null & echo $!")
      local pid = tonumber(p:read("*l"))
      p:close()
      -- the request goes out right after "start" (a server holding its
      -- answer records it only once answered: it is not counted here)
      assert.is_true(cli.until_true(function() return text(err):find("start", 1, true) ~= nil end, 20))
      sh.exec("sleep 1")
      assert.is_true(sh.alive(pid), "ended before the interrupt: " .. text(err) .. text(out))
      sh.exec("kill -INT " .. pid)
      -- the request's timeout and the wait's are 120 s: only the interrupt ends it this soon
      local ended = cli.until_true(function() return not sh.alive(pid) end, 30)
      if not ended then sh.exec("kill -9 " .. pid) end
      assert.is_true(ended, "still waiting 30 s after SIGINT")
      local said = text(err)
      assert.matches("interrupted!", said, 1, true)
      assert.is_nil(text(out):find("returned", 1, true))
    end)
  end
end)
