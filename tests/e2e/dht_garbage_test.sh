#!/usr/bin/env bash
# Random bytes fired at a node's UDP port (random lengths, some longer than
# any datagram it accepts): it keeps answering, and the swarm keeps working.
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

start_dht g 8 --report-every 1
PID=$DHT_PID
ADDRS=("${DHT_ADDRS[@]}")
"$DHT" store --peers "${ADDRS[1]}" before garbage || fail "store"
port=${ADDRS[0]##*:}

"$HM_PYTHON" - "$port" <<'PY' || fail "could not fire the datagrams"
import os, random, socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
random.seed(1)
for i in range(5000):
    n = random.choice([0, 1, 7, 8, 9, 16, 64, 500, 1400, 9000, 65000])
    s.sendto(os.urandom(n), ("127.0.0.1", port))
    if i % 100 == 99:
        time.sleep(0.005)  # volleys: the test is about parsing, not buffer overflow
PY

kill -0 "$PID" || fail "hm-dht died"
"$DHT" ping "${ADDRS[0]}" | grep -q '^id=' || fail "the node stopped answering pings"
[ "$("$DHT" get --peers "${ADDRS[0]}" before)" = garbage ] || fail "get through the node failed"
"$DHT" store --peers "${ADDRS[0]}" after works || fail "store through the node failed"
[ "$("$DHT" get --peers "${ADDRS[4]}" after)" = works ] || fail "get after failed"
sleep 1.2  # one report
grep -qE 'dropped_datagrams=[1-9]' "$WORK/g.err" || fail "dropped datagrams not counted: $(tail -2 "$WORK/g.err")"
stop_dht "$PID"
echo "dht_garbage_test: ok"
