-- What a create pays for, as one string: the model, the fields as canonical
-- JSON (keys sorted), each local file replaced by the SHA-256 of its bytes.
-- Two creates with the same fingerprint ask the service for the same video,
-- however their files are named or reached.
local cjson = require("cjson")
local db = require("omnihuman.ledger_db")
local catalogue = require("omnihuman.catalogue")

local M = {}

M.DEFAULT_MODEL = "bytedance/omnihuman"

-- Fields that never reach the service (the library's and the ledger's own).
local LOCAL_ONLY = { max_audio_seconds = true, allow_unmeasured_audio = true, again = true, label = true }

-- The fields as sent and their local files: the model table knows which
-- fields carry files (in arrays and nested objects too) and which short
-- names stand for which field.
local function prepared(model, fields)
  local clean = {}
  for k, v in pairs(fields) do
    if not LOCAL_ONLY[k] and k ~= "model" then clean[k] = v end
  end
  local why, _, sent, files = catalogue.prepare(model, clean, false)
  if why then return clean, {} end -- refused before sending: the create says why
  return sent, files or {}
end

--- The local files of a create's fields: { field (where, as written),
--- path, keys, kind }.
function M.files_of(fields, model)
  local _, files = prepared(fields.model or model or M.DEFAULT_MODEL, fields)
  for _, f in ipairs(files) do f.field = f.label end
  return files
end

-- A copy of the tables on the way to each file, with the file's value set.
local function with_files(sent, files, value_of)
  local out, copied = {}, {}
  for k, v in pairs(sent) do out[k] = v end
  for i, f in ipairs(files) do
    local t = out
    for d = 1, #f.keys - 1 do
      local inner = t[f.keys[d]]
      if not copied[inner] then
        local c = {}
        for k, v in pairs(inner) do c[k] = v end
        copied[c] = true
        t[f.keys[d]], inner = c, c
      end
      t = inner
    end
    t[f.keys[#f.keys]] = value_of(i, f)
  end
  return out
end

local function encode(v, out)
  local t = type(v)
  if t == "table" then
    local n = #v
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if n > 0 and count == n then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
      return
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = cjson.encode(k) .. ":"
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      encode(val, out)
    end
    out[#out + 1] = "}"
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("omnihuman.ledger: a field is not a finite number", 0) end
    out[#out + 1] = (v == math.floor(v) and math.abs(v) < 2 ^ 53) and ("%d"):format(v) or ("%.17g"):format(v)
  elseif t == "string" or t == "boolean" then
    out[#out + 1] = cjson.encode(v)
  elseif v == cjson.null then
    out[#out + 1] = "null"
  else
    error("omnihuman.ledger: a field holds a " .. t, 0)
  end
end

--- Canonical JSON of a Lua value: object keys sorted, integers without a
--- fraction, other numbers with 17 significant digits.
function M.json(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

--- Fingerprint of a create: the fields as the model sends them (short
--- names as their fields), each local file as the SHA-256 of its bytes.
--- Returns fingerprint, request (the canonical JSON with each file's path
--- and digest), model; or nil, message when a file cannot be read.
---@param model string|nil the client's model (fields.model wins)
---@param fields table
function M.fingerprint(model, fields)
  model = fields.model or model or M.DEFAULT_MODEL
  local sent, files = prepared(model, fields)
  local digests = {}
  for i, f in ipairs(files) do
    local digest, msg = db.sha256_file(f.path)
    if not digest then return nil, msg end
    digests[i] = digest
  end
  local bare = with_files(sent, files, function(i) return { sha256 = digests[i] } end)
  local shown = with_files(sent, files, function(i, f)
    local abs = f.path:sub(1, 1) == "/" and f.path or ((db.cwd() or ".") .. "/" .. f.path)
    return { path = abs, sha256 = digests[i] }
  end)
  -- Ledgers written before files were found in every field keyed a local
  -- image, audio or mask by its short name: the same request keeps the same
  -- fingerprint.
  for _, t in ipairs({ bare, shown }) do
    for _, short in ipairs({ "image", "audio", "mask" }) do
      local v = t[short .. "_url"]
      if type(v) == "table" and v.sha256 then t[short], t[short .. "_url"] = v, nil end
    end
  end
  local ok, body = pcall(M.json, { model = model, fields = bare })
  if not ok then return nil, body end
  return db.sha256(body), M.json({ model = model, fields = shown }), model
end

return M
