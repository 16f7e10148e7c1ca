-- A script killed by specs: one generate on a client with a ledger, which
-- SIGKILLs itself at the create-path point $KILL_AT (omnihuman.ledger._at).
-- Env: LEDGER, BASE_URL, CA_FILE, OUT, KILL_AT (optional), AGAIN (optional).
local omnihuman = require("omnihuman")
local ledger = require("omnihuman.ledger")
local fixtures = require("spec.support.fixtures")

local kill_at = os.getenv("KILL_AT")
ledger._at = function(point)
  if point == kill_at then os.execute("kill -9 $PPID") end
end
local c = omnihuman.new{ api_key = fixtures.KEY, base_url = os.getenv("BASE_URL"), ca_file = os.getenv("CA_FILE"),
                         ledger = os.getenv("LEDGER"), poll_interval = 0.05, timeout = 30 }
local res, err = c:generate{ image = fixtures.PNG, audio = fixtures.WAV, output = os.getenv("OUT"),
                             prompt = os.getenv("PROMPT"), again = os.getenv("AGAIN") == "1" }
io.write(res and ("ok " .. res.id) or ("err " .. tostring(err)), "\n")
os.exit(res and 0 or 1)
