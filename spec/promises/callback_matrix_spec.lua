-- Whatever a callback does, no memory error: every callback site (each
-- on_event type, on_status, on_progress) of every operation kind (create,
-- poll, wait, download) x every action a callback could take on what is
-- running it (cancel its op, close its op, drop it and collect, close the
-- client, close the loop, raise). The cancel/close/loop-close actions also
-- drop every reference to the op and run a full collection inside the
-- callback, so that C touching the op afterwards is a use-after-free that
-- `make test-san` and the valgrind step report. Each case also checks the
-- outcome a user would expect, and that the loop drains.
local core = require("omnihuman").core
local fixtures = require("spec.support.fixtures")

local function full_collect()
  collectgarbage("collect")
  collectgarbage("collect")
end

-- The callback sites each kind has. "request" acts on the second attempt
-- (after a retry), when the op has been returned to its caller.
local SITES = {
  create = { "event:request", "event:retry" },
  poll = { "event:request", "event:retry" },
  wait = { "event:request", "event:retry", "event:status", "on_status" },
  download = { "event:request", "event:retry", "event:progress", "on_progress" },
}
local ROUTE = { create = "create", poll = "poll", wait = "poll", download = "cdn" }
local ACTIONS = { "cancel", "close", "drop", "client:close", "loop:close", "raise" }

describe("callback x action matrix #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start(); dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  local function drain(loop, limit)
    local deadline = fixtures.now() + (limit or 10)
    while not loop:is_closed() and loop:active() > 0 and fixtures.now() < deadline do loop:run_once(0.05) end
    return loop:is_closed() or loop:active() == 0
  end

  for kind, sites in pairs(SITES) do
    for _, site in ipairs(sites) do
      for _, action in ipairs(ACTIONS) do
        it(("%s, %s: %s"):format(kind, site, action), function()
          local ns = fixtures.ns()
          local loop = core.new_loop()
          local base = { api_key = fixtures.KEY, base_url = srv:base_url(ns), ca_file = srv.ca_file,
                         poll_interval = 0.02, timeout = 5, connect_timeout = 2 }
          -- A job (and its video) made beforehand by a plain client.
          local helper = core.new_client(loop, base)
          local job, url
          if kind ~= "create" then
            local op = helper:create_op{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3",
                                         sandbox_polls = kind == "wait" and 2 or 0 }
            loop:run_until(op)
            job = assert(op:result())
            if kind == "download" then
              op = helper:wait_op(job.id)
              loop:run_until(op)
              url = assert(op:result()).video.url
            end
          end
          -- Every route's first answer is a 503 with Retry-After: 0, so each
          -- kind has a retry event and a second request event.
          srv:fault(ns, ROUTE[kind], { { status = 503, headers = { ["Retry-After"] = "0" } }, { pass = true } })

          local h = { acted = false } -- holds the op and client; callbacks reach them here
          local function act()
            if h.acted or not h.op then return end
            h.acted = true
            if action == "cancel" then
              h.op:cancel()
              h.outcome = { pcall(h.op.result, h.op) }
              h.op = nil
              full_collect()
            elseif action == "close" then
              h.op:close()
              h.op = nil
              full_collect()
            elseif action == "drop" then
              h.op = nil
              full_collect()
            elseif action == "client:close" then
              h.client:close()
              h.client = nil
              full_collect()
            elseif action == "loop:close" then
              loop:close()
              full_collect()
            elseif action == "raise" then
              error("raised by the callback")
            end
          end

          local opts = {}
          for k, v in pairs(base) do opts[k] = v end
          local want_type = site:match("^event:(.*)$")
          if want_type then
            opts.on_event = function(ev)
              if ev.type == want_type and (want_type ~= "request" or ev.attempt >= 2) then act() end
            end
          end
          h.client = core.new_client(loop, opts)
          local cb = (site == "on_status" or site == "on_progress") and function() act() end or nil
          local dropped = setmetatable({}, { __mode = "v" })
          if kind == "create" then
            h.op = h.client:create_op{ image_url = "https://x/u.png", audio_url = "https://x/u.mp3" }
          elseif kind == "poll" then
            h.op = h.client:poll_op(job.id)
          elseif kind == "wait" then
            h.op = h.client:wait_op(job.id, { on_status = cb })
          else
            h.op = h.client:download_op(url, dir .. "/" .. ns .. ".mp4", { on_progress = cb })
          end
          dropped.op = h.op
          local keep = action ~= "cancel" and action ~= "close" and action ~= "drop" and h.op or nil

          assert.is_true(drain(loop), "the loop did not drain")
          assert.is_true(h.acted, "the callback site was never reached")
          if action == "cancel" then
            assert.is_true(h.outcome[1])
            assert.is_nil(h.outcome[2])
            assert.equals("cancelled", h.outcome[3].kind)
          elseif action == "drop" then
            -- In flight, the loop keeps it: it finished, then it could go.
            full_collect()
            assert.is_nil(dropped.op)
          elseif action == "client:close" then
            -- Closing the client ends what it has in flight, its caller included.
            local res, err = keep:result()
            assert.is_nil(res)
            assert.equals("cancelled", err.kind)
          elseif action == "loop:close" then
            local res, err = keep:result()
            assert.is_nil(res)
            assert.equals("cancelled", err.kind)
          elseif action == "raise" then
            assert.has_error(function() keep:result() end, "raised by the callback")
          end
          if kind == "download" and action ~= "drop" and action ~= "client:close" then
            assert.same({}, fixtures.ls(dir)) -- nothing half-written left behind
          end
          os.execute('rm -f "' .. dir .. '"/*')
          keep = nil
          if h.client then h.client:close() end
          helper:close()
          loop:close()
          full_collect()
        end)
      end
    end
  end
end)
