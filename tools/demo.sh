#!/usr/bin/env bash
# The main job, on this machine: a local hm-serve hosting 4 experts on
# 127.0.0.1, hm-call against it (info, forward, backward), the result
# printed, the server stopped. Run it through ./setup.sh demo, which builds
# first; HM_BIN points at the binaries.
set -euo pipefail
HM_BIN=${HM_BIN:-build/tools}
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start hm-serve: 4 ffn experts (hidden 8) on a 2x2 grid"
"$HM_BIN/hm-serve" --listen 127.0.0.1:0 --expert-pattern 'ffn.[0:2].[0:2]' \
  --expert-cls ffn --hidden-dim 8 --seed 1 --stats-every 1 > "$work/address" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/address" ] && break; sleep 0.1; done
addr=$(head -n1 "$work/address")
[ -n "$addr" ] || { echo "demo: hm-serve did not start" >&2; exit 1; }
echo "hm-serve listens on $addr"

step "hm-call list"
"$HM_BIN/hm-call" --server "$addr" list

step "hm-call ffn.1.0 info"
"$HM_BIN/hm-call" --server "$addr" ffn.1.0 info

step "hm-call ffn.1.0 forward: two rows of 8 numbers in, two rows out"
printf '1 2 3 4 5 6 7 8\n0 0 0 0 1 1 1 1\n' > "$work/x.txt"
"$HM_BIN/hm-call" --server "$addr" ffn.1.0 forward --format text -i "$work/x.txt"

step "hm-call ffn.1.0 backward: gradient of the inputs (and one training step)"
printf '1 0 0 0 0 0 0 0\n0 1 0 0 0 0 0 0\n' > "$work/dy.txt"
"$HM_BIN/hm-call" --server "$addr" ffn.1.0 backward --format text -i "$work/x.txt" -g "$work/dy.txt"
"$HM_BIN/hm-call" --server "$addr" ffn.1.0 info --json

step "stop hm-serve"
kill -TERM "$server_pid"
wait "$server_pid" && echo "hm-serve exited cleanly"
server_pid=
