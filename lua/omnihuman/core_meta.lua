---@meta omnihuman.core
-- LuaCATS definitions of the C core (omnihuman.core) and of the values it
-- returns, for lua-language-server: `require("omnihuman.core")` resolves
-- here. Never loaded at run time (it is not a module).

-- error-kinds:begin (make docs-gen)
---@alias omnihuman.ErrorKind
---| "invalid_input" # the request was refused as invalid (HTTP 400/413/415/422) or an input file is unusable
---| "auth" # the key is missing or wrong (401)
---| "forbidden" # no credits or no access (402/403)
---| "not_found" # no such job (404/410)
---| "rate_limited" # 429 after the retries
---| "server" # 5xx after the retries
---| "network" # connection failures after the retries
---| "timeout" # a request or a whole wait ran out of time
---| "protocol" # an answer that could not be understood
---| "generation_failed" # the job ended in failure (err.result is its final status)
---| "cancelled" # op:cancel(), op:close() or loop:close()
---| "io" # a local file could not be read or written
---| "duplicate" # a client with a ledger: the same request to the same output is already recorded (err.existing)
-- error-kinds:end

--- What operations return as their second value (`nil, err`).
--- `tostring(err)` is "omnihuman: <kind>: <message>".
---@class omnihuman.Error
---@field kind omnihuman.ErrorKind
---@field message string never contains the API key
---@field status? integer the HTTP status, when there was one
---@field request_id? string the service's request id, when it gave one
---@field retryable boolean whether trying again later may work
---@field maybe_created? boolean a create that may have been billed although it failed: do not resend blindly
---@field job_id? string set by client:generate once the job exists: wait on it again instead of paying twice
---@field result? omnihuman.Job for generation_failed: the job's final status

--- A job's status as the service returns it (decoded JSON; fields the
--- service adds are kept).
---@class omnihuman.Job
---@field id string
---@field status string "queued", "generating", "completed", "failed", ...
---@field video? { url: string } set once completed
---@field error? any the service's error, when failed
---@field output? string client:generate with `output`: where the video was written
---@field usage? table client:generate: the create answer's meta.usage, as the service sent it
---@field credits? number client:generate: usage.credits_used, else usage.tokens_used (numbers only)
---@field [string] any

---@alias omnihuman.Result omnihuman.Job

--- Passed to the client's `on_event`. Never carries the key.
---@class omnihuman.Event
---@field type "request"|"retry"|"status"|"progress"
---@field method? string request: "GET" or "POST"
---@field url? string request: the URL (no credentials)
---@field attempt? integer request, retry: 1 for the first try
---@field delay? number retry: seconds until the next try
---@field error? omnihuman.Error retry: why
---@field status? integer|string retry: the HTTP status; status: the job's status
---@field id? string status: the job id
---@field got? integer progress: bytes downloaded so far
---@field total? integer progress: the expected size, when known
---@field op string the kind of operation it comes from: "create", "poll", "wait", "download"

--- One piece of work in flight (a create, a status check, a whole wait, a
--- download, a sleep). Pollable in the cqueues protocol: a scheduler waits
--- until pollfd() is readable or timeout() seconds pass, then calls step().
---@class omnihuman.Operation
local Operation = {}

--- Drives the operation's loop without blocking.
---@return boolean done true when the operation has finished
function Operation:step() end

---@return boolean done
function Operation:done() end

--- The outcome of a finished operation; raises if it has not finished, and
--- re-raises an error that one of its callbacks raised.
---@return any value the result (a job table, a path, true), or nil
---@return omnihuman.Error? err
function Operation:result() end

--- Finishes the operation now with a "cancelled" error.
---@return boolean cancelled false if it had already finished
function Operation:cancel() end

--- The loop's descriptor (shared by every operation of that loop).
---@return integer fd
function Operation:pollfd() end

---@return "r"
function Operation:events() end

--- Seconds until the loop next wants attention; 0 once finished; nil when nothing is armed.
---@return number?
function Operation:timeout() end

---@return "create"|"poll"|"wait"|"download"|"sleep"
function Operation:kind() end

--- Releases the operation; one still in flight is cancelled first.
function Operation:close() end

