-- :checkhealth omnihuman. Neovim 0.7 has require("health") with report_*;
-- 0.8 has vim.health with report_*; 0.9+ has vim.health.start/ok/warn/...
local M = {}

local function reporter()
  local h = vim.health or require("health")
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    info = h.info or h.report_info,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
  }
end

local function runtime_name()
  if jit then return jit.version end
  return _VERSION
end

-- build/<name>/omnihuman/core.so -> <name>
local function build_name(path)
  return path and path:match("/build/([^/]+)/omnihuman/core%.so$")
end

local function check_core(r, plugin)
  local want = plugin.build_dir() .. "/omnihuman/core.so"
  local path = package.searchpath and package.searchpath("omnihuman.core", package.cpath)
  local ok, core = pcall(require, "omnihuman.core")
  if not ok then
    local msg = tostring(core)
    if msg:find("undefined symbol", 1, true) then
      r.error(("core %s was built for another Lua than this Neovim's (%s): %s"):format(
        tostring(path), runtime_name(), msg:match("undefined symbol: [%w_]+") or msg),
        { "Rebuild it in the plugin's folder: make LUA=luajit (lazy.nvim: build = \"make LUA=luajit\")" })
    else
      r.error("core not found: " .. (msg:match("^[^\n]*"):gsub(":$", "")),
        { ("Build it in the plugin's folder (%s): make LUA=luajit"):format(plugin.root),
          "It is looked up first at " .. want })
    end
    return nil
  end
  local built = build_name(path)
  local runtime_dir = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  local where = ("core %s loaded from %s"):format(tostring(core.version), tostring(path))
  if built == runtime_dir or (built == "lua5.1" and jit) then
    r.ok(("%s (built for %s, this Neovim runs %s)"):format(where, built, runtime_name()))
  elseif built then
    r.warn(("%s: a %s build loaded into %s"):format(where, built, runtime_name()),
      { "make LUA=luajit builds the one this Neovim expects" })
  else
    r.ok(("%s (this Neovim runs %s)"):format(where, runtime_name()))
  end
  return core
end

local function check_cjson(r)
  local ok, cjson = pcall(require, "cjson")
  if ok then
    local path = package.searchpath and package.searchpath("cjson", package.cpath)
    r.ok(("lua-cjson %s (%s)"):format(tostring(cjson._VERSION), tostring(path)))
  else
    r.error("lua-cjson not found for this Neovim's Lua",
      { "Debian/Ubuntu: apt-get install lua-cjson (installs the 5.1 module LuaJIT loads)",
        "LuaRocks: luarocks --lua-version 5.1 install lua-cjson" })
  end
end

local function check_curl(r, core)
  -- "libcurl/7.88.1 OpenSSL/3.0.11" or "libcurl/7.88.1 no-tls"
  local v = tostring(core.curl_version)
  local version, tls = v:match("^libcurl/(%S+)%s+(%S+)")
  if not version then
    r.warn("libcurl: unrecognised version string " .. v)
  elseif tls == "no-tls" then
    r.error(("libcurl %s without TLS: https:// URLs cannot work"):format(version),
      { "Install a libcurl built with TLS (Debian: libcurl4 or libcurl3-gnutls)" })
  else
    r.ok(("libcurl %s, TLS backend %s"):format(version, tls))
  end
end

local function check_config(r, plugin)
  local source = plugin.key_source()
  if source then
    r.ok("API key set (from " .. source .. ")")
  else
    r.warn("no API key: set $AIMLAPI_KEY or setup{ api_key = ... }")
  end
  local ok, client = pcall(plugin.client)
  if not ok then
    r.error("client could not be made: " .. tostring(client))
    return
  end
  local url = tostring(client.base_url):gsub("//[^/@]*@", "//***@") -- never print credentials
  local host = url:match("^%a+://([^/:]+)") or ""
  if url:match("^https://") or host == "127.0.0.1" or host == "localhost" or host == "::1" then
    r.ok("base URL " .. url)
  else
    r.warn("base URL " .. url .. ": not https, the key would travel in clear text")
  end
end

function M.check()
  local r = reporter()
  local plugin = require("omnihuman.nvim")
  plugin.add_paths()
  r.start("omnihuman: core")
  local core = check_core(r, plugin)
  check_cjson(r)
  if core then check_curl(r, core) end
  r.start("omnihuman: configuration")
  if core then
    check_config(r, plugin)
    local omnihuman = require("omnihuman")
    local adapter = omnihuman.adapter()
    r.info(("adapter %s, %d operation(s) awaited"):format(adapter.name,
      adapter.pending and adapter.pending(omnihuman.loop()) or 0))
  else
    r.info("configuration not checked: the core does not load")
  end
end

return M
