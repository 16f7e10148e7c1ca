-- The uploads' budget per turn: however many creates with local files are
-- in flight, one drive of the loop reads (encodes and hands to curl) at most
-- loop:upload_budget() bytes of their bodies; the rest waits for a later
-- drive, and every body still arrives whole, byte for byte, at a real
-- server on 127.0.0.1. Uploads paused by the budget survive cancel, close
-- and collection of their op, client and loop (make test-san runs this).
local omnihuman = require("omnihuman")
local catalogue = require("omnihuman.catalogue")
local fixtures = require("spec.support.fixtures")
local body_server = require("spec.support.body_server")
local sh = require("spec.support.sh")

local sha256 = body_server.sha256

-- A PNG signature and n - 8 random bytes (incompressible, like a photo).
local function fake_png(path, n)
  assert(sh.exec(("{ printf '\\211PNG\\r\\n\\032\\n'; head -c %d /dev/urandom; } > %s"):format(n - 8, sh.q(path))))
  return path
end

describe("the uploads' budget per turn", function()
  local bs, dir, img
  setup(function()
    bs = body_server.start()
    dir = fixtures.tmpdir()
    img = fake_png(dir .. "/img.png", 200000)
  end)
  teardown(function()
    bs:stop()
    fixtures.rm_rf(dir)
  end)
  before_each(function() bs:script{} end)

  -- A core client on a loop of the test's own (closing it touches no other spec).
  local function client(loop, extra)
    return omnihuman.core.new_client(loop, fixtures.with({ api_key = fixtures.KEY, base_url = bs.base, timeout = 30,
                                                          max_retries = 0 }, extra))
  end

  -- A create with img and hello.wav inline, as client:create_op sends it.
  local function create(c, prompt)
    local why, _, sent, files = catalogue.prepare(omnihuman.core.options.model.default,
                                                  { image = img, audio = fixtures.WAV, prompt = prompt }, false)
    assert(not why, why)
    return c:create_op(sent, files)
  end

  local function all_done(ops)
    for _, op in ipairs(ops) do if not op:done() then return false end end
    return true
  end

  -- Drives (never blocking long) until every op is done or 60 s pass;
  -- returns the number of drives.
  local function drive(loop, ops)
    local t0, turns = fixtures.now(), 0
    while not all_done(ops) and fixtures.now() - t0 < 60 and turns < 200000 do
      loop:run_once(0.05)
      turns = turns + 1
    end
    return turns
  end

  -- Drives until the budget has paused some upload (at most 200 drives).
  local function until_paused(loop)
    for _ = 1, 200 do
      loop:run_once(0.05)
      local _, _, pauses = loop:upload_budget()
      if pauses > 0 then return pauses end
    end
    error("no upload was paused")
  end

  local function assert_whole(body)
    assert.is_true(body.complete)
    assert.equals(body.declared, body.len)
    assert.equals(sha256(img), body.fields.image_url.sha256)
    assert.equals(sha256(fixtures.WAV), body.fields.audio_url.sha256)
  end

  -- With the default budget, one more create of c is answered, and its
  -- body is the only one that arrived whole (the others were cut short,
  -- recorded in any order).
  local function next_create_whole(loop, c)
    loop:upload_budget(512 * 1024)
    local op = create(c)
    drive(loop, { op })
    assert(op:result())
    local whole = {}
    for _, b in ipairs(bs:records().bodies) do
      if b.complete then whole[#whole + 1] = b end
    end
    assert.equals(1, #whole)
    assert_whole(whole[1])
  end

  it("is 512 KiB unless set; 0 is no bound; it refuses what is not a byte count", function()
    local loop = omnihuman.core.new_loop()
    assert.equals(512 * 1024, (loop:upload_budget()))
    assert.equals(0, (loop:upload_budget(0)))
    assert.has_error(function() loop:upload_budget(-5) end)
    assert.has_error(function() loop:upload_budget(2 ^ 31) end)
    assert.has_error(function() loop:upload_budget("lots") end)
    assert.has_error(function() loop:upload_budget(1.5) end)
    assert.equals(0, (loop:upload_budget()))
    loop:close()
  end)

  -- (body_server.py takes 8 connections at once comfortably: its backlog.)
  it("caps the bytes of every drive with 8 uploads in flight; each of 24 bodies arrives whole", function()
    local loop = omnihuman.core.new_loop()
    local budget = 100003 -- not a multiple of 3 or 4: reads end inside a base64 group
    assert.equals(budget, (loop:upload_budget(budget)))
    local c = client(loop, { max_connections = 8 })
    local ops = {}
    for i = 1, 24 do ops[i] = create(c, "n" .. i) end
    drive(loop, ops)
    for i, op in ipairs(ops) do
      local job, err = op:result()
      assert(job, "create " .. i .. ": " .. tostring(err))
    end
    local _, most, pauses = loop:upload_budget()
    assert.is_true(most <= budget, ("a drive read %d bytes, budget %d"):format(most, budget))
    assert.is_true(most > 0)
    assert.is_true(pauses > 0, "uploads waited for a later drive")
    local bodies = bs:records().bodies
    assert.equals(24, #bodies)
    for _, b in ipairs(bodies) do assert_whole(b) end
    c:close()
    loop:close()
  end)

  it("paces one upload alone over drives, whole", function()
    local loop = omnihuman.core.new_loop()
    loop:upload_budget(16384)
    local c = client(loop)
    local op = create(c)
    local turns = drive(loop, { op })
    assert(op:result())
    local _, most = loop:upload_budget()
    local body = bs:records().bodies[1]
    assert_whole(body)
    assert.is_true(most <= 16384)
    -- At most a budget a drive: it took at least that many drives.
    local least = math.ceil(body.len / 16384)
    assert.is_true(turns >= least, ("%d drives for a %d-byte body"):format(turns, body.len))
    c:close()
    loop:close()
  end)

  it("with no bound, reads bodies without pausing them", function()
    local loop = omnihuman.core.new_loop()
    loop:upload_budget(0)
    local c = client(loop)
    local op = create(c)
    drive(loop, { op })
    assert(op:result())
    local _, _, pauses = loop:upload_budget()
    assert.equals(0, pauses)
    assert_whole(bs:records().bodies[1])
    c:close()
    loop:close()
  end)

  it("lets a paused create be cancelled; the next one goes out whole", function()
    local loop = omnihuman.core.new_loop()
    loop:upload_budget(4096)
    local c = client(loop)
    local op = create(c)
    local other = create(c)
    until_paused(loop)
    assert.is_false(op:done())
    op:cancel()
    other:cancel()
    for _, o in ipairs({ op, other }) do
      local _, err = o:result()
      assert.equals("cancelled", err.kind)
    end
    -- The handles went back to the pool unpaused: the next create reuses one.
    next_create_whole(loop, c)
    c:close()
    loop:close()
  end)

  it("lets uploads end in an error while paused; the next create goes out whole", function()
    local loop = omnihuman.core.new_loop()
    -- A byte a drive for 8 uploads (4 resume a drive): curl's timeout comes
    -- first, some of them paused when it does.
    loop:upload_budget(1)
    local c = client(loop, { timeout = 0.3, max_connections = 8 })
    local ops = {}
    for i = 1, 8 do ops[i] = create(c) end
    drive(loop, ops)
    for _, op in ipairs(ops) do
      local job, err = op:result()
      assert.is_nil(job)
      assert.equals("timeout", err.kind)
    end
    local _, _, pauses = loop:upload_budget()
    assert.is_true(pauses > 8, "pauses: " .. pauses)
    local c2 = client(loop)
    next_create_whole(loop, c2)
    c:close()
    c2:close()
    loop:close()
  end)

  -- A loop whose 4096 bytes a drive keep some of n creates paused.
  local function paused_creates(n)
    local loop = omnihuman.core.new_loop()
    loop:upload_budget(4096)
    local c = client(loop)
    local ops = {}
    for i = 1, n do ops[i] = create(c) end
    until_paused(loop)
    return loop, c, ops
  end

  it("ends paused uploads when their client is closed, and the loop goes on", function()
    local loop, c, ops = paused_creates(4)
    c:close()
    for _ = 1, 5 do loop:run_once(0) end
    for _, op in ipairs(ops) do
      assert.is_true(op:done())
      local job, err = op:result()
      assert.is_nil(job)
      assert.equals("cancelled", err.kind)
    end
    assert.equals(0, loop:transfers())
    loop:close()
  end)

  it("ends paused uploads when their loop is closed", function()
    local loop, _, ops = paused_creates(4)
    loop:close()
    for _, op in ipairs(ops) do
      assert.is_true(op:done())
      local _, err = op:result()
      assert.equals("cancelled", err.kind)
    end
  end)

  it("forgets a paused op that is closed and collected; the loop drives on", function()
    local loop, c, ops = paused_creates(3)
    ops[1]:close()
    ops[2] = nil
    ops[1] = nil
    collectgarbage()
    collectgarbage()
    local last = ops[3]
    loop:upload_budget(512 * 1024)
    drive(loop, { last })
    assert(last:result())
    c:close()
    loop:close()
  end)

  it("starts at most 4 creates between two drives, and the rest in later ones", function()
    local loop = omnihuman.core.new_loop()
    local c = client(loop, { max_connections = 16 })
    local ops = {}
    for i = 1, 12 do ops[i] = create(c) end
    assert.equals(4, loop:transfers())
    loop:run_once(0)
    assert.is_true(loop:transfers() <= 8, "a drive started " .. loop:transfers() - 4)
    drive(loop, ops)
    for _, op in ipairs(ops) do assert(op:result()) end
    -- With no turn budget, nothing holds them back.
    loop:set_turn_budget(0)
    local more = {}
    for i = 1, 6 do more[i] = create(c) end
    assert.equals(6, loop:transfers())
    drive(loop, more)
    c:close()
    loop:close()
  end)
end)
