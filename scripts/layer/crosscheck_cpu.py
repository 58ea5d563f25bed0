#!/usr/bin/env python3
"""Cross-check of `diffuser layer` (forward and backward, CPU, no dropout) against the same post-LN layer
in PyTorch (float64, autograd; the diffusion through torch.sparse as in compare_gpu.py): Y, dX and every
parameter gradient, as relative errors. Runs where the diffuser binary runs:
  /usr/bin/python3 scripts/layer/crosscheck_cpu.py build-layer/tools/diffuser
"""
import importlib.util, json, os, struct, subprocess, sys, tempfile
import numpy as np
import torch
spec = importlib.util.spec_from_file_location("cg", os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_gpu.py"))
cg = importlib.util.module_from_spec(spec); spec.loader.exec_module(cg)
D = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build-layer/tools/diffuser")
def read_st(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8+n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; out[k] = np.frombuffer(b[8+n+s:8+n+e], dtype=np.float32).reshape(v["shape"]).astype(np.float64)
    return out
os.chdir(tempfile.mkdtemp())
cfg = {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 64, "attention_window": 16, "num_rand": 4, "num_glob": 2, "initializer_range": 0.2, "diffusion_hops": 5, "diffusion_alpha": 0.1, "pre_layer_norm": False}
json.dump(cfg, open("xc.json", "w"))
subprocess.run([D, "layer", "--config", "xc.json", "--init-weights", "xw.safetensors", "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
n = 200
rng = np.random.default_rng(1)
x = rng.standard_normal((n, 32)).astype(np.float32); dy = rng.standard_normal((n, 32)).astype(np.float32)
np.save("xx.npy", x); np.save("xdy.npy", dy)
subprocess.run([D, "layer", "--config", "xc.json", "--weights", "xw.safetensors", "--x", "xx.npy", "--out", "xy.npy", "--grad-out", "xdy.npy", "--grads-out", "xg.safetensors", "--dx-out", "xdx.npy"], check=True, stdout=subprocess.DEVNULL)
W = read_st("xw.safetensors"); G = read_st("xg.safetensors")
torch.set_default_dtype(torch.float64)
L = cg.Layer(32, 4, 64, 0.0, 0.0).eval()
with torch.no_grad():
    L.qkv.weight.copy_(torch.from_numpy(np.concatenate([W[f"attention.self.{s}.weight"] for s in ("query", "key", "value")])))
    L.qkv.bias.copy_(torch.from_numpy(np.concatenate([W[f"attention.self.{s}.bias"] for s in ("query", "key", "value")])))
    for mod, name in ((L.out, "attention.output.dense"), (L.ffn1, "intermediate.dense"), (L.ffn2, "output.dense"), (L.ln1, "attention.output.LayerNorm"), (L.ln2, "output.LayerNorm")):
        mod.weight.copy_(torch.from_numpy(W[name + ".weight"])); mod.bias.copy_(torch.from_numpy(W[name + ".bias"]))
src, dst = cg.graph_edges(D, n, 0, "blocks:16+random:4+global-random:2")
att = cg.sparse_diffusion(torch.from_numpy(src), torch.from_numpy(dst), n, 5, 0.1)
xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
y = L(xt, att)
(y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
def rel(a, b):
    # The key bias's true gradient is 0 (a constant added to every key of a row leaves its softmax
    # unchanged): compare it absolutely.
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / nb) if nb > 1e-9 else float(np.linalg.norm(a - b))
print("Y ", rel(np.load("xy.npy"), y.detach().numpy()))
print("dX", rel(np.load("xdx.npy"), xt.grad.numpy()))
qkvg = L.qkv.weight.grad.numpy()
for i, s in enumerate(("query", "key", "value")):
    print(s, rel(G[f"attention.self.{s}.weight"], qkvg[32*i:32*(i+1)]), rel(G[f"attention.self.{s}.bias"], L.qkv.bias.grad.numpy()[32*i:32*(i+1)]))
for mod, name in ((L.out, "attention.output.dense"), (L.ffn1, "intermediate.dense"), (L.ffn2, "output.dense"), (L.ln1, "attention.output.LayerNorm"), (L.ln2, "output.LayerNorm")):
    print(name, rel(G[name + ".weight"], mod.weight.grad.numpy()), rel(G[name + ".bias"], mod.bias.grad.numpy()))

# `diffuser attend --grad-out` against torch autograd through the same diffusion (float64).
pat = "blocks:16+random:4+global-random:3"
n, H, d = 300, 3, 16
src, dst = cg.graph_edges(D, n, 0, pat)
rng = np.random.default_rng(0)
q, k, v, dz = (rng.standard_normal((n, H, d)).astype(np.float32) for _ in range(4))
for nm, a in zip(("q", "k", "v", "dz"), (q, k, v, dz)):
    np.save(f"{nm}.npy", a)
subprocess.run([D, "attend", "--pattern", pat, "--n", str(n), "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out",
                "z.npy", "--grad-out", "dz.npy", "--grads-dir", "grads"], check=True, stdout=subprocess.DEVNULL)
att = cg.sparse_diffusion(torch.from_numpy(src), torch.from_numpy(dst), n, 5, 0.1)
qt, kt, vt = (torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in (q, k, v))
z = att(qt, kt, vt, 0.0)
(z * torch.from_numpy(dz.astype(np.float64))).sum().backward()
print("attend Z ", rel(np.load("z.npy"), z.detach().numpy()))
for nm, t in (("dQ", qt), ("dK", kt), ("dV", vt)):
    print("attend", nm, rel(np.load(f"grads/{nm}.npy"), t.grad.numpy()))
