-- The peers' side of the benchmarks: the Lua HTTP clients a user would pick
-- instead of lua-omnihuman, each used as a careful user would, each sending
-- the same two request headers as our status check and decoding the answer
-- with lua-cjson. bench/peers.py runs this once per measurement.
--
--   lua bench/peers.lua poll LIB URL N MAXSECS UA   sequential status checks
--   lua bench/peers.lua wait LIB URL N INTERVAL WINDOW UA
--        N jobs, each checked every INTERVAL s for WINDOW s (lcurl: its multi
--        interface, one easy handle per job, due checks admitted in FIFO
--        order, at most 16 in curl at once; luahttp: a cqueues coroutine and
--        a kept connection per job)
--
-- LIB: luacurl (Debian's lua-curl, the older binding: one easy handle reused),
-- lcurl (Lua-cURLv3: one easy handle reused),
-- luahttp (lua-http on cqueues, one HTTP/1.1 connection kept by hand).
-- Prints "key=value" lines like bench/client.lua.
local cjson = require("cjson")
local decode = cjson.decode

local mode, lib, url = arg[1], arg[2], arg[3]

local function out(k, v)
  io.write(("%s=%s\n"):format(k, type(v) == "number" and ("%.6f"):format(v) or tostring(v)))
end

local status_kb = require("bench.procstat")

local function check(body)
  local st = decode(body)
  if type(st) ~= "table" or not st.status then error("no status in " .. tostring(body)) end
  return st
end

-- A monotonic clock and a sleep: cqueues' when it is there, else os.time
-- (coarse, only for the MAXSECS bound of the luacurl runs, whose figures
-- come from N) and no sleep (the wait mode needs cqueues).
local monotime, sleep
do
  local ok, cq = pcall(require, "cqueues")
  monotime = ok and cq.monotime or os.time
  sleep = ok and cq.sleep or function() error("bench/peers.lua wait needs cqueues") end
end

-- Each maker returns one(): a status check of `url` that returns the decoded table.
local makers = {}

function makers.luacurl(ua)
  local curl = require("curl")
  local e = curl.easy_init()
  local chunks, n = {}, 0
  e:setopt(curl.OPT_URL, url)
  e:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer bench-key", "User-Agent: " .. ua })
  e:setopt(curl.OPT_NOSIGNAL, 1)
  e:setopt(curl.OPT_WRITEFUNCTION, function(s)
    n = n + 1
    chunks[n] = s
    return #s
  end)
  return function()
    n = 0
    local ok, err = e:perform()
    if not ok then error("luacurl: " .. tostring(err)) end
    local body = n == 1 and chunks[1] or table.concat(chunks, "", 1, n)
    return check(body)
  end
end

function makers.lcurl(ua)
  local curl = require("lcurl")
  local chunks, n = {}, 0
  local e = curl.easy{
    url = url,
    httpheader = { "Authorization: Bearer bench-key", "User-Agent: " .. ua },
    nosignal = true,
    writefunction = function(s)
      n = n + 1
      chunks[n] = s
      return true
    end,
  }
  return function()
    n = 0
    e:perform()
    local code = e:getinfo_response_code()
    if code ~= 200 then error("lcurl: HTTP " .. tostring(code)) end
    return check(n == 1 and chunks[1] or table.concat(chunks, "", 1, n))
  end
end

function makers.luahttp(ua)
  local client = require("http.client")
  local headers = require("http.headers")
  local host, port, path = url:match("^http://([^:/]+):(%d+)(/.*)$")
  local conn
  local req = headers.new()
  req:append(":method", "GET")
  req:append(":scheme", "http")
  req:append(":authority", host .. ":" .. port)
  req:append(":path", path)
  req:append("authorization", "Bearer bench-key")
  req:append("user-agent", ua)
  return function()
    -- Keep-alive by hand: one connection, reopened only when it is gone.
    if not conn then
      conn = assert(client.connect{ host = host, port = tonumber(port), tls = false, version = 1.1 })
    end
    local stream = conn:new_stream()
    if not stream then
      conn:close()
      conn = nil
      error("luahttp: connection refused a new stream")
    end
    assert(stream:write_headers(req, true))
    local h = assert(stream:get_headers())
    if h:get(":status") ~= "200" then error("luahttp: HTTP " .. tostring(h:get(":status"))) end
    local body = assert(stream:get_body_as_string())
    stream:shutdown()
    return check(body)
  end
end

-- Each waiter runs N jobs for WINDOW s and returns the checks made.
local waiters = {}

function waiters.lcurl(n, interval, window, ua)
  local curl = require("lcurl")
  local m = curl.multi()
  local by_easy, fifo, head, tail = {}, {}, 1, 0
  local t0 = monotime()
  for _ = 1, n do
    local job = { chunks = {}, n = 0 }
    job.e = curl.easy{
      url = url,
      httpheader = { "Authorization: Bearer bench-key", "User-Agent: " .. ua },
      nosignal = true,
      writefunction = function(s)
        job.n = job.n + 1
        job.chunks[job.n] = s
        return true
      end,
    }
    by_easy[job.e] = job
    job.due = t0
    tail = tail + 1
    fifo[tail] = job
  end
  local inflight, checks, deadline = 0, 0, t0 + window
  for _ = 1, 1e9 do
    local now = monotime()
    if now >= deadline and inflight == 0 then break end
    while head <= tail and inflight < 16 and fifo[head].due <= now and now < deadline do
      local job = fifo[head]
      fifo[head] = nil
      head = head + 1
      job.n = 0
      m:add_handle(job.e)
      inflight = inflight + 1
    end
    m:perform()
    for _ = 1, n do
      local e, ok = m:info_read(true)
      if type(e) == "number" then break end
      if ok ~= true then error("lcurl: " .. tostring(ok)) end
      local job = by_easy[e]
      inflight = inflight - 1
      check(table.concat(job.chunks, "", 1, job.n))
      checks = checks + 1
      job.due = monotime() + interval
      tail = tail + 1
      fifo[tail] = job
    end
    if inflight > 0 then
      m:wait(100)
    else -- curl_multi_wait returns at once with nothing in curl: sleep till the next check is due
      local nxt = head <= tail and fifo[head].due or deadline
      sleep(math.max(0, math.min(nxt - monotime(), 1)))
    end
  end
  return checks
end

function waiters.luahttp(n, interval, window, ua)
  local cqueues = require("cqueues")
  local cq = cqueues.new()
  local checks, deadline = 0, monotime() + window
  for _ = 1, n do
    cq:wrap(function()
      local one = makers.luahttp(ua) -- a connection of its own, kept open
      while monotime() < deadline do
        one()
        checks = checks + 1
        cqueues.sleep(interval)
      end
    end)
  end
  for _ = 1, 1e9 do
    local ok, err = cq:step(1)
    if not ok then error("luahttp: " .. tostring(err)) end
    if cq:empty() then break end
  end
  return checks
end

if mode == "wait" then
  local n, interval, window, ua = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), arg[7]
  collectgarbage()
  collectgarbage()
  local rss0 = status_kb("VmRSS")
  local c0, t0 = os.clock(), monotime()
  local checks = waiters[lib](n, interval, window, ua)
  out("jobs", n)
  out("checks", checks)
  out("wall", monotime() - t0)
  out("cpu", os.clock() - c0)
  out("rss0_kb", rss0)
  out("hwm_kb", status_kb("VmHWM"))
elseif mode == "poll" then
  local n, maxs, ua = tonumber(arg[4]), tonumber(arg[5]), arg[6]
  local one = makers[lib](ua)
  for _ = 1, 50 do one() end -- warm-up: connect, fill caches
  local done = 0
  local c0, t0 = os.clock(), monotime()
  while done < n and monotime() - t0 < maxs do
    one()
    done = done + 1
  end
  out("requests", done)
  out("wall", monotime() - t0)
  out("cpu", os.clock() - c0)
else
  io.stderr:write("usage: lua bench/peers.lua poll LIB URL N MAXSECS UA\n")
  os.exit(64)
end
