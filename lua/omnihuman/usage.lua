-- What the service reported a create cost. Its answer carries
-- meta.usage.credits_used (today's API) or meta.usage.tokens_used (older
-- deployments); returns that usage table and the number, or nil for either
-- that the answer does not have.
return function(answer)
  local meta = type(answer) == "table" and answer.meta or nil
  local usage = type(meta) == "table" and meta.usage or nil
  if type(usage) ~= "table" then return nil, nil end
  local n = usage.credits_used
  if type(n) ~= "number" then n = usage.tokens_used end
  return usage, type(n) == "number" and n or nil
end
