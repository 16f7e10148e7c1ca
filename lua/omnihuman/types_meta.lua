---@meta omnihuman.types
-- LuaCATS definitions of the facade's option and argument tables, for
-- lua-language-server. Never loaded at run time (it is not a module).

--- Options of omnihuman.new; every one optional. Unknown names raise.
---@class omnihuman.ClientOptions
---@field api_key? string default: $AIMLAPI_KEY (a missing key fails at the first request)
---@field base_url? string default: $OMNIHUMAN_BASE_URL, else https://api.aimlapi.com/v2
---@field model? string "bytedance/omnihuman" (default), or any id of omnihuman.models()
---@field timeout? number seconds per HTTP request (60)
---@field connect_timeout? number seconds (10)
---@field max_retries? number transient failures retried (3)
---@field max_connections? number per host (8)
---@field poll_interval? number seconds between status checks (10)
---@field wait_timeout? number seconds for a whole wait (900)
---@field ca_file? string an extra trust anchor (verification is never turned off)
---@field proxy? string
---@field user_agent? string
---@field on_event? fun(ev: omnihuman.Event) requests, retries, statuses, download progress
---@field strict? boolean refuse create fields the model's reference does not list (default true)

--- Fields of a create: `image`/`audio` (local files) or `image_url`/`audio_url`;
--- any other field is sent to the service as it is.
---@class omnihuman.CreateFields
---@field image? string a local PNG, JPEG, WebP or GIF
---@field image_url? string
---@field audio? string a local WAV, MP3, OGG, M4A or AAC under 30 s
---@field audio_url? string
---@field [string] any

---@class omnihuman.WaitOptions
---@field interval? number seconds between status checks (the client's poll_interval)
---@field timeout? number seconds for the whole wait (the client's wait_timeout)
---@field on_status? fun(st: omnihuman.Job) each status answer

---@class omnihuman.DownloadOptions
---@field on_progress? fun(got: integer, total: integer?) bytes so far, expected size when known
---@field max_bytes? number refuse a larger body (default 4 GiB)

--- client:generate's argument: create fields plus these.
---@class omnihuman.GenerateArgs : omnihuman.CreateFields
---@field output? string where to download the video (then res.output is set)
---@field interval? number
---@field timeout? number
---@field on_status? fun(st: omnihuman.Job)
---@field on_progress? fun(got: integer, total: integer?)
