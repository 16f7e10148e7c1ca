-- What every spec needs: a running test server (HTTPS with a throwaway CA),
-- a client pointed at a namespace of its own, and the sample media.
local testserver = require("spec.support.testserver")
local omnihuman = require("omnihuman")
local files = require("spec.support.files")

local fixtures = {}

-- Looks like a real key, so a leak would be easy to grep for.
fixtures.KEY = "sk-omh-test-7Fq2ZpX9LkW3vR8d"
fixtures.PNG = "examples/media/portrait.png"
fixtures.WAV = "examples/media/hello.wav"
fixtures.MP3 = "examples/media/hello.mp3"

local counter = 0
function fixtures.ns(prefix)
  counter = counter + 1
  return ("%s%d_%d"):format(prefix or "t", os.time() % 100000, counter)
end

function fixtures.start(opts)
  opts = opts or {}
  if opts.tls == nil then opts.tls = true end
  if opts.key == nil then opts.key = fixtures.KEY end
  return testserver.start(opts)
end

-- A copy of table t with the keys of extra (if any) set over it.
function fixtures.with(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

-- Create fields with URLs (nothing to upload), plus extra.
function fixtures.url_fields(extra)
  return fixtures.with({ image_url = "https://x/a.png", audio_url = "https://x/a.mp3" }, extra)
end

-- A client on namespace ns of srv, with fast polling; extra overrides.
function fixtures.client(srv, ns, extra)
  return omnihuman.new(fixtures.with({
    api_key = fixtures.KEY, base_url = srv:base_url(ns), ca_file = srv.ca_file,
    poll_interval = 0.05, timeout = 5, connect_timeout = 2,
  }, extra))
end

-- Files (spec/support/files.lua); fixtures.read raises when path cannot be read.
function fixtures.read(path)
  return assert(files.read(path))
end
fixtures.write, fixtures.exists, fixtures.ls, fixtures.rm_rf = files.write, files.exists, files.ls, files.rm_rf
fixtures.tmpdir = files.tmpdir

fixtures.now = omnihuman.core.now -- monotonic seconds

return fixtures
