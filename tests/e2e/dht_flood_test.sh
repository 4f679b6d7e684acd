#!/usr/bin/env bash
# A flood of valid DHT requests from one peer (50,000 pings from one socket):
# the node stays up, drops what is over --dht-max-rps, logs a summary rather
# than a line per datagram, and other peers' store and get still work.
source "$HM_TESTS/e2e/lib.sh"
DHT="$HM_BIN/hm-dht"

start_dht f 4 --dht-max-rps 500
ADDRS=("${DHT_ADDRS[@]}")

# A real ping request, captured from "hm-dht ping" aimed at our socket, then
# replayed from that socket in two bursts a little over a second apart.
"$HM_PYTHON" - "${ADDRS[0]##*:}" "$HM_BIN/hm-dht" <<'PY' || fail "could not flood"
import socket, subprocess, sys, time
port, dht = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(10)
ping = subprocess.Popen([dht, "ping", f"127.0.0.1:{s.getsockname()[1]}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
request, _ = s.recvfrom(65536)
ping.kill(); ping.wait()
s.setblocking(False)
for burst in range(2):
    for i in range(25000):
        try: s.sendto(request, ("127.0.0.1", port))
        except BlockingIOError: pass
    time.sleep(1.1)
PY

kill -0 "$DHT_PID" || fail "hm-dht died under the flood"
"$DHT" ping "${ADDRS[0]}" | grep -q '^id=' || fail "the node stopped answering pings"
"$DHT" store --peers "${ADDRS[0]}" honest value || fail "store through the flooded node failed"
[ "$("$DHT" get --peers "${ADDRS[0]}" honest)" = value ] || fail "get through the flooded node failed"
# A value over --dht-max-value-bytes is refused, and logged.
expect_error 1 "." "$DHT" store --peers "${ADDRS[0]}" big "$(head -c 20000 /dev/zero | tr '\0' x)"
stop_dht "$DHT_PID"

grep -q "dht: refused a request from 127.0.0.1:[0-9]*: over 500 requests/s (--dht-max-rps; burst 1000)" "$WORK/f.err" ||
  fail "no refusal logged: $(tail -5 "$WORK/f.err")"
grep -qE "refused [0-9]+ more DHT requests over --dht-max-rps in" "$WORK/f.err" ||
  fail "no summary logged: $(tail -5 "$WORK/f.err")"
grep -q "dht: refused a value of 2000[0-9] bytes .*--dht-max-value-bytes" "$WORK/f.err" ||
  fail "the oversized value was not logged: $(tail -5 "$WORK/f.err")"
lines=$(grep -c "refused" "$WORK/f.err")
[ "$lines" -lt 40 ] || fail "$lines refusal lines for one flood: not summarized"
grep "refused" "$WORK/f.err" | head -4
echo "dht_flood: ok ($lines refusal lines)"
