-- Handlers for spec/hosts/docs_promises_openresty_spec.lua: a wait in each
-- phase that docs/embedding.md names (blocks in init_worker_by_lua, raises
-- in the header/body filter and log phases), and the tunables it names.
local omnihuman = require("omnihuman")

local M = {}
local init_answer

function M.init_worker()
  local st, err = omnihuman.new{}:poll("no-such-job")
  init_answer = ("%s %s in %s"):format(tostring(st), tostring(err and err.kind), ngx.get_phase())
end

function M.init_answer()
  ngx.say(init_answer)
end

-- A wait where ngx cannot sleep: what it raises goes to the error log.
function M.try_wait()
  local ok, err = pcall(omnihuman.sleep, 0.01)
  ngx.log(ngx.WARN, "WAIT in ", ngx.get_phase(), ": ", ok and "returned" or tostring(err))
end

-- GET /generate?image=<path>&output=<path>: one generation with local files.
function M.generate()
  local a = ngx.req.get_uri_args()
  local res, err = omnihuman.new{ poll_interval = 0.2 }:generate{ image = a.image, audio = a.audio, output = a.output }
  ngx.say(res and ("ok " .. res.output) or (err.kind .. ": " .. err.message))
end

function M.tunables()
  local o = require("omnihuman.hosts.openresty")
  ngx.say(("%s %s %s %s %s %s"):format(omnihuman.adapter().name, o.min_sleep, o.max_sleep, o.max_idle_sleep,
    o.max_turns_per_wake, o.sweep_interval))
end

return M
