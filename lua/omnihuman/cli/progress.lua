-- Progress display for the omnihuman CLI.
--   tty:   a live block at the bottom of stderr, one line per active job
--          (spinner, label, status, elapsed time; a bar with bytes, total and
--          rate while downloading), redrawn by tick(); finished jobs and
--          messages scroll above it as permanent lines.
--   plain: one timestamped line per event (status changes, download start
--          and end), for logs and pipes.
--   none:  nothing.
local util = require("omnihuman.cli.util")

local Progress = {}
Progress.__index = Progress

local SPIN = { "|", "/", "-", "\\" }
local MAX_LIVE = 30

function Progress.new(opts)
  local self = setmetatable({
    mode = opts.mode or "plain",
    out = opts.out or io.stderr,
    width = opts.width or 80,
    max_live = math.max(1, math.min(MAX_LIVE, (opts.height or 24) - 3)),
    now = opts.now or util.now,
    jobs = {},        -- active, in order of add
    pending = {},     -- permanent lines waiting for the next draw (tty)
    drawn = 0,        -- live lines on screen
    frame = 0,
    header = nil,     -- optional function() -> text, first live line
  }, Progress)
  return self
end

local function fit(s, w)
  if #s > w then return s:sub(1, math.max(1, w - 1)) .. "~" end
  return s
end

local function pad(s, w)
  s = tostring(s)
  if #s >= w then return s end
  return s .. (" "):rep(w - #s)
end

function Progress:plain_line(text)
  self.out:write(util.timestamp(), " ", text, "\n")
  self.out:flush()
end

-- A permanent message (scrolls above the live block on a terminal).
function Progress:log(text)
  text = util.redact(text)
  if self.mode == "none" then return end
  if self.mode == "plain" then return self:plain_line(text) end
  self.pending[#self.pending + 1] = text
  self:draw()
end

function Progress:add(label)
  local job = { label = label, status = "starting", t0 = self.now(), detail = nil }
  self.jobs[#self.jobs + 1] = job
  self.dirty = true
  return job
end

function Progress:set(job, status, detail)
  local changed = job.status ~= status
  job.status, job.detail = status, detail
  job.got, job.total = nil, nil
  if self.mode == "plain" and changed then
    self:plain_line(job.label .. ": " .. status .. (detail and ("  " .. detail) or ""))
  end
  self.dirty = true
end

function Progress:bytes(job, got, total)
  local t = self.now()
  if not job.got then
    job.win_t, job.win_got, job.rate = t, got, nil
  elseif t - job.win_t >= 0.5 then
    job.rate = (got - job.win_got) / (t - job.win_t)
    job.win_t, job.win_got = t, got
  end
  if not job.rate and t > job.win_t then job.rate = (got - job.win_got) / (t - job.win_t) end
  job.got, job.total = got, total
  job.status = "downloading"
  self.dirty = true
end

function Progress:finish(job, text)
  for i, j in ipairs(self.jobs) do
    if j == job then table.remove(self.jobs, i) break end
  end
  local line = job.label .. ": " .. text .. "  (" .. util.fmt_duration(self.now() - job.t0)
      .. (job.got and (", " .. util.fmt_bytes(job.got)) or "") .. ")"
  if self.mode == "tty" then
    self.pending[#self.pending + 1] = util.redact(line)
    self:draw()
  elseif self.mode == "plain" then
    self:plain_line(util.redact(line))
  end
end

local function bar(got, total, w)
  if not total or total <= 0 then return "[" .. ("?"):rep(w) .. "]" end
  local n = math.floor(w * math.min(got, total) / total + 0.5)
  return "[" .. ("#"):rep(n) .. ("."):rep(w - n) .. "]"
end

function Progress:job_line(job, t)
  local spin = SPIN[(self.frame % #SPIN) + 1]
  local s = spin .. " " .. pad(job.label, 18) .. " " .. pad(job.status, 11) .. " "
      .. pad(util.fmt_duration(t - job.t0), 6)
  if job.got then
    local pct = job.total and job.total > 0 and math.floor(100 * job.got / job.total) or nil
    s = s .. " " .. bar(job.got, job.total, 20) .. " " .. (pct and (pct .. "%") or "")
        .. " " .. util.fmt_bytes(job.got) .. " / " .. (job.total and util.fmt_bytes(job.total) or "?")
        .. (job.rate and ("  " .. util.fmt_bytes(job.rate) .. "/s") or "")
  elseif job.detail then
    s = s .. " " .. job.detail
  end
  return s
end

-- Redraws the live block (tty only): cursor up over the old block, clear to
-- the end of the screen, permanent lines, then the block again.
function Progress:draw()
  if self.mode ~= "tty" then return end
  local t = self.now()
  local w = self.width - 1
  local buf = {}
  if self.drawn > 0 then buf[#buf + 1] = "\r\27[" .. self.drawn .. "A" end
  buf[#buf + 1] = "\r\27[J"
  for _, l in ipairs(self.pending) do buf[#buf + 1] = fit(l, w) .. "\n" end
  self.pending = {}
  local n = 0
  if not self.closed then
    if self.header then
      buf[#buf + 1] = fit(util.redact(self.header()), w) .. "\n"
      n = n + 1
    end
    for i, job in ipairs(self.jobs) do
      if i > self.max_live then
        buf[#buf + 1] = fit("  ... and " .. (#self.jobs - self.max_live) .. " more", w) .. "\n"
        n = n + 1
        break
      end
      buf[#buf + 1] = fit(util.redact(self:job_line(job, t)), w) .. "\n"
      n = n + 1
    end
  end
  self.drawn = n
  self.dirty = false
  self.out:write(table.concat(buf))
  self.out:flush()
end

function Progress:tick()
  self.frame = self.frame + 1
  if self.mode == "tty" then self:draw() end
end

-- Removes the live block (tty); later output starts on a clean line.
function Progress:close()
  if self.closed then return end
  self.closed = true
  if self.mode == "tty" then self:draw() end
end

return Progress
