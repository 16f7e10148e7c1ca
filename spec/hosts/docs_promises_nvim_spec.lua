-- doc/omnihuman.txt and the Neovim parts of docs/embedding.md: one headless
-- Neovim runs spec/hosts/nvim_docs_test.lua (its checks are listed there)
-- against namespaces of the test server, some with faults.
-- Outside Neovim, the library has no setup.
local fixtures = require("spec.support.fixtures")
local files = require("spec.support.files")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")

local NVIM = sh.lines("command -v nvim")[1]

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

  it("the plugin's commands, functions and notifications do what the help says", function()
    if not NVIM or not files.exists("build/luajit/omnihuman/core.so") then
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
