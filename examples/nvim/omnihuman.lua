-- Neovim example: an :OmniHuman command that makes a talking video without
-- freezing the editor. Neovim 0.7+.
--
--   make LUA=luajit                    -- Neovim runs LuaJIT: build/luajit/
--   nvim -c 'luafile examples/nvim/omnihuman.lua'
--   :OmniHuman examples/media/portrait.png examples/media/hello.wav out/talk.mp4
--
-- Key: $AIMLAPI_KEY. For the offline sandbox: `make sandbox` in a shell, then
-- start nvim with OMNIHUMAN_BASE_URL=http://127.0.0.1:8080/v2 AIMLAPI_KEY=x.
-- As a plugin: put lua/omnihuman/ on 'runtimepath' (or package.path) and
-- core.so on package.cpath, and drop the path setup below.

-- Where this file lives -> the repository root -> the module and its build.
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/examples/nvim/[^/]*$") or "."
package.path = here .. "/lua/?.lua;" .. here .. "/lua/?/init.lua;" .. package.path
package.cpath = here .. "/build/luajit/?.so;" .. package.cpath

local omnihuman = require("omnihuman")
local nv = omnihuman.use("nvim") -- what it would pick by itself inside Neovim

local client -- made on first use: a missing key is reported then, not at startup

local function notify(msg, level)
  vim.notify("omnihuman: " .. msg, level or vim.log.levels.INFO)
end

local function generate(image, audio, output)
  client = client or omnihuman.new{}
  -- A coroutine: every wait inside it (create, the status checks, the
  -- download) parks it and lets the editor run; the adapter resumes it on
  -- the main loop when the operation is done.
  nv.spawn(function()
    local t0 = vim.loop.now()
    notify(("submitting %s + %s"):format(image, audio))
    local res, err = client:generate{
      image = image, audio = audio, output = output,
      on_status = function(st)
        -- On the main loop: any vim.api call is allowed here.
        vim.api.nvim_echo({ { ("omnihuman: %s is %s"):format(st.id or "?", st.status), "Comment" } }, false, {})
      end,
      on_progress = function(got, total)
        if total and total > 0 then
          vim.api.nvim_echo({ { ("omnihuman: downloading %d%%"):format(math.floor(got * 100 / total)), "Comment" } },
            false, {})
        end
      end,
    }
    if not res then
      notify(tostring(err) .. (err.job_id and (" (job " .. err.job_id .. ")") or ""), vim.log.levels.ERROR)
      return
    end
    notify(("done in %.1f s: %s"):format((vim.loop.now() - t0) / 1000, res.output or res.video.url))
  end)
end

vim.api.nvim_create_user_command("OmniHuman", function(opts)
  local a = opts.fargs
  if #a < 2 then
    return notify("usage: :OmniHuman {image} {audio} [{output.mp4}]", vim.log.levels.WARN)
  end
  local ok, err = pcall(generate, a[1], a[2], a[3] or "omnihuman.mp4")
  if not ok then notify(tostring(err), vim.log.levels.ERROR) end
end, { nargs = "+", complete = "file" })

-- Several at once: each is its own coroutine, all share one connection pool.
vim.api.nvim_create_user_command("OmniHumanMany", function(opts)
  local n = tonumber(opts.args) or 3
  for i = 1, n do
    generate(here .. "/examples/media/portrait.png", here .. "/examples/media/hello.wav",
      ("omnihuman-%d.mp4"):format(i))
  end
end, { nargs = "?" })
