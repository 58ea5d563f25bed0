#!/usr/bin/env python3
"""One Diffuser encoder layer, forward + backward, fp32, on the GPU: diffuser's layer side by side with
the same layer in PyTorch on the same GPU, with peak memory (issue 5's GPU target). One command, one
JSON file; about a minute on an H100 at the default sizes.

Implementations (all the same post-LN RoBERTa layer: QKV projections with bias, attention, output
projection, dropout, residual + LayerNorm, FFN with erf GELU, residual + LayerNorm):
  torch-sdpa         standard attention on the graph: scaled_dot_product_attention with the graph as a
                     boolean (N, N) mask (one attention pass: no diffusion; what a dense layer costs)
  torch-sparse       the same Diffuser diffusion as ours: edge scores by a chunked gather-dot (its
                     backward by index_add; no (E, H, D) tensor is materialised whole), edge softmax by
                     scatter_reduce, K PPR hops Z <- (1-alpha) A Z + alpha V through torch.sparse.mm
                     (cuSPARSE) on a block-diagonal (H N, H N) COO matrix, with an explicit backward:
                     A^T G by torch.sparse.mm on the transposed index, dA by a chunked gather-dot
  torch-dense-diffusion  (--dense-diffusion) the diffusion with dense (H, N, N) attention matrices
  diffuser           `diffuser layer --bench --backend cuda --json` (the binary named by --diffuser)

Before the timings, a correctness check through the CLI (skip with --skip-check): one layer with
dropout, forward + backward, `diffuser layer --backend cuda` against `--backend cpu` on the same files
(Y, dX and every parameter gradient; relative error, target <= 1e-5).

The graph is the authors' recipe (blocks:64+random:64+global-random:64), taken from
`diffuser graph --pattern diffuser --n N --seed S --out edges.npy` so every implementation sees the
same edges (diffuser's bench builds the same graph from the config: same pattern, same seed).
Timing: CUDA events around forward + backward (with a loss sum(y * dy)), median of --reps after
--warmup runs; memory: torch.cuda.max_memory_allocated over one step after reset, minus the bytes held
before it (parameters, inputs, the graph's index tensors / mask); diffuser reports the same quantity
from the engine's device allocator (above parameters, graph, x, dy and the cuBLAS workspace).
Dropout is on (training), as in a training step.

usage (on the GPU machine, after a CUDA build; from the bundle: bin/diffuser):
  python3 scripts/layer/compare_gpu.py --diffuser bin/diffuser --n 4096 16384 --out $OUT/layer_gpu.json
  python3 scripts/layer/compare_gpu.py --self-test      # CPU: the torch implementations' own checks
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def run(cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r


def graph_edges(diffuser, n, seed, pattern):
    """(src, dst) int64 arrays of the pattern's edges, from the diffuser binary."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "edges.npy")
        run([diffuser, "graph", "--pattern", pattern, "--n", str(n), "--seed", str(seed), "--out", path])
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


CHUNK = 1 << 18  # edges per gather in the chunked edge products


def chunked_rowdot(a, b, ia, ib):
    """out[e] = <a[ia[e]], b[ib[e]]> over the last dimension(s) of a and b, in chunks of edges: the
    (chunk, ...) gathers are the only edge-sized temporaries."""
    out = torch.empty((ia.numel(),) + tuple(a.shape[1:-1]), device=a.device, dtype=a.dtype)
    for s in range(0, ia.numel(), CHUNK):
        e = min(s + CHUNK, ia.numel())
        out[s:e] = (a[ia[s:e]] * b[ib[s:e]]).sum(-1)
    return out


