#!/usr/bin/env bash
# A local swarm (one hm-dht, two hm-serve hosting 16 ffn experts on a 4x4
# grid) answers hm-moe forward and backward; one server killed with SIGKILL
# mid-run does not stop hm-moe; once restarted and re-declared, its experts
# are used again.
source "$(dirname "$0")/lib.sh"

"$HM_BIN/hm-dht" --listen 127.0.0.1:0 > "$WORK/dht.out" 2> "$WORK/dht.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/dht.out" ] && break; sleep 0.1; done
DHT=$(head -n1 "$WORK/dht.out")
[ -n "$DHT" ] || fail "hm-dht did not start"

# Declarations every 3 s live 6 s: a server that the load of a parallel CI
# stalls for a second or two keeps its experts visible (with a 1 s period,
# a stalled server's records could expire and only the killed one's remain).
serve_half() {  # serve_half NAME ROWS
  start_server "$1" --dht "$DHT" --update-period 3 --expert-pattern "ffn.[$2].[0:4]" \
    --hidden-dim 16 --seed 3
}
# wait_declared COUNT [ADDR]: waits, 10 s at most, until hm-dht lists COUNT
# live experts of the grid (COUNT of them at ADDR, if given): a server prints
# its address before its first declaration has reached the DHT.
wait_declared() {
  local want=$1 at=${2:-} i listed
  for i in $(seq 50); do
    "$HM_BIN/hm-dht" experts --peers "$DHT" ffn. --grid 4x4 > "$WORK/experts.txt" 2>/dev/null || true
    if [ -n "$at" ]; then listed=$(grep -c " $at\$" "$WORK/experts.txt"); else
      listed=$(wc -l < "$WORK/experts.txt"); fi
    [ "$listed" -eq "$want" ] && return 0
    sleep 0.2
  done
  return 1
}

serve_half a 0:2; A_PID=$SERVER_PID
serve_half b 2:4; B_PID=$SERVER_PID

# Both servers' experts are visible in the DHT.
wait_declared 16 || fail "hm-dht experts listed: $(cat "$WORK/experts.txt")"
"$HM_BIN/hm-dht" experts --peers "$DHT" ffn.3.1 | grep -qE "^ffn\.3\.1 127\.0\.0\.1:[0-9]+$" ||
  fail "hm-dht experts ffn.3.1"

"$HM_PYTHON" -c "
import numpy as np
np.save('$WORK/x.npy', np.random.RandomState(0).randn(64, 16).astype('f4'))
np.save('$WORK/dy.npy', np.random.RandomState(1).randn(64, 16).astype('f4'))"

moe() {  # moe forward|backward OUT [extra flags]
  local action=$1 out=$2; shift 2
  "$HM_BIN/hm-moe" "$action" --dht "$DHT" --prefix ffn --grid 4x4 --k-best 4 --seed 7 \
    --forward-timeout 10 --timeout-after-k-min 1 --backward-timeout 10 -i "$WORK/x.npy" \
    -o "$WORK/$out" "$@" 2> "$WORK/$out.err" || { cat "$WORK/$out.err" >&2; fail "hm-moe $action"; }
}
check() {  # check FILE: a finite float32 [64, 16]
  "$HM_PYTHON" -c "
import numpy as np
a = np.load('$WORK/$1')
assert a.shape == (64, 16) and a.dtype == np.float32, (a.shape, a.dtype)
assert np.isfinite(a).all() and np.abs(a).sum() > 0"
}
answered() { grep -oE '[0-9]+ experts asked, [0-9]+ answered' "$WORK/$1.err" | tail -1; }

moe forward y.npy
check y.npy
[ "$(answered y.npy)" = "16 experts asked, 16 answered" ] || fail "forward: $(answered y.npy)"
# The same forward with the client's loop polling for replies: same output.
moe forward yp.npy --busy-poll 50
"$HM_PYTHON" -c "
import numpy as np
assert np.allclose(np.load('$WORK/y.npy'), np.load('$WORK/yp.npy'), atol=1e-6)" ||
  fail "hm-moe forward --busy-poll differs from the same forward without it"
moe backward dx.npy -g "$WORK/dy.npy"
check dx.npy
"$HM_BIN/hm-call" --dht "$DHT" ffn.3.1 info --json | grep -q '"steps":1' ||
  fail "the expert did not train on backward"

# SIGKILL one server: its experts are still declared, but hm-moe carries on.
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null || true
moe forward y2.npy
check y2.npy
# Asked 16 while the dead server's records live (two update periods), 8 after.
[[ "$(answered y2.npy)" =~ ^(16|8)\ experts\ asked,\ 8\ answered$ ]] ||
  fail "after kill: $(answered y2.npy)"

# Back on a new port: its next declaration points the swarm there.
serve_half b2 2:4
wait_declared 8 "$SERVER_ADDR" || fail "the restarted server's experts: $(cat "$WORK/experts.txt")"
moe forward y3.npy
check y3.npy
[ "$(answered y3.npy)" = "16 experts asked, 16 answered" ] || fail "after restart: $(answered y3.npy)"

stop_server "$A_PID"
stop_server "$SERVER_PID"
