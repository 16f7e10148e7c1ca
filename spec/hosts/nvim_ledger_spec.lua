-- Neovim on the ledger: an editor killed (SIGKILL) while its :OmniHuman job
-- renders leaves the job in the default ledger; the next editor names it
-- at startup (without resuming it), :OmniHuman jobs lists it and
-- :OmniHuman resume all downloads it with no new create.
local fixtures = require("spec.support.fixtures")
local cli = require("spec.support.cli")
local sh = require("spec.support.sh")
local files = require("spec.support.files")

local NVIM = sh.lines("command -v nvim")[1]

describe("Neovim plugin with the ledger", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir() end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("a killed editor's job is named at the next start and resumed by :OmniHuman resume all", function()
    if not NVIM or not files.exists("build/luajit/omnihuman/ledger_db.so") then
      pending("needs nvim and make LUA=luajit")
      return
    end
    local ns = fixtures.ns("nv")
    local state, out, notes = dir .. "/state", dir .. "/nv.mp4", dir .. "/notes"
    local function editor(mode)
      local env = { XDG_STATE_HOME = state, XDG_CONFIG_HOME = dir .. "/cfg", XDG_DATA_HOME = dir .. "/data",
                    AIMLAPI_KEY = fixtures.KEY, OMNIHUMAN_BASE_URL = srv:base_url(ns), OMH_MODE = mode,
                    OMH_NOTES = notes, OMH_IMAGE = cli.PWD .. "/" .. fixtures.PNG,
                    OMH_AUDIO = cli.PWD .. "/" .. fixtures.WAV, OMH_OUT = out }
      -- Neovim is LuaJIT: not the suite's LUA_PATH/LUA_CPATH (spec/support/helper.lua)
      local parts = { "env -u LUA_PATH -u LUA_CPATH" }
      for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh.q(v) end
      parts[#parts + 1] = ("timeout -s KILL 60 nvim --headless -u NONE -i NONE --cmd %s --cmd %s --cmd %s"):format(
        sh.q("set rtp^=" .. cli.PWD), sh.q("luafile " .. cli.PWD .. "/spec/support/nvim_ledger.lua"),
        sh.q("runtime plugin/omnihuman.lua"))
      return table.concat(parts, " ") .. " </dev/null >/dev/null 2>&1"
    end
    srv:fault(ns, "poll", { { hang = true } })
    local pid = tonumber(io.popen(editor("generate") .. " & echo $!"):read("*l"))
    assert.is_true(cli.until_true(function() return srv:count(ns, "poll") >= 1 end, 30), files.read(notes) or "")
    sh.exec("pkill -KILL -P " .. pid .. "; kill -9 " .. pid .. " 2>/dev/null")
    assert.is_false(files.exists(out))
    os.remove(notes)
    local _, code = sh.exec(editor("resume"))
    assert.equals(0, code, files.read(notes) or "")
    local text = files.read(notes) or ""
    assert.truthy(text:find("1 job(s) of the ledger not finished", 1, true), text)
    assert.truthy(text:find("jobs (row id state status output)", 1, true), text)
    assert.truthy(text:find("resumed", 1, true), text)
    assert.equals(fixtures.read("spec/support/fixture.mp4"), fixtures.read(out))
    assert.equals(1, srv:count(ns, "create"))
  end)
end)