class EdgeDot(torch.autograd.Function):
    """s[e, h] = <q[dst[e], h], k[src[e], h]>, chunked; the backward scatters with index_add (what DGL's
    u_dot_v does, unfused)."""

    @staticmethod
    def forward(ctx, q, k, src, dst):
        ctx.save_for_backward(q, k, src, dst)
        return chunked_rowdot(q, k, dst, src)

    @staticmethod
    def backward(ctx, g):
        q, k, src, dst = ctx.saved_tensors
        dq, dk = torch.zeros_like(q), torch.zeros_like(k)
        for a in range(0, src.numel(), CHUNK):
            b = min(a + CHUNK, src.numel())
            gc = g[a:b, :, None]
            dq.index_add_(0, dst[a:b], gc * k[src[a:b]])
            dk.index_add_(0, src[a:b], gc * q[dst[a:b]])
        return dq, dk, None, None


def coo(index, values, size):
    """A COO matrix whose index is already sorted by (row, col) without duplicates (no coalesce pass)."""
    return torch.sparse_coo_tensor(index, values, size)._coalesced_(True)


class BlockGraph:
    """The heads stacked block-diagonally: (H N, H N) with head h's graph in block h, values head-major;
    the transposed index and its value permutation for the backward. Built once, held like the graph."""

    def __init__(self, src, dst, n, heads):
        # Sort edges by (dst, src) so that the index is coalesced.
        key = torch.unique(dst * n + src)
        self.src, self.dst = key % n, key // n
        off = (torch.arange(heads, device=src.device) * n)[:, None]
        rows = (self.dst[None, :] + off).reshape(-1)
        cols = (self.src[None, :] + off).reshape(-1)
        self.index = torch.stack([rows, cols])
        self.perm_t = torch.argsort(cols * (heads * n) + rows)
        self.index_t = torch.stack([cols[self.perm_t], rows[self.perm_t]])
        self.size = (heads * n, heads * n)


class SpMM(torch.autograd.Function):
    """out = A z with A = coo(graph.index, w): cuSPARSE SpMM forward; backward dz = A^T g (SpMM on the
    transposed index) and dw[e] = <g[row e], z[col e]> (chunked)."""

    @staticmethod
    def forward(ctx, w, z, graph):
        ctx.save_for_backward(w, z)
        ctx.graph = graph
        return torch.sparse.mm(coo(graph.index, w, graph.size), z)

    @staticmethod
    def backward(ctx, g):
        w, z = ctx.saved_tensors
        graph = ctx.graph
        g = g.contiguous()
        dw = chunked_rowdot(g, z, graph.index[0], graph.index[1]) if ctx.needs_input_grad[0] else None
        dz = torch.sparse.mm(coo(graph.index_t, w[graph.perm_t], graph.size), g) if ctx.needs_input_grad[1] else None
        return dw, dz, None


def edge_softmax(scores, dst, n):
    """Softmax of (E, H) scores over each destination's incoming edges."""
    h = scores.shape[1]
    idx = dst[:, None].expand(-1, h)
    mx = torch.full((n, h), -math.inf, device=scores.device, dtype=scores.dtype)
    mx = mx.scatter_reduce(0, idx, scores.detach(), "amax", include_self=True)
    ex = torch.exp(scores - mx[dst])
    den = torch.zeros((n, h), device=scores.device, dtype=scores.dtype).index_add(0, dst, ex)
    return ex / den[dst]


