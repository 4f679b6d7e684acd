# Shared helpers for the end-to-end tests (sourced, not run).
# Env from ctest: HM_BIN (binaries), HM_PYTHON (python3 with numpy + torch),
# HM_TESTS (the tests folder).
set -euo pipefail
HM_BIN=${HM_BIN:?set HM_BIN to the folder with the hm binaries}
HM_PYTHON=${HM_PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# start_server NAME ARGS...: runs hm-serve in the background; sets
# SERVER_PID and SERVER_ADDR (read from its first stdout line, within 30 s).
start_server() {
  local name=$1; shift
  "$HM_BIN/hm-serve" --listen 127.0.0.1:0 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  local i
  for i in $(seq 300); do
    [ -s "$WORK/$name.out" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "hm-serve $name exited"; }
    sleep 0.1
  done
  SERVER_ADDR=$(head -n1 "$WORK/$name.out")
  [[ "$SERVER_ADDR" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "hm-serve $name printed '$SERVER_ADDR'"
}

# stop_server PID: SIGTERM, wait at most 20 s, expect exit code 0.
stop_server() {
  local pid=$1 i
  kill -TERM "$pid"
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "hm-serve $pid still running 20 s after SIGTERM"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "hm-serve exited with $rc after SIGTERM"
}

# expect_error CODE PATTERN CMD...: CMD must exit with CODE and print one
# stderr line matching PATTERN.
expect_error() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" > "$WORK/expect.out" 2> "$WORK/expect.err" || rc=$?
  [ "$rc" -eq "$code" ] || { cat "$WORK/expect.err" >&2; fail "'$*' exited $rc, expected $code"; }
  grep -qE -- "$pattern" "$WORK/expect.err" ||
    { cat "$WORK/expect.err" >&2; fail "'$*' stderr lacks /$pattern/"; }
}

# start_process NAME LINES CMD...: runs CMD in the background (stdout to
# $WORK/NAME.out, stderr to $WORK/NAME.err; its pid joins PIDS, so cleanup
# kills it) and waits, 60 s at most, until it printed LINES lines; fails if
# it exits first. Sets PROCESS_PID.
start_process() {
  local name=$1 lines=$2; shift 2
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PROCESS_PID=$!
  PIDS+=("$PROCESS_PID")
  local i
  for i in $(seq 600); do
    [ "$(wc -l < "$WORK/$name.out")" -ge "$lines" ] && return 0
    kill -0 "$PROCESS_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "${1##*/} $name exited"; }
    sleep 0.1
  done
  fail "${1##*/} $name printed $(wc -l < "$WORK/$name.out") of $lines lines in 60 s"
}

# start_dht NAME COUNT ARGS...: runs "hm-dht --listen 127.0.0.1:0 --nodes
# COUNT ARGS" through start_process, waiting for its COUNT addresses; sets
# DHT_PID and DHT_ADDRS (an array, first node first).
start_dht() {
  local name=$1 count=$2; shift 2
  start_process "$name" "$count" "$HM_BIN/hm-dht" --listen 127.0.0.1:0 --nodes "$count" "$@"
  DHT_PID=$PROCESS_PID
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
