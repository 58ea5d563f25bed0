#!/usr/bin/env python3
"""One Diffuser encoder layer, forward + backward, fp32, on the GPU: diffuser's layer side by side with
the same layer in PyTorch on the same GPU, with peak memory (issue 5's GPU target).

Implementations (all the same post-LN RoBERTa layer: QKV projections with bias, attention, output
projection, dropout, residual + LayerNorm, FFN with erf GELU, residual + LayerNorm):
  torch-sdpa         standard attention on the graph: scaled_dot_product_attention with the graph as a
                     boolean (N, N) mask (one attention pass: no diffusion; what a dense layer costs)
  torch-sparse       the same Diffuser diffusion as ours: edge scores by gathers, edge softmax by
                     scatter_reduce, K PPR hops Z <- (1-alpha) A Z + alpha V through torch.sparse.mm on a
                     block-diagonal (H N, H N) sparse matrix (autograd through the sparse values)
  torch-dense-diffusion  (--dense-diffusion) the diffusion with dense (H, N, N) attention matrices
  diffuser           `diffuser layer --bench --backend cuda --json` (the binary named by --diffuser);
                     reported as unavailable while the layer's dense parts have no CUDA path

The graph is the authors' recipe (blocks:64+random:64+global-random:64), taken from
`diffuser graph --pattern diffuser --n N --seed S --out edges.npy` so every implementation sees the
same edges. Timing: CUDA events around forward + backward (with a loss sum(y * dy)), median of --reps
after --warmup runs; memory: torch.cuda.max_memory_allocated over one step after reset, minus the
bytes held before it (the parameters and inputs). Dropout is on (training), as in a training step.

usage (on the GPU machine, repo root, after a CUDA build in build-cuda):
  python3 scripts/layer/compare_gpu.py --diffuser build-cuda/tools/diffuser --n 4096 16384 \
      --out $OUT/layer_gpu.json
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def graph_edges(diffuser, n, seed, pattern):
    """(src, dst) int64 arrays of the pattern's edges, from the diffuser binary."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "edges.npy")
        subprocess.run([diffuser, "graph", "--pattern", pattern, "--n", str(n), "--seed", str(seed),
                        "--out", path], check=True, stdout=subprocess.DEVNULL)
        e = np.load(path).astype(np.int64)
    return e[:, 0], e[:, 1]


class Layer(torch.nn.Module):
    """The authors' DiffuserLayer (post-LN), attention pluggable."""

    def __init__(self, d, heads, inter, p_hidden, p_attn):
        super().__init__()
        self.h, self.d = heads, d
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.out = torch.nn.Linear(d, d)
        self.ln1 = torch.nn.LayerNorm(d, eps=1e-5)
        self.ffn1 = torch.nn.Linear(d, inter)
        self.ffn2 = torch.nn.Linear(inter, d)
        self.ln2 = torch.nn.LayerNorm(d, eps=1e-5)
        self.p_hidden, self.p_attn = p_hidden, p_attn

    def forward(self, x, attend):
        n = x.shape[0]
        q, k, v = self.qkv(x).view(n, 3, self.h, self.d // self.h).unbind(1)  # (N, H, D) each
        z = attend(q, k, v, self.p_attn if self.training else 0.0).reshape(n, self.d)
        a = F.dropout(self.out(z), self.p_hidden, self.training)
        h = self.ln1(a + x)
        f = F.dropout(self.ffn2(F.gelu(self.ffn1(h))), self.p_hidden, self.training)
        return self.ln2(f + h)


def sdpa_attention(mask):
    def attend(q, k, v, p):
        # (1, H, N, D); the mask (N, N) is True where token i may attend to token j
        o = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None],
                                           attn_mask=mask, dropout_p=p)
        return o[0].transpose(0, 1)
    return attend


def edge_softmax(scores, dst, n):
    """Softmax of (E, H) scores over each destination's incoming edges."""
    h = scores.shape[1]
    idx = dst[:, None].expand(-1, h)
    mx = torch.full((n, h), -math.inf, device=scores.device).scatter_reduce(0, idx, scores, "amax", include_self=True)
    ex = torch.exp(scores - mx[dst])
    den = torch.zeros((n, h), device=scores.device).index_add_(0, dst, ex)
    return ex / den[dst]


def sparse_diffusion(src, dst, n, hops, alpha):
    def attend(q, k, v, p):
        hh, dd = q.shape[1], q.shape[2]
        scores = (q[dst] * k[src]).sum(-1) / math.sqrt(dd)            # (E, H)
        w = F.dropout(edge_softmax(scores, dst, n), p, p > 0)
        # Block-diagonal (H N, H N): head h's A in block h; values head-major.
        off = (torch.arange(hh, device=q.device) * n)[:, None]
        rows = (dst[None, :] + off).reshape(-1)
        cols = (src[None, :] + off).reshape(-1)
        a = torch.sparse_coo_tensor(torch.stack([rows, cols]), w.t().reshape(-1), (hh * n, hh * n))
        vv = v.transpose(0, 1).reshape(hh * n, dd)
        z = vv
        for _ in range(hops):
            z = (1 - alpha) * torch.sparse.mm(a, z) + alpha * vv
            z = F.dropout(z, p, p > 0)
        return z.reshape(hh, n, dd).transpose(0, 1)
    return attend