def sparse_diffusion(src, dst, n, heads, hops, alpha):
    graph = BlockGraph(src, dst, n, heads)
    src, dst = graph.src, graph.dst

    def attend(q, k, v, p):
        hh, dd = q.shape[1], q.shape[2]
        scores = EdgeDot.apply(q, k, src, dst) / math.sqrt(dd)  # (E, H)
        w = F.dropout(edge_softmax(scores, dst, n), p, p > 0)
        wv = w.t().reshape(-1)  # head-major values of the block-diagonal matrix
        vv = v.transpose(0, 1).reshape(hh * n, dd)
        z = vv
        for _ in range(hops):
            z = (1 - alpha) * SpMM.apply(wv, z, graph) + alpha * vv
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
        t0 = time.time()
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        reps = args.reps if (time.time() - t0) / max(1, args.warmup) < 2.0 else 2  # keep slow baselines short
        times = []
        for _ in range(reps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            step()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        layer.zero_grad(set_to_none=True)
        x.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        return {"impl": name, "n": n, "step_ms": float(np.median(times)), "reps": reps, "peak_bytes": int(peak),
                "status": "ok"}
    except torch.cuda.OutOfMemoryError as e:
        return {"impl": name, "n": n, "status": "out of memory", "detail": str(e).splitlines()[0]}
    except Exception as e:  # a baseline that cannot run is reported, not fatal
        return {"impl": name, "n": n, "status": "failed", "detail": f"{type(e).__name__}: {str(e)[:300]}"}
    finally:
        del layer, x, dy
        torch.cuda.empty_cache()


def layer_config(args, n_unused=None):
    return {"hidden_size": args.d_model, "num_attention_heads": args.heads, "num_hidden_layers": 1,
            "intermediate_size": 4 * args.d_model, "attention_window": 64, "num_rand": 64, "num_glob": 64,
            "hidden_dropout_prob": args.dropout, "attention_probs_dropout_prob": args.dropout,
            "diffusion_hops": args.hops, "diffusion_alpha": args.alpha, "graph_seed": args.seed}


def time_diffuser(args, n):
    if not args.diffuser or not os.path.exists(args.diffuser):
        return {"impl": "diffuser", "n": n, "status": "binary not found"}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "c.json")
        with open(cfg, "w") as f:
            json.dump(layer_config(args), f)
        out = os.path.join(tmp, "r.json")
        cmd = [args.diffuser, "layer", "--config", cfg, "--bench", "--n", str(n), "--reps", str(args.reps),
               "--backend", "cuda", "--json", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return {"impl": "diffuser", "n": n, "status": "failed", "detail": r.stderr.strip()[-500:]}
        with open(out) as f:
            res = json.load(f)
        res.update({"impl": "diffuser", "n": n, "status": "ok", "stdout": r.stdout})
        res["peak_bytes"] = res.get("peak_device_bytes", 0)
        return res


def read_safetensors(path):
    """name -> float32 array (F32 only, as `diffuser layer --grads-out` writes)."""
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    den = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / den) if den > 0 else float(np.linalg.norm(a - b))


def check_cli(args, n=512):
    """diffuser layer --backend cuda against --backend cpu, training with dropout, on files."""
    if not args.diffuser or not os.path.exists(args.diffuser):
        return {"status": "binary not found"}
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda name: os.path.join(tmp, name)
        with open(p("c.json"), "w") as f:
            json.dump(layer_config(args), f)
        run([args.diffuser, "layer", "--config", p("c.json"), "--init-weights", p("w.safetensors"), "--seed", "1"])
        rng = np.random.default_rng(0)
        np.save(p("x.npy"), rng.standard_normal((n, args.d_model)).astype(np.float32))
        np.save(p("dy.npy"), rng.standard_normal((n, args.d_model)).astype(np.float32))
        outs = {}
        for backend in ("cpu", "cuda"):
            t0 = time.time()
            run([args.diffuser, "layer", "--config", p("c.json"), "--weights", p("w.safetensors"), "--x", p("x.npy"),
                 "--out", p(f"y_{backend}.npy"), "--train", "--seed", "3", "--grad-out", p("dy.npy"),
                 "--grads-out", p(f"g_{backend}.safetensors"), "--dx-out", p(f"dx_{backend}.npy"),
                 "--backend", backend])
            outs[backend] = time.time() - t0
        errs = {"Y": rel(np.load(p("y_cuda.npy")), np.load(p("y_cpu.npy"))),
                "dX": rel(np.load(p("dx_cuda.npy")), np.load(p("dx_cpu.npy")))}
        gc, gg = read_safetensors(p("g_cpu.safetensors")), read_safetensors(p("g_cuda.safetensors"))
        key_bias = None
        for name in gc:
            if name == "attention.self.key.bias":  # its true gradient is 0: compare its size instead
                key_bias = {"cpu_norm": float(np.linalg.norm(gc[name])), "cuda_norm": float(np.linalg.norm(gg[name]))}
                continue
            errs[name] = rel(gg[name], gc[name])
        worst = max(errs.values())
        return {"status": "ok" if worst <= 1e-5 else "MISMATCH", "n": n, "max_rel_err": worst, "rel_err": errs,
                "key_bias_grad": key_bias, "wall_s": outs}


