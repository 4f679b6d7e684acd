#!/usr/bin/env bash
# Abuse of hm-serve (issue 7): NaN/Inf refused without touching the weights,
# 10x each request limit refused with the flag's name, a frame header that
# claims 4 GiB, and 10,000 connections at once. After each, the server still
# serves a well-behaved client, its memory did not balloon, and it logged
# what it refused; it exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"

start_server abuse --expert-uids ffn.0.0 --hidden-dim 8 --seed 3 --optimizer sgd --lr 0.5 \
  --max-tensors 2 --max-tensor-elements 1024 --max-message-mb 1
call() { "$HM_BIN/hm-call" --server "$SERVER_ADDR" --timeout 10 "$@"; }
vm_hwm_mb() { awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$SERVER_PID/status"; }

"$HM_PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
w = sys.argv[1]
x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8)
np.save(f"{w}/x.npy", x)
nan = x.copy(); nan.flat[17] = np.nan; np.save(f"{w}/nan.npy", nan)
inf = np.ones((4, 8), np.float32); inf.flat[5] = -np.inf; np.save(f"{w}/inf.npy", inf)
np.save(f"{w}/dy.npy", np.ones((4, 8), np.float32))
np.save(f"{w}/wide.npy", np.ones((1280, 8), np.float32))        # 10x --max-tensor-elements
np.save(f"{w}/huge.npy", np.ones((10 * 32768, 8), np.float32))  # 10 MiB: 10x --max-message-mb
PY

call ffn.0.0 forward -i "$WORK/x.npy" -o "$WORK/before.npy"
baseline_mb=$(vm_hwm_mb)

# Non-finite values: refused, and the weights stay as they were.
expect_error 1 "forward inputs: tensor 0 has a non-finite value \(NaN\) at element 17; refused \(the server runs without --allow-nonfinite\)" \
  call ffn.0.0 forward -i "$WORK/nan.npy"
expect_error 1 "backward grad_outputs: tensor 0 has a non-finite value \(Inf\) at element 5" \
  call ffn.0.0 backward -i "$WORK/x.npy" -g "$WORK/inf.npy"
expect_error 1 "backward inputs: tensor 0 has a non-finite value \(NaN\)" \
  call ffn.0.0 backward -i "$WORK/nan.npy" -g "$WORK/dy.npy"
call ffn.0.0 forward -i "$WORK/x.npy" -o "$WORK/after_refused.npy"
cmp -s "$WORK/before.npy" "$WORK/after_refused.npy" || fail "a refused backward changed the weights"
# A finite backward does train (so the check above can fail).
call ffn.0.0 backward -i "$WORK/x.npy" -g "$WORK/dy.npy" > /dev/null
call ffn.0.0 forward -i "$WORK/x.npy" -o "$WORK/after_step.npy"
cmp -s "$WORK/before.npy" "$WORK/after_step.npy" && fail "a finite backward left the weights unchanged"

# 10x the request limits: one clear line naming the flag.
args=(); for i in $(seq 20); do args+=(-i "$WORK/x.npy"); done
expect_error 1 "forward inputs: 20 tensors exceed the limit of 2 \(--max-tensors\)" call ffn.0.0 forward "${args[@]}"
expect_error 1 "forward inputs: tensor 0: 10240 elements exceed the limit of 1024 \(--max-tensor-elements\)" \
  call ffn.0.0 forward -i "$WORK/wide.npy"
# Too large a message: the connection is closed once the frame header has
# arrived; the client reads why, unless it was still writing (broken pipe).
expect_error 1 "exceeds the limit of 1 MiB \(--max-message-mb\)|Broken pipe|reset by peer" \
  call ffn.0.0 forward -i "$WORK/huge.npy"
echo "a 10 MiB request with --max-message-mb 1: $(cat "$WORK/expect.err")"

# A frame header that claims one segment of 4 GiB, then silence: the server
# answers with an Abort message naming the limit, and closes the connection.
exec 3<>"/dev/tcp/127.0.0.1/${SERVER_ADDR##*:}"
printf '\x00\x00\x00\x00\x00\x00\x00\x20abcdefgh' >&3
timeout 10 cat <&3 > "$WORK/abort.bin" || fail "the server did not close the connection of a 4 GiB frame header"
exec 3<&-
grep -qa "a message of 4294967304 bytes exceeds the limit of 1 MiB (--max-message-mb)" "$WORK/abort.bin" ||
  fail "the server's answer to a 4 GiB frame header lacks the reason: $(tr -cd '[:print:]' < "$WORK/abort.bin")"

