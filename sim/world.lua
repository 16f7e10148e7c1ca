-- One schedule's world: a manifest folder (with a symlink to it, a side
-- folder and media files), N rows whose outputs go to a folder that does not
-- exist yet, and random spellings of everything: each run may rewrite the
-- manifest with other spellings of the same outputs, in another order, as
-- CSV or JSON Lines, and start from another folder naming the manifest by
-- another path.
local sh = require("spec.support.sh")
local files = require("spec.support.files")
local cjson = require("cjson")

local World = {}
World.__index = World

local IMG, AUD = "https://cdn.example/face.png", "https://cdn.example/voice.mp3"

local function must_run(cmd) assert(sh.exec(cmd), cmd) end

-- rng(n): 1..n; rng(): [0, 1).
function World.new(root, idx, rng, nrows)
  local base = ("%s/s%d"):format(root, idx)
  local self = setmetatable({ base = base, home = base .. "/home", nrows = nrows, rng = rng }, World)
  self.link = base .. "/home-link"
  self.side = base .. "/elsewhere"
  self.outdir = ({ "out", "out/deep/er" })[rng(2)]
  must_run(("mkdir -p %s/aux %s/media %s && ln -s home %s"):format(sh.q(self.home), sh.q(self.home), sh.q(self.side),
    sh.q(self.link)))
  must_run(("cp examples/media/portrait.png %s/media/face.png && cp examples/media/hello.wav %s/media/voice.wav")
    :format(sh.q(self.home), sh.q(self.home)))
  self.manifest = self.home .. "/jobs.csv"
  self.journal = self.manifest .. ".journal.jsonl"
  self.rows = {}
  for i = 1, nrows do
    local rel = ("%s/r%d.mp4"):format(self.outdir, i)
    self.rows[i] = {
      tag = "r" .. i, key = rel, path = self.home .. "/" .. rel,
      polls = rng(3) - 1,
      -- one row in three sends local files (pre-flight, uploads), the rest URLs
      image = rng(3) == 1 and "media/face.png" or IMG,
      audio = rng(3) == 1 and "media/voice.wav" or AUD,
    }
  end
  self.by_key = {}
  for _, r in ipairs(self.rows) do self.by_key[r.key] = r end
  self:rewrite()
  return self
end

-- One random spelling of row r's output, as a manifest cell.
function World:spell(r)
  local rel, home = r.key, self.home
  local name = home:match("[^/]+$")
  local choices = {
    rel, "./" .. rel, (rel:gsub("/r", "//r")), home .. "/" .. rel, self.link .. "/" .. rel,
    "aux/../" .. rel, "nothere/../" .. rel, "../" .. name .. "/" .. rel, "./aux/./../" .. rel,
  }
  return choices[self.rng(#choices)]
end

-- Writes the manifest: random order, spellings and format.
function World:rewrite()
  local order = {}
  for i = 1, self.nrows do order[i] = i end
  for i = #order, 2, -1 do
    local j = self.rng(i)
    order[i], order[j] = order[j], order[i]
  end
  local lines = {}
  local jsonl = self.rng(4) == 1
  if not jsonl then lines[1] = "image,audio,output,sandbox_polls,sandbox_tag" end
  for _, i in ipairs(order) do
    local r = self.rows[i]
    local out = self:spell(r)
    if jsonl then
      lines[#lines + 1] = cjson.encode({ image = r.image, audio = r.audio, output = out,
                                         sandbox_polls = r.polls, sandbox_tag = r.tag })
    else
      lines[#lines + 1] = ("%s,%s,%s,%d,%s"):format(r.image, r.audio, out, r.polls, r.tag)
    end
  end
  files.write(self.manifest, table.concat(lines, "\n") .. "\n")
end

-- A working folder and a spelling of the manifest's path from it.
function World:invocation()
  local home, name = self.home, self.home:match("[^/]+$")
  local places = {
    { self.home, { "jobs.csv", "./jobs.csv", "aux/../jobs.csv" } },
    { self.base, { name .. "/jobs.csv", "home-link/jobs.csv" } },
    { self.side, { "../home/jobs.csv", "../home-link/./jobs.csv" } },
    { "/", { home:sub(2) .. "/jobs.csv" } },
    { self.home .. "/aux", { "../jobs.csv" } },
  }
  local p = places[self.rng(#places)]
  local spelled = p[2][self.rng(#p[2])]
  if self.rng(3) == 1 then -- an absolute spelling instead
    spelled = ({ self.manifest, self.link .. "/jobs.csv", home .. "/aux/../jobs.csv" })[self.rng(3)]
  end
  return p[1], spelled
end

-- Stale download files beside the outputs.
function World:parts()
  local out = {}
  local p = io.popen("ls -A " .. sh.q(self.home .. "/" .. self.outdir) .. " 2>/dev/null")
  for name in p:lines() do
    if name:match("%.part%-") then out[#out + 1] = name end
  end
  p:close()
  return out
end

function World:destroy()
  sh.exec("rm -rf " .. sh.q(self.base))
end

return World