def dense_diffusion(mask, hops, alpha):
    def attend(q, k, v, p):
        dd = q.shape[2]
        s = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(dd)
        a = torch.softmax(s.masked_fill(~mask, -math.inf), dim=-1)
        a = F.dropout(a, p, p > 0)
        vv = v.transpose(0, 1)
        z = vv
        for _ in range(hops):
            z = F.dropout((1 - alpha) * torch.bmm(a, z) + alpha * vv, p, p > 0)
        return z.transpose(0, 1)
    return attend


def time_torch(name, attend, args, n, dev):
    torch.manual_seed(0)
    layer = Layer(args.d_model, args.heads, 4 * args.d_model, args.dropout, args.dropout).to(dev).train()
    x = torch.randn(n, args.d_model, device=dev, requires_grad=True)
    dy = torch.randn(n, args.d_model, device=dev)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y = layer(x, attend)
        (y * dy).sum().backward()

    try:
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.reps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            step()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        return {"impl": name, "n": n, "step_ms": float(np.median(times)), "peak_bytes": int(peak), "status": "ok"}
    except torch.cuda.OutOfMemoryError as e:
        return {"impl": name, "n": n, "status": "out of memory", "detail": str(e).splitlines()[0]}
    finally:
        del layer, x, dy
        torch.cuda.empty_cache()


def time_diffuser(args, n):
    if not args.diffuser or not os.path.exists(args.diffuser):
        return {"impl": "diffuser", "n": n, "status": "binary not found"}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "c.json")
        with open(cfg, "w") as f:
            json.dump({"hidden_size": args.d_model, "num_attention_heads": args.heads, "num_hidden_layers": 1,
                       "intermediate_size": 4 * args.d_model, "attention_window": 64, "num_rand": 64, "num_glob": 64,
                       "hidden_dropout_prob": args.dropout, "attention_probs_dropout_prob": args.dropout,
                       "diffusion_hops": args.hops, "diffusion_alpha": args.alpha, "graph_seed": args.seed}, f)
        out = os.path.join(tmp, "r.json")
        cmd = [args.diffuser, "layer", "--config", cfg, "--bench", "--n", str(n), "--reps", str(args.reps),
               "--backend", "cuda", "--json", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"impl": "diffuser", "n": n, "status": "unavailable", "detail": r.stderr.strip()[-300:]}
        with open(out) as f:
            res = json.load(f)
        res.update({"impl": "diffuser", "n": n, "status": "ok"})
        if "peak_device_bytes" in res:
            res["peak_bytes"] = res["peak_device_bytes"]
        return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffuser", default="build-cuda/tools/diffuser", help="the diffuser binary (CUDA build)")
    ap.add_argument("--n", type=int, nargs="+", default=[4096, 16384])
    ap.add_argument("--d-model", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--hops", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pattern", default="diffuser")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dense-diffusion", action="store_true", help="also time the dense (H, N, N) diffusion")
    ap.add_argument("--out", help="write all results as JSON here")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device visible to PyTorch")
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 products, as ours
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}; layer d_model {args.d_model}, "
          f"{args.heads} heads, FFN {4 * args.d_model}, K = {args.hops}, alpha {args.alpha}, fp32, dropout {args.dropout}")
    results = []
    for n in args.n:
        t0 = time.time()
        src_np, dst_np = graph_edges(args.diffuser, n, args.seed, args.pattern)
        src = torch.from_numpy(src_np).to(dev)
        dst = torch.from_numpy(dst_np).to(dev)
        mask = torch.zeros((n, n), dtype=torch.bool, device=dev)
        mask[dst, src] = True
        print(f"\nN = {n}: {len(src_np):,} edges ({len(src_np) / n:.1f} per token), graph {time.time() - t0:.1f} s")
        runs = [("torch-sdpa", sdpa_attention(mask)), ("torch-sparse", sparse_diffusion(src, dst, n, args.hops, args.alpha))]
        if args.dense_diffusion:
            runs.append(("torch-dense-diffusion", dense_diffusion(mask, args.hops, args.alpha)))
        for name, attend in runs:
            results.append(time_torch(name, attend, args, n, dev))
        del mask
        torch.cuda.empty_cache()
        results.append(time_diffuser(args, n))
        for r in results:
            if r["n"] != n:
                continue
            if r["status"] == "ok":
                print(f"  {r['impl']:24s} {r['step_ms']:10.2f} ms   peak {r.get('peak_bytes', 0) / 2**20:10.1f} MiB")
            else:
                print(f"  {r['impl']:24s} {r['status']}  {r.get('detail', '')}")
        ok = {r["impl"]: r for r in results if r["n"] == n and r["status"] == "ok"}
        if "diffuser" in ok:
            base = [r for k, r in ok.items() if k != "diffuser"]
            if base:
                fastest = min(base, key=lambda r: r["step_ms"])
                leanest = min(base, key=lambda r: r.get("peak_bytes", 1 << 62))
                print(f"  diffuser vs fastest ({fastest['impl']}): {fastest['step_ms'] / ok['diffuser']['step_ms']:.2f}x; "
                      f"peak vs leanest ({leanest['impl']}): {ok['diffuser'].get('peak_bytes', 0) / max(1, leanest['peak_bytes']):.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "args": vars(args),
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
