#!/usr/bin/env bash
# --compression end to end, with nop experts (whose output is their input)
# so that what comes back is exactly what the wire made of it:
# - a server with --compression blockwise8 answers a raw request with
#   bitsandbytes' blockwise code: every output value is code[k] x the
#   absmax of its block of 4096, within half a code step of the input;
#   info says so;
# - a client with --compression uniform8 to a plain server gets back its
#   input as uniform8 carried it: values from a 256-entry codebook, within
#   hivemind's error bound; small tensors (under --compression-min-bytes)
#   come back bit for bit;
# - a bad kind is one line.
source "$(dirname "$0")/lib.sh"
"$HM_PYTHON" -c "import numpy" 2> /dev/null || { echo "SKIP: no numpy"; exit 0; }

start_server blockwise --expert-cls nop --hidden-dim 1024 --num-experts 1 \
  --compression blockwise8 --compression-min-bytes 0
BLOCKWISE=$SERVER_ADDR
start_server plain --expert-cls nop --hidden-dim 1024 --num-experts 1
PLAIN=$SERVER_ADDR

"$HM_PYTHON" -c "
import numpy as np
rng = np.random.default_rng(5)
np.save('$WORK/x.npy', (rng.standard_normal((12, 1024)) * 3).astype(np.float32))
np.save('$WORK/small.npy', rng.standard_normal((1, 1024)).astype(np.float32))"

"$HM_BIN/hm-call" --server "$BLOCKWISE" expert.0 info > "$WORK/info.txt"
grep -q "^compresses blockwise8$" "$WORK/info.txt" || fail "info: $(cat "$WORK/info.txt")"
"$HM_BIN/hm-call" --server "$BLOCKWISE" expert.0 forward -i "$WORK/x.npy" -o "$WORK/blockwise.npy"
"$HM_BIN/hm-call" --server "$PLAIN" expert.0 forward --compression uniform8 \
  -i "$WORK/x.npy" -o "$WORK/uniform.npy"
"$HM_BIN/hm-call" --server "$PLAIN" expert.0 forward --compression uniform8 \
  -i "$WORK/small.npy" -o "$WORK/small_out.npy"  # 4096 bytes: the default minimum
"$HM_BIN/hm-call" --server "$PLAIN" expert.0 forward --compression uniform8 \
  --compression-min-bytes 4097 -i "$WORK/small.npy" -o "$WORK/small_raw.npy"

"$HM_PYTHON" - "$WORK" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
x = np.load(f"{d}/x.npy")

# bitsandbytes' dynamic map (signed, 7 exponent bits), restated.
code = []
for i in range(7):
    b = np.linspace(0.1, 1, 2**i + 1, dtype=np.float32)
    means = (b[:-1] + b[1:]) / np.float32(2)
    scale = np.float32(10.0 ** (i - 6))
    code += list(scale * means) + list(-scale * means)
code = np.sort(np.array(code + [0.0, 1.0], dtype=np.float32))
assert code.size == 256

y = np.load(f"{d}/blockwise.npy").reshape(-1)
flat = x.reshape(-1)
assert not np.array_equal(y, flat), "blockwise8 output is the raw input"
for start in range(0, flat.size, 4096):
    xb, yb = flat[start:start + 4096], y[start:start + 4096]
    absmax = np.float32(np.abs(xb).max())
    levels = code * absmax
    idx = np.abs(yb[:, None] - levels[None, :]).argmin(axis=1)
    # numpy's linspace may round a code entry one ulp off torch's.
    assert np.allclose(yb, levels[idx], rtol=1e-6, atol=0), "an output is not code[k] * absmax"
    # Nearest code: within half the gap to a neighbouring level.
    gaps = np.r_[0, np.diff(levels), 0]
    bound = 0.5 * np.maximum(gaps[idx], gaps[idx + 1]) + 1e-6 * absmax
    assert np.all(np.abs(yb - xb) <= bound), "an output is not the nearest code"
mse = float(np.mean((y - flat) ** 2) / np.var(flat))
assert mse < 8e-4, mse

u = np.load(f"{d}/uniform.npy")
assert u.shape == x.shape
values = np.unique(u)
assert values.size <= 256, values.size
umse = float(np.mean((u - x) ** 2) / np.var(x))
assert umse < 8e-4, umse
print("relative mse: blockwise8 %.2e, uniform8 %.2e" % (mse, umse))

small = np.load(f"{d}/small.npy")
assert not np.array_equal(np.load(f"{d}/small_out.npy"), small), "4096 bytes were not compressed"
assert np.array_equal(np.load(f"{d}/small_raw.npy"), small), "a tensor under the minimum was compressed"
PY

expect_error 2 "compression" \
  "$HM_BIN/hm-call" --server "$PLAIN" expert.0 forward --compression zstd -i "$WORK/x.npy"
stop_server "$SERVER_PID"
echo "compression_call: ok"
