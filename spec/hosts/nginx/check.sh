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
cw=$(curl -s --max-time 30 "$BASE/cancel_wake")
echo "/cancel_wake answer: $cw"
echo "$cw" | awk '$1 == "cancel_wake" && $2 == "cancelled" && $3 >= 0 && $3 < 0.05 { ok = 1 } END { exit !ok }' \
  && ok "a cancel from another light thread woke its waiter in $(echo "$cw" | awk '{print $3}') s" \
  || bad "/cancel_wake: $cw"
clw=$(curl -s --max-time 30 "$BASE/close_wake")
echo "/close_wake answer: $clw"
echo "$clw" | awk '$1 == "close_wake" && $2 == "cancelled" && $3 >= 0 && $3 < 1 { ok = 1 } END { exit !ok }' \
  && ok "client:close() from another light thread woke the wait on its job in $(echo "$clw" | awk '{print $3}') s" \
  || bad "/close_wake: $clw"
for ph in rewrite access; do
  a=$(curl -s --max-time 30 "$BASE/$ph")
  echo "/$ph answer: $a"
  echo "$a" | grep -q "^$ph completed " && ok "a generation in the $ph phase" || bad "/$ph"
done

# What the worker holds (see hosttest_app.stats).
stats() { curl -s --max-time 5 "$BASE/stats"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# Polls /stats until field $1 is $2 (at most ~$3 s).
wait_field() {
  local s
  for _ in $(seq 1 $(( $3 * 10 ))); do
    s=$(stats)
    [ "$(field "$s" "$1")" = "$2" ] && { echo "$s"; return 0; }
    sleep 0.1
  done
  echo "$s"; return 1
}

s=$(wait_field driving false 5)
echo "idle: $s"
[ "$(field "$s" driving)" = false ] && [ "$(field "$s" pending)" = 0 ] && [ "$(field "$s" timers_running)" = 0 ] \
  && ok "idle: no driver and no timer running" || bad "idle: $s"

# 10 requests waiting on jobs that take minutes; each client gives up at 3 s.
for i in $(seq 1 10); do
  curl -s --max-time 3 -o /dev/null "$BASE/long" &
done
sleep 0.8
s1=$(stats); sleep 1.5; s2=$(stats)
echo "waiting: $s1"
echo "1.5 s later: $s2"
[ "$(field "$s1" pending)" = 10 ] && [ "$(field "$s1" timers_running)" = 1 ] \
  && ok "10 waiting requests, one driver timer" || bad "10 waiting: $s1"
cpu=$(awk -v a="$(field "$s1" cpu)" -v b="$(field "$s2" cpu)" 'BEGIN { printf "%.4f", b - a }')
echo "worker CPU over 1.5 s with 10 requests waiting (status checks every 0.2 s): ${cpu} s"
awk -v c="$cpu" 'BEGIN { exit !(c < 0.075) }' && ok "worker CPU ${cpu} s < 0.075 s (5%) over 1.5 s" || bad "worker CPU ${cpu} s"
wait
# The clients are gone: their waiters and operations must go too.
s=$(wait_field pending 0 5)
echo "after the clients left: $s"
[ "$(field "$s" pending)" = 0 ] && ok "aborted requests leave no waiter behind" || bad "waiters left: $s"
s=$(wait_field active 0 5)
[ "$(field "$s" active)" = 0 ] && [ "$(field "$s" swept)" -ge 10 ] \
  && ok "their operations were cancelled ($(field "$s" swept) swept)" || bad "operations left: $s"
s=$(wait_field driving false 5)
[ "$(field "$s" driving)" = false ] && ok "the driver ended when nothing was left" || bad "driver still running: $s"

# nginx -s reload while /gen's 10 generations wait: they finish in the old
# worker, which then exits; the new worker starts clean.
old_pid=$(field "$(stats)" pid)
curl -s --max-time 60 -o "$out/gen2" "$BASE/gen" &
gen_pid=$!
sleep 0.3
nginx -p "$OMH_PREFIX" -c "$OMH_PREFIX/conf/nginx.conf" -s reload 2>&1
wait "$gen_pid"
grep -q '^10/10 completed' "$out/gen2" && ok "10 generations waiting across nginx -s reload completed" \
  || { bad "/gen across reload"; sed 's/^/  /' "$out/gen2"; }
gone=no
for _ in $(seq 1 100); do
  kill -0 "$old_pid" 2>/dev/null || { gone=yes; break; }
  sleep 0.1
done
[ "$gone" = yes ] && ok "the old worker ($old_pid) exited after its requests" || bad "old worker $old_pid still there"
one=$(curl -s --max-time 30 "$BASE/one")
s=$(wait_field driving false 5)
echo "new worker after one generation: $s"
[ "$(field "$s" pid)" != "$old_pid" ] && echo "$one" | grep -q '^one completed ' \
  && ok "the new worker generates" || bad "new worker: $one / $s"
[ "$(field "$s" timers_running)" = 0 ] && [ "$(field "$s" timers_pending)" = 0 ] && [ "$(field "$s" pending)" = 0 ] \
  && ok "no timer left running or pending in the new worker" || bad "timers left: $s"
exit $fail
