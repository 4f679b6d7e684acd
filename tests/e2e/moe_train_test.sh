#!/usr/bin/env bash
# hm-moe train on a local swarm: the loss falls and the accuracy beats
# chance; --save/--resume continue where training stopped; bad --data and
# a dead swarm give one clear line.
source "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no $DATA"; exit 0; }

"$HM_BIN/hm-dht" --listen 127.0.0.1:0 > "$WORK/dht.out" 2> "$WORK/dht.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/dht.out" ] && break; sleep 0.1; done
DHT=$(head -n1 "$WORK/dht.out")
start_server a --dht "$DHT" --expert-pattern 'ffn.[0:2].[0:2]' --hidden-dim 32
start_server b --dht "$DHT" --expert-pattern 'ffn.[2:4].[0:2]' --hidden-dim 32

train() {
  "$HM_BIN/hm-moe" train --dht "$DHT" --prefix ffn --grid 4x2 --k-best 2 --hidden-dim 32 \
    --blocks 1 --batch-size 32 --trainers 2 --eval-every 100 --eval-samples 1000 \
    --forward-timeout 10 --backward-timeout 10 --json "$@"
}
train --steps 300 --save "$WORK/model.pt" > "$WORK/curve.json" 2> "$WORK/train.err" ||
  { cat "$WORK/train.err" >&2; fail "hm-moe train"; }
"$HM_PYTHON" - "$WORK/curve.json" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert len(rows) >= 3, rows
for key in ("step", "loss", "test_accuracy", "samples_per_s"):
    assert all(key in r for r in rows), key
assert rows[-1]["step"] >= 300, rows[-1]
assert rows[-1]["loss"] < rows[0]["loss"], [r["loss"] for r in rows]
assert rows[-1]["test_accuracy"] > 0.5, rows[-1]   # chance is 0.1
assert rows[-1]["samples_per_s"] > 0
print("loss", [round(r["loss"], 3) for r in rows], "accuracy", rows[-1]["test_accuracy"])
PY

# Resume: the step count goes on from the checkpoint.
train --steps 400 --resume "$WORK/model.pt" > "$WORK/resumed.json" 2> "$WORK/resume.err" ||
  { cat "$WORK/resume.err" >&2; fail "hm-moe train --resume"; }
"$HM_PYTHON" -c "
import json
rows = [json.loads(l) for l in open('$WORK/resumed.json')]
assert rows[0]['step'] > 300 and rows[-1]['step'] >= 400, rows
assert rows[-1]['test_accuracy'] > 0.5, rows"

expect_error 1 "no train-images-idx3-ubyte" train --steps 10 --data "$WORK"
expect_error 1 "^hm-moe: error: --resume .*/curve.json: not an hm-moe train checkpoint \([0-9]+ bytes, no HMTRAIN1 header\)$" \
  train --steps 10 --resume "$WORK/curve.json"
# A damaged checkpoint: one line, nothing trained.
cp "$WORK/model.pt" "$WORK/damaged.pt"
printf 'XXXXXXXX' | dd of="$WORK/damaged.pt" bs=1 seek=4096 conv=notrunc status=none
expect_error 1 "^hm-moe: error: --resume .*/damaged.pt: checksum mismatch" \
  train --steps 10 --resume "$WORK/damaged.pt"
stop_server "$SERVER_PID"
