#!/usr/bin/env bash
# Wire compression over a thin link: a server and a client in two network
# namespaces joined by a veth pair that tc tbf limits to 100 Mbit/s each
# way. hm-bench throughput runs nop fwd+bwd (hidden 1024) against a plain
# server and against one started with --compression blockwise8 (the client
# compresses too). Asserted: both runs succeed, and the bytes the link
# carried per run (veth counters) fall to under 0.35 of the plain run's
# with blockwise8 (a quarter of float32, plus tables and TCP/IP headers).
# The samples/s of both runs are printed for the benchmark notes, not
# asserted (timing belongs in hm-bench).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 0; }
command -v ip > /dev/null && command -v tc > /dev/null ||
  { echo "SKIP: needs ip and tc (iproute2)"; exit 0; }

SERVER_NS=hm-bw-srv-$$
CLIENT_NS=hm-bw-cli-$$
ip netns add "$SERVER_NS" 2> "$WORK/netns.err" ||
  { cat "$WORK/netns.err"; echo "SKIP: cannot create network namespaces"; exit 0; }
remove_namespaces() {
  cleanup
  ip netns del "$SERVER_NS" 2> /dev/null || true
  ip netns del "$CLIENT_NS" 2> /dev/null || true
}
trap remove_namespaces EXIT
ip netns add "$CLIENT_NS"
ip link add hm-bw-s netns "$SERVER_NS" type veth peer name hm-bw-c netns "$CLIENT_NS"
in_server() { ip netns exec "$SERVER_NS" "$@"; }
in_client() { ip netns exec "$CLIENT_NS" "$@"; }
in_server ip addr add 10.77.0.1/24 dev hm-bw-s
in_client ip addr add 10.77.0.2/24 dev hm-bw-c
for ns in "$SERVER_NS" "$CLIENT_NS"; do ip netns exec "$ns" ip link set lo up; done
in_server ip link set hm-bw-s up
in_client ip link set hm-bw-c up
# 100 Mbit/s each way; the burst holds a few 64 KiB segments.
in_server tc qdisc add dev hm-bw-s root tbf rate 100mbit burst 256kb latency 100ms
in_client tc qdisc add dev hm-bw-c root tbf rate 100mbit burst 256kb latency 100ms

# serve NAME ARGS...: hm-serve with one nop expert in the server namespace;
# sets ADDR from its first stdout line.
serve() {
  local name=$1; shift
  in_server "$HM_BIN/hm-serve" --listen 10.77.0.1:0 --expert-cls nop --hidden-dim 1024 \
    --num-experts 1 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 300); do [ -s "$WORK/$name.out" ] && break; sleep 0.1; done
  ADDR=$(head -n1 "$WORK/$name.out")
  [[ "$ADDR" =~ ^10\.77\.0\.1:[0-9]+$ ]] || { cat "$WORK/$name.err" >&2; fail "hm-serve $name printed '$ADDR'"; }
}
serve plain
PLAIN=$ADDR
serve compressed --compression blockwise8
COMPRESSED=$ADDR

link_bytes() {
  echo $(($(in_server cat /sys/class/net/hm-bw-s/statistics/tx_bytes) +
          $(in_client cat /sys/class/net/hm-bw-c/statistics/tx_bytes)))
}

# bench NAME SERVER ARGS...: one throughput run; prints its samples/s and
# sets BYTES to what crossed the link.
bench() {
  local name=$1 server=$2; shift 2
  local before after
  before=$(link_bytes)
  in_client "$HM_BIN/hm-bench" throughput --server "$server" --preset nop --experts 1 \
    --hidden-dim 1024 --clients 2 --batch-size 64 --batches-per-client 15 --warmup 1 --backprop \
    --timeout 60 --no-progress --json "$@" > "$WORK/$name.json" 2> "$WORK/$name.bench.err" ||
    { cat "$WORK/$name.bench.err" >&2; fail "hm-bench throughput $name"; }
  after=$(link_bytes)
  BYTES=$((after - before))
  "$HM_PYTHON" -c "
import json, sys
r = json.load(open('$WORK/$name.json'))
assert r['samples_per_s'] > 0, r
print('$name: %.0f samples/s, $BYTES bytes over the link' % r['samples_per_s'])"
}
bench plain "$PLAIN"
PLAIN_BYTES=$BYTES
bench blockwise8 "$COMPRESSED" --compression blockwise8
COMPRESSED_BYTES=$BYTES
"$HM_PYTHON" -c "
ratio = $COMPRESSED_BYTES / $PLAIN_BYTES
print('bytes ratio blockwise8 / none: %.3f' % ratio)
assert ratio < 0.35, ratio"
echo "compression_bandwidth: ok"
