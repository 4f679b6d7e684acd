#!/usr/bin/env bash
# The main job, on this machine: a whole local swarm on 127.0.0.1.
#   1. one hm-dht node;
#   2. two hm-serve processes hosting 16 ffn experts on a 4x4 grid, declared
#      in the DHT, checkpointing into ./demo-checkpoints;
#   3. hm-moe train: Linear(784, 64) -> 2 remote mixture-of-experts blocks
#      -> Linear(64, 10) on Fashion-MNIST, 4 asynchronous trainers, printing
#      the test-accuracy curve;
#   4. everything stopped.
# Run it through ./setup.sh demo, which builds first; HM_BIN points at the
# binaries. DEMO_STEPS (default 6000, about two minutes) sets the length of the training.
set -euo pipefail
HM_BIN=${HM_BIN:-build/tools}
STEPS=${DEMO_STEPS:-6000}
CHECKPOINTS=${DEMO_CHECKPOINTS:-demo-checkpoints}
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
first_line() {  # first_line FILE: waits (at most 60 s) for a process's address
  for _ in $(seq 600); do [ -s "$1" ] && { head -n1 "$1"; return; }; sleep 0.1; done
  echo "demo: no address in $1" >&2
  exit 1
}

step "a DHT node"
"$HM_BIN/hm-dht" --listen 127.0.0.1:0 > "$work/dht" 2> "$work/dht.log" &
pids+=($!)
dht=$(first_line "$work/dht")
echo "hm-dht at $dht" >&2

step "two expert servers: 16 ffn experts (hidden 64) on a 4x4 grid"
mkdir -p "$CHECKPOINTS"
for half in 0:2 2:4; do
  name=${half/:/-}
  "$HM_BIN/hm-serve" --listen 127.0.0.1:0 --dht "$dht" --update-period 5 \
    --expert-pattern "ffn.[$half].[0:4]" --expert-cls ffn --hidden-dim 64 \
    --checkpoint-dir "$CHECKPOINTS/$name" --checkpoint-every 30 \
    > "$work/serve-$name" 2> "$work/serve-$name.log" &
  pids+=($!)
  echo "hm-serve ffn.[$half].[0:4] at $(first_line "$work/serve-$name")" >&2
done
"$HM_BIN/hm-dht" experts --peers "$dht" ffn. --grid 4x4 >&2

step "hm-moe train: $STEPS steps on Fashion-MNIST (test accuracy every 500 steps)"
"$HM_BIN/hm-moe" train --dht "$dht" --prefix ffn --grid 4x4 --k-best 4 --hidden-dim 64 \
  --blocks 2 --steps "$STEPS" --batch-size 64 --trainers 4 --eval-every 500 \
  --forward-timeout 10 --timeout-after-k-min 1 --backward-timeout 10

step "stop everything"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid"; done
pids=()
echo "all stopped; expert checkpoints are in $CHECKPOINTS/" >&2
