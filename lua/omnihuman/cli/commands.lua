-- The single-job commands: generate, create, status, wait, download.
local util = require("omnihuman.cli.util")
local args = require("omnihuman.cli.args")
local exit = require("omnihuman.cli.exit")
local usage_of = require("omnihuman.usage")
local ledger_cmds = require("omnihuman.cli.ledger_cmds")

local commands = {}

local INPUT_OPTS = {
  { "image", arg = "FILE|URL", help = "portrait image: a local file (sent as a data URI) or an https URL" },
  { "audio", arg = "FILE|URL", help = "speech audio (OmniHuman: under 30 s): a local file or an https URL" },
  { "model", arg = "MODEL", help = "any model of `omnihuman models` (default bytedance/omnihuman)" },
  { "field", arg = "K=V", multi = true, help = "extra request field (repeatable); K:=JSON for raw JSON" },
  { "file", arg = "FIELD=PATH", multi = true,
    help = "a local file for a file field (repeatable): video_url=a.mp4, image_urls[]=b.png, character.url=c.mp4" },
}
local WAIT_OPTS = {
  { "interval", arg = "SECONDS", number = true, help = "seconds between status checks (default 10)" },
  { "timeout", arg = "SECONDS", number = true, help = "give up waiting after this long (default 900)" },
}

local function concat(...)
  local out = {}
  for _, l in ipairs{ ... } do for _, o in ipairs(l) do out[#out + 1] = o end end
  return out
end

local function usage(msg) return nil, { usage = true, message = msg } end

local output_problem = ledger_cmds.output_problem

-- The create fields from --image/--audio/--field; nil, usage error if wrong.
local function create_fields(opts)
  local f = {}
  for k, v in pairs(opts.fields or {}) do f[k] = v end
  for _, name in ipairs{ "image", "audio" } do
    local v = opts[name]
    -- Whether the model needs it is the model table's to say (the create
    -- is checked before it is sent: exit 2 naming what is missing).
    if v and util.is_url(v) then f[name .. "_url"] = v
    elseif v and not util.exists(v) then return usage(name .. " file not found: " .. v)
    elseif v then f[name] = v end
  end
  for _, spec in ipairs(opts.field or {}) do
    local k, v = args.field(spec, util.decode)
    if not k then return usage(v) end
    f[k] = v
  end
  for _, spec in ipairs(opts.file or {}) do
    local ok, why = args.put_file(f, spec, util.exists)
    if not ok then return usage(why) end
  end
  if opts.model then f.model = opts.model end
  return f
end

local function job_label(id)
  return id and (id:match("^([%x]+)") or id):sub(1, 8) or "job"
end

-- create, with a live line; returns job or nil, err.
local function do_create(ctx, client, fields, job, output)
  ctx.progress:set(job, "creating")
  return client:create(fields, output)
end

local function do_wait(ctx, client, id, job)
  ctx.progress:set(job, "waiting", id)
  return client:wait(id, { on_status = function(st)
    ctx.progress:set(job, tostring(st.status), id)
  end })
end

local function do_download(ctx, client, url, output, job)
  ctx.progress:set(job, "downloading")
  return client:download(url, output, { on_progress = function(got, total)
    ctx.progress:bytes(job, got, total)
  end })
end


