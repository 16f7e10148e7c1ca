-- The video models of the service and the rules of their create fields,
-- from the model table generated out of the service's API reference
-- (omnihuman.models_data; see tools/models/). A create is checked against
-- its model's rules before anything is sent: a typo or a value the model
-- refuses fails as invalid_input, naming the field, the model and what is
-- allowed, instead of paying for a video made without it.
local M = {}

-- The table is not kept: ~350 KB of Lua objects held for 141 models, of
-- which a program uses one or two, make every collection cycle of the
-- program's state start later (the collector waits for garbage in
-- proportion to what lives), and a long-running process settles 2-3 MB
-- higher. Each model's rules are taken from a fresh load of the table the
-- first time that model is checked; the ids are kept, the rest collected.
local NAME = "omnihuman.models_data"
-- The last table loaded, until a collection takes it: a walk over every
-- model loads it once (~2 ms), not once a model.
local last = setmetatable({}, { __mode = "v" })
local function load_table()
  if package.loaded[NAME] then return package.loaded[NAME] end
  if last.table then return last.table end
  -- Through the host's own searchers (preload, path, a host's loader),
  -- without leaving the table in package.loaded.
  for _, search in ipairs(package.searchers or package.loaders) do
    local loader, extra = search(NAME)
    if type(loader) == "function" then
      last.table = loader(NAME, extra)
      return last.table
    end
  end
  return require(NAME)
end

local known -- id -> true, every model in the table
local rules_of = {} -- id -> rules, for the models checked so far
local function rules(id)
  if type(id) ~= "string" then return nil end
  local m = rules_of[id]
  if m or (known and not known[id]) then return m end
  local all = load_table()
  if not known then
    known = {}
    for k in pairs(all) do known[k] = true end
  end
  rules_of[id] = all[id]
  return all[id]
end

-- Keys of a create that are the library's, never sent as fields.
M.OWN_KEYS = { model = true, strict = true, max_audio_seconds = true, allow_unmeasured_audio = true }

