#!/usr/bin/env bash
# Four hm-dht processes of 64 nodes each make one swarm of 256; 100 keys
# are stored; one process is killed (a quarter of the nodes) and at least
# 99% of the keys are still found through the others.
source "$HM_TESTS/e2e/lib.sh"
DHT="$HM_BIN/hm-dht"

start_dht q0 64 --report-every 0
P0=$DHT_PID; A0=("${DHT_ADDRS[@]}")
start_dht q1 64 --report-every 0 --peers "${A0[0]}"
A1=("${DHT_ADDRS[@]}")
start_dht q2 64 --report-every 0 --peers "${A0[1]}"
A2=("${DHT_ADDRS[@]}")
start_dht q3 64 --report-every 0 --peers "${A0[2]}"
P3=$DHT_PID

for i in $(seq 0 99); do echo "$i"; done |
  xargs -P 8 -I{} "$DHT" --log-level warn store --peers "${A1[$((RANDOM % 64))]}" "k{}" "v{}" ||
  fail "a store failed"

kill -KILL "$P3"
wait "$P3" 2>/dev/null || true

for i in $(seq 0 99); do echo "$i"; done |
  xargs -P 8 -I{} sh -c '"$1" --log-level error get --peers "$2" "k$3" | grep -qx "v$3" && echo found' \
    _ "$DHT" "${A2[$((RANDOM % 64))]}" {} > "$WORK/found" || true
found=$(wc -l < "$WORK/found")
echo "found $found of 100 keys after a quarter of the nodes stopped"
[ "$found" -ge 99 ] || fail "only $found of 100 keys found"
stop_dht "$P0"
echo "dht_quarter_test: ok"