call ffn.0.0 forward -i "$WORK/x.npy" > /dev/null
grown_mb=$(( $(vm_hwm_mb) - baseline_mb ))
echo "server peak RSS grew by $grown_mb MiB during the abuse"
[ "$grown_mb" -lt 200 ] || fail "server peak RSS grew by $grown_mb MiB"
# Logged: the first refusal in full, the ones after it within a second as a count.
grep -q "refused a request: forward inputs: tensor 0 has a non-finite value (NaN)" "$WORK/abuse.err" ||
  fail "the server did not log a refusal: $(cat "$WORK/abuse.err")"

# 10,000 connections at once (silent ones), while a well-behaved client calls.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 10100 ]; then
  echo "SKIP 10,000 connections: the open-file hard limit is $hard (needs 10100)"
else
  "$HM_PYTHON" - "$SERVER_ADDR" "$WORK/flood.ready" "$WORK/flood.done" <<'PY' &
import os, resource, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for _ in range(10000):
    s = socket.socket(); s.setblocking(False)
    try: s.connect((host, int(port)))
    except BlockingIOError: pass
    socks.append(s)
open(sys.argv[2], "w").close()
deadline = time.time() + 30  # hold them until the test is done, 30 s at most
while not os.path.exists(sys.argv[3]) and time.time() < deadline: time.sleep(0.05)
for s in socks: s.close()
PY
  flood_pid=$!
  PIDS+=("$flood_pid")
  for i in $(seq 300); do [ -e "$WORK/flood.ready" ] && break; sleep 0.1; done
  [ -e "$WORK/flood.ready" ] || fail "could not open 10,000 connections within 30 s"
  start=$(date +%s%N)
  call ffn.0.0 forward -i "$WORK/x.npy" -o "$WORK/during.npy"
  echo "a call during 10,000 connections took $(( ($(date +%s%N) - start) / 1000000 )) ms"
  touch "$WORK/flood.done"
  wait "$flood_pid" || fail "the connection flooder failed"
  grep -qE "(closed a connection that made no call|refused a connection).*--max-connections" "$WORK/abuse.err" ||
    fail "the server did not log the connections it refused: $(tail -5 "$WORK/abuse.err")"
  flooded=1
fi

call ffn.0.0 forward -i "$WORK/x.npy" > /dev/null
stop_server "$SERVER_PID"
# The rest of a flood is summarized, at the latest when the server stops.
if [ -n "${flooded:-}" ]; then
  grep -qE "refused [0-9]+ more connections in" "$WORK/abuse.err" ||
    fail "no summary of the refused connections: $(tail -5 "$WORK/abuse.err")"
fi
grep -E "refused|closed a connection" "$WORK/abuse.err" | sed 's/^/  log: /'

# An open-file limit too low for --max-connections: the server serves fewer
# connections (and says so) rather than running out of descriptors.
(ulimit -n 100 && exec "$HM_BIN/hm-serve" --listen 127.0.0.1:0 --expert-uids ffn.0.0 --hidden-dim 8 \
   > "$WORK/low.out" 2> "$WORK/low.err") &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for i in $(seq 300); do [ -s "$WORK/low.out" ] && break; sleep 0.1; done
SERVER_ADDR=$(head -n1 "$WORK/low.out")
"$HM_PYTHON" - "$SERVER_ADDR" "$WORK/low.done" <<'PY' &
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = [socket.create_connection((host, int(port))) for _ in range(300)]
deadline = time.time() + 30
while not os.path.exists(sys.argv[2]) and time.time() < deadline: time.sleep(0.05)
PY
holder_pid=$!
PIDS+=("$holder_pid")
sleep 1
call ffn.0.0 forward -i "$WORK/x.npy" > /dev/null
touch "$WORK/low.done"
wait "$holder_pid" || fail "could not hold 300 connections"
stop_server "$SERVER_PID"
grep -q "serving at most 50 connections" "$WORK/low.err" ||
  fail "no warning about the open-file limit: $(cat "$WORK/low.err")"
echo "serve_abuse: ok"