---@return boolean closed whether close() ran (a closed op has no result left)
---@return boolean maybe_created closed after its create request may have reached the service
---@return string? job_id the job a create had made before it was closed
function Operation:is_closed() end

--- The loop it runs on, while it is bound to one.
---@return omnihuman.Loop?
function Operation:loop() end

--- For code that abandons work: a billed create that may have reached the
--- service runs on until its answer (never retried); anything else is cancelled.
---@return boolean running whether the op still runs
function Operation:settle() end

--- One curl multi handle, its timers and sockets: every client and operation
--- of a Lua state share one (omnihuman.loop()). Pollable like an operation.
---@class omnihuman.Loop
local Loop = {}

--- Drives the loop once: waits at most `block` seconds (default 0) for
--- socket activity or the next deadline, then runs what is due.
---@param block? number
---@return integer active operations still in flight
function Loop:run_once(block) end

--- Blocks (in epoll, without spinning) until op has finished.
---@param op omnihuman.Operation
---@return boolean done
function Loop:run_until(op) end

--- The operations that finished since the last call, as a set (weak keys).
---@return table<omnihuman.Operation, true>
function Loop:take_done() end

--- Forgets the finish notices without handing them out (the dispatcher,
--- when nothing is parked); the descriptor stops being readable for them.
function Loop:drop_done() end

--- Seconds until the loop next wants attention; 0 while finish notices
--- wait; nil when nothing is armed.
---@return number?
function Loop:timeout() end

--- An epoll descriptor, readable while curl has socket work or a finish
--- notice waits for the dispatcher (omnihuman.waiters).
---@return integer fd
function Loop:pollfd() end

---@return "r"
function Loop:events() end

---@return integer active operations in flight
function Loop:active() end

---@return integer transfers HTTP transfers in curl (0: only timers can need a turn)
function Loop:transfers() end

--- fn() runs when an operation ends outside a turn (op:cancel(), op:close(),
--- loop:close() from Lua code), before a closing loop's descriptor closes.
--- One function per loop; nil removes it.
---@param fn? fun()
function Loop:set_wakeup(fn) end

---@return boolean closed
function Loop:is_closed() end

--- True while the loop is being driven: the code running is one of its callbacks.
---@return boolean
function Loop:driving() end

--- Cancels what is in flight and releases the loop.
function Loop:close() end

--- How operations are awaited in a host (omnihuman.use, omnihuman.adapter).
---@class omnihuman.Adapter
---@field name string "plain", "nvim", "openresty", "love", "cqueues", "luv", or yours
---@field await fun(loop: omnihuman.Loop, op: omnihuman.Operation): any, omnihuman.Error?
---@field attach? fun(loop: omnihuman.Loop) called for the module's loop when picked, and for each new loop
---@field spawn? fun(fn: function, ...): any runs fn as a coroutine the host resumes (omnihuman.spawn outside run)
---@field pending? fun(loop: omnihuman.Loop): integer operations awaited through it

---@class omnihuman.Core
---@field version string the module's version
---@field curl_version string "libcurl/<version> <TLS backend>/<version>" (or "no-tls")
---@field options table<string, omnihuman.OptionInfo> every option of new_client (src/options_table.h)
---@field error_kinds omnihuman.ErrorKind[] every err.kind, in the order of src/error_kinds.h
local core = {}

---@class omnihuman.OptionInfo
---@field order integer its place in the table
---@field type "string"|"number"|"whole"|"boolean"|"function"
---@field default? string|number absent: none, or see default_doc
---@field env? string the variable the facade reads when the option is absent
---@field min? number
---@field max? number
---@field default_doc? string the default in words, when it is not a plain value
---@field doc string one line

---@return omnihuman.Loop
function core.new_loop() end

--- Seconds on the monotonic clock the loop uses.
---@return number
function core.now() end

---@param loop omnihuman.Loop
---@param seconds number
---@return omnihuman.Operation
function core.sleep_op(loop, seconds) end

---@param kind omnihuman.ErrorKind
---@param message string
---@param status? integer
---@return omnihuman.Error
function core.new_error(kind, message, status) end

return core
