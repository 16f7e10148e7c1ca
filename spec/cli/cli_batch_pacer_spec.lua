-- A batch row refused with 429 goes back in the queue for as long as an
-- account stays busy (up to Pacer.GIVE_UP seconds of nothing but
-- refusals), with pauses growing to Pacer.MAX_PAUSE: a refusal made no job,
-- so the batch slows down instead of failing the row. On the main of
-- 2026-12-05 a row failed after 8 refusals, about two minutes of 429.
local Pacer = require("omnihuman.cli.pacer")

describe("batch pacer after 429", function()
  local seed = tonumber(os.getenv("SPEC_SEED") or "") or os.time()
  math.randomseed(seed)
  print("cli_batch_pacer_spec seed " .. seed)

  for _, busy in ipairs{ 120, 600, Pacer.GIVE_UP - 60 } do
    it(("keeps a row through %d s of refusals, pauses bounded"):format(busy), function()
      local t = 0
      local p = Pacer.new(4, nil, function() return t end)
      local r = {}
      local n = 0
      while t < busy do
        local pause = p:pause_after_refusal(r)
        assert.is_number(pause, ("gave up at %.1f s after %d refusals"):format(t, n))
        assert.is_true(pause > 0 and pause <= Pacer.MAX_PAUSE)
        n = n + 1
        t = t + pause + math.random() * 5 -- the client's own retries take time too
        assert.is_true(n < 100000)
      end
    end)
  end

  it("gives the row up once it has been refused for GIVE_UP seconds", function()
    local t = 0
    local p = Pacer.new(4, nil, function() return t end)
    local r = {}
    assert.is_number(p:pause_after_refusal(r))
    t = Pacer.GIVE_UP - 1
    assert.is_number(p:pause_after_refusal(r))
    t = Pacer.GIVE_UP
    assert.is_nil(p:pause_after_refusal(r))
  end)

  it("starts with short pauses that double", function()
    local t = 0
    local p = Pacer.new(4, nil, function() return t end)
    local r = {}
    local function one() return 1 end
    assert.equals(2, p:pause_after_refusal(r, one))
    assert.equals(4, p:pause_after_refusal(r, one))
    assert.equals(8, p:pause_after_refusal(r, one))
    assert.equals(16, p:pause_after_refusal(r, one))
    for _ = 1, 40 do assert.equals(Pacer.MAX_PAUSE, p:pause_after_refusal(r, one)) end
  end)
end)
