-- Run by spec/hosts/luv_spec.lua in a child process, as a user's script would:
--   lua spec/support/foreign_use.lua luv|cqueues BASE_URL CA_FILE KEY
-- omnihuman.use(mode), three generations in that scheduler's coroutines,
-- then a status check from the main thread. Prints what happened; exits 1
-- on any failure.
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
local mode, base, ca, key = arg[1], arg[2], arg[3], arg[4]
local omnihuman = require("omnihuman")
local a = omnihuman.use(mode)
print("adapter " .. omnihuman.adapter().name)
local client = omnihuman.new{ api_key = key, base_url = base, ca_file = ca ~= "" and ca or nil, poll_interval = 0.1 }
local results = {}
local function gen(i)
  results[i] = client:generate{ image_url = "https://x/a.png", audio_url = "https://x/a.mp3", sandbox_polls = 2 }
end

local ticks = 0
if mode == "luv" then
  local uv = require("luv")
  for i = 1, 3 do a.spawn(gen, i) end
  uv.run()
  -- The main thread: await runs the uv loop, so this timer keeps ticking.
  local t = uv.new_timer()
  t:start(10, 10, function() ticks = ticks + 1 end)
  omnihuman.sleep(0.2)
  local st = client:poll(assert(results[1]).id)
  t:close()
  print("main thread: " .. tostring(st and st.status) .. ", uv timer ticked " .. ticks .. " times")
else
  local cqueues = require("cqueues")
  local cq = cqueues.new()
  for i = 1, 3 do cq:wrap(gen, i) end
  assert(cq:loop(30))
  local st = client:poll(assert(results[1]).id)
  print("main thread: " .. tostring(st and st.status))
end
local n = 0
for i = 1, 3 do if results[i] and tostring(results[i].status):lower() == "completed" then n = n + 1 end end
print(n .. " completed")
os.exit(n == 3 and 0 or 1)
