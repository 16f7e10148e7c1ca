-- make docs-gen / make docs-check: the option and error-kind tables of the
-- docs, made from their one declaration in C (src/options_table.h through
-- core.options; src/error_kinds.h). Each generated part sits between
-- marker lines; everything outside them is left as it is.
--   lua5.4 tools/gen_docs.lua          rewrite the files
--   lua5.4 tools/gen_docs.lua --check  list stale files and fail; also fail
--                                      on an error kind used in src/ or lua/
--                                      that src/error_kinds.h does not declare
-- Needs the built core on package.cpath (make sets LUA_CPATH).
local core = require("omnihuman.core")
local check = arg[1] == "--check"

local function read(path)
  local f = assert(io.open(path, "rb"))
  return f:read("*a"), f:close()
end

local function num(v)
  return (("%.15g"):format(v))
end

-- The options in table order.
local options = {}
for name, o in pairs(core.options) do
  o.name = name
  options[#options + 1] = o
end
table.sort(options, function(a, b) return a.order < b.order end)

local function default_of(o, code)
  local q = code or function(s) return s end
  local d = o.default_doc or (o.default ~= nil and (type(o.default) == "number" and num(o.default) or q(o.default)))
  if o.env then
    d = "$" .. o.env .. (d and (", else " .. d) or "")
  end
  return d or "none"
end

local function range_of(o)
  if o.min == nil then return "" end
  return num(o.min) .. " to " .. num(o.max)
end

-- The kinds, with their lines, from the header (core.error_kinds has the names).
local kinds = {}
for kind, doc in read("src/error_kinds.h"):gmatch('X%((%w[%w_]*), "(.-)"%)') do
  kinds[#kinds + 1] = { name = kind, doc = doc }
end
assert(#kinds == #core.error_kinds, "src/error_kinds.h and core.error_kinds disagree: rebuild (make)")

local gen = {}

function gen.readme_options()
  local out = { "| option | type | default | range | meaning |", "|---|---|---|---|---|" }
  for _, o in ipairs(options) do
    out[#out + 1] = ("| `%s` | %s | %s | %s | %s |"):format(o.name, o.type,
      default_of(o, function(s) return "`" .. s .. "`" end), range_of(o), o.doc)
  end
  return out
end

function gen.readme_kinds()
  local out = { "| `err.kind` | meaning |", "|---|---|" }
  for _, k in ipairs(kinds) do out[#out + 1] = ("| `%s` | %s |"):format(k.name, k.doc) end
  return out
end

function gen.vimdoc_options()
  local out = { "Options of the client (all optional; unknown names raise):" }
  for _, o in ipairs(options) do
    local extra = range_of(o)
    out[#out + 1] = ("  %-23s %s; default: %s%s"):format("`" .. o.name .. "`", o.type, default_of(o),
      extra ~= "" and ("; " .. extra) or "")
  end
  return out
end

local LUA_TYPES = { whole = "integer", ["function"] = "fun(ev: omnihuman.Event)" }
function gen.luacats_options()
  local out = {}
  for _, o in ipairs(options) do
    out[#out + 1] = ("---@field %s? %s %s (default: %s)"):format(o.name, LUA_TYPES[o.type] or o.type, o.doc,
      default_of(o))
  end
  return out
end

function gen.luacats_kinds()
  local out = { "---@alias omnihuman.ErrorKind" }
  for _, k in ipairs(kinds) do out[#out + 1] = ('---| "%s" # %s'):format(k.name, k.doc) end
  return out
end

-- file, begin marker, end marker, generator
local parts = {
  { "docs/api.md", "<!-- options:begin (make docs-gen) -->", "<!-- options:end -->", gen.readme_options },
  { "docs/api.md", "<!-- error-kinds:begin (make docs-gen) -->", "<!-- error-kinds:end -->", gen.readme_kinds },
  { "doc/omnihuman.txt", "<!-- options:begin (make docs-gen) -->", "<!-- options:end -->", gen.vimdoc_options },
  { "lua/omnihuman/types_meta.lua", "-- options:begin (make docs-gen)", "-- options:end", gen.luacats_options },
  { "lua/omnihuman/core_meta.lua", "-- error-kinds:begin (make docs-gen)", "-- error-kinds:end", gen.luacats_kinds },
}

local texts, order = {}, {}
for _, p in ipairs(parts) do
  local file, b, e, make = p[1], p[2], p[3], p[4]
  if not texts[file] then
    texts[file] = { old = read(file) }
    texts[file].new = texts[file].old
    order[#order + 1] = file
  end
  local s = texts[file].new
  local i = s:find(b, 1, true)
  local j = i and s:find(e, i, true)
  assert(i and j, file .. ": markers missing: " .. b .. " ... " .. e)
  local line_end = s:find("\n", i, true)
  texts[file].new = s:sub(1, line_end) .. table.concat(make(), "\n") .. "\n" .. s:sub(j)
end

local bad = 0
for _, file in ipairs(order) do
  local t = texts[file]
  if t.new ~= t.old then
    if check then
      print("stale: " .. file .. " (make docs-gen)")
      bad = bad + 1
    else
      local f = assert(io.open(file, "wb"))
      f:write(t.new)
      f:close()
      print("wrote " .. file)
    end
  end
end

if check then
  -- Every error kind written in the code is declared.
  local declared = {}
  for _, k in ipairs(kinds) do declared[k.name] = true end
  local files = io.popen("ls src/*.c src/*.h; find lua bin -name '*.lua' -o -name omnihuman -type f")
  local patterns = { 'omh_push_error%(L, "([%w_]+)"', 'omh_op_push_error%(op, L, "([%w_]+)"',
                     'omh_op_finish_err%(op, L, "([%w_]+)"', '[%.>]kind = "([%w_]+)"',
                     'new_error%("([%w_]+)"', '[%.:]error%("([%w_]+)"' }
  for file in files:lines() do
    local s = read(file)
    for _, pat in ipairs(patterns) do
      for kind in s:gmatch(pat) do
        if not declared[kind] then
          print(("undeclared error kind '%s' in %s (add it to src/error_kinds.h)"):format(kind, file))
          bad = bad + 1
        end
      end
    end
  end
  files:close()
  print(("docs: %d passed, %d failed"):format(#parts - math.min(bad, #parts), bad))
end
os.exit(bad == 0 and 0 or 1)