-- "created job ID: N credits used" (the service's own count, when it gave one).
local function created_line(job, credits)
  local line = "created job " .. job.id
  if not credits then return line end
  local whole = credits == math.floor(credits) and math.abs(credits) < 2 ^ 53
  return line .. ": " .. string.format(whole and "%d" or "%.14g", credits) .. " credits used"
end

-- A job the ledger could not record (its id's write failed after the
-- create answered): said at once with the id, and the command ends with
-- exit 10 once it has done the rest. The row stays 'creating'.
local function unrecorded(job)
  if not job.ledger_error then return exit.OK end
  io.stderr:write("omnihuman: job ", job.id, " was created but the ledger could not record it (",
                  util.redact(job.ledger_error), "): keep this id; its ledger row stays 'creating'\n")
  return exit.UNRECORDED
end

local function result_json(res, extra)
  local o = { ok = true, id = res.id, status = res.status,
              video_url = type(res.video) == "table" and res.video.url or nil }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

commands.generate = {
  usage = "generate [--model M] [--image FILE|URL] [--audio FILE|URL] [--field K=V]... [--file F=PATH]... -o OUT.mp4 [options]",
  summary = "Create a job, wait for it and download the video: the whole thing in one command.",
  options = concat(INPUT_OPTS, { { "output", short = "o", arg = "FILE", help = "where to write the MP4 (required)" } }, WAIT_OPTS,
                   ledger_cmds.OPTIONS),
  run = function(ctx, opts)
    if #opts.args > 0 then return usage("unexpected argument " .. opts.args[1]) end
    if not opts.output then return usage("-o/--output is required") end
    local bad = output_problem(opts.output)
    if bad then return usage(bad) end
    local fields, uerr = create_fields(opts)
    if not fields then return nil, uerr end
    local client, cerr = ledger_cmds.client(ctx, opts)
    if not client then ctx:fail(cerr) return exit.for_error(cerr) end
    local held = ledger_cmds.claim_or_fail(ctx, opts.output)
    if held then return held end
    return ctx:run(function()
      local progress = ctx.progress
      local job = progress:add(util.basename(opts.output))
      local created, err = do_create(ctx, client, ledger_cmds.fields(opts, fields), job, opts.output)
      if not created then
        ledger_cmds.explain(err)
        progress:finish(job, "create failed: " .. err.kind)
        ctx:fail(err) return exit.for_error(err)
      end
      local spent, credits = usage_of(created)
      progress:log(created_line(created, credits))
      local done = unrecorded(created)
      local res
      res, err = do_wait(ctx, client, created.id, job)
      if not res then
        progress:finish(job, err.kind)
        ctx:fail(err, { job_id = created.id }) return exit.for_error(err)
      end
      local path
      path, err = do_download(ctx, client, res.video.url, opts.output, job)
      if not path then
        progress:finish(job, "download failed: " .. err.kind)
        ctx:fail(err, { job_id = created.id }) return exit.for_error(err)
      end
      progress:finish(job, "done -> " .. path)
      if opts.json then
        ctx:print_json(result_json(res, { output = path, usage = spent, credits = credits,
                                          ledger_error = created.ledger_error }))
      else ctx:say(path) end
      return done
    end)
  end,
}

commands.create = {
  usage = "create [--model M] [--image FILE|URL] [--audio FILE|URL] [--field K=V]... [--file F=PATH]... [options]",
  summary = "Submit one job (billed) and print its id without waiting.",
  options = concat(INPUT_OPTS, ledger_cmds.OPTIONS),
  run = function(ctx, opts)
    if #opts.args > 0 then return usage("unexpected argument " .. opts.args[1]) end
    local fields, uerr = create_fields(opts)
    if not fields then return nil, uerr end
    local client, cerr = ledger_cmds.client(ctx, opts)
    if not client then ctx:fail(cerr) return exit.for_error(cerr) end
    local job, err = client:create(ledger_cmds.fields(opts, fields))
    if not job then ctx:fail(ledger_cmds.explain(err)) return exit.for_error(err) end
    local spent, credits = usage_of(job)
    ctx.progress:log(created_line(job, credits))
    local done = unrecorded(job)
    if opts.json then
      ctx:print_json({ ok = true, id = job.id, status = job.status, meta = job.meta, usage = spent, credits = credits,
                       ledger_error = job.ledger_error })
    else ctx:say(job.id) end
    return done
  end,
}

commands.status = {
  usage = "status ID",
  summary = "Check a job once and print its status (and the video URL when completed).\n"
    .. "Exit 0 when the check worked (pending or completed), 4 when the job failed.",
  options = {},
  run = function(ctx, opts)
    local id = opts.args[1]
    if not id or #opts.args > 1 then return usage("status takes exactly one job id") end
    local client, cerr = ctx:client()
    if not client then ctx:fail(cerr) return exit.for_error(cerr) end
    local st, err = client:poll(id)
    if not st then ctx:fail(err) return exit.for_error(err) end
    local s = tostring(st.status):lower() -- statuses may come in any case
    local failed = s == "error" or s == "failed"
    if opts.json then
      local o = result_json(st)
      if failed then -- the shape of every --json error; the service's own error kept beside
        local said = type(st.error) == "table" and st.error.message or st.error
        o.ok, o.job_id = false, id
        o.error = { kind = "generation_failed", service_error = st.error,
                    message = ("job %s ended with status %s%s"):format(id, tostring(st.status),
                      said ~= nil and (": " .. tostring(said)) or "") }
      end
      ctx:print_json(o)
    else
      local line = st.status
      if type(st.video) == "table" and st.video.url then line = line .. " " .. st.video.url end
      if failed and type(st.error) == "table" then line = line .. ": " .. tostring(st.error.message) end
      ctx:say(line)
    end
    return failed and exit.FAILED or exit.OK
  end,
}

commands.wait = {
  usage = "wait ID [-o OUT.mp4] [options]",
  summary = "Wait until a job finishes; print the video URL, or download it with -o.",
  options = concat({ { "output", short = "o", arg = "FILE", help = "download the video there" } }, WAIT_OPTS),
  run = function(ctx, opts)
    local id = opts.args[1]
    if not id or #opts.args > 1 then return usage("wait takes exactly one job id") end
    local bad = opts.output and output_problem(opts.output)
    if bad then return usage(bad) end
    local client, cerr = ctx:client()
    if not client then ctx:fail(cerr) return exit.for_error(cerr) end
    local held = opts.output and ledger_cmds.claim_or_fail(ctx, opts.output)
    if held then return held end
    return ctx:run(function()
      local progress = ctx.progress
      local job = progress:add(opts.output and util.basename(opts.output) or job_label(id))
      local res, err = do_wait(ctx, client, id, job)
      if not res then
        progress:finish(job, err.kind)
        ctx:fail(err, { job_id = id }) return exit.for_error(err)
      end
      local path
      if opts.output then
        path, err = do_download(ctx, client, res.video.url, opts.output, job)
        if not path then
          progress:finish(job, "download failed: " .. err.kind)
          ctx:fail(err, { job_id = id }) return exit.for_error(err)
        end
      end
      progress:finish(job, path and ("done -> " .. path) or "completed")
      if opts.json then ctx:print_json(result_json(res, { output = path }))
      else ctx:say(path or res.video.url) end
      return exit.OK
    end)
  end,
}

commands.download = {
  usage = "download URL -o OUT.mp4",
  summary = "Download a finished video (no credentials are sent to the result host).",
  options = { { "output", short = "o", arg = "FILE", help = "where to write the file (required)" } },
  run = function(ctx, opts)
    local url = opts.args[1]
    if not url or #opts.args > 1 then return usage("download takes exactly one URL") end
    if not url:match("^https?://") then return usage("download needs an http(s) URL") end
    if not opts.output then return usage("-o/--output is required") end
    local bad = output_problem(opts.output)
    if bad then return usage(bad) end
    local client = ctx:client(true) -- downloads send no key
    local held = ledger_cmds.claim_or_fail(ctx, opts.output)
    if held then return held end
    return ctx:run(function()
      local progress = ctx.progress
      local job = progress:add(util.basename(opts.output))
      local path, err = do_download(ctx, client, url, opts.output, job)
      if not path then
        progress:finish(job, "download failed: " .. err.kind)
        ctx:fail(err) return exit.for_error(err)
      end
      progress:finish(job, "done -> " .. path)
      if opts.json then ctx:print_json({ ok = true, output = path }) else ctx:say(path) end
      return exit.OK
    end)
  end,
}

return commands
