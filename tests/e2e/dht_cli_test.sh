#!/usr/bin/env bash
# hm-dht's shell contract: exit codes (0 ok, 2 usage, 1 failure, one line on
# stderr), bootstrap errors and --allow-alone, --config, --version,
# SIGINT/SIGTERM exit 0.
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

"$DHT" --version | grep -qE '^hm-dht [0-9]+\.[0-9]+' || fail "--version"
"$DHT" --help | grep -q -- '--nodes' || fail "--help"

expect_error 2 'unknown|not expected|extra' "$DHT" --no-such-flag
expect_error 2 "--listen: bad address 'nowhere'" "$DHT" --listen nowhere
expect_error 2 '--nodes must be from 1' "$DHT" --nodes 0
expect_error 2 'key is required' "$DHT" get --peers 127.0.0.1:1
expect_error 2 '--peers: give at least one' "$DHT" get somekey
expect_error 2 '--log-level' "$DHT" --log-level loud

# A port where nothing answers (bound by a silent socket we hold).
"$HM_PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(60)' > "$WORK/silent.port" &
PIDS+=($!)
for i in $(seq 50); do [ -s "$WORK/silent.port" ] && break; sleep 0.1; done
SILENT=127.0.0.1:$(cat "$WORK/silent.port")

expect_error 1 "none of the 1 initial peers answered \\($SILENT\\)" \
  "$DHT" --listen 127.0.0.1:0 --peers "$SILENT"
[ "$(wc -l < "$WORK/expect.err")" -eq 1 ] || fail "more than one stderr line: $(cat "$WORK/expect.err")"
expect_error 1 "none of the 1 initial peers answered" "$DHT" get --peers "$SILENT" k
expect_error 1 "no answer from $SILENT" "$DHT" ping "$SILENT"

# --allow-alone: the same bootstrap failure, but the node runs.
start_dht alone 1 --peers "$SILENT" --allow-alone --report-every 0
ALONE=${DHT_ADDRS[0]}
"$DHT" store --peers "$ALONE" k v --ttl 30 || fail "store on the lone node"
[ "$("$DHT" get --peers "$ALONE" k)" = v ] || fail "get on the lone node"
expect_error 1 "'missing' not found" "$DHT" get --peers "$ALONE" missing
expect_error 2 '--ttl must be a positive' "$DHT" store --peers "$ALONE" k v --ttl 0
stop_dht "$DHT_PID"

# --config: long flags as keys; the command line wins.
cat > "$WORK/dht.toml" <<TOML
listen = "127.0.0.1:0"
nodes = 3
report-every = 0
TOML
"$DHT" --config "$WORK/dht.toml" --nodes 2 > "$WORK/config.out" 2> "$WORK/config.err" &
pid=$!
PIDS+=("$pid")
for i in $(seq 100); do [ "$(wc -l < "$WORK/config.out")" -ge 2 ] && break; sleep 0.1; done
sleep 0.3
[ "$(wc -l < "$WORK/config.out")" -eq 2 ] || fail "--config + --nodes 2 printed $(wc -l < "$WORK/config.out") addresses"
grep -qE '^127\.0\.0\.1:[0-9]+$' "$WORK/config.out" || fail "--config listen not used"
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "SIGINT gave exit code $rc"
echo "dht_cli_test: ok"
