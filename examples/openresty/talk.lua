-- Handlers for examples/openresty/nginx.conf. The adapter is picked by
-- itself (ngx is there): a waiting request sleeps on a semaphore that the
-- worker's one driver posts, so a worker serves other requests while
-- generations run.
local omnihuman = require("omnihuman")
local cjson = require("cjson.safe")

local M = {}
local client
local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/examples/openresty/[^/]*$") or "."

function M.init_worker()
  client = omnihuman.new{ poll_interval = 5 }
end

local function answer(status, t)
  ngx.status = status
  ngx.say(cjson.encode(t))
end

-- GET /talk?image_url=...&audio_url=...  ->  the finished job
function M.talk()
  local args = ngx.req.get_uri_args()
  if type(args.image_url) ~= "string" or type(args.audio_url) ~= "string" then
    return answer(400, { error = "image_url and audio_url are required" })
  end
  local res, err = client:generate{ image_url = args.image_url, audio_url = args.audio_url }
  if not res then
    return answer(err.status == 429 and 429 or 502,
      { error = err.kind, message = err.message, job_id = err.job_id })
  end
  answer(200, { id = res.id, status = res.status, video_url = res.video and res.video.url })
end

-- GET /batch?n=5  ->  n generations of the sample media, in light threads
function M.batch()
  local n = math.min(tonumber(ngx.var.arg_n) or 3, 20)
  local threads = {}
  for i = 1, n do
    threads[i] = ngx.thread.spawn(function()
      return client:generate{
        image = ROOT .. "/examples/media/portrait.png",
        audio = ROOT .. "/examples/media/hello.wav",
      }
    end)
  end
  local out = {}
  for i = 1, n do
    local ok, res, err = ngx.thread.wait(threads[i])
    if ok and res then
      out[i] = { id = res.id, video_url = res.video and res.video.url }
    else
      out[i] = { error = tostring(ok and err or res) }
    end
  end
  answer(200, out)
end

return M
