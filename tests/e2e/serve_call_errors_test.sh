#!/usr/bin/env bash
# Every way a call can go wrong ends hm-call with one clear line and the
# right exit code, while the server keeps serving everyone else.
source "$(dirname "$0")/lib.sh"

start_server ffn --expert-pattern 'ffn.[0:2].[0:2]' --hidden-dim 8 --max-batch-size 16 --seed 5
call() { "$HM_BIN/hm-call" --server "$SERVER_ADDR" "$@"; }

"$HM_PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
w = sys.argv[1]
np.save(f"{w}/x.npy", np.ones((4, 8), np.float32))
np.save(f"{w}/wide.npy", np.ones((4, 9), np.float32))
np.save(f"{w}/ints.npy", np.ones((4, 8), np.int64))
np.save(f"{w}/big.npy", np.ones((17, 8), np.float32))
open(f"{w}/truncated.npy", "wb").write(open(f"{w}/x.npy", "rb").read()[:100])
open(f"{w}/garbage.npy", "wb").write(b"this is not a tensor")
PY

# Usage errors: exit 2.
expect_error 2 "ACTION" call ffn.0.0
expect_error 2 "format" call ffn.0.0 forward --format xml -i "$WORK/x.npy"
expect_error 2 "--server" "$HM_BIN/hm-call" --server nonsense ffn.0.0 info
expect_error 2 "action" call ffn.0.0 explode
expect_error 2 "no-such-flag|no-such" call ffn.0.0 info --no-such-flag

# Failures: exit 1, one line naming the problem.
expect_error 1 "unknown expert 'ffn.7.7'" call ffn.7.7 info
expect_error 1 "unknown expert 'ffn.7.7'" call ffn.7.7 forward -i "$WORK/x.npy"
expect_error 1 "expected float32\[\*, 8\], got float32\[4, 9\]" call ffn.0.0 forward -i "$WORK/wide.npy"
expect_error 1 "got int64\[4, 8\]" call ffn.0.0 forward -i "$WORK/ints.npy"
expect_error 1 "expected 1 tensor, got 2" call ffn.0.0 forward -i "$WORK/x.npy" -i "$WORK/x.npy"
expect_error 1 "17 rows exceeds --max-batch-size 16" call ffn.0.0 forward -i "$WORK/big.npy"
expect_error 1 "truncated" call ffn.0.0 forward -i "$WORK/truncated.npy"
expect_error 1 "magic|not a .npy" call ffn.0.0 forward -i "$WORK/garbage.npy"
expect_error 1 "no-such-file" call ffn.0.0 forward -i "$WORK/no-such-file.npy"
[ "$(wc -l < "$WORK/expect.err")" -eq 1 ] || fail "error is not one line: $(cat "$WORK/expect.err")"
expect_error 1 "cannot connect to 127.0.0.1:1" "$HM_BIN/hm-call" --server 127.0.0.1:1 ffn.0.0 info

# The server is still fine, and serves many clients at once.
for i in $(seq 8); do
  call "ffn.$((i % 2)).$((i / 2 % 2))" forward -i "$WORK/x.npy" -o "$WORK/y$i.npy" &
  PIDS+=($!)
done
for pid in "${PIDS[@]:1}"; do wait "$pid" || fail "a concurrent call failed"; done
PIDS=("$SERVER_PID")
"$HM_PYTHON" -c "
import numpy as np, sys
ys = [np.load(f'$WORK/y{i}.npy') for i in range(1, 9)]
assert all(y.shape == (4, 8) and np.isfinite(y).all() for y in ys)
# Same expert, same input, same answer; different experts differ.
assert np.array_equal(ys[1], ys[5]) and not np.array_equal(ys[0], ys[1])
"

# Text in, text out.
printf '1 2 3 4 5 6 7 8\n' | call ffn.1.1 forward --format text > "$WORK/y.txt"
[ "$(wc -w < "$WORK/y.txt")" -eq 8 ] || fail "text forward printed: $(cat "$WORK/y.txt")"

stop_server "$SERVER_PID"
expect_error 1 "cannot connect" call ffn.0.0 info

# --busy-poll: the same answers with the server's threads polling; a window
# out of range is a usage error.
start_server poll --num-experts 1 --hidden-dim 8 --busy-poll 200
uid=$(call --timeout 20 list | head -1)
[ -n "$uid" ] || fail "hm-serve --busy-poll does not answer"
printf '1 2 3 4 5 6 7 8\n' | call --timeout 20 "$uid" forward --format text > "$WORK/poll.txt" ||
  fail "forward on hm-serve --busy-poll failed"
[ "$(wc -w < "$WORK/poll.txt")" -eq 8 ] || fail "--busy-poll forward printed: $(cat "$WORK/poll.txt")"
stop_server "$SERVER_PID"
expect_error 2 "--busy-poll" "$HM_BIN/hm-serve" --num-experts 1 --busy-poll 10001

# --busy-idle: serves while it holds the PM QoS request (root), or refuses
# to start with the reason.
if [ -w /dev/cpu_dma_latency ]; then
  start_server busy --num-experts 1 --hidden-dim 8 --busy-idle
  "$HM_BIN/hm-call" --server "$SERVER_ADDR" --timeout 20 list | grep -q . ||
    fail "hm-serve --busy-idle does not answer"
  stop_server "$SERVER_PID"
else
  expect_error 1 "busy-idle: cannot open /dev/cpu_dma_latency" \
    "$HM_BIN/hm-serve" --num-experts 1 --hidden-dim 8 --busy-idle
fi
