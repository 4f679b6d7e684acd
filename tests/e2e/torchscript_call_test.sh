#!/usr/bin/env bash
# A .npy written by numpy, sent with hm-call forward to an expert served from
# a TorchScript file, comes back equal to running the module locally;
# backward returns the gradients torch computes locally, then trains.
source "$(dirname "$0")/lib.sh"

# torch.jit.script reads the module's source: it must live in a file.
cat > "$WORK/make_net.py" <<'PY'
import sys, numpy as np, torch
work = sys.argv[1]
torch.manual_seed(3)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 32)
        self.b = torch.nn.Linear(32, 16)
    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))
net = torch.jit.script(Net())
net.save(f"{work}/net.pt")
x = np.random.RandomState(0).randn(5, 16).astype(np.float32)
dy = np.random.RandomState(1).randn(5, 16).astype(np.float32)
np.save(f"{work}/x.npy", x)
np.save(f"{work}/dy.npy", dy)
xt = torch.from_numpy(x).requires_grad_()
y = net(xt)
y.backward(torch.from_numpy(dy))
np.save(f"{work}/y_ref.npy", y.detach().numpy())
np.save(f"{work}/dx_ref.npy", xt.grad.numpy())
PY
"$HM_PYTHON" "$WORK/make_net.py" "$WORK"

start_server ts --module "$WORK/net.pt" --module-inputs 'float32[*,16]' --expert-uids net.0 net.1
"$HM_BIN/hm-call" --server "$SERVER_ADDR" net.1 forward -i "$WORK/x.npy" -o "$WORK/y.npy"
"$HM_BIN/hm-call" --server "$SERVER_ADDR" net.1 backward -i "$WORK/x.npy" -g "$WORK/dy.npy" > "$WORK/dx.npy"
"$HM_BIN/hm-call" --server "$SERVER_ADDR" net.1 info --json > "$WORK/info.json"
"$HM_BIN/hm-call" --server "$SERVER_ADDR" net.1 forward -i "$WORK/x.npy" -o "$WORK/y_after.npy"

"$HM_PYTHON" - "$WORK" <<'PY'
import sys, json, numpy as np
work = sys.argv[1]
y, y_ref = np.load(f"{work}/y.npy"), np.load(f"{work}/y_ref.npy")
dx, dx_ref = np.load(f"{work}/dx.npy"), np.load(f"{work}/dx_ref.npy")
assert y.shape == (5, 16) and y.dtype == np.float32, (y.shape, y.dtype)
np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6)
info = json.load(open(f"{work}/info.json"))
assert info["steps"] == 1, info
assert info["inputs"] == [{"dtype": "float32", "shape": [-1, 16]}], info
assert info["outputs"] == [{"dtype": "float32", "shape": [-1, 16]}], info
# One Adam step moved the weights: the same input gives a different output.
assert np.abs(np.load(f"{work}/y_after.npy") - y).max() > 1e-4
print("torchscript expert matches local torch")
PY
stop_server "$SERVER_PID"
