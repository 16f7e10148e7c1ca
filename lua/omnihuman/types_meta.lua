---@meta omnihuman.types
-- LuaCATS definitions of the facade's option and argument tables, for
-- lua-language-server. Never loaded at run time (it is not a module).

--- Options of omnihuman.new; every one optional. Unknown names raise.
---@class omnihuman.ClientOptions
-- options:begin (make docs-gen)
---@field api_key? string the API key, sent to the API's host only (none: the first request fails) (default: $AIMLAPI_KEY)
---@field base_url? string the API's base URL: http://... or https://... (default: $OMNIHUMAN_BASE_URL, else https://api.aimlapi.com/v2)
---@field model? string the model of creates that name none: any id of omnihuman.models() (default: bytedance/omnihuman)
---@field ca_file? string a PEM file of extra trust anchors (verification is never turned off) (default: none)
---@field proxy? string a proxy URL; without it, the proxy variables libcurl reads, as set when the client is made (default: none)
---@field user_agent? string the User-Agent header of every request (default: lua-omnihuman/0.1)
---@field timeout? number seconds for one HTTP request (default: 60)
---@field connect_timeout? number seconds to connect (default: 10)
---@field poll_interval? number seconds between status checks (default: 10)
---@field wait_timeout? number seconds for a whole wait (default: 900)
---@field max_retries? integer transient failures retried in a row (default: 3)
---@field max_connections? integer requests of this client in flight at once, per kind of host (default: 8)
---@field max_audio_seconds? number local audio must be shorter than this (default: the model's limit)
---@field allow_unmeasured_audio? boolean send local audio whose duration cannot be read (default: false)
---@field on_event? fun(ev: omnihuman.Event) called with each request, retry, status and progress event (never the key) (default: none)
---@field strict? boolean refuse create fields the model's reference does not list (read by the Lua facade) (default: true)
-- options:end

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
