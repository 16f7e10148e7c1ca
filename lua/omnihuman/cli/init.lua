-- omnihuman CLI entry point: main(argv) -> exit code.
local args = require("omnihuman.cli.args")
local exit = require("omnihuman.cli.exit")
local util = require("omnihuman.cli.util")

local cli = {}

local ORDER = { "generate", "create", "status", "wait", "download", "batch", "jobs", "resume", "models" }

local function command_table()
  local commands = require("omnihuman.cli.commands")
  return {
    generate = commands.generate, create = commands.create, status = commands.status, wait = commands.wait,
    download = commands.download, batch = require("omnihuman.cli.batch").command,
    jobs = require("omnihuman.cli.ledger_cmds").jobs, resume = require("omnihuman.cli.ledger_cmds").resume,
    models = require("omnihuman.cli.models").command,
  }
end

local function top_help(cmds)
  local out = {
    "Usage: omnihuman COMMAND [options]",
    "",
    "Portrait + speech -> lip-synced talking video (AI/ML API, ByteDance OmniHuman).",
    "",
    "Commands:",
  }
  for _, name in ipairs(ORDER) do
    out[#out + 1] = ("  %-10s %s"):format(name, cmds[name].summary:match("^[^\n]*"))
  end
  out[#out + 1] = ""
  out[#out + 1] = "Run 'omnihuman COMMAND --help' for a command's options."
  out[#out + 1] = "Environment: AIMLAPI_KEY (API key), OMNIHUMAN_BASE_URL (API base URL)."
  out[#out + 1] = "Exit codes: 0 ok, 1 other error, 2 bad input/usage, 3 auth, 4 generation failed,"
  out[#out + 1] = "            5 timeout, 6 network/service, 7 batch incomplete, 8 create uncertain,"
  out[#out + 1] = "            9 ledger/journal write failed, 10 job id not recorded, 11 another run on it,"
  out[#out + 1] = "            12 the same request is already in the ledger."
  return table.concat(out, "\n") .. "\n"
end

-- Whether argv asks for --json (-j), read before (or without) parsing it.
local function wants_json(argv)
  for _, a in ipairs(argv) do
    if a == "--" then return false end
    if a == "--json" or a == "-j" then return true end
  end
  return false
end

function cli.main(argv)
  local cmds = command_table()
  local name = argv[1]
  if name == nil or name == "-h" or name == "--help" or name == "help" then
    local sub = name == "help" and argv[2] and cmds[argv[2]]
    io.stdout:write(sub and args.help(sub) or top_help(cmds))
    return name == nil and exit.USAGE or exit.OK
  end
  if name == "--version" or name == "version" then
    local ok, omnihuman = pcall(require, "omnihuman")
    io.stdout:write("omnihuman ", ok and tostring(omnihuman._VERSION) or "?", "\n")
    return exit.OK
  end
  local cmd = cmds[name]
  if not cmd then
    local msg = "unknown command '" .. name .. "' (try omnihuman --help)"
    if wants_json(argv) then
      io.stdout:write(util.encode({ ok = false, error = { kind = "invalid_input", message = msg } }), "\n")
    end
    io.stderr:write("omnihuman: ", msg, "\n")
    return exit.USAGE
  end
  local rest = {}
  for i = 2, #argv do rest[i - 1] = argv[i] end
  local opts, perr = args.parse(cmd, rest)
  if opts and opts.help then io.stdout:write(args.help(cmd)) return exit.OK end
  if not opts then
    if wants_json(rest) then -- still one JSON object on stdout
      io.stdout:write(util.encode({ ok = false, error = { kind = "invalid_input", message = perr.message } }), "\n")
    end
    io.stderr:write("omnihuman ", name, ": ", perr.message, "\nUsage: omnihuman ", cmd.usage,
                    "\n(omnihuman ", name, " --help for details)\n")
    return exit.USAGE
  end
  local ctx = require("omnihuman.cli.context").new(opts)
  -- SIGTERM, SIGHUP and a second Ctrl-C stop the run like the first Ctrl-C
  -- (below), so what was paid gets recorded. Without the ledger's module: as before.
  local has_signals, ledger_db = pcall(require, "omnihuman.ledger_db")
  if has_signals then ledger_db.interrupt_on_signals() end
  local ok, code, uerr = xpcall(function() return cmd.run(ctx, opts) end, debug.traceback)
  if not ok then
    pcall(function() ctx.progress:close() end)
    if tostring(code):match("interrupted!") then -- SIGINT, raised by the interpreter
      if has_signals then ledger_db.ignore_signals() end -- let the recording below finish
      local client = rawget(ctx, "_client")
      local ids = {}
      if client and client.ledger then
        for _, line in ipairs(client.ledger:settle(true)) do
          ids[#ids + 1] = line:match("^job (%S+) was created")
          io.stderr:write("omnihuman: ", util.redact(line), "\n")
        end
        io.stderr:write("omnihuman: finish recorded jobs with: omnihuman resume --all\n")
      end
      io.stderr:write("omnihuman: interrupted", name == "batch"
        and " (run the same command again to resume: journaled jobs are not created again)" or "", "\n")
      -- creates that answered while the run unwound: their ids must not be lost
      for line in tostring(code):gmatch("[^\n]+") do
        if line:match("^job %S+ was created") or line:match("^a create may have reached") then
          -- the library names its own call; say the command's
          line = line:gsub('wait for it with client:wait%("([^"]+)"%)', function(id)
            return (client and client.ledger and "finish it with: omnihuman resume " or "wait for it with: omnihuman wait ")
              .. util.word(id)
          end)
          io.stderr:write("omnihuman: ", util.redact(line), "\n")
          ids[#ids + 1] = line:match("^job (%S+) was created")
        end
      end
      if opts.json then -- the one object --json promises, naming the job the create made
        ctx:print_json({ ok = false, error = { kind = "interrupted", message = "interrupted" }, job_id = ids[1] })
      end
      return 130
    end
    io.stderr:write("omnihuman: internal error: ", util.redact(tostring(code)), "\n")
    return exit.OTHER
  end
  if code == nil and uerr then
    if opts.json then
      ctx:print_json({ ok = false, error = { kind = "invalid_input", message = uerr.message } })
    end
    io.stderr:write("omnihuman ", name, ": ", util.redact(uerr.message), "\nUsage: omnihuman ", cmd.usage, "\n")
    return exit.USAGE
  end
  return code or exit.OK
end

return cli
