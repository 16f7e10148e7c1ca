-- A process that shares a ledger with others (specs run several at once):
-- arg[1] the ledger, arg[2] N: records fingerprints fp1..fpN (the same for
-- every writer), or with arg[3] = "hold" keeps a write transaction open for
-- N seconds. Prints "inserted I duplicate D failed F".
local ledger = require("omnihuman.ledger")
local path, n, mode = arg[1], tonumber(arg[2]), arg[3]
local l = assert(ledger.open(path, { busy_timeout = 30 }))
if mode == "hold" then
  assert(l.h:exec("BEGIN IMMEDIATE"))
  io.write("holding\n")
  io.flush()
  os.execute("sleep " .. n)
  assert(l.h:exec("COMMIT"))
  os.exit(0)
end
local ins, dup, failed = 0, 0, 0
for i = 1, n do
  local row, err = l:begin_create{ fingerprint = "fp" .. i, model = "m", request = "{}" }
  if row then ins = ins + 1 elseif err.kind == "duplicate" then dup = dup + 1 else failed = failed + 1 end
end
io.write(("inserted %d duplicate %d failed %d\n"):format(ins, dup, failed))
l:close()
