-- The progress display: the renderer with a fake clock, then for real on a
-- terminal: a pty through script(1) replayed on a small terminal model,
-- and tmux (capture-pane) when tmux is installed.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local Progress = require("omnihuman.cli.progress")

local SPIN = "[|/\\%-]"

local function sink()
  local s = { buf = {} }
  function s:write(...) for _, v in ipairs{ ... } do self.buf[#self.buf + 1] = v end end
  function s:flush() end
  function s:text() return table.concat(self.buf) end
  return s
end

describe("progress renderer #slow", function()
  it("draws one line per job, a download bar with bytes, total and rate, and redraws in place", function()
    local t = 100
    local out = sink()
    local P = Progress.new{ mode = "tty", out = out, width = 100, height = 30, now = function() return t end }
    P.header = function() return "batch m.csv: 0/2 finished" end
    local a, b = P:add("L2 a.mp4"), P:add("L3 b.mp4")
    P:set(a, "generating", "1234abcd")
    P:set(b, "queued")
    t = 112
    P:bytes(b, 0, 2097152)
    t = 113
    P:bytes(b, 1048576, 2097152)
    P:tick()
    local screen = cli.vt(out:text(), 100)
    assert.same({
      "batch m.csv: 0/2 finished",
      "/ L2 a.mp4           generating  0:13   1234abcd",
      "/ L3 b.mp4           downloading 0:13   [##########..........] 50% 1.0 MiB / 2.0 MiB  1.0 MiB/s",
    }, screen)
    P:finish(a, "done -> a.mp4")
    P:close()
    screen = cli.vt(out:text(), 100)
    assert.same({ "L2 a.mp4: done -> a.mp4  (0:13)" }, screen)
  end)

  it("keeps lines within the width and the block within the height", function()
    local out = sink()
    local P = Progress.new{ mode = "tty", out = out, width = 40, height = 8, now = function() return 0 end }
    for i = 1, 9 do P:set(P:add("job-" .. i .. "-with-a-long-label"), "generating", ("x"):rep(60)) end
    P:tick()
    local screen = cli.vt(out:text(), 40)
    assert.equals(6, #screen) -- 5 jobs + "... and 4 more"
    for _, l in ipairs(screen) do assert.is_true(#l <= 39, l) end
    assert.equals("  ... and 4 more", screen[6])
  end)

  it("writes timestamped lines when plain, nothing when none", function()
    local out = sink()
    local P = Progress.new{ mode = "plain", out = out, now = function() return 0 end }
    local j = P:add("x.mp4")
    P:set(j, "queued")
    P:set(j, "queued") -- no change, no line
    P:bytes(j, 10, 20)
    P:finish(j, "done")
    local lines = {}
    for l in out:text():gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equals(2, #lines)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ x%.mp4: queued$", lines[1])
    assert.matches("x%.mp4: done  %(0:00, 10 B%)$", lines[2])
    local quiet = sink()
    local Q = Progress.new{ mode = "none", out = quiet }
    Q:set(Q:add("y"), "queued")
    Q:log("hello")
    assert.equals("", quiet:text())
  end)
end)

describe("progress on a real terminal", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); os.execute('rm -rf "' .. dir .. '"') end)

  local function manifest(d, rows, polls)
    local lines = { "image_url,audio_url,output,sandbox_polls" }
    for i = 1, rows do lines[#lines + 1] = ("https://x/a.png,https://x/a.mp3,out%d.mp4,%d"):format(i, polls) end
    os.execute('mkdir -p "' .. d .. '"')
    fixtures.write(d .. "/m.csv", table.concat(lines, "\n") .. "\n")
    return d .. "/m.csv"
  end

  local function check_final(screen, rows)
    local text = table.concat(screen, "\n")
    assert.matches(rows .. " rows: " .. rows .. " done", text)
    for _, l in ipairs(screen) do
      assert.is_nil(l:match("^" .. SPIN .. " L%d"), "a live line was left on the screen: " .. l)
      assert.is_nil(l:match("%[%d*[AJK]"), "escape sequence residue: " .. l)
    end
    for i = 1, rows do
      local n = 0
      for _ in text:gmatch("out" .. i .. "%.mp4: done") do n = n + 1 end
      assert.equals(1, n, "out" .. i .. ".mp4 finished " .. n .. " times on screen")
    end
  end

  it("in a pty (script): live lines while running, a clean screen at the end", function()
    local ns = fixtures.ns("tty")
    local m = manifest(dir .. "/pty", 4, 3)
    local cmd = cli.command({ "batch", m, "--ca-file", srv.ca_file, "--interval", "0.1", "--concurrency", "2",
                              "--no-fsync" }, cli.env(srv, ns, { COLUMNS = "100", TERM = "xterm" }))
    local raw = dir .. "/pty.raw"
    assert.is_true(sh.exec("timeout -s KILL 30 script -qfec " .. sh.q(cmd) .. " " .. sh.q(raw) .. " </dev/null >/dev/null"))
    local stream = fixtures.read(raw):gsub("^Script started[^\n]*\n", ""):gsub("\n?Script done[^\n]*\n?$", "")
    -- while running: the screen just before the 4th redraw shows the header
    -- and both active jobs with a spinner, status and elapsed time
    local cuts, from = {}, 1
    while #cuts < 4 do
      local a = stream:find("\r\27%[%dA", from)
      if not a then break end
      cuts[#cuts + 1] = a
      from = a + 1
    end
    assert.equals(4, #cuts, "fewer than 4 redraws")
    local mid, unknown = cli.vt(stream:sub(1, cuts[4] - 1), 100)
    assert.same({}, unknown)
    assert.matches("^batch m%.csv: %d/4 finished, 2 active, limit 2/2, 0 failed  0:0%d$", mid[#mid - 2])
    assert.matches("^" .. SPIN .. " L%d out%d%.mp4 +%a+ +0:0%d", mid[#mid - 1])
    assert.matches("^" .. SPIN .. " L%d out%d%.mp4 +%a+ +0:0%d", mid[#mid])
    local final = cli.vt(stream, 100)
    check_final(final, 4)
  end)

  it("in tmux (capture-pane): a batch in progress, with a download bar #slow", function()
    local has_tmux = sh.exec("command -v tmux >/dev/null 2>&1")
    if not has_tmux then
      pending("tmux is not installed (apt-get install tmux); the pty test above still ran")
      return
    end
    local ns = fixtures.ns("tty")
    local m = manifest(dir .. "/tmux", 6, 4)
    -- the first download is cut off twice: the bar stays at 50% while it backs off
    srv:fault(ns, "cdn", { { drop = true }, { drop = true } })
    local sock = "omh-cli-test-" .. fixtures.ns("s")
    local tmux = "tmux -L " .. sock .. " -f /dev/null "
    local cmd = cli.command({ "batch", m, "--ca-file", srv.ca_file, "--interval", "0.15", "--concurrency", "3",
                              "--no-fsync" }, cli.env(srv, ns, { COLUMNS = false, LINES = false }))
    local root = io.popen("pwd"):read("*l")
    local ok = sh.exec(tmux .. "new-session -d -s omh -x 110 -y 30 " .. sh.q("cd " .. sh.q(root) .. " && " .. cmd
      .. "; echo EXIT=$?; sleep 60"))
    assert.is_true(ok, "tmux did not start")
    local screens, seen = {}, {}
    local finished = cli.until_true(function()
      local p = io.popen(tmux .. "capture-pane -p -t omh 2>/dev/null")
      local s = p:read("*a")
      p:close()
      if not seen[s] then seen[s] = true; screens[#screens + 1] = s end
      return s:find("EXIT=", 1, true) ~= nil
    end, 30)
    sh.exec(tmux .. "kill-server 2>/dev/null")
    assert.is_true(finished, "the batch did not finish in tmux:\n" .. (screens[#screens] or ""))
    local header, job, bar, spins = false, false, false, {}
    for _, s in ipairs(screens) do
      for l in s:gmatch("[^\n]+") do
        if l:match("^batch m%.csv: %d/6 finished, %d active, limit 3/3, 0 failed  0:0%d$") then header = true end
        local spin = l:match("^(" .. SPIN .. ") L%d out%d%.mp4 +%a+ +0:0%d")
        if spin then job = true; spins[spin] = true end
        if l:match("downloading 0:0%d +%[##########%.%.%.%.%.%.%.%.%.%.%] 49%% 7%.3 KiB / 14%.6 KiB") then bar = true end
      end
    end
    assert.is_true(header, "no header line in any screen:\n" .. table.concat(screens, "\n----\n"))
    assert.is_true(job, "no live job line in any screen")
    local frames = 0
    for _ in pairs(spins) do frames = frames + 1 end
    assert.is_true(frames >= 2, "the spinner did not move")
    local dl = {}
    for _, s in ipairs(screens) do for l in s:gmatch("[^\n]*downloading[^\n]*") do dl[#dl + 1] = l end end
    assert.is_true(bar, "no download bar in any screen:\n" .. table.concat(dl, "\n"))
    local final = {}
    for l in screens[#screens]:gmatch("[^\n]*") do final[#final + 1] = l end
    check_final(final, 6)
    assert.matches("EXIT=0", screens[#screens])
  end)
end)
