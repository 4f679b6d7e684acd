#!/usr/bin/env bash
# hm-bench end to end: every subcommand with tiny parameters and --json, the
# keys each one promises, client processes, a running hm-serve as the server,
# and usage errors. No timing assertions.
source "$(dirname "$0")/lib.sh"
BENCH="$HM_BIN/hm-bench"

# check_json FILE PYTHON-EXPR...: each expression (over `j`, the parsed
# object) must be true.
check_json() {
  local file=$1; shift
  "$HM_PYTHON" - "$file" "$@" <<'PY' || fail "JSON checks failed for $1"
import json, sys
text = open(sys.argv[1]).read()
lines = [l for l in text.splitlines() if l.strip()]
assert len(lines) == 1, f"expected one JSON line, got {len(lines)}: {text!r}"
j = json.loads(lines[0])
for expr in sys.argv[2:]:
    if not eval(expr, {"j": j}):
        sys.exit(f"false: {expr}\n{json.dumps(j, indent=1)}")
PY
}

# throughput, threads, with --vs-local: hivemind's keys plus ours.
"$BENCH" throughput --preset nop --experts 2 --clients 2 --batches-per-client 3 \
  --batch-size 4 --hidden-dim 8 --backprop --vs-local --rounds 2 --json > "$WORK/tp.json" 2> "$WORK/tp.err" ||
  { cat "$WORK/tp.err" >&2; fail "throughput failed"; }
check_json "$WORK/tp.json" \
  'j["samples_per_s"] > 0' 'j["local_samples_per_s"] > 0' \
  'abs(j["ratio"] - j["samples_per_s"] / j["local_samples_per_s"]) < 1e-9 * j["ratio"]' \
  'j["startup_s"] >= 0' 'j["examples"] == 2 * 2 * 3 * 4' 'j["params"]["rounds"] == 2' 'j["cpu_s"] > 0' 'j["cpu_ratio"] > 0' \
  'j["forward_ms"]["count"] == 12' 'j["backward_ms"]["count"] == 12' \
  'j["params"]["expert_cls"] == "nop"' 'j["params"]["backprop"] is True' \
  'j["params"]["max_batch_size"] == 8192' 'j["params"]["client_processes"] is False'

# throughput with client processes (which take --busy-poll from the parent),
# forward only, no --vs-local.
"$BENCH" throughput --preset ffn_forward --experts 2 --clients 3 --batches-per-client 2 \
  --batch-size 2 --hidden-dim 8 --client-processes --busy-poll 30 --json > "$WORK/tpp.json" 2> "$WORK/tpp.err" ||
  { cat "$WORK/tpp.err" >&2; fail "throughput --client-processes failed"; }
check_json "$WORK/tpp.json" \
  'j["samples_per_s"] > 0' 'j["local_samples_per_s"] is None' 'j["ratio"] is None' \
  'j["cpu_ratio"] is None' 'j["cpu_s"] > 0' \
  'j["examples"] == 3 * 2 * 2' 'j["backward_ms"]["count"] == 0' \
  'j["params"]["client_processes"] is True' 'j["params"]["expert_cls"] == "ffn"' \
  'j["busy_poll_us"] == 30'

# the human-readable report carries hivemind's lines.
"$BENCH" throughput --preset minimalistic --batches-per-client 2 --batch-size 2 --hidden-dim 8 \
  --no-progress > "$WORK/tp.txt" 2> "$WORK/tp.err" || { cat "$WORK/tp.err" >&2; fail "text report"; }
for line in "status: Success" "Server startup took" "Processed 4 examples" \
            "Throughput for forward + backward passes" "Forward latency"; do
  grep -q "$line" "$WORK/tp.txt" || { cat "$WORK/tp.txt" >&2; fail "report lacks '$line'"; }
done

# against a running hm-serve.
start_server nop --num-experts 2 --expert-cls nop --hidden-dim 8
"$BENCH" throughput --server "$SERVER_ADDR" --experts 2 --clients 2 --batches-per-client 2 \
  --batch-size 3 --hidden-dim 8 --expert-cls nop --json > "$WORK/tps.json" 2> "$WORK/tps.err" ||
  { cat "$WORK/tps.err" >&2; fail "throughput --server failed"; }
check_json "$WORK/tps.json" 'j["examples"] == 12' 'j["startup_s"] == 0' \
  'j["params"]["server"] == "'"$SERVER_ADDR"'"'
"$BENCH" latency --server "$SERVER_ADDR" --hidden-dim 8 --calls 30 --warmup 1 --json \
  > "$WORK/lats.json" 2> "$WORK/lats.err" || { cat "$WORK/lats.err" >&2; fail "latency --server"; }
check_json "$WORK/lats.json" 'j["calls"] == 30'
stop_server "$SERVER_PID"

# latency.
"$BENCH" latency --calls 50 --warmup 5 --json > "$WORK/lat.json" 2> "$WORK/lat.err" ||
  { cat "$WORK/lat.err" >&2; fail "latency failed"; }
check_json "$WORK/lat.json" 'j["calls"] == 50' '0 < j["p50_us"] <= j["p99_us"] <= j["max_us"]' \
  'j["call"] == "forward"' 'j["expert_cls"] == "nop"' 'j["batch_size"] == 1' 'j["busy_idle"] is False' \
  'j["tcp_p50_us"] is None' 'j["tcp_ratio"] is None'
