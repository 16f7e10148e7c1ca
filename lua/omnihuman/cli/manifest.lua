-- Batch manifests: CSV with a header row (RFC 4180 quoting) or JSON Lines.
-- Columns: image | image_url, audio | audio_url, output; any other column is
-- an extra field passed to the create request. Relative paths (inputs and
-- outputs) are relative to the manifest's directory.
local util = require("omnihuman.cli.util")
local catalogue = require("omnihuman.catalogue")
local args = require("omnihuman.cli.args")

local Manifest = {}

-- Splits CSV text into records; each record { line = first line, fields }.
local function csv_records(text)
  local records, errors = {}, {}
  local i, n, line = 1, #text, 1
  if text:sub(1, 3) == "\239\187\191" then i = 4 end -- UTF-8 BOM
  while i <= n do
    local start_line = line
    local fields, field = {}, {}
    local bad
    while true do
      local c = text:sub(i, i)
      if c == '"' and #field == 0 then
        -- quoted field
        i = i + 1
        local closed = false
        while i <= n do
          local d = text:sub(i, i)
          if d == '"' then
            if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 2
            else i = i + 1; closed = true; break end
          else
            if d == "\n" then line = line + 1 end
            field[#field + 1] = d
            i = i + 1
          end
        end
        if not closed then bad = "unterminated quoted field" end
        local e = text:sub(i, i)
        if closed and e ~= "," and e ~= "\n" and e ~= "\r" and e ~= "" then
          bad = "text after a closing quote"
          while i <= n and not text:sub(i, i):match("[,\n]") do i = i + 1 end
        end
      end
      c = text:sub(i, i)
      if c == "," then
        fields[#fields + 1] = table.concat(field); field = {}; i = i + 1
      elseif c == "\n" or c == "" or (c == "\r" and text:sub(i + 1, i + 1) == "\n") or (c == "\r" and i == n) then
        fields[#fields + 1] = table.concat(field)
        if c == "\r" then i = i + 1 end
        i = i + 1
        line = line + 1
        break
      else
        field[#field + 1] = c; i = i + 1
      end
    end
    local blank = #fields == 1 and fields[1]:match("^%s*$")
    if bad then errors[#errors + 1] = { line = start_line, message = bad }
    elseif not blank then records[#records + 1] = { line = start_line, fields = fields } end
  end
  return records, errors
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Reads a manifest; relative paths are relative to folder dir. Returns rows,
-- bad, format or nil, message when the file cannot be used at all. rows:
-- { line, image = {url | path}, audio = {url | path}, output_raw, fields
-- (extra) }; bad: { line, message }.
function Manifest.read(path, dir)
  local text, err = util.readfile(path)
  if not text then return nil, "cannot read manifest: " .. tostring(err) end
  local first = text:match("^%s*(.)")
  local raw, bad, format = {}, {}, nil -- luacheck: ignore 311 (every branch below sets format)
  if first == "{" or path:match("%.jsonl$") or path:match("%.ndjson$") then
    format = "jsonl"
    local ln = 0
    for l in (text .. "\n"):gmatch("([^\n]*)\n") do
      ln = ln + 1
      l = l:gsub("\r$", "")
      if not l:match("^%s*$") and not l:match("^%s*#") then
        local v, derr = util.decode(l)
        if type(v) ~= "table" or v[1] ~= nil then
          bad[#bad + 1] = { line = ln, message = v == nil and ("invalid JSON: " .. tostring(derr)) or "not a JSON object" }
        else
          raw[#raw + 1] = { line = ln, t = v }
        end
      end
    end
  else
    format = "csv"
    local records, errors = csv_records(text)
    for _, e in ipairs(errors) do bad[#bad + 1] = e end
    if #records == 0 then return nil, "manifest has no header row" end
    local header = {}
    for k, h in ipairs(records[1].fields) do header[k] = trim(h):lower() end
    local seen = {}
    for _, h in ipairs(header) do
      if h == "" then return nil, "manifest header (line " .. records[1].line .. ") has an empty column name" end
      if seen[h] then return nil, "manifest header repeats column '" .. h .. "'" end
      seen[h] = true
    end
    -- image and audio are the model's to require (checked per row before anything is sent).
    if not seen.output then
      return nil, "manifest header (line " .. records[1].line .. ") needs an output column"
    end
    for r = 2, #records do
      local rec = records[r]
      if #rec.fields ~= #header then
        bad[#bad + 1] = { line = rec.line, message = ("has %d columns, the header has %d"):format(#rec.fields, #header) }
      else
        local t = {}
        for k, h in ipairs(header) do
          local v = trim(rec.fields[k])
          if v ~= "" then t[h] = args.scalar(v) end
        end
        raw[#raw + 1] = { line = rec.line, t = t }
      end
    end
  end

  local rows = {}
  for _, r in ipairs(raw) do
    local row, why = Manifest.row(r.t, r.line, dir)
    if row then
      rows[#rows + 1] = row
    else
      bad[#bad + 1] = { line = r.line, message = why }
    end
  end
  table.sort(bad, function(a, b) return a.line < b.line end)
  return rows, bad, format
end

-- An input column (name or name_url): { url } or { path }; optional ones
-- (mask) may be absent: false then.
local function input(t, name, dir, optional)
  local v, u = t[name], t[name .. "_url"]
  if v ~= nil and u ~= nil then return nil, "has both " .. name .. " and " .. name .. "_url" end
  v = v or u
  if v == nil or v == util.null or v == "" then
    if optional then return false end
    return nil, "has no " .. name
  end
  if type(v) ~= "string" then return nil, name .. " must be a string" end
  if util.is_url(v) then return { url = v } end
  return { path = util.join(dir, v) } -- checked by the pre-flight
end

-- A file field's local paths made relative to the manifest's folder: the
-- value itself, the items of a list, and the `url` of an object (Runway's
-- {type, url}); URLs and other values stay as they are.
local function relative_to(dir, v)
  if type(v) == "string" then
    if v == "" or util.is_url(v) then return v end
    return util.join(dir, v)
  end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    out[k] = (type(k) == "number" or k == "url") and relative_to(dir, x) or x
  end
  return out
end

local INPUT_COLUMNS = { image = true, image_url = true, audio = true, audio_url = true, mask = true,
                        mask_url = true, output = true }

function Manifest.row(t, line, dir)
  -- Optional here: the row's model says whether it needs them (pre-flight).
  local image, why = input(t, "image", dir, true)
  if image == nil then return nil, why end
  local audio
  audio, why = input(t, "audio", dir, true)
  if audio == nil then return nil, why end
  local mask
  mask, why = input(t, "mask", dir, true)
  if mask == nil then return nil, why end
  local out = t.output
  if type(out) ~= "string" or out == "" then return nil, "has no output" end
  -- output_raw as written; the batch resolves it to a canonical path.
  local row = { line = line, output_raw = out, fields = {} }
  local file_fields = catalogue.file_field_names()
  for k, v in pairs(t) do
    if not INPUT_COLUMNS[k] and v ~= util.null then
      if type(k) ~= "string" or not k:match("^[%w_%.%-]+$") then return nil, "bad column name " .. tostring(k) end
      row.fields[k] = file_fields[k] and relative_to(dir, v) or v
    end
  end
  row.image, row.audio, row.mask = image or nil, audio or nil, mask or nil
  return row
end

-- The create request of a row.
function Manifest.create_fields(row)
  local f = {}
  for k, v in pairs(row.fields) do f[k] = v end
  for _, which in ipairs({ "image", "audio", "mask" }) do
    local given = row[which]
    if given and given.url then f[which .. "_url"] = given.url elseif given then f[which] = given.path end
  end
  return f
end

-- A stable fingerprint of what a row asks for (inputs, by their canonical
-- paths when the caller set them as .real, and extra fields).
function Manifest.fingerprint(row)
  local keys = {}
  for k in pairs(row.fields) do keys[#keys + 1] = k end
  table.sort(keys)
  local function name(i) return i and (i.url or i.real or i.path) or "" end
  local parts = { name(row.image), name(row.audio), name(row.mask) }
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. util.encode(row.fields[k]) end
  return table.concat(parts, "\0")
end

return Manifest
