-- A seeded random stream that is the same on every runtime, for specs that
-- generate their cases: Park-Miller, exact in doubles on Lua 5.1 too.
-- OMH_SEED=n in the environment repeats a run; otherwise the time seeds it.
local M = {}

M.SEED = math.floor(tonumber(os.getenv("OMH_SEED") or "") or os.time())

--- A function r(n) -> an integer in 1..n, from seed (default M.SEED).
function M.rng(seed)
  local x = (seed or M.SEED) % 2147483646 + 1
  return function(n)
    x = x * 16807 % 2147483647
    return x % n + 1
  end
end

return M
