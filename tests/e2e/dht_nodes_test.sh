#!/usr/bin/env bash
# 256 DHT nodes in one hm-dht process: a key stored through one node is found
# through any other, and from a second hm-dht process that joined with
# --peers; dictionaries (--subkey), --json, --latest; the periodic report;
# SIGTERM exits 0.
source "$HM_TESTS/e2e/lib.sh"
DHT="$HM_BIN/hm-dht"

start_dht big 256 --report-every 1
BIG_PID=$DHT_PID
BIG=("${DHT_ADDRS[@]}")

# Stored through node i, read through a node far from it in the list.
for i in $(seq 0 15); do
  via=${BIG[$((i * 16))]}
  "$DHT" store --peers "$via" "key-$i" "value-$i" || fail "store key-$i through $via"
done
for i in $(seq 0 15); do
  via=${BIG[$(((i * 16 + 101) % 256))]}
  got=$("$DHT" get --peers "$via" "key-$i") || fail "get key-$i through $via"
  [ "$got" = "value-$i" ] || fail "key-$i through $via: '$got'"
done

# A dictionary stored from two nodes, read whole with --latest --json.
"$DHT" store --peers "${BIG[3]}" "grid." "expert-a" --subkey 1 --ttl 60 || fail "store subkey 1"
"$DHT" store --peers "${BIG[200]}" "grid." "expert-b" --subkey 2 --ttl 120 || fail "store subkey 2"
json=$("$DHT" get --peers "${BIG[77]}" "grid." --latest --json) || fail "get grid."
"$HM_PYTHON" - "$json" <<'PY' || fail "grid. as JSON: $json"
import json, sys
d = json.loads(sys.argv[1])
assert d["key"] == "grid.", d
assert {k: v["value"] for k, v in d["subkeys"].items()} == {"1": "expert-a", "2": "expert-b"}, d
assert d["expiration"] == max(v["expiration"] for v in d["subkeys"].values()), d
PY
plain=$("$DHT" get --peers "${BIG[150]}" "grid.") || fail "get grid. as text"
[ "$plain" = "$(printf '1\texpert-a\n2\texpert-b')" ] || fail "grid. as text: '$plain'"
json=$("$DHT" get --peers "${BIG[9]}" key-3 --json)
"$HM_PYTHON" -c 'import json,sys,time; d=json.loads(sys.argv[1]); assert d["value"]=="value-3" and d["expiration"]>time.time()+200, d' "$json" ||
  fail "key-3 as JSON: $json"

# A second process joins through the first node; its nodes find the keys.
start_dht small 8 --peers "${BIG[0]}" --report-every 0
SMALL_PID=$DHT_PID
SMALL=("${DHT_ADDRS[@]}")
for i in $(seq 0 15); do
  via=${SMALL[$((i % 8))]}
  got=$("$DHT" get --peers "$via" "key-$i") || fail "get key-$i through the second process ($via)"
  [ "$got" = "value-$i" ] || fail "key-$i through the second process: '$got'"
done
# ... and a key stored through it is found through the first.
"$DHT" store --peers "${SMALL[5]}" from-small yes || fail "store through the second process"
[ "$("$DHT" get --peers "${BIG[255]}" from-small)" = yes ] || fail "from-small not found"

# The id answered by ping is a 40-hex-digit id.
"$DHT" ping "${BIG[42]}" | grep -qE '^id=[0-9a-f]{40} rtt_ms=[0-9.]+$' || fail "ping output"

grep -q 'routing_table=' "$WORK/big.err" || fail "no report on stderr"
stop_dht "$SMALL_PID"
stop_dht "$BIG_PID"
echo "dht_nodes_test: ok"