-- Short names a model not in the table still takes for a local file (or a
-- URL), sent as <name>_url; a model in the table takes <name> for each of
-- its file fields named <name>_url.
local DEFAULT_SHORT = { image = "image", audio = "audio", mask = "image" }
-- The audio limit of a model not in the table (OmniHuman's).
local DEFAULT_AUDIO_SECONDS = 30

local ids
--- Every model id in the table, sorted.
---@return string[]
function M.models()
  if not ids then
    ids = {}
    rules("")
    for id in pairs(known) do ids[#ids + 1] = id end
    table.sort(ids)
  end
  local out = {}
  for i = 1, #ids do out[i] = ids[i] end
  return out
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

--- A model's rules (a copy): fields (each a JSON-schema rule: type, enum,
--- minimum, maximum, minLength, maxLength, minItems, maxItems, items,
--- properties, required, anyOf, default, and `file` = "image" | "audio" |
--- "video" | "file" on a field that carries a file), required, limits
--- (stated in prose: audio_seconds, audio_bytes), source (the reference
--- file). nil for a model not in the table.
---@param id string
---@return table?
function M.model(id)
  if type(id) ~= "string" then error("omnihuman.model: the id must be a string, got " .. type(id), 2) end
  return copy(rules(id))
end

local file_names
--- The names of the fields that carry a file (at any depth of their value)
--- in any model of the table, and their short names: a set.
---@return table<string, true>
function M.file_field_names()
  if not file_names then
    file_names = {}
    local function carries(r)
      if type(r) ~= "table" then return false end
      if r.file then return true end
      for _, sub in pairs(r.properties or {}) do if carries(sub) then return true end end
      for _, alt in ipairs(r.anyOf or {}) do if carries(alt) then return true end end
      return carries(r.items)
    end
    for _, m in pairs(load_table()) do
      for k, r in pairs(m.fields) do
        if carries(r) then
          file_names[k] = true
          local short = k:match("^(.+)_url$")
          if short and m.fields[short] == nil then file_names[short] = true end
        end
      end
    end
    file_names.mask = true
  end
  return file_names
end

-- A string's length as the reference (JSON Schema) counts it: in
-- characters, each UTF-8 sequence one (its continuation bytes not counted).
local function length(s)
  if not s:find("[\128-\255]") then return #s end
  return #s - select(2, s:gsub("[\128-\191]", ""))
end

local function is_integer(v) return type(v) == "number" and v == math.floor(v) and v > -math.huge and v < math.huge end

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

local function allowed_list(enum)
  local parts = {}
  for i = 1, #enum do parts[i] = show(enum[i]) end
  return table.concat(parts, ", ")
end

local function is_array(t)
  if next(t) == nil then return true end
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then return false end
  end
  return true
end

local URL_SCHEMES = { "https://", "http://", "data:" }
local function is_url(s)
  for _, p in ipairs(URL_SCHEMES) do
    if s:sub(1, #p):lower() == p then return true end
  end
  return false
end
M.is_url = is_url

-- The local files a check finds: made only when there is one (a create
-- that sends URLs only allocates nothing here). Each: keys (the path to the
-- value in the fields as sent), label (the path as the caller wrote it),
-- path, kind. loose: strict = false, so fields of nested objects that the
-- reference does not list pass too, as top-level ones do.
local found, keys, depth, loose = nil, {}, 0, false

local function collect(v, r, label)
  found = found or {}
  local at = {}
  for i = 1, depth do at[i] = keys[i] end
  found[#found + 1] = { keys = at, label = label, path = v, kind = r.file }
end

-- Checks value v against rule r at path; returns nil or what is wrong.
local check

local function check_type(v, r, path)
  local t = r.type
  if t == nil then return nil end
  if t == "string" then
    if type(v) ~= "string" then return ("%s must be a string, got %s"):format(path, type(v)) end
  elseif t == "integer" then
    if not is_integer(v) then return ("%s must be a whole number, got %s"):format(path, show(v)) end
  elseif t == "number" then
    if type(v) ~= "number" or v ~= v then return ("%s must be a number, got %s"):format(path, show(v)) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return ("%s must be true or false, got %s"):format(path, show(v)) end
  elseif t == "array" then
    if type(v) ~= "table" or not is_array(v) then return ("%s must be an array (a list), got %s"):format(path, type(v)) end
  elseif t == "object" then
    if type(v) ~= "table" or (next(v) ~= nil and is_array(v)) then
      return ("%s must be an object (a table of named fields), got %s"):format(path, type(v))
    end
  end
end

local function check_at(v, r, path, key)
  depth = depth + 1
  keys[depth] = key
  local why = check(v, r, path)
  keys[depth] = nil
  depth = depth - 1
  return why
end

local function check_table(v, r, path)
  if r.type == "array" then
    if r.minItems and #v < r.minItems then
      return ("%s must have at least %d items, got %d"):format(path, r.minItems, #v)
    end
    if r.maxItems and #v > r.maxItems then
      return ("%s must have at most %d items, got %d"):format(path, r.maxItems, #v)
    end
    if r.items then
      for i = 1, #v do
        local why = check_at(v[i], r.items, ("%s[%d]"):format(path, i), i)
        if why then return why end
      end
    end
  elseif r.properties then
    for _, name in ipairs(r.required or {}) do
      if v[name] == nil then return ("%s.%s is required"):format(path, name) end
    end
    local names = {}
    for k in pairs(v) do names[#names + 1] = tostring(k) end
    table.sort(names)
    for _, k in ipairs(names) do
      local sub = r.properties[k]
      if not sub and not loose then return ("%s has no field %q"):format(path, k) end
      local why = sub and check_at(v[k], sub, path .. "." .. k, k)
      if why then return why end
    end
  end
end

check = function(v, r, path)
  if r.anyOf then
    local first
    local n = found and #found or 0
    for _, alt in ipairs(r.anyOf) do
      local why = check(v, alt, path)
      if not why then return nil end
      first = first or why
      for i = #(found or {}), n + 1, -1 do found[i] = nil end -- files of a failed alternative
    end
    return first
  end
  local why = check_type(v, r, path)
  if why then return why end
  if r.enum then
    local ok = false
    for _, e in ipairs(r.enum) do if e == v then ok = true break end end
    if not ok then return ("%s must be one of %s, got %s"):format(path, allowed_list(r.enum), show(v)) end
  end
  if type(v) == "number" then
    if r.minimum and v < r.minimum then return ("%s must be at least %s, got %s"):format(path, show(r.minimum), show(v)) end
    if r.maximum and v > r.maximum then return ("%s must be at most %s, got %s"):format(path, show(r.maximum), show(v)) end
  elseif type(v) == "string" then
    if r.file and not is_url(v) then
      if v == "" then return ("%s: an empty string is neither a URL nor a file"):format(path) end
      collect(v, r, path) -- a local file: the core checks it and sends it inline
      return nil
    end
    local n = (r.maxLength or r.minLength) and length(v)
    if r.maxLength and n > r.maxLength then
      return ("%s must be at most %d characters, got %d"):format(path, r.maxLength, n)
    end
    if r.minLength and n < r.minLength then
      return ("%s must be at least %d characters, got %d"):format(path, r.minLength, n)
    end
  elseif type(v) == "table" then
    return check_table(v, r, path)
  end
end

local function field_names(m)
  local names = {}
  for k in pairs(m.fields) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

-- Per model, its field names sorted (made once): checks walk them in a
-- fixed order without building a table per create.
local sorted_fields = {}
local function fields_of(m)
  local list = sorted_fields[m]
  if not list then
    list = {}
    for k in pairs(m.fields) do list[#list + 1] = k end
    table.sort(list)
    sorted_fields[m] = list
  end
  return list
end

-- The field a short name stands for in model m (nil: not a short name).
local function short_of(m, k)
  if type(k) ~= "string" or M.OWN_KEYS[k] or m.fields[k] ~= nil then return nil end
  local as = k .. "_url"
  if m.fields[as] ~= nil then return as end
end

-- The first (in sorted order) field of `fields` that model m does not take,
-- or nil. Only built when one exists (a create that passes allocates nothing).
local function first_unknown(m, fields)
  local unknown
  for k in pairs(fields) do
    if type(k) == "string" and not M.OWN_KEYS[k] and m.fields[k] == nil and not short_of(m, k)
        and not k:match("^sandbox_") then
      unknown = unknown or {}
      unknown[#unknown + 1] = k
    end
  end
  if unknown then
    table.sort(unknown)
    return unknown[1]
  end
end

-- Short names in use: { [short] = field }, or nil (none); or nil, why, misuse.
local function shorts_in(m, fields, model, strict)
  local shorts
  for k in pairs(fields) do
    local as = m and short_of(m, k)
    local default = not as and DEFAULT_SHORT[k] and (not m or m.fields[k] == nil)
    if default then as = k .. "_url" end
    if as and fields[as] ~= nil then return nil, ("give %s or %s, not both"):format(k, as), true end
    if default and m and strict then
      return nil, ("%s: model %s takes no %s (its fields: %s; pass strict = false to send it anyway)")
        :format(k, model, as, field_names(m))
    end
    if as then
      shorts = shorts or {}
      shorts[k] = as
    end
  end
  return shorts
end

-- A short name's value checked as its field (files labelled by the short name).
local function check_shorts(m, fields, shorts)
  for k, as in pairs(shorts) do
    local r = m and m.fields[as] or { type = "string", file = DEFAULT_SHORT[k] }
    local why = check_at(fields[k], r, k, as)
    if why then return why end
  end
end

local function check_model(m, model, fields, strict, shorts)
  for _, name in ipairs(m.required or {}) do
    local short = name:match("^(.+)_url$")
    if fields[name] == nil and not (shorts and short and shorts[short] == name) then
      return ("model %s requires %s%s"):format(model, name,
        short and m.fields[short] == nil and (" (or " .. short .. ", a local file)") or "")
    end
  end
  local list = fields_of(m)
  for i = 1, #list do
    local k = list[i]
    local v = fields[k]
    if v ~= nil then
      local why = check_at(v, m.fields[k], k, k)
      if why then return why .. (" (model %s)"):format(model) end
    end
  end
  if strict then
    local k = first_unknown(m, fields)
    if k then
      return ("unknown field %q for model %s (its fields: %s; pass strict = false to send it anyway)")
        :format(k, model, field_names(m))
    end
  end
end

--- Checks a create's fields against model's rules. Returns nil when they
--- pass (or the model is not in the table: then `unknown` is true), else
--- the message of an invalid_input error (misuse true: a mistake in the
--- program, such as a field given both as <name> and <name>_url). strict:
--- refuse fields the model does not document (fields named sandbox_* pass:
--- the offline sandbox's controls). files: the local files found (or nil),
--- each { keys, label, path, kind }.
---@return string? why
---@return boolean? unknown
---@return table? shorts
---@return table? files
---@return boolean? misuse
function M.check(model, fields, strict)
  local m = rules(model)
  found, depth, loose = nil, 0, not strict
  local shorts, why, misuse = shorts_in(m, fields, model, strict)
  if why then return why, nil, nil, nil, misuse end
  if shorts then why = check_shorts(m, fields, shorts) end
  if not why and m then why = check_model(m, model, fields, strict, shorts) end
  local files = found
  found = nil
  if why then return why end
  return nil, m == nil, shorts, files
end

-- Placeholders of local files in the fields handed to the core: unique to
-- this process (the core refuses one that stands anywhere else too).
local NONCE = ("%x"):format(os.time() % 0x7fffffff) .. (tostring({}):gsub("[^%w]", ""))

-- The fields as sent: short names renamed, each local file replaced by its
-- placeholder (the tables on its way copied, the caller's untouched).
local function as_sent(fields, shorts, files)
  local sent, copied = {}, {}
  for k, v in pairs(fields) do sent[k] = v end
  copied[sent] = true
  for k, as in pairs(shorts or {}) do
    sent[as], sent[k] = sent[k], nil
  end
  for i, f in ipairs(files or {}) do
    local t = sent
    for d = 1, #f.keys - 1 do
      local key = f.keys[d]
      local inner = t[key]
      if not copied[inner] then
        local c = {}
        for k, v in pairs(inner) do c[k] = v end
        copied[c] = true
        t[key], inner = c, c
      end
      t = inner
    end
    f.token = ("omh-file:%s:%d"):format(NONCE, i)
    t[f.keys[#f.keys]] = f.token
  end
  return sent
end

--- What a create sends for model: why, unknown, sent, files (see check). sent
--- is fields itself when nothing needs renaming or replacing; files is the
--- list client:create_op takes (token, path, kind, label and the model's
--- limits for the field), or nil.
function M.prepare(model, fields, strict)
  local why, unknown, shorts, files, misuse = M.check(model, fields, strict)
  if why then return why, nil, nil, nil, misuse end
  if not shorts and not files then return nil, unknown, fields end
  local sent = as_sent(fields, shorts, files)
  for _, f in ipairs(files or {}) do
    f.max_seconds, f.max_bytes, f.limit_note = M.file_limits(model, f.keys[1], f.kind)
  end
  return nil, unknown, sent, files
end

--- The limits a model's reference states for a local file in field (a
--- top-level field name) of the given kind: max_seconds (audio or video
--- must be shorter), max_bytes, and a note saying where a default comes
--- from. A model not in the table: OmniHuman's 30 s for audio.
function M.file_limits(model, field, kind)
  local m = rules(model)
  if not m then
    if kind == "audio" then return DEFAULT_AUDIO_SECONDS, nil, "the default: a model not in the table" end
    return nil
  end
  local l = m.limits and m.limits[field]
  if not l then return nil end
  return kind == "audio" and l.audio_seconds or kind == "video" and l.video_seconds or nil, l.audio_bytes or l.bytes
end

return M
