-- Command-line parsing for the omnihuman CLI: GNU-style long options
-- (--name VALUE, --name=VALUE), a few short ones (-o, -h, -j, -q), "--" ends
-- options. Each command declares its options; help text is generated.
local args = {}

-- Options every command takes.
args.COMMON = {
  { "api-key", arg = "KEY", help = "API key (default: $AIMLAPI_KEY); never printed" },
  { "base-url", arg = "URL",
    help = "API base URL (default: $OMNIHUMAN_BASE_URL or " .. require("omnihuman.core").options.base_url.default .. ")" },
  { "ca-file", arg = "PEM", help = "extra trusted CA certificate (a test server's); verification stays on" },
  { "json", short = "j", help = "print machine-readable JSON on stdout" },
  { "quiet", short = "q", help = "no progress display" },
  { "progress", arg = "MODE", help = "auto (default), tty (live lines), plain (timestamped lines), none" },
  { "max-audio-seconds", arg = "SECONDS", number = true, help = "refuse local audio this long or longer (default: the model's limit, 30)" },
  { "no-strict", help = "send fields the model's API reference does not list (default: refuse them)" },
  { "help", short = "h", help = "show this help" },
}

local function find(specs, name, short)
  for _, list in ipairs(specs) do
    for _, o in ipairs(list) do
      if (name and o[1] == name) or (short and o.short == short) then return o end
    end
  end
end

local function usage_error(msg)
  return nil, { usage = true, message = msg }
end

-- Parses argv (a list) against cmd.options + COMMON. Returns opts (a table:
-- option name -> value, true, or a list for multi options; opts.args holds
-- positionals) or nil, { usage = true, message = ... }.
function args.parse(cmd, argv)
  local specs = { cmd.options or {}, args.COMMON }
  local opts, positional = {}, {}
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    local o, value, label
    if a == "--" then
      for j = i + 1, n do positional[#positional + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, v = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      value = v
      o = find(specs, name)
      label = "--" .. name
      if not o then return usage_error("unknown option " .. label) end
    elseif a:sub(1, 1) == "-" and #a > 1 and not a:match("^%-%d") then
      local short = a:sub(2, 2)
      o = find(specs, nil, short)
      label = "-" .. short
      if not o then return usage_error("unknown option " .. a) end
      if #a > 2 then
        if not o.arg then return usage_error("option " .. label .. " takes no value") end
        value = a:sub(3)
      end
    else
      positional[#positional + 1] = a
    end
    if o then
      if o.arg then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return usage_error("option " .. label .. " needs a value (" .. o.arg .. ")") end
        end
        if o.number then
          local num = tonumber(value)
          if not num or num < 0 or num ~= num or num == math.huge then
            return usage_error("option " .. label .. " needs a number >= 0, got '" .. value .. "'")
          end
          value = num
        end
        if o.multi then
          opts[o[1]] = opts[o[1]] or {}
          table.insert(opts[o[1]], value)
        else
          opts[o[1]] = value
        end
      else
        if value ~= nil then return usage_error("option " .. label .. " takes no value") end
        opts[o[1]] = true
      end
    end
    i = i + 1
  end
  opts.args = positional
  if opts.progress and not ({ auto = 1, tty = 1, plain = 1, none = 1 })[opts.progress] then
    return usage_error("--progress must be auto, tty, plain or none")
  end
  return opts
end

local function option_lines(list, out)
  for _, o in ipairs(list) do
    local left = "  " .. (o.short and ("-" .. o.short .. ", ") or "    ") .. "--" .. o[1]
    if o.arg then left = left .. " " .. o.arg end
    if #left < 28 then left = left .. (" "):rep(28 - #left) else left = left .. "\n" .. (" "):rep(28) end
    out[#out + 1] = left .. o.help
  end
end

function args.help(cmd)
  local out = { "Usage: omnihuman " .. cmd.usage, "", cmd.summary }
  if cmd.details then out[#out + 1] = ""; out[#out + 1] = cmd.details end
  if cmd.options and #cmd.options > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "Options:"
    option_lines(cmd.options, out)
  end
  out[#out + 1] = ""
  out[#out + 1] = "Common options:"
  option_lines(args.COMMON, out)
  return table.concat(out, "\n") .. "\n"
end

-- "--field k=v" values: integers, numbers, true/false and null become JSON
-- values, anything else a string; "k:=JSON" takes raw JSON.
function args.field(spec, decode)
  local k, raw = spec:match("^([%w_%.%-]+):=(.*)$")
  if k then
    local v, err = decode(raw)
    if v == nil then return nil, "--field " .. k .. ":= needs valid JSON (" .. tostring(err) .. ")" end
    return k, v
  end
  local key, v = spec:match("^([%w_%.%-]+)=(.*)$")
  if not key then return nil, "--field needs KEY=VALUE or KEY:=JSON, got '" .. spec .. "'" end
  return key, args.scalar(v)
end

-- "--file FIELD=PATH": the path goes where FIELD says in fields f: a field
-- ("video_url"), a field of an object ("character.url", made if missing) or
-- the next item of an array ("image_urls[]"). exists(path) checks the file.
-- true, or nil, why.
function args.put_file(f, spec, exists)
  local where, path = spec:match("^([%w_%.%-%[%]]+)=(.+)$")
  if not where then return nil, "--file needs FIELD=PATH, got '" .. spec .. "'" end
  if not exists(path) then return nil, "--file " .. where .. ": file not found: " .. path end
  local t, parts = f, {}
  for part in where:gmatch("[^%.]+") do parts[#parts + 1] = part end
  for i, part in ipairs(parts) do
    local name, append = part:match("^([%w_%-]+)(.*)$")
    if not name or (append ~= "" and append ~= "[]") then
      return nil, "--file: cannot read the field '" .. where .. "'"
    end
    local last = i == #parts
    if append == "[]" then
      if t[name] == nil then t[name] = {} end
      if type(t[name]) ~= "table" then return nil, "--file " .. where .. ": " .. name .. " is not a list" end
      if not last then return nil, "--file " .. where .. ": a list item must be the last part" end
      t[name][#t[name] + 1] = path
    elseif last then
      if t[name] ~= nil then return nil, "--file " .. where .. ": the field is given twice" end
      t[name] = path
    else
      if t[name] == nil then t[name] = {} end
      if type(t[name]) ~= "table" then return nil, "--file " .. where .. ": " .. name .. " is not an object" end
      t = t[name]
    end
  end
  return true
end

-- A --field value or a manifest cell: true/false, and numbers in plain
-- decimal notation of at most 15 digits (what a double holds exactly on
-- every runtime: a longer number would be sent changed, so it stays a string).
function args.scalar(v)
  if v == "true" then return true elseif v == "false" then return false end
  local digits = #v:gsub("%D", "")
  if digits > 15 then return v end
  if v:match("^%-?%d+$") then return math.tointeger and math.tointeger(tonumber(v)) or tonumber(v) end
  if v:match("^%-?%d+%.%d+$") then return tonumber(v) end
  return v
end

return args
