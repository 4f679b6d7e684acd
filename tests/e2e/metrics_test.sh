#!/usr/bin/env bash
# --metrics on hm-dht, hm-serve and hm-moe train: each serves /metrics in
# Prometheus' text format, which the reference parser (Debian's
# python3-prometheus-client) reads; the series count what the swarm did.
# --log-format json: every stderr line is one JSON object.
source "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no $DATA"; exit 0; }
"$HM_PYTHON" -c "import prometheus_client" 2>/dev/null ||
  fail "python3-prometheus-client is missing (apt install python3-prometheus-client)"

# metrics_address NAME: the HOST:PORT that process NAME logged for its metrics.
metrics_address() {
  local i
  for i in $(seq 100); do
    local found
    found=$(grep -oE 'metrics at http://[0-9.:]+/metrics' "$WORK/$1.err" | head -n1 || true)
    [ -n "$found" ] && { found=${found#metrics at http://}; echo "${found%/metrics}"; return; }
    sleep 0.1
  done
  fail "$1 logged no metrics address"
}

# check NAME ADDRESS PYTHON: scrapes ADDRESS, parses it with prometheus_client
# and runs PYTHON, in which `m(name, **labels)` is the sum of the samples
# with that name and those labels (None when there are none) and `families` the parsed families by name.
check() {
  local name=$1 address=$2 code=$3
  "$HM_PYTHON" - "$address" "$code" <<'PY' || fail "$name: metrics check failed"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
address, code = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
    assert response.status == 200
    kind = response.headers["Content-Type"]
    assert kind.startswith("text/plain; version=0.0.4"), kind
    text = response.read().decode()
families = {f.name: f for f in text_string_to_metric_families(text)}
def m(name, **labels):
    found = [sample.value for family in families.values() for sample in family.samples
             if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())]
    return sum(found) if found else None
exec(code)
PY
}

start_dht dht 1 --metrics 127.0.0.1:0 --log-format json
DHT=${DHT_ADDRS[0]}
start_server a --dht "$DHT" --expert-pattern 'ffn.[0:2].[0:2]' --hidden-dim 32 \
  --metrics 127.0.0.1:0 --log-format json
SERVE_METRICS=$(metrics_address a)
DHT_METRICS=$(metrics_address dht)

start_process train 1 "$HM_BIN/hm-moe" train --dht "$DHT" --prefix ffn --grid 2x2 --k-best 2 \
  --hidden-dim 32 --blocks 1 --batch-size 32 --trainers 1 --steps 100000 --eval-every 20 \
  --eval-samples 200 --forward-timeout 10 --backward-timeout 10 --json --metrics 127.0.0.1:0
TRAIN_PID=$PROCESS_PID
TRAIN_METRICS=$(metrics_address train)

check hm-moe "$TRAIN_METRICS" '
assert families["hm_train_steps"].type == "counter"
assert m("hm_train_steps_total") >= 20, m("hm_train_steps_total")
assert m("hm_train_samples_total") >= 32 * 20
assert 0 < m("hm_train_loss") < 10
assert 0 < m("hm_train_test_accuracy") <= 1
assert m("hm_moe_expert_calls_total", direction="forward", outcome="answered") > 0
assert m("hm_moe_expert_calls_total", direction="backward", outcome="answered") > 0
'
kill -TERM "$TRAIN_PID"

# A request the server refuses, and one for an expert it does not host.
"$HM_PYTHON" -c "import numpy; numpy.save('$WORK/wide.npy', numpy.zeros((2, 33), 'float32'))"
"$HM_BIN/hm-call" --server "$SERVER_ADDR" ffn.0.0 forward -i "$WORK/wide.npy" -o /dev/null \
  2>/dev/null && fail "a wrong shape was accepted"
"$HM_BIN/hm-call" --server "$SERVER_ADDR" nope.0.0 info 2>/dev/null &&
  fail "an unknown expert answered"

check hm-serve "$SERVE_METRICS" '
calls = families["hm_expert_calls"]
assert calls.type == "counter"
assert m("hm_expert_calls_total", method="forward", outcome="ok") > 0
assert m("hm_expert_calls_total", method="backward", outcome="ok") > 0
assert m("hm_expert_errors_total", uid="ffn.0.0", method="forward", error="bad-input") == 1
assert m("hm_expert_errors_total", uid="", method="info", error="unknown-expert") == 1
for series in ("hm_expert_rows_total", "hm_expert_batches_total",
               "hm_expert_received_bytes_total", "hm_expert_sent_bytes_total"):
    assert sum(s.value for s in families[series[:-6]].samples) > 0, series
rows = families["hm_expert_batch_rows"]
assert rows.type == "histogram"
count = sum(s.value for s in rows.samples if s.name == "hm_expert_batch_rows_count")
inf = sum(s.value for s in rows.samples if s.name == "hm_expert_batch_rows_bucket" and s.labels["le"] == "+Inf")
assert count > 0 and count == inf, (count, inf)
assert families["hm_expert_queue_wait_seconds"].type == "histogram"
assert m("hm_expert_compute_seconds_sum", uid="ffn.0.0", method="forward") > 0
assert m("hm_server_connections") >= 0 and m("hm_server_calls_in_flight") >= 0
assert m("hm_dht_routing_peers") >= 1
'

check hm-dht "$DHT_METRICS" '
assert m("hm_dht_nodes") == 1
assert m("hm_dht_routing_peers") >= 1
assert m("hm_dht_stored_keys") >= 1   # the declarations of the 4 experts
assert m("hm_dht_requests_served_total") > 0
assert m("hm_dht_requests_rate_limited_total") == 0
assert families["hm_dht_lookup_seconds"].type == "histogram"
'

# Something that is not /metrics: 404, and the server goes on serving.
"$HM_PYTHON" - "$DHT_METRICS" <<'PY' || fail "a bad path broke the metrics server"
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}/nope", timeout=5)
    raise SystemExit("no 404")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
assert urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).status == 200
PY

# A port already taken: one line naming it, exit 1; a malformed address: exit 2.
expect_error 1 "^hm-dht: error: .*$SERVE_METRICS" "$HM_BIN/hm-dht" --listen 127.0.0.1:0 \
  --metrics "$SERVE_METRICS"
expect_error 2 "^hm-dht: error: --metrics" "$HM_BIN/hm-dht" --metrics nonsense

# JSON logs: one object per line, with time, level, binary and message.
stop_server "$SERVER_PID"
stop_dht "$DHT_PID"
for name in a dht; do
  "$HM_PYTHON" - "$WORK/$name.err" <<'PY' || fail "$name: a stderr line is not a JSON log object"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
for line in lines:
    row = json.loads(line)
    for key in ("time", "level", "binary", "message"):
        assert key in row, (key, line)
print(len(lines), "JSON log lines")
PY
done

echo "metrics_test: ok"
