#!/usr/bin/env bash
# Four hm-dht processes of 64 nodes each make one swarm of 256; 100 keys
# are stored; one process is killed (a quarter of the nodes) and at least
# 99% of the keys are still found through the others.
source "$HM_TESTS/e2e/lib.sh"
# start_dht NAME COUNT ARGS...: runs "hm-dht --listen 127.0.0.1:0 --nodes COUNT
# ARGS" in the background and waits (60 s at most) until it printed COUNT
# addresses; sets DHT_PID and DHT_ADDRS (an array, first node first).
start_dht() {
  local name=$1 count=$2; shift 2
  "$HM_BIN/hm-dht" --listen 127.0.0.1:0 --nodes "$count" "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.err" &
  DHT_PID=$!
  PIDS+=("$DHT_PID")
  local i
  for i in $(seq 600); do
    [ "$(wc -l < "$WORK/$name.out")" -ge "$count" ] && break
    kill -0 "$DHT_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "hm-dht $name exited"; }
    sleep 0.1
  done
  mapfile -t DHT_ADDRS < "$WORK/$name.out"
  [ "${#DHT_ADDRS[@]}" -eq "$count" ] || fail "hm-dht $name printed ${#DHT_ADDRS[@]} of $count addresses"
  [[ "${DHT_ADDRS[0]}" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "hm-dht $name printed '${DHT_ADDRS[0]}'"
}

# stop_dht PID: SIGTERM, at most 20 s, exit code 0 expected.
stop_dht() {
  local pid=$1 i rc=0
  kill -TERM "$pid"
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "hm-dht $pid still running 20 s after SIGTERM"
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "hm-dht $pid exited with $rc after SIGTERM"
}

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
