-- Creates built from a model's own rules (the model table): values that
-- satisfy a rule, the smallest valid create of a model, and a local file
-- put wherever a model's fields carry one.
local M = {}

-- A value that satisfies rule r (the first enum value, the minimum, ...).
function M.sample(r)
  if r.anyOf then return M.sample(r.anyOf[1]) end
  if r.enum then return r.enum[1] end
  local t = r.type
  if t == "string" then
    if r.file then return "https://example.test/media/" .. r.file end
    return ("a"):rep(math.max(r.minLength or 1, 1))
  elseif t == "integer" or t == "number" then
    if r.minimum then return math.ceil(r.minimum) end
    if r.maximum then return math.min(1, math.floor(r.maximum)) end
    return 1
  elseif t == "boolean" then
    return true
  elseif t == "array" then
    local out = {}
    for i = 1, math.max(r.minItems or 1, 1) do out[i] = M.sample(r.items or { type = "string" }) end
    return out
  elseif t == "object" then
    local out = {}
    for _, k in ipairs(r.required or {}) do out[k] = M.sample(r.properties[k]) end
    return out
  end
  return "x"
end

-- The smallest create model m (id) accepts: its required fields only.
function M.minimal(id, m)
  local f = { model = id }
  for _, k in ipairs(m.required or {}) do f[k] = M.sample(m.fields[k]) end
  return f
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end
M.sorted_keys = sorted_keys

function M.deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = M.deep_copy(x) end
  return t
end

-- A value for rule r with file_for(kind) at its first file place: value,
-- the keys from the value down to the file, the file's kind; nil when r
-- carries no file.
function M.place(r, file_for)
  if r.anyOf then
    for _, alt in ipairs(r.anyOf) do
      local v, keys, kind = M.place(alt, file_for)
      if v ~= nil then return v, keys, kind end
    end
    return nil
  end
  if r.file and (r.type == nil or r.type == "string") then return file_for(r.file), {}, r.file end
  if r.type == "array" and r.items then
    local v, keys, kind = M.place(r.items, file_for)
    if v == nil then return nil end
    local arr = { v }
    for i = 2, math.max(r.minItems or 1, 1) do arr[i] = M.sample(r.items) end
    table.insert(keys, 1, 1)
    return arr, keys, kind
  end
  if r.properties then
    for _, name in ipairs(sorted_keys(r.properties)) do
      local v, keys, kind = M.place(r.properties[name], file_for)
      if v ~= nil then
        local obj = M.sample(r)
        if type(obj) ~= "table" then obj = {} end
        obj[name] = v
        table.insert(keys, 1, name)
        return obj, keys, kind
      end
    end
  end
  return nil
end

-- Every place a model's fields take a file: { field, value, keys, kind }
-- for each top-level field that carries one (at any depth).
function M.file_places(m, file_for)
  local out = {}
  for _, k in ipairs(sorted_keys(m.fields)) do
    local v, keys, kind = M.place(m.fields[k], file_for)
    if v ~= nil then
      table.insert(keys, 1, k)
      out[#out + 1] = { field = k, value = v, keys = keys, kind = kind }
    end
  end
  return out
end

return M
