-- Proxies: the `proxy` option, and the variables libcurl reads (http_proxy,
-- all_proxy, ALL_PROXY; no_proxy), which a client takes from the
-- environment it was made in. Each case runs in a child process started
-- with exactly the variables it names. The "proxy" is the fake API server
-- itself (it answers absolute-form requests), and the API is at
-- 127.0.0.1:1, where nothing listens: an answer (here "no such job")
-- proves the proxy carried the request.
local fixtures = require("spec.support.fixtures")
local testserver = require("spec.support.testserver")
local sh = require("spec.support.sh")
local cli = require("spec.support.cli")

local VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
               "NO_PROXY" }

local SCRIPT = [[
local omnihuman = require("omnihuman")
local opts = { api_key = "k", base_url = arg[1], max_retries = 0, timeout = 5, connect_timeout = 2 }
if arg[2] ~= "" then opts.proxy = arg[2] end
local st, err = omnihuman.new(opts):poll("job-proxy")
io.stdout:write(st and ("ok " .. st.status) or ("err " .. err.kind), "\n")
]]

describe("proxies", function()
  local srv, script
  setup(function()
    srv = testserver.start({ key = "k" }) -- plain HTTP: the proxy is an http:// one
    script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(SCRIPT)
    f:close()
  end)
  teardown(function()
    if srv then srv:stop() end
    if script then os.remove(script) end
  end)

  -- env: variables to set (all others of VARS unset); option: the proxy option.
  local function run(env, option)
    local ns = fixtures.ns()
    local base = srv:base_url(ns):gsub("^http://127%.0%.0%.1:%d+", "http://127.0.0.1:1")
    local cmd = "env"
    for _, v in ipairs(VARS) do cmd = cmd .. " -u " .. v end
    for k, v in pairs(env) do cmd = cmd .. " " .. k .. "=" .. sh.q(v) end
    local ok, out = sh.run(cmd .. " timeout 30 " .. sh.q(cli.LUA) .. " " .. sh.q(script) .. " " .. sh.q(base) .. " "
                           .. sh.q(option or "") .. " 2>&1")
    assert(ok, out)
    return out:gsub("\n$", ""), srv:count(ns, "poll") or 0
  end

  -- Catches: the environment ignored, or read where libcurl would not read
  -- it (HTTP_PROXY, an empty variable), no_proxy ignored, the option not
  -- taking precedence, a request that skips the proxy it was given.
  it("go through the proxy the option or the environment names, as libcurl reads them", function()
    local proxy = srv.api
    local cases = {
      { {}, nil, false },
      { {}, proxy, true },
      { { http_proxy = proxy }, nil, true },
      { { all_proxy = proxy }, nil, true },
      { { ALL_PROXY = proxy }, nil, true },
      { { http_proxy = "" }, nil, false },
      { { HTTP_PROXY = proxy }, nil, false }, -- libcurl never reads it (httpoxy)
      { { https_proxy = proxy, HTTPS_PROXY = proxy }, nil, false }, -- for https only
      { { http_proxy = proxy, no_proxy = "127.0.0.1" }, nil, false },
      { { all_proxy = proxy, NO_PROXY = "*" }, nil, false },
      { { http_proxy = "http://127.0.0.1:1" }, proxy, true }, -- the option wins
    }
    for i, c in ipairs(cases) do
      local out, polls = run(c[1], c[2])
      local where = ("case %d (%s, option %s): %s"):format(i, table.concat((function()
        local t = {}
        for k, v in pairs(c[1]) do t[#t + 1] = k .. "=" .. v end
        return t
      end)(), " "), tostring(c[2]), out)
      if c[3] then
        assert.are.equal("err not_found", out, where) -- the server's answer: no such job
        assert.are.equal(1, polls, where)
      else
        assert.are.equal("err network", out, where)
        assert.are.equal(0, polls, where)
      end
    end
  end)
end)
