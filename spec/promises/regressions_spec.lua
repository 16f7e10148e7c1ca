-- One spec per crash or memory error found by the fuzzers (fuzz/), the
-- sanitizers or valgrind. Each names what it guards against; run it under
-- `make test-san` / `make test-valgrind` to see the memory error itself.
local fixtures = require("spec.support.fixtures")

-- Drives op to completion from inside a fresh coroutine, so every C callback
-- of the loop runs on a small coroutine stack (as it does when a scheduler's
-- coroutine calls op:step()). Bounded by 5 s.
local function step_in_coroutine(op)
  local co = coroutine.create(function()
    local t0 = fixtures.now()
    while not op:step() do
      if fixtures.now() - t0 > 5 then return false end
    end
    return true
  end)
  local ok, finished = coroutine.resume(co)
  assert(ok, finished)
  return finished
end

describe("regressions", function()
  local srv
  setup(function() srv = fixtures.start() end)
  teardown(function() srv:stop() end)

  -- Found by answer_fuzz: ASan "CHECK failed ... kAllocBegMagic" (heap
  -- metadata overwritten), then pinned down by answer_fuzz built with an
  -- API-checking Lua (make fuzz-answer-deep): "lua_next: stack overflow" in
  -- json.c strip_nulls, which pushed two slots per nesting level (up to 32
  -- levels) with no lua_checkstack, past the LUA_MINSTACK slots a C function
  -- is given. On a coroutine's small stack that writes Lua values past the
  -- stack's memory: without the fix, this spec under `make test-san` ends in
  -- "AddressSanitizer: attempting free on address which was not malloc()-ed"
  -- inside curl_easy_reset (a curl struct overwritten by Lua pointers).
  -- Fixed by lua_checkstack in strip_nulls.
  it("a deeply nested status answer does not overflow the Lua stack", function()
    local ns = fixtures.ns("reg")
    local deep = string.rep('{"a":', 200) .. "null" .. string.rep("}", 200)
    local body = '{"status":"queued","x":' .. deep .. ',"y":' .. string.rep("[", 200)
        .. "null" .. string.rep("]", 200) .. "}"
    local faults = {}
    for i = 1, 6 do faults[i] = { status = 200, body = body } end
    srv:fault(ns, "poll", faults)
    local c = fixtures.client(srv, ns)
    for _ = 1, 6 do
      local op = c:poll_op("job-1")
      assert.is_true(step_in_coroutine(op))
      local st, err = op:result()
      assert.is_nil(err)
      assert.equals("queued", st.status)
      collectgarbage()
    end
    -- Every depth up to past the 32 levels strip_nulls goes, objects and
    -- arrays, a null at the bottom: where the stack runs out depends on it.
    local shapes = {}
    for d = 1, 40 do
      shapes[#shapes + 1] = '{"status":"queued","x":' .. string.rep('{"a":', d) .. "null"
          .. string.rep("}", d) .. "}"
      shapes[#shapes + 1] = '{"status":"queued","x":' .. string.rep("[", d) .. "null"
          .. string.rep("]", d) .. ',"n":null}'
    end
    local list = {}
    for i, b in ipairs(shapes) do list[i] = { status = 200, body = b } end
    srv:fault(ns, "poll", list)
    for i = 1, #shapes do
      collectgarbage() -- as the fuzzer did: a full GC shrinks stacks in between
      local op = c:poll_op("job-1")
      assert.is_true(step_in_coroutine(op))
      local st, err = op:result()
      assert.is_nil(err, "shape " .. i)
      assert.equals("queued", st.status)
      assert.is_nil(st.n)
    end
    -- And as an error body (read_error_body decodes it too).
    srv:fault(ns, "poll", { { status = 404, body = '{"message":"gone","x":' .. deep .. "}" } })
    local op = c:poll_op("job-1")
    assert.is_true(step_in_coroutine(op))
    local st, err = op:result()
    assert.is_nil(st)
    assert.equals("not_found", err.kind)
    assert.matches("gone", err.message)
  end)
end)
