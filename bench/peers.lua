-- The peers' side of the benchmarks: the Lua HTTP clients a user would pick
-- instead of lua-omnihuman, each used as a careful user would, each sending
-- the same two request headers as our status check and decoding the answer
-- with lua-cjson. bench/peers.py runs this once per measurement.
--
--   lua bench/peers.lua poll LIB URL N MAXSECS UA   sequential status checks
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

local function check(body)
  local st = decode(body)
  if type(st) ~= "table" or not st.status then error("no status in " .. tostring(body)) end
  return st
end

-- A monotonic clock: cqueues' when it is there, else os.time (coarse, only
-- for the MAXSECS bound of the luacurl runs, whose figures come from N).
local monotime
do
  local ok, cq = pcall(require, "cqueues")
  monotime = ok and cq.monotime or os.time
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

if mode == "poll" then
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
