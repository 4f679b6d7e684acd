#!/usr/bin/env bash
# hm-dht's shell contract: exit codes (0 ok, 2 usage, 1 failure, one line on
# stderr), bootstrap errors and --allow-alone, --config, --version,
# SIGINT/SIGTERM exit 0.
source "$HM_TESTS/e2e/lib.sh"
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
start_process silent 1 "$HM_PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(60)'
SILENT=127.0.0.1:$(cat "$WORK/silent.out")

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
start_process config 2 "$DHT" --config "$WORK/dht.toml" --nodes 2
pid=$PROCESS_PID
sleep 0.3
[ "$(wc -l < "$WORK/config.out")" -eq 2 ] || fail "--config + --nodes 2 printed $(wc -l < "$WORK/config.out") addresses"
grep -qE '^127\.0\.0\.1:[0-9]+$' "$WORK/config.out" || fail "--config listen not used"
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "SIGINT gave exit code $rc"

# A misspelt key is a usage error, not silently ignored.
printf 'lisen = "127.0.0.1:0"\n' > "$WORK/typo.toml"
expect_error 2 "lisen" "$DHT" --config "$WORK/typo.toml"
echo "dht_cli_test: ok"
