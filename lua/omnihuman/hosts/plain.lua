-- Plain Lua (lua5.x, LuaJIT, LÖVE threads): inside a coroutine an operation is
-- yielded to whoever resumes it; in the main thread the loop is driven in C
-- (epoll, no spinning) until the operation finishes.
local plain = { name = "plain" }

local function in_coroutine()
  local co, main = coroutine.running()
  return co ~= nil and not main
end

function plain.await(loop, op)
  if not op:done() then
    if in_coroutine() then
      -- Our scheduler resumes only when done; any other scheduler (cqueues)
      -- resumes when the pollfd is readable or the timeout passed.
      repeat coroutine.yield(op) until op:step()
    else
      loop:run_until(op)
    end
  end
  return op:result()
end

return plain
