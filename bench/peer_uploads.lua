-- The peers' side of benchmark 9: N creates of FILE as a local image, each
-- written as a user of that library would: read the file, base64 it, put it
-- in a data URI inside the JSON body (lua-cjson), POST it. Every peer gets
-- the same C base64 (the core's, through its test hook `core._b64`), so the
-- figures measure the HTTP client and the body it holds, not a Lua encoder.
--
--   lua bench/peer_uploads.lua LIB URL FILE N UA
--
-- LIB: luacurl (Debian's lua-curl: one easy handle, one create after the
-- other: it has no multi interface), lcurl (Lua-cURLv3: its multi interface,
-- all N at once), luahttp (lua-http on cqueues: a coroutine per create, all
-- N at once). URL is the base (http://127.0.0.1:PORT/v2). Prints "key=value"
-- lines like bench/client.lua: created, failed, wall, cpu, rss0_kb, hwm_kb.
local cjson = require("cjson")
local b64 = require("omnihuman.core")._b64
local status_kb = require("bench.procstat")

local lib, base, file, n, ua = arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5]
local url = base .. "/video/generations"

local function out(k, v)
  io.write(("%s=%s\n"):format(k, type(v) == "number" and ("%.6f"):format(v) or tostring(v)))
end

local function now()
  local ok, cq = pcall(require, "cqueues")
  if ok then return cq.monotime() end
  return os.time()
end

-- What a create sends: the file as a data URI, JSON-encoded.
local function body()
  local f = assert(io.open(file, "rb"))
  local bytes = f:read("*a")
  f:close()
  return cjson.encode{ model = "bytedance/omnihuman", image_url = "data:image/png;base64," .. b64(bytes),
                       audio_url = "https://127.0.0.1/hello.wav" }
end

-- "Expect:" off, as a careful user would: libcurl otherwise waits up to 1 s
-- for a "100 Continue" before each large body.
local HEADERS = { "Authorization: Bearer bench-key", "Content-Type: application/json", "User-Agent: " .. ua,
                  "Expect:" }

local function created(text)
  local ok, t = pcall(cjson.decode, text)
  return ok and type(t) == "table" and t.id ~= nil
end

local runners = {}

function runners.luacurl()
  local curl = require("curl")
  local e = curl.easy_init()
  local chunks = {}
  e:setopt(curl.OPT_URL, url)
  e:setopt(curl.OPT_HTTPHEADER, HEADERS)
  e:setopt(curl.OPT_NOSIGNAL, 1)
  e:setopt(curl.OPT_WRITEFUNCTION, function(s)
    chunks[#chunks + 1] = s
    return #s
  end)
  local ok, failed = 0, 0
  for _ = 1, n do
    chunks = {}
    e:setopt(curl.OPT_POSTFIELDS, body())
    local done = e:perform()
    if done and created(table.concat(chunks)) then ok = ok + 1 else failed = failed + 1 end
  end
  return ok, failed
end

function runners.lcurl()
  local curl = require("lcurl")
  local m = curl.multi()
  local jobs = {}
  for i = 1, n do
    local job = { chunks = {} }
    job.e = curl.easy{
      url = url, httpheader = HEADERS, nosignal = true, postfields = body(),
      writefunction = function(s)
        job.chunks[#job.chunks + 1] = s
        return true
      end,
    }
    jobs[i] = job
    m:add_handle(job.e)
  end
  local ok, failed, left, t0 = 0, 0, n, now()
  while left > 0 and now() - t0 < 600 do
    m:perform()
    while true do
      local e, done = m:info_read()
      if e == 0 or not e then break end
      left = left - 1
      local job
      for _, j in ipairs(jobs) do if j.e == e then job = j end end
      if done == true and created(table.concat(job.chunks)) then ok = ok + 1 else failed = failed + 1 end
      m:remove_handle(e)
    end
    m:wait(100)
  end
  return ok, failed + left
end

function runners.luahttp()
  local cqueues = require("cqueues")
  local request = require("http.request")
  local cq = cqueues.new()
  local ok, failed = 0, 0
  for _ = 1, n do
    cq:wrap(function()
      local req = request.new_from_uri(url)
      req.headers:upsert(":method", "POST")
      req.headers:upsert("authorization", "Bearer bench-key")
      req.headers:upsert("content-type", "application/json")
      req.headers:upsert("user-agent", ua)
      req:set_body(body())
      req.headers:delete("expect") -- no 1 s wait for "100 Continue" (see HEADERS)
      local h, stream = req:go(600)
      local text = h and stream:get_body_as_string(600)
      if text and created(text) then ok = ok + 1 else failed = failed + 1 end
    end)
  end
  local t0 = now()
  while not cq:empty() and now() - t0 < 600 do assert(cq:step(1)) end
  return ok, failed + (n - ok - failed)
end

collectgarbage()
local rss0 = status_kb("VmRSS")
local t0, c0 = now(), os.clock()
local ok, failed = runners[lib]()
out("jobs", n)
out("created", ok)
out("failed", failed)
out("wall", now() - t0)
out("cpu", os.clock() - c0)
out("rss0_kb", rss0)
out("hwm_kb", status_kb("VmHWM"))
