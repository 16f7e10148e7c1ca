-- doc/omnihuman.txt and the Neovim parts of docs/embedding.md: one headless
-- Neovim runs spec/hosts/nvim_docs_test.lua (its checks are listed there)
-- against namespaces of the test server, some with faults.
-- Outside Neovim, the library has no setup.
local fixtures = require("spec.support.fixtures")
local files = require("spec.support.files")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")

local NVIM = require("spec.hosts.docs_snippets").host("nvim")

describe("doc/omnihuman.txt in Neovim #slow", function()
  local srv, dir
  setup(function() srv = fixtures.start{ tls = false }; dir = fixtures.tmpdir("nvdocs") end)
  teardown(function() srv:stop(); fixtures.rm_rf(dir) end)

  it("outside Neovim require('omnihuman') has no setup", function()
    assert.is_nil(require("omnihuman").setup)
  end)

  it("the help's apt-get line has what make LUA=luajit needs", function()
    local line = assert(fixtures.read("doc/omnihuman.txt"):match("\n%s*apt%-get install ([^\n]+)"))
    local pkgs = {}
    for w in line:gmatch("%S+") do pkgs[w] = true end
    -- The Makefile asks pkg-config for LuaJIT's headers (/usr/include/luajit-2.1).
    assert.truthy(fixtures.read("Makefile"):find("pkg-config --cflags $(LUA)", 1, true))
    for _, p in ipairs({ "gcc", "make", "pkg-config", "libluajit2-5.1-dev", "libcurl4-openssl-dev", "lua-cjson" }) do
      assert.is_true(pkgs[p], p .. " missing from: " .. line)
    end
  end)

  it("at startup the plugin names the ledger's unfinished jobs, not one that nvim -c ':OmniHuman ...' started", function()
    if not NVIM or not files.exists("build/luajit/omnihuman/ledger_db.so") then
      return pending("needs nvim and make LUA=luajit")
    end
    local d = dir .. "/startup"
    sh.exec("mkdir -p " .. sh.q(d))
    fixtures.write(d .. "/face.png", fixtures.read(fixtures.PNG))
    fixtures.write(d .. "/hello.wav", fixtures.read(fixtures.WAV))
    -- Notifications go to d/notes; the editor quits after "done in", or
    -- after quit_ms when given (startup's notices come after the -c commands).
    local function editor(command, quit_ms)
      local capture = "lua require('omnihuman.nvim').setup{ poll_interval = 0.2 }"
        .. " vim.notify = function(m) local f = io.open('notes', 'a'); f:write(m, '\\n'); f:close()"
        .. " if m:find('done in') then vim.schedule(function() vim.cmd('qall!') end) end end"
      local quit = quit_ms and ("lua vim.defer_fn(function() vim.cmd('qall!') end, %d)"):format(quit_ms) or "echo"
      return ("cd %s && env -u LUA_PATH -u LUA_CPATH XDG_STATE_HOME=%s AIMLAPI_KEY=%s OMNIHUMAN_BASE_URL=%s"
        .. " timeout -k 5 60 nvim --headless -u NONE -i NONE -n --cmd %s --cmd %s --cmd %s -c %s -c %s </dev/null 2>&1")
        :format(sh.q(d), sh.q(d .. "/state"), sh.q(fixtures.KEY), sh.q(srv:base_url(fixtures.ns("nvst"))),
          sh.q("set rtp^=" .. cli.PWD), sh.q("runtime plugin/omnihuman.lua"), sh.q(capture), sh.q(command), sh.q(quit))
    end
    local ok, out = sh.run(editor("OmniHuman face.png hello.wav one.mp4"))
    local notes = files.read(d .. "/notes") or ""
    assert.is_truthy(ok, out .. notes)
    assert.matches("done in [%d.]+ s: " .. d:gsub("%p", "%%%0") .. "/one%.mp4", notes)
    assert.not_matches("of the ledger not finished", notes)
    -- A job left unfinished (created, never downloaded) is named at the next start.
    os.remove(d .. "/notes")
    ok, out = sh.run(editor("lua assert(require('omnihuman.nvim').client():create{ image = 'face.png', audio = 'hello.wav' })",
      500))
    assert.is_truthy(ok, out)
    ok, out = sh.run(editor("echo", 1500))
    notes = files.read(d .. "/notes") or ""
    assert.is_truthy(ok, out)
    assert.matches("1 job%(s%) of the ledger not finished", notes)
  end)

  it("the plugin's commands, functions and notifications do what the help says", function()
    if not NVIM then
      return pending("needs nvim and make LUA=luajit")
    end
    local hang, fail = fixtures.ns("nvhang"), fixtures.ns("nvfail")
    srv:fault(hang, "create", { { hang = true } })
    local many = {}
    for i = 1, 20 do many[i] = { status = 500 } end
    srv:fault(fail, "poll", many)
    fixtures.write(dir .. "/face.png", fixtures.read(fixtures.PNG))
    fixtures.write(dir .. "/hello.wav", fixtures.read(fixtures.WAV))
    sh.exec("mkdir -p " .. sh.q(dir .. "/home"))
    local env = { OMH_ROOT = cli.PWD, OMH_BASE = srv:base_url(fixtures.ns("nvdoc")), OMH_HANG = srv:base_url(hang),
                  OMH_FAIL = srv:base_url(fail), AIMLAPI_KEY = fixtures.KEY, HOME = dir .. "/home",
                  XDG_STATE_HOME = dir .. "/state", XDG_CONFIG_HOME = dir .. "/cfg", XDG_DATA_HOME = dir .. "/data" }
    -- Neovim is LuaJIT: not the suite's LUA_PATH/LUA_CPATH.
    local parts = { "cd " .. sh.q(dir) .. " && env -u LUA_PATH -u LUA_CPATH -u OMNIHUMAN_BASE_URL"
      .. " -u no_proxy -u NO_PROXY -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY" }
    for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh.q(v) end
    parts[#parts + 1] = "timeout -k 5 120 nvim --headless -u NONE -i NONE -n -c "
      .. sh.q("luafile " .. cli.PWD .. "/spec/hosts/nvim_docs_test.lua") .. " </dev/null 2>&1"
    local ok, out = sh.run(table.concat(parts, " "))
    assert.is_truthy(ok, out)
    assert.matches("PASS %d+ checks", out)
  end)
end)
