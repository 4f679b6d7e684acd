#!/usr/bin/env bash
# Checkpoints survive a crash: hm-serve --checkpoint-dir --checkpoint-every 1
# trains an expert, is SIGKILLed after a checkpoint taken after the last
# backward, and comes back with the same uids, the same step count and the
# same outputs. SIGTERM saves once more; a corrupt checkpoint is reported by
# name and left alone; a checkpoint of another hidden dim is refused.
source "$(dirname "$0")/lib.sh"

CKPT=$WORK/ckpt
FLAGS=(--hidden-dim 8 --num-experts 3 --expert-pattern 'ffn.[0:4].[0:4]' --seed 5
       --checkpoint-dir "$CKPT")
call() { "$HM_BIN/hm-call" --server "$SERVER_ADDR" --timeout 20 "$@"; }
steps_of() { call "$1" info --json | "$HM_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["steps"])'; }

# wait_rewritten FILE: returns once FILE was written after this call began.
wait_rewritten() {
  local marker i
  marker=$(mktemp "$WORK/marker.XXXX")
  for i in $(seq 300); do
    [ -n "$(find "$1" -newer "$marker" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  fail "$1 was not rewritten within 30 s"
}

"$HM_PYTHON" -c "
import numpy as np
r = np.random.RandomState(0)
np.save('$WORK/x.npy', r.randn(4, 8).astype(np.float32))
np.save('$WORK/dy.npy', r.randn(4, 8).astype(np.float32))"

start_server first "${FLAGS[@]}" --checkpoint-every 1
call list > "$WORK/uids.first"
[ "$(wc -l < "$WORK/uids.first")" -eq 3 ] || fail "expected 3 uids, got $(cat "$WORK/uids.first")"
uid=$(head -n1 "$WORK/uids.first")
other=$(sed -n 2p "$WORK/uids.first")
for i in 1 2 3 4 5; do
  call "$uid" backward -i "$WORK/x.npy" -g "$WORK/dy.npy" > /dev/null
done
call "$uid" forward -i "$WORK/x.npy" -o "$WORK/y.before.npy"
# The first rewrite may hold a snapshot taken before the backwards; the one
# after it began later, so it holds all five steps.
wait_rewritten "$CKPT/$uid.pt"
wait_rewritten "$CKPT/$uid.pt"
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true

start_server second "${FLAGS[@]}" --checkpoint-every 1
call list > "$WORK/uids.second"
cmp -s "$WORK/uids.first" "$WORK/uids.second" ||
  fail "uids changed: $(cat "$WORK/uids.first") -> $(cat "$WORK/uids.second")"
[ "$(steps_of "$uid")" -eq 5 ] || fail "$uid restored with $(steps_of "$uid") steps, expected 5"
[ "$(steps_of "$other")" -eq 0 ] || fail "$other has $(steps_of "$other") steps, expected 0"
call "$uid" forward -i "$WORK/x.npy" -o "$WORK/y.after.npy"
cmp -s "$WORK/y.before.npy" "$WORK/y.after.npy" || fail "forward output changed across the restart"
grep -q "restored 3 of 3 expert(s) from $CKPT" "$WORK/second.err" ||
  { cat "$WORK/second.err" >&2; fail "hm-serve did not log the restore"; }

# SIGTERM saves the step taken since; the directory alone says what to host.
call "$uid" backward -i "$WORK/x.npy" -g "$WORK/dy.npy" > /dev/null
stop_server "$SERVER_PID"
start_server third --hidden-dim 8 --checkpoint-dir "$CKPT"
call list > "$WORK/uids.third"
cmp -s "$WORK/uids.first" "$WORK/uids.third" || fail "uids changed: $(cat "$WORK/uids.third")"
[ "$(steps_of "$uid")" -eq 6 ] || fail "$uid has $(steps_of "$uid") steps after SIGTERM, expected 6"
stop_server "$SERVER_PID"

# A checkpoint cut short is reported by name, skipped, and left in place.
truncate -s 100 "$CKPT/$other.pt"
start_server fourth --hidden-dim 8 --checkpoint-dir "$CKPT"
grep -q "skipping corrupt checkpoint $CKPT/$other.pt: truncated" "$WORK/fourth.err" ||
  { cat "$WORK/fourth.err" >&2; fail "no 'skipping corrupt checkpoint' line for $other"; }
[ "$(call list | wc -l)" -eq 2 ] || fail "hosted the expert with a corrupt checkpoint"
stop_server "$SERVER_PID"
[ "$(stat -c %s "$CKPT/$other.pt")" -eq 100 ] || fail "the corrupt checkpoint was replaced"

# Another hidden dim: refused, naming the file.
expect_error 1 "$CKPT/ffn\.[0-9.]+\.pt: saved with hidden dim 8, but this server has 16" \
  "$HM_BIN/hm-serve" --listen 127.0.0.1:0 --hidden-dim 16 --checkpoint-dir "$CKPT"
expect_error 2 "--checkpoint-every requires --checkpoint-dir" \
  "$HM_BIN/hm-serve" --listen 127.0.0.1:0 --hidden-dim 8 --expert-uids a.0 --checkpoint-every 1
echo "checkpoints survive SIGKILL and SIGTERM"
