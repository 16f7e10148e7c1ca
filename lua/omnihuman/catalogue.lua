-- The video models of the service and the rules of their create fields,
-- from the model table generated out of the service's API reference
-- (omnihuman.models_data; see tools/models/). A create is checked against
-- its model's rules before anything is sent: a typo or a value the model
-- refuses fails as invalid_input, naming the field, the model and what is
-- allowed, instead of paying for a video made without it.
local data = require("omnihuman.models_data")

local M = {}

-- Keys of a create that are the library's, never sent as fields.
M.OWN_KEYS = { model = true, strict = true, max_audio_seconds = true, allow_unmeasured_audio = true }

-- Local-file short names the core sends as <name>_url (src/body.c).
local SHORT = { image = "image_url", audio = "audio_url", mask = "mask_url" }

local ids
--- Every model id in the table, sorted.
---@return string[]
function M.models()
  if not ids then
    ids = {}
    for id in pairs(data) do ids[#ids + 1] = id end
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
function M.model(id) return copy(data[id]) end

--- The documented audio duration limit of a model's audio_url, if any.
function M.audio_seconds(id)
  local m = data[id]
  local l = m and m.limits and m.limits.audio_url
  return l and l.audio_seconds
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

check = function(v, r, path)
  if r.anyOf then
    local first
    for _, alt in ipairs(r.anyOf) do
      local why = check(v, alt, path)
      if not why then return nil end
      first = first or why
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
    if r.maxLength and #v > r.maxLength then
      return ("%s must be at most %d characters, got %d"):format(path, r.maxLength, #v)
    end
    if r.minLength and #v < r.minLength then
      return ("%s must be at least %d characters, got %d"):format(path, r.minLength, #v)
    end
    if r.file and not is_url(v) then
      return ("%s takes a URL (https://, http:// or data:), got %s%s"):format(path, show(v),
        SHORT[path:match("^([%w_]+)_url$") or ""] and "; pass a local file as " .. path:match("^([%w_]+)_url$")
          or "; local files are taken only as image, audio and mask")
    end
  elseif type(v) == "table" then
    if r.type == "array" then
      if r.minItems and #v < r.minItems then
        return ("%s must have at least %d items, got %d"):format(path, r.minItems, #v)
      end
      if r.maxItems and #v > r.maxItems then
        return ("%s must have at most %d items, got %d"):format(path, r.maxItems, #v)
      end
      if r.items then
        for i = 1, #v do
          why = check(v[i], r.items, ("%s[%d]"):format(path, i))
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
        if not sub then return ("%s has no field %q"):format(path, k) end
        why = check(v[k], sub, path .. "." .. k)
        if why then return why end
      end
    end
  end
end

-- A local file over the size the model's reference states for field.
local function size_limit(m, model, field, name, path)
  local limit = m.limits and m.limits[field] and m.limits[field].audio_bytes
  if not limit then return nil end
  local f = io.open(path, "rb")
  if not f then return nil end -- the core names a missing file
  local size = f:seek("end")
  f:close()
  if size and size > limit then
    return ("%s file '%s' is %d bytes; model %s takes at most %d bytes (%.1f MiB) for %s")
      :format(name, path, size, model, limit, limit / 1048576, field)
  end
end

local function field_names(m)
  local names = {}
  for k in pairs(m.fields) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

--- Checks a create's fields against model's rules. Returns nil when they
--- pass (or the model is not in the table: then `unknown` is true), else
--- the message of an invalid_input error. strict: refuse fields the model
--- does not document (fields named sandbox_* pass: the offline sandbox's
--- controls).
---@return string? why
---@return boolean? unknown
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

-- The first (in sorted order) field of `fields` that model m does not take,
-- or nil. Only built when one exists (a create that passes allocates nothing).
local function first_unknown(m, fields)
  local unknown
  for k in pairs(fields) do
    if type(k) == "string" and not M.OWN_KEYS[k] and not SHORT[k] and m.fields[k] == nil
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

function M.check(model, fields, strict)
  local m = data[model]
  if not m then return nil, true end
  -- Local files (or URLs) given by their short names count as the field.
  for short, as in pairs(SHORT) do
    local v = fields[short]
    if v ~= nil then
      if m.fields[as] == nil and strict then
        return ("%s: model %s takes no %s (its fields: %s; pass strict = false to send it anyway)")
          :format(short, model, as, field_names(m))
      end
      -- Its file is checked by the core (which also refuses both forms at
      -- once), its size against a limit the model states here.
      local why = type(v) == "string" and not is_url(v) and size_limit(m, model, as, short, v)
      if why then return why end
    end
  end
  for _, name in ipairs(m.required or {}) do
    local short = name:match("^([%w]+)_url$")
    if fields[name] == nil and not (SHORT[short or ""] and fields[short] ~= nil) then
      return ("model %s requires %s%s"):format(model, name, SHORT[short or ""] and (" (or " .. short .. ", a local file)") or "")
    end
  end
  local list = fields_of(m)
  for i = 1, #list do
    local k = list[i]
    local v = fields[k]
    if v ~= nil then
      local why = check(v, m.fields[k], k)
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

return M
