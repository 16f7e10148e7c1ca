-- A field of /proc/self/status in KiB (VmRSS, VmHWM): what the benchmark
-- scripts report as memory. Loaded as bench.procstat from the tree's root.
return function(field)
  local f = assert(io.open("/proc/self/status", "r"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+) kB"))
end
