#!/usr/bin/env bash
# Accuracy under 8-bit wire compression: hm-moe train on Fashion-MNIST, once
# on a swarm that sends everything raw and once on an identical swarm (same
# seeds) where servers and trainer send blockwise8 both ways
# (--compression-min-bytes 0, so every activation and gradient is
# compressed). After the same number of steps, the test accuracy on the
# whole test set must be within 1 point of the uncompressed run's.
source "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no $DATA"; exit 0; }

# swarm NAME ARGS...: a DHT and two servers of 4 ffn experts each, with
# ARGS on both servers; sets DHT.
swarm() {
  local name=$1; shift
  "$HM_BIN/hm-dht" --listen 127.0.0.1:0 > "$WORK/$name.dht.out" 2> "$WORK/$name.dht.err" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/$name.dht.out" ] && break; sleep 0.1; done
  DHT=$(head -n1 "$WORK/$name.dht.out")
  start_server "$name.a" --dht "$DHT" --expert-pattern 'ffn.[0:2].[0:2]' --hidden-dim 64 \
    --seed 1 "$@"
  start_server "$name.b" --dht "$DHT" --expert-pattern 'ffn.[2:4].[0:2]' --hidden-dim 64 \
    --seed 2 "$@"
}

# train NAME ARGS...: 600 steps of one trainer; the last line of its JSON
# curve goes to $WORK/NAME.json.
train() {
  local name=$1; shift
  "$HM_BIN/hm-moe" train --dht "$DHT" --prefix ffn --grid 4x2 --k-best 2 --hidden-dim 64 \
    --blocks 1 --batch-size 32 --trainers 1 --steps 600 --eval-every 600 --eval-samples 0 \
    --seed 3 --forward-timeout 20 --backward-timeout 20 --json "$@" \
    > "$WORK/$name.curve" 2> "$WORK/$name.train.err" ||
    { cat "$WORK/$name.train.err" >&2; fail "hm-moe train $name"; }
  tail -n1 "$WORK/$name.curve" > "$WORK/$name.json"
}

swarm plain
train plain
swarm compressed --compression blockwise8 --compression-min-bytes 0
"$HM_BIN/hm-call" --server "$SERVER_ADDR" ffn.2.0 info --json > "$WORK/info.json"
grep -q '"compression":"blockwise8"' "$WORK/info.json" ||
  fail "the compressed server does not advertise blockwise8: $(cat "$WORK/info.json")"
train compressed --compression blockwise8 --compression-min-bytes 0

"$HM_PYTHON" - "$WORK/plain.json" "$WORK/compressed.json" <<'PY'
import json, sys
plain, compressed = (json.load(open(path)) for path in sys.argv[1:])
assert plain["step"] == compressed["step"] >= 600, (plain, compressed)
a, b = plain["test_accuracy"], compressed["test_accuracy"]
print("test accuracy after %d steps: none %.4f, blockwise8 %.4f" % (plain["step"], a, b))
assert a > 0.6, plain  # the uncompressed run learned (chance is 0.1)
assert abs(a - b) <= 0.01, (a, b)
PY
echo "moe_train_compression: ok"