# --vs-tcp: plain TCP round trips beside the calls, in text and JSON; it
# times loopback here, so not with --server.
"$BENCH" latency --calls 50 --warmup 5 --vs-tcp --json > "$WORK/latt.json" 2> "$WORK/latt.err" ||
  { cat "$WORK/latt.err" >&2; fail "latency --vs-tcp failed"; }
check_json "$WORK/latt.json" '0 < j["tcp_p50_us"] <= j["tcp_p99_us"]' \
  'abs(j["tcp_ratio"] - j["p50_us"] / j["tcp_p50_us"]) < 1e-9'
"$BENCH" latency --calls 20 --warmup 2 --vs-tcp > "$WORK/latt.txt" 2> "$WORK/latt.err" ||
  { cat "$WORK/latt.err" >&2; fail "latency --vs-tcp (text) failed"; }
grep -q "^plain TCP round trip between two threads (the floor): p50 " "$WORK/latt.txt" ||
  fail "latency --vs-tcp text: $(cat "$WORK/latt.txt")"
expect_error 2 "--vs-tcp" "$BENCH" latency --calls 1 --vs-tcp --server 127.0.0.1:1
# --busy-idle holds a PM QoS request while measuring, where this user may.
if [ -w /dev/cpu_dma_latency ]; then
  "$BENCH" latency --calls 20 --warmup 2 --busy-idle --json > "$WORK/latb.json" 2> "$WORK/latb.err" ||
    { cat "$WORK/latb.err" >&2; fail "latency --busy-idle failed"; }
  check_json "$WORK/latb.json" 'j["calls"] == 20' 'j["busy_idle"] is True'
else
  expect_error 1 "cpu_dma_latency" "$BENCH" latency --calls 1 --busy-idle
fi

# --busy-poll: the same calls, the loops polling for replies; out of range is
# a usage error naming the flag; dht (no expert calls) does not take it.
"$BENCH" latency --calls 50 --warmup 5 --busy-poll 50 --json > "$WORK/latp.json" \
  2> "$WORK/latp.err" || { cat "$WORK/latp.err" >&2; fail "latency --busy-poll failed"; }
check_json "$WORK/latp.json" 'j["calls"] == 50' 'j["busy_poll_us"] == 50' \
  '0 < j["p50_us"] <= j["p99_us"]'
check_json "$WORK/lat.json" 'j["busy_poll_us"] == 0'
expect_error 2 "--busy-poll" "$BENCH" latency --calls 1 --busy-poll 10001
expect_error 2 "--busy-poll" "$BENCH" dht --peers 2 --experts 2 --busy-poll 50

# dht.
"$BENCH" dht --peers 8 --experts 64 --batch 16 --json > "$WORK/dht.json" 2> "$WORK/dht.err" ||
  { cat "$WORK/dht.err" >&2; fail "dht failed"; }
check_json "$WORK/dht.json" 'j["store_success"] == 1.0' 'j["get_success"] == 1.0' \
  'j["gets"] == 64' 'j["stores"] >= 128' 'j["mean_store_ms"] > 0' 'j["mean_get_ms"] > 0' \
  'j["peak_rss_mb"] >= j["start_rss_mb"] > 0' 'j["peers"] == 8'

# dht with failures: two of ten peers stop before the reads.
"$BENCH" dht --peers 10 --experts 32 --batch 8 --failure-rate 0.2 --json > "$WORK/dhtf.json" \
  2> "$WORK/dhtf.err" || { cat "$WORK/dhtf.err" >&2; fail "dht --failure-rate failed"; }
check_json "$WORK/dhtf.json" 'j["stopped"] == 2' 'j["gets"] == 32' '0 <= j["get_success"] <= 1'

# chain: one row per ping, in order.
"$BENCH" chain --blocks 2 --hidden-dim 8 --batch-size 2 --jobs 2 --batches 2 \
  --latency-batches 2 --ping 0 0.001 0.002 --json > "$WORK/chain.json" 2> "$WORK/chain.err" ||
  { cat "$WORK/chain.err" >&2; fail "chain failed"; }
check_json "$WORK/chain.json" 'len(j["rows"]) == 3' \
  '[r["ping_s"] for r in j["rows"]] == [0, 0.001, 0.002]' \
  'all(r["sequential_samples_per_s"] > 0 and r["parallel_samples_per_s"] > 0 for r in j["rows"])' \
  'all(set(r) >= {"latency_s", "latency_std_s", "speedup"} for r in j["rows"])'

# usage errors exit 2 with one line that names the problem.
expect_error 2 "unknown preset 'fast'" "$BENCH" throughput --preset fast
expect_error 2 "batch-size 9000 exceeds --max-batch-size 8192" \
  "$BENCH" throughput --preset nop --batch-size 9000 --max-batch-size 8192
expect_error 2 "--peers must be at least 2" "$BENCH" dht --peers 1
expect_error 2 "--ping" "$BENCH" chain --ping -1
expect_error 2 "A subcommand is required|subcommand" "$BENCH"
# a server that is not there: exit 1, saying what failed.
expect_error 1 "connect" "$BENCH" latency --server 127.0.0.1:1 --calls 1 --timeout 5
echo "bench_cli: ok"
