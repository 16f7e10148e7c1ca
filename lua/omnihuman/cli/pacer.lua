-- How many rows a batch runs at once, and how many creates it may send.
-- Accounts have a concurrency limit that the service enforces with 429: on
-- a refusal the level is halved (once per burst: refusals within `hold`
-- seconds of a cut are the same burst), and each job created raises it by
-- 1/level, so by about one per level's worth of successes (additive
-- increase, multiplicative decrease), between 1 and --concurrency.
-- The create budget (--max-creates) counts creates that may have made a
-- job: a create certainly refused gives its unit back.
local Pacer = {}
Pacer.__index = Pacer

function Pacer.new(max, budget, now, hold)
  return setmetatable({
    max = max, level = max, active = 0,
    budget = budget, used = 0, sent = 0,
    now = now, hold = hold or 1.0, last_cut = nil, cuts = 0,
  }, Pacer)
end

function Pacer:limit() return math.floor(self.level) end

function Pacer:has_room() return self.active < self:limit() end

function Pacer:budget_left()
  return not self.budget or self.used < self.budget
end

-- A create is about to be sent.
function Pacer:take()
  self.used = self.used + 1
  self.sent = self.sent + 1
end

-- The create certainly made no job.
function Pacer:give_back() self.used = self.used - 1 end

-- The service refused a create with 429. Returns old, new level when it cut.
function Pacer:refused()
  local t = self.now()
  if self.last_cut and t - self.last_cut < self.hold then return nil end
  local old = self:limit()
  self.level = math.max(1, math.floor(self.level / 2))
  self.last_cut = t
  self.cuts = self.cuts + 1
  if self:limit() == old then return nil end
  return old, self:limit()
end

-- How long a row refused with 429 stays in the queue: a refusal made no job,
-- so a busy account slows the batch down; only after GIVE_UP seconds of
-- nothing but refusals for that row does it fail.
Pacer.GIVE_UP = 1800
Pacer.MAX_PAUSE = 30

-- Row r's create was refused with 429 (r.refused_since, r.refusals are
-- kept on the row). Returns the pause before it is tried again, or nil
-- when the row has been refused for GIVE_UP seconds.
function Pacer:pause_after_refusal(r, rand)
  local t = self.now()
  r.refused_since = r.refused_since or t
  r.refusals = (r.refusals or 0) + 1
  if t - r.refused_since >= Pacer.GIVE_UP then return nil end
  local step = math.min(Pacer.MAX_PAUSE, 2 ^ math.min(r.refusals, 16))
  return step * (0.5 + 0.5 * (rand or math.random)())
end

-- A job was created. Returns old, new level when the limit grew.
function Pacer:created()
  local old = self:limit()
  self.level = math.min(self.max, self.level + 1 / old)
  if self:limit() ~= old then return old, self:limit() end
  return nil
end

return Pacer
