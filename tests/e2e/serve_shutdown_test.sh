#!/usr/bin/env bash
# SIGTERM while calls are in flight: every call gets its answer or "server
# shutting down", none hangs, and hm-serve exits 0.
source "$(dirname "$0")/lib.sh"

start_server slow --expert-cls nop_delay --hidden-dim 4 --expert-uids slow.0
"$HM_PYTHON" -c "import numpy as np; np.save('$WORK/x.npy', np.ones((2, 4), np.float32))"
calls=()
for i in 1 2 3 4; do
  "$HM_BIN/hm-call" --server "$SERVER_ADDR" --timeout 20 slow.0 forward -i "$WORK/x.npy" \
    > "$WORK/out$i" 2> "$WORK/err$i" &
  calls+=($!)
done
# SIGTERM only once all four have connected: under a sanitizer hm-call
# takes well over a second to start, and a call that finds the listener
# closed is a refused connection, not the shutdown under test.
port=${SERVER_ADDR##*:}
for _ in $(seq 300); do
  [ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -ge 4 ] && break
  sleep 0.1
done
[ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -ge 4 ] ||
  fail "4 calls did not connect to hm-serve within 30 s"
sleep 0.3
stop_server "$SERVER_PID"
for i in 1 2 3 4; do
  rc=0
  wait "${calls[$((i - 1))]}" || rc=$?
  if [ "$rc" -eq 0 ]; then
    [ -s "$WORK/out$i" ] || fail "call $i succeeded with no output"
  else
    grep -qE "server shutting down|lost connection" "$WORK/err$i" ||
      fail "call $i: unexpected error: $(cat "$WORK/err$i")"
  fi
done
grep -q "shutting down" "$WORK/slow.err" || fail "hm-serve did not log its shutdown"
