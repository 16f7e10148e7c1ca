-- What a create pays for, as one string: the model, the fields as canonical
-- JSON (keys sorted), each local file replaced by the SHA-256 of its bytes.
-- Two creates with the same fingerprint ask the service for the same video,
-- however their files are named or reached.
local cjson = require("cjson")
local db = require("omnihuman.ledger_db")

local M = {}

M.DEFAULT_MODEL = "bytedance/omnihuman"

-- Fields that never reach the service (the library's and the ledger's own).
local LOCAL_ONLY = { max_audio_seconds = true, allow_unmeasured_audio = true, again = true, label = true }

-- The fields that take a local file today; <name>_url holds a URL.
local FILE_FIELDS = { "image", "audio", "mask" }

local function is_url(s)
  return s:match("^[Hh][Tt][Tt][Pp][Ss]?://") ~= nil or s:match("^[Dd][Aa][Tt][Aa]:") ~= nil
end

--- The (field, local path) pairs of a create's fields, in field order: the
--- one place that knows which fields carry files.
---@return { field: string, path: string }[]
function M.files_of(fields)
  local out = {}
  for _, name in ipairs(FILE_FIELDS) do
    local v = fields[name]
    if type(v) == "string" and not is_url(v) then out[#out + 1] = { field = name, path = v } end
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

--- Fingerprint of a create. files: the result of files_of (or a catalogue's
--- equivalent). Returns fingerprint, request (the canonical JSON with each
--- file's path and digest), or nil, message when a file cannot be read.
---@param model string|nil the client's model (fields.model wins)
---@param fields table
---@param files? { field: string, path: string }[]
function M.fingerprint(model, fields, files)
  files = files or M.files_of(fields)
  local sent, shown = {}, {}
  for k, v in pairs(fields) do
    if not LOCAL_ONLY[k] and k ~= "model" then sent[k], shown[k] = v, v end
  end
  -- A URL given as `image` goes out as image_url: one spelling for both.
  for _, name in ipairs(FILE_FIELDS) do
    local v = sent[name]
    if type(v) == "string" and is_url(v) then
      sent[name], shown[name] = nil, nil
      sent[name .. "_url"], shown[name .. "_url"] = v, v
    end
  end
  for _, f in ipairs(files) do
    local digest, msg = db.sha256_file(f.path)
    if not digest then return nil, msg end
    sent[f.field] = { sha256 = digest }
    local abs = f.path:sub(1, 1) == "/" and f.path or ((db.cwd() or ".") .. "/" .. f.path)
    shown[f.field] = { path = abs, sha256 = digest }
  end
  model = fields.model or model or M.DEFAULT_MODEL
  local ok, body = pcall(M.json, { model = model, fields = sent })
  if not ok then return nil, body end
  return db.sha256(body), M.json({ model = model, fields = shown }), model
end

return M
