-- omnihuman models [NAME] [--json]: the models of the library's table and
-- the documented fields of one of them. Offline: no request is made.
local catalogue = require("omnihuman.catalogue")
local exit = require("omnihuman.cli.exit")

local M = {}

-- "string, one of 4, 6, 8", "integer 1..10", "array of image (URL or local file), 1 to 9 items" ...
local function describe(r)
  if r.anyOf then
    local parts = {}
    for i, alt in ipairs(r.anyOf) do parts[i] = describe(alt) end
    return table.concat(parts, " | ")
  end
  local t = r.type or "any"
  if r.file then t = r.file .. " (URL or local file)" end
  local extra = {}
  if r.enum then
    local v = {}
    for i, e in ipairs(r.enum) do v[i] = tostring(e) end
    extra[#extra + 1] = "one of " .. table.concat(v, ", ")
  end
  if r.minimum or r.maximum then
    extra[#extra + 1] = ("%s..%s"):format(r.minimum and tostring(r.minimum) or "", r.maximum and tostring(r.maximum) or "")
  end
  if r.maxLength then extra[#extra + 1] = ("at most %d characters"):format(r.maxLength) end
  if r.type == "array" then
    t = "array of " .. (r.items and describe(r.items) or "any")
    if r.minItems or r.maxItems then
      extra[#extra + 1] = ("%s to %s items"):format(tostring(r.minItems or 0), r.maxItems and tostring(r.maxItems) or "any")
    end
  elseif r.type == "object" and r.properties then
    local names = {}
    for k in pairs(r.properties) do names[#names + 1] = k end
    table.sort(names)
    t = "object {" .. table.concat(names, ", ") .. "}"
  end
  if r.default ~= nil then extra[#extra + 1] = "default " .. tostring(r.default) end
  return #extra > 0 and (t .. ", " .. table.concat(extra, ", ")) or t
end

M.command = {
  usage = "models [NAME]",
  summary = "List the video models the library knows, or the documented fields of one.\n"
    .. "Offline: read from the library's model table (see docs/models.md).",
  options = {},
  run = function(ctx, opts)
    local name = opts.args[1]
    if #opts.args > 1 then return nil, { usage = true, message = "models takes at most one model name" } end
    if not name then
      local ids = catalogue.models()
      if opts.json then ctx:print_json(ids) else ctx:say(table.concat(ids, "\n")) end
      return exit.OK
    end
    local m = catalogue.model(name)
    if not m then
      local msg = "model '" .. name .. "' is not in the table (omnihuman models lists them);"
        .. " creates for it are sent unchecked"
      if opts.json then ctx:print_json({ ok = false, error = { kind = "invalid_input", message = msg } }) end
      io.stderr:write("omnihuman: ", msg, "\n")
      return exit.USAGE
    end
    if opts.json then
      m.id = name
      m.required = require("omnihuman.cli.util").array(m.required) -- a list, [] when none is
      ctx:print_json(m)
      return exit.OK
    end
    local required = {}
    for _, k in ipairs(m.required or {}) do required[k] = true end
    local names = {}
    for k in pairs(m.fields) do names[#names + 1] = k end
    table.sort(names)
    local lines = { name .. " (" .. m.source .. ")", "" }
    for _, k in ipairs(names) do
      lines[#lines + 1] = ("  %-26s %-9s %s"):format(k, required[k] and "required" or "", describe(m.fields[k]))
    end
    for field, l in pairs(m.limits or {}) do
      for what, v in pairs(l) do lines[#lines + 1] = ("  limit: %s %s %s"):format(field, what, tostring(v)) end
    end
    ctx:say(table.concat(lines, "\n"))
    return exit.OK
  end,
}

return M
