#!/usr/bin/env bash
# Random bytes fired at a node's UDP port (random lengths, some longer than
# any datagram it accepts): it keeps answering, and the swarm keeps working.
source "$HM_TESTS/e2e/lib.sh"
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
