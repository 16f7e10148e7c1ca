-- Proxies: the `proxy` option, and the variables libcurl reads (http_proxy,
-- https_proxy/HTTPS_PROXY, all_proxy/ALL_PROXY; no_proxy/NO_PROXY), which a
-- client made with none of them set tells curl to skip. Each case runs in a
-- child process started with exactly the variables it names. The "proxy"
-- is the fake API server itself (it answers absolute-form requests and
-- refuses CONNECT), and the API is at 127.0.0.1:1, where nothing listens:
-- its answer, or its refusal of the tunnel, proves the proxy was used.
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
io.stdout:write(st and ("ok " .. st.status) or ("err " .. err.kind .. " " .. err.message), "\n")
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

  -- env: variables to set (all others of VARS unset); option: the proxy
  -- option; scheme of the API's URL. Returns what the child printed, and
  -- how many status checks the fake API saw.
  local function run(env, option, scheme)
    local ns = fixtures.ns()
    local base = srv:base_url(ns):gsub("^http://127%.0%.0%.1:%d+", scheme .. "://127.0.0.1:1")
    local cmd = "env"
    for _, v in ipairs(VARS) do cmd = cmd .. " -u " .. v end
    for k, v in pairs(env) do cmd = cmd .. " " .. k .. "=" .. sh.q(v) end
    local ok, out = sh.run(cmd .. " timeout 30 " .. sh.q(cli.LUA) .. " " .. sh.q(script) .. " " .. sh.q(base) .. " "
                           .. sh.q(option or "") .. " 2>&1")
    assert(ok, out)
    return out:gsub("\n$", ""), srv:count(ns, "poll") or 0
  end

  -- What each way shows: the fake API's answer through the proxy (http: no
  -- such job), its refusal of curl's CONNECT (https: it is no tunnel), or
  -- the closed port 1 reached directly.
  local SHOWS = {
    proxied = "err not_found ",
    tunnel = "err network CONNECT tunnel failed",
    direct = "err network Failed to connect to 127.0.0.1 port 1",
  }

  -- Catches: a variable libcurl reads that the client ignores (or treats
  -- as unset when deciding to tell curl "no proxy": http_proxy, https_proxy,
  -- HTTPS_PROXY, all_proxy, ALL_PROXY), no_proxy ignored, the option not
  -- taking precedence, a request that skips the proxy it was given.
  it("go through the proxy the option or the environment names, as libcurl reads them", function()
    local proxy = srv.api
    local cases = {
      { {}, nil, "http", "direct" },
      { {}, nil, "https", "direct" },
      { {}, proxy, "http", "proxied" },
      { {}, proxy, "https", "tunnel" },
      { { http_proxy = proxy }, nil, "http", "proxied" },
      { { http_proxy = proxy }, nil, "https", "direct" },
      { { https_proxy = proxy }, nil, "https", "tunnel" },
      { { HTTPS_PROXY = proxy }, nil, "https", "tunnel" },
      { { https_proxy = "", HTTPS_PROXY = proxy }, nil, "https", "tunnel" },
      { { https_proxy = proxy, HTTPS_PROXY = proxy }, nil, "http", "direct" },
      { { all_proxy = proxy }, nil, "http", "proxied" },
      { { ALL_PROXY = proxy }, nil, "http", "proxied" },
      { { ALL_PROXY = proxy }, nil, "https", "tunnel" },
      { { http_proxy = "" }, nil, "http", "direct" },
      { { HTTP_PROXY = proxy }, nil, "http", "direct" }, -- libcurl never reads it (httpoxy)
      { { http_proxy = proxy, no_proxy = "127.0.0.1" }, nil, "http", "direct" },
      { { all_proxy = proxy, NO_PROXY = "*" }, nil, "http", "direct" },
      { { http_proxy = "http://127.0.0.1:1" }, proxy, "http", "proxied" }, -- the option wins
    }
    for i, c in ipairs(cases) do
      local out, polls = run(c[1], c[2], c[3])
      local env = {}
      for k, v in pairs(c[1]) do env[#env + 1] = k .. "=" .. v end
      local where = ("case %d (%s, option %s, %s): %s"):format(i, table.concat(env, " "), tostring(c[2]), c[3], out)
      assert.are.equal(SHOWS[c[4]], out:sub(1, #SHOWS[c[4]]), where)
      assert.are.equal(c[4] == "proxied" and 1 or 0, polls, where)
    end
  end)
end)
