-- What every spec needs: a running test server (HTTPS with a throwaway CA),
-- a client pointed at a namespace of its own, and the sample media.
local ts = require("spec.support.testserver")
local omnihuman = require("omnihuman")

local F = {}

-- Looks like a real key, so a leak would be easy to grep for.
F.KEY = "sk-omh-test-7Fq2ZpX9LkW3vR8d"
F.PNG = "examples/media/portrait.png"
F.WAV = "examples/media/hello.wav"
F.MP3 = "examples/media/hello.mp3"

local counter = 0
function F.ns(prefix)
  counter = counter + 1
  return ("%s%d_%d"):format(prefix or "t", os.time() % 100000, counter)
end

function F.start(opts)
  opts = opts or {}
  if opts.tls == nil then opts.tls = true end
  if opts.key == nil then opts.key = F.KEY end
  return ts.start(opts)
end

-- Create fields with URLs (nothing to upload), plus extra.
function F.url_fields(extra)
  local t = { image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- A client on namespace ns of srv, with fast polling; extra overrides.
function F.client(srv, ns, extra)
  local o = {
    api_key = F.KEY, base_url = srv:base_url(ns), ca_file = srv.ca_file,
    poll_interval = 0.05, timeout = 5, connect_timeout = 2,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return omnihuman.new(o)
end

function F.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function F.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function F.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

-- Entries of a directory (for "no partial file left behind" checks).
function F.ls(dir)
  local out, p = {}, io.popen('ls -A "' .. dir .. '"')
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

F.now = omnihuman.core.now -- monotonic seconds

return F
