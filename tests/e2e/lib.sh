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
