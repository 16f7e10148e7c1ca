#!/bin/bash
# Drives the nginx host test (started by spec/hosts/run.sh): /gen starts 10
# generations with ngx.thread.spawn; /ping, sent while they wait, must be
# answered at once; then one generation in a handler and one in a timer.
set -u
BASE="http://127.0.0.1:$OMH_PORT"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# Wait for the worker to answer (bounded).
for _ in $(seq 1 50); do
  curl -s -o /dev/null --max-time 1 "$BASE/ping" && break
  sleep 0.1
done

start=$(date +%s.%N)
curl -s --max-time 60 -o "$out/gen" -w '%{http_code} %{time_total}\n' "$BASE/gen" >"$out/gen.meta" &
gen_pid=$!
sleep 0.3
ping=$(curl -s --max-time 10 -o "$out/ping" -w "%{http_code} %{time_total}" "$BASE/ping")
ping="$(cat "$out/ping") $ping"
gen_running=no
kill -0 "$gen_pid" 2>/dev/null && gen_running=yes
wait "$gen_pid"
echo "/ping during /gen: $ping (gen still running: $gen_running)"
echo "/gen answer ($(cat "$out/gen.meta")):"
sed 's/^/  /' "$out/gen"

ping_time=$(echo "$ping" | awk '{print $3}')
[ "$(echo "$ping" | awk '{print $1, $2}')" = "pong 200" ] && ok "/ping answered 200 while /gen was waiting" || bad "/ping: $ping"
[ "$gen_running" = yes ] && ok "/gen was still in progress when /ping was answered" || bad "/gen finished before /ping"
awk -v t="$ping_time" 'BEGIN { exit !(t != "" && t + 0 < 0.25) }' && ok "/ping took ${ping_time}s (< 0.25 s)" || bad "/ping took ${ping_time}s"
grep -q '^10/10 completed' "$out/gen" && ok "10 generations in ngx.thread.spawn threads completed" || bad "/gen did not complete 10/10"
[ "$(grep -c ' completed .*http://127.0.0.1:.*/files/' "$out/gen")" -eq 10 ] && ok "10 video urls" || bad "video urls missing"
grep -q '(adapter openresty)' "$out/gen" && ok "adapter picked automatically: openresty" || bad "adapter not openresty"

one=$(curl -s --max-time 30 "$BASE/one")
echo "/one answer:"; echo "$one" | sed 's/^/  /'
echo "$one" | grep -q '^one completed ' && ok "a generation in the request handler itself" || bad "/one"

timer=$(curl -s --max-time 30 "$BASE/timer")
echo "/timer answer:"; echo "$timer" | sed 's/^/  /'
echo "$timer" | grep -q '^timer completed ' && ok "a generation in an ngx.timer.at callback" || bad "/timer"
exit $fail
