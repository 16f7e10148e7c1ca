-- Which host the module runs in, from the globals each host defines:
-- "openresty", "nvim", "love", else "plain". omnihuman.use overrides it.
return function()
  if type(ngx) == "table" and type(ngx.sleep) == "function" and type(ngx.get_phase) == "function" then
    return "openresty"
  end
  if type(vim) == "table" and type(vim.schedule) == "function" and (vim.uv or vim.loop) then
    return "nvim"
  end
  if type(love) == "table" and type(love.getVersion) == "function" then return "love" end
  return "plain"
end
