-- The key, against a hostile server: a server that echoes the bearer token
-- in every place it can (error messages, request ids in headers and JSON,
-- status strings, generation errors, any field of an answer, JSON-escaped,
-- cut in half), at every length around each cut the library makes. No
-- piece of the key of 4 or more characters may reach the user: not in an
-- error, its message, its request id, its result, an event or a callback's
-- argument.
local omnihuman = require("omnihuman")
local core = omnihuman.core
local fixtures = require("spec.support.fixtures")

local KEY = fixtures.KEY
local MIN_PIECE = 4

-- Every piece of the key of MIN_PIECE or more characters found in s.
local function pieces_in(s)
  local found = {}
  for len = #KEY, MIN_PIECE, -1 do
    for i = 1, #KEY - len + 1 do
      local piece = KEY:sub(i, i + len - 1)
      if s:find(piece, 1, true) then
        found[#found + 1] = piece
        return found
      end
    end
  end
  return found
end

-- Every string reachable from v (keys and values, metatables' __tostring).
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  local t = type(v)
  if t == "string" then
    out[#out + 1] = v
  elseif t == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings(k, out, seen)
      strings(x, out, seen)
    end
    local mt = getmetatable(v)
    if mt and mt.__tostring then out[#out + 1] = tostring(v) end
  end
  return out
end

local function assert_clean(where, v)
  for _, s in ipairs(strings(v)) do
    local p = pieces_in(s)
    if #p > 0 then
      error(("%s: a piece of the key (%q) reached the user in %q"):format(where, p[1], s), 2)
    end
  end
end

local function pad(n) return ("x"):rep(n) end

local function json_string(s) return '"' .. s:gsub('[%c"\\]', function(c) return ("\\u%04x"):format(c:byte()) end) .. '"' end

-- JSON escapes spell the key without a single plain occurrence of it.
local function escaped(s) return (s:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)) end

describe("the key against a hostile server #slow", function()
  local srv
  setup(function() srv = fixtures.start{ tls = false } end)
  teardown(function() srv:stop() end)

  -- Runs one op with every observation point collected.
  local function observe(ns, start)
    local seen = { events = {}, statuses = {} }
    local c = fixtures.client(srv, ns, {
      max_retries = 0, timeout = 3,
      on_event = function(ev) seen.events[#seen.events + 1] = ev end,
    })
    local ok, res, err = pcall(start, c, seen)
    seen.raised = not ok and res or nil
    seen.res, seen.err = ok and res or nil, ok and err or nil
    return seen
  end

  local function check(where, seen)
    assert_clean(where .. " (result)", seen.res)
    assert_clean(where .. " (error)", seen.err)
    if seen.err then assert_clean(where .. " (tostring)", tostring(seen.err)) end
    assert_clean(where .. " (raised)", seen.raised)
    assert_clean(where .. " (events)", seen.events)
    assert_clean(where .. " (on_status)", seen.statuses)
  end

  -- Lengths that put the key across each of the given cuts (every third
  -- position of it, both ends included), and 0.
  local function around(cuts)
    local out = { 0 }
    for _, cut in ipairs(cuts) do
      for d = -#KEY - 10, 2, 4 do
        if cut + d >= 0 then out[#out + 1] = cut + d end
      end
    end
    return out
  end
  local MESSAGE_CUTS = around({ 512, 600, 768, 1024 }) -- our messages, before and after the notes
  local ID_CUTS = around({ 96, 128 })                  -- request ids
  local STATUS_CUTS = around({ 32, 600 })              -- a status string; a generation error

  local function create(c) return c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" } end

  it("error message (string and array), request ids in JSON and headers, at every cut", function()
    local cases = 0
    local offsets = {}
    for _, n in ipairs(MESSAGE_CUTS) do offsets[#offsets + 1] = n end
    for _, n in ipairs(ID_CUTS) do offsets[#offsets + 1] = n end
    for _, n in ipairs(offsets) do
      local echo = pad(n) .. KEY .. " and more"
      local bodies = {
        '{"message":' .. json_string(echo) .. ',"statusCode":"400","requestId":' .. json_string(echo) .. "}",
        '{"message":[' .. json_string(echo) .. '],"statusCode":400}',
        '{"message":"' .. pad(n) .. escaped(KEY) .. '","requestId":"' .. pad(n) .. escaped(KEY) .. '"}',
      }
      for _, body in ipairs(bodies) do
        local ns = fixtures.ns("k")
        srv:fault(ns, "create", { { status = 400, body = body,
          headers = { ["X-Request-Id"] = echo, ["requestId"] = echo } } })
        local seen = observe(ns, create)
        assert.equals("invalid_input", seen.err and seen.err.kind)
        check(("400 body, offset %d"):format(n), seen)
        cases = cases + 1
      end
    end
    assert.is_true(cases > 100)
  end)

  it("pieces a sender cut itself, at either end of a string", function()
    for len = MIN_PIECE, #KEY - 1 do
      local ns = fixtures.ns("k")
      local head, tail = KEY:sub(1, len), KEY:sub(#KEY - len + 1)
      srv:fault(ns, "create", { { status = 400,
        body = '{"message":' .. json_string(tail .. " middle " .. head) .. "}",
        headers = { ["X-Request-Id"] = head } } })
      check("piece of " .. len, observe(ns, create))
    end
  end)

  it("5xx HTML and curl's own messages", function()
    for _, n in ipairs({ 0, 100, 200, 230, 250 }) do
      local ns = fixtures.ns("k")
      srv:fault(ns, "poll", { { status = 502, body = "<html>" .. pad(n) .. KEY .. "</html>" } })
      check("502 html " .. n, observe(ns, function(c) return c:poll("some-id") end))
    end
  end)

  it("status strings, generation errors and unknown fields of answers", function()
    for _, n in ipairs(STATUS_CUTS) do
      do
        local ns = fixtures.ns("k")
        local echo = pad(n) .. KEY
        -- create answers with the key everywhere, then a pending status that
        -- is the key, then a failure whose message is the key.
        srv:fault(ns, "create", { { status = 200, body = '{"id":"job-' .. n .. '","status":' .. json_string(echo)
          .. ',"meta":{"usage":{"credits_used":5,"note":' .. json_string(echo) .. '}},'
          .. json_string(KEY) .. ':1}' } })
        srv:fault(ns, "poll", {
          { status = 200, body = '{"id":"job","status":' .. json_string(echo) .. ',"extra":[' .. json_string(echo) .. "]}" },
          { status = 200, body = '{"id":"job","status":"error","error":{"name":' .. json_string(echo)
            .. ',"message":' .. json_string(echo) .. "}}" },
        })
        local seen = observe(ns, function(c, s)
          local job = assert(c:create{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" })
          s.job = job
          return c:wait(job.id, { interval = 0.01, on_status = function(st) s.statuses[#s.statuses + 1] = st end })
        end)
        assert_clean("create answer " .. n, seen.job)
        assert.equals("generation_failed", seen.err and seen.err.kind)
        check("status/error " .. n, seen)
        -- An unknown status held until the deadline: the timeout message quotes it.
        ns = fixtures.ns("k")
        srv:fault(ns, "poll", { { status = 200, body = '{"id":"j","status":' .. json_string(echo) .. "}" } })
        seen = observe(ns, function(c) return c:wait("j", { interval = 5, timeout = 0.05 }) end)
        assert.equals("timeout", seen.err and seen.err.kind)
        check("timeout " .. n, seen)
      end
    end
  end)

  it("every cut of the redactor keeps no piece of the key", function()
    local s = 0
    for n = 0, 40 do
      local input = pad(n) .. KEY .. pad(3) .. KEY:sub(1, 10)
      for cap = 1, #input + 12 do
        local out = core._redact(KEY, input, cap)
        assert.is_true(#out < cap)
        assert.same({}, pieces_in(out), ("n=%d cap=%d -> %q"):format(n, cap, out))
        s = s + 1
      end
    end
    assert.equals("abc[redacted]def", core._redact(KEY, "abc" .. KEY .. "def", 100))
    assert.equals("plain text", core._redact(KEY, "plain text", 100))
    assert.is_true(s > 1000)
  end)

  it("never changes a job id that merely shares an end of the key", function()
    local decode = require("omnihuman").core._json_decode
    -- 1 in 65,536 UUIDs starts with any given 4 hex digits: an id that
    -- starts or ends like the key's end or start is still the job's id.
    for len = 4, #KEY - 1 do
      local tail, head = KEY:sub(-len), KEY:sub(1, len)
      for _, id in ipairs({ tail .. "a49c-75ee-4ff5:bytedance/omnihuman", "0000a49c-" .. head }) do
        local t = assert(decode(('{"id":"%s","status":"queued","error":{"message":"%s"}}'):format(id, id), KEY))
        assert.equals(id, t.id)
        assert.same({}, pieces_in(t.error.message), t.error.message) -- other strings: pieces dropped
      end
    end
    -- An id holding the whole key is redacted like any string.
    local t = assert(decode(('{"id":"x%sy"}'):format(KEY), KEY))
    assert.same({}, pieces_in(t.id))
  end)
end)