def self_test():
    """CPU: the chunked EdgeDot and the sparse diffusion against plain autograd on a small graph (float64)."""
    torch.manual_seed(0)
    n, h, d, e = 50, 3, 8, 400
    src, dst = torch.randint(0, n, (e,)), torch.randint(0, n, (e,))
    key = torch.unique(dst * n + src)
    src, dst = key % n, key // n
    q, k = torch.randn(n, h, d, dtype=torch.float64, requires_grad=True), torch.randn(n, h, d, dtype=torch.float64, requires_grad=True)
    global CHUNK
    CHUNK = 37
    assert torch.autograd.gradcheck(lambda a, b: EdgeDot.apply(a, b, src, dst), (q, k))
    plain = (q[dst] * k[src]).sum(-1)
    assert torch.allclose(EdgeDot.apply(q, k, src, dst), plain)
    v = torch.randn(n, h, d, dtype=torch.float64, requires_grad=True)

    def reference(q, k, v):  # dense (H, N, N) diffusion over the same edges, no dropout
        mask = torch.zeros(n, n, dtype=torch.bool)
        mask[dst, src] = True
        s = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
        a = torch.softmax(s.masked_fill(~mask, -math.inf), -1).nan_to_num(0.0)
        z = v.transpose(0, 1)
        for _ in range(3):
            z = 0.9 * torch.bmm(a, z) + 0.1 * v.transpose(0, 1)
        return z.transpose(0, 1)

    has_in = torch.zeros(n, dtype=torch.bool)
    has_in[dst] = True
    att = sparse_diffusion(src, dst, n, h, 3, 0.1)
    out = att(q, k, v, 0.0)
    ref = reference(q, k, v)
    assert torch.allclose(out[has_in], ref[has_in], atol=1e-10), (out - ref).abs().max()
    assert torch.autograd.gradcheck(lambda a, b, c: att(a, b, c, 0.0)[has_in], (q, k, v))
    graph = BlockGraph(src, dst, n, h)
    w = torch.rand(h * graph.src.numel(), dtype=torch.float64, requires_grad=True)
    zz = torch.randn(h * n, d, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: SpMM.apply(a, b, graph), (w, zz))
    layer = Layer(16, 2, 32, 0.0, 0.0).double()
    x = torch.randn(n, 16, dtype=torch.float64)
    assert layer(x, sparse_diffusion(src, dst, n, 2, 3, 0.1)).shape == (n, 16)
    print("self-test passed: EdgeDot (chunked) and the sparse diffusion agree with autograd (float64)")


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
    ap.add_argument("--skip-check", action="store_true", help="skip the CLI correctness check (cuda vs cpu)")
    ap.add_argument("--self-test", action="store_true", help="check the torch implementations on the CPU and exit")
    ap.add_argument("--out", help="write all results as JSON here")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device visible to PyTorch")
    t_start = time.time()
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 products, as ours
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}; layer d_model {args.d_model}, "
          f"{args.heads} heads, FFN {4 * args.d_model}, K = {args.hops}, alpha {args.alpha}, fp32, dropout {args.dropout}",
          flush=True)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "args": vars(args),
              "results": [], "summary": []}

    def save():
        if args.out:
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f, indent=2)
            os.replace(tmp, args.out)

    if not args.skip_check:
        try:
            report["check"] = check_cli(args)
        except Exception as e:
            report["check"] = {"status": "failed", "detail": str(e)[-800:]}
        c = report["check"]
        print(f"\nCLI check (cuda vs cpu, N = {c.get('n', '?')}): {c['status']}"
              + (f", max relative error {c['max_rel_err']:.2e}" if "max_rel_err" in c else f"  {c.get('detail', '')}"),
              flush=True)
        save()
    results = report["results"]
    for n in args.n:
        t0 = time.time()
        src_np, dst_np = graph_edges(args.diffuser, n, args.seed, args.pattern)
        src = torch.from_numpy(src_np).to(dev)
        dst = torch.from_numpy(dst_np).to(dev)
        mask = torch.zeros((n, n), dtype=torch.bool, device=dev)
        mask[dst, src] = True
        print(f"\nN = {n}: {len(src_np):,} edges ({len(src_np) / n:.1f} per token), graph {time.time() - t0:.1f} s",
              flush=True)
        runs = [("torch-sdpa", lambda: sdpa_attention(mask)),
                ("torch-sparse", lambda: sparse_diffusion(src, dst, n, args.heads, args.hops, args.alpha))]
        if args.dense_diffusion:
            runs.append(("torch-dense-diffusion", lambda: dense_diffusion(mask, args.hops, args.alpha)))
        for name, make in runs:
            t1 = time.time()
            try:
                attend = make()
                r = time_torch(name, attend, args, n, dev)
                del attend
            except torch.cuda.OutOfMemoryError as e:
                r = {"impl": name, "n": n, "status": "out of memory", "detail": str(e).splitlines()[0]}
            torch.cuda.empty_cache()
            r["wall_s"] = time.time() - t1
            results.append(r)
            save()
        del mask, src, dst
        torch.cuda.empty_cache()
        t1 = time.time()
        r = time_diffuser(args, n)
        r["wall_s"] = time.time() - t1
        results.append(r)
        for r in results:
            if r["n"] != n:
                continue
            if r["status"] == "ok":
                print(f"  {r['impl']:24s} {r['step_ms']:10.2f} ms   peak {r.get('peak_bytes', 0) / 2**20:10.1f} MiB"
                      f"   ({r['wall_s']:.0f} s)", flush=True)
            else:
                print(f"  {r['impl']:24s} {r['status']}  {r.get('detail', '')}", flush=True)
        ok = {r["impl"]: r for r in results if r["n"] == n and r["status"] == "ok"}
        if "diffuser" in ok:
            base = [r for k, r in ok.items() if k != "diffuser"]
            if base:
                fastest = min(base, key=lambda r: r["step_ms"])
                leanest = min(base, key=lambda r: r.get("peak_bytes", 1 << 62))
                speed = fastest["step_ms"] / ok["diffuser"]["step_ms"]
                mem = ok["diffuser"].get("peak_bytes", 0) / max(1, leanest["peak_bytes"])
                report["summary"].append({"n": n, "fastest_baseline": fastest["impl"], "speedup": speed,
                                          "leanest_baseline": leanest["impl"], "peak_ratio": mem,
                                          "faster_than_all": speed > 1.0, "peak_at_most_half": mem <= 0.5})
                print(f"  diffuser vs fastest ({fastest['impl']}): {speed:.2f}x faster; "
                      f"peak vs leanest ({leanest['impl']}): {mem:.2f}", flush=True)
            print("  diffuser split: " + ", ".join(f"{k} {ok['diffuser'][k]:.1f} ms" for k in
                  ("forward_ms", "gemm_ms", "graph_forward_ms", "graph_backward_ms", "elementwise_ms")
                  if k in ok["diffuser"]), flush=True)
        save()
    report["wall_s"] = time.time() - t_start
    save()
    print(f"\ntotal {report['wall_s']:.0f} s" + (f"; wrote {args.out}" if args.out else ""))


if __name__ == "__main__":
    main()
