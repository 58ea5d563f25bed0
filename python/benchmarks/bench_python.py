#!/usr/bin/env python3
"""Benchmarks of the Python package (issue 12, docs/BENCHMARKS.md "Python package").

1. forward: diffuser.attend from Python against the CLI's forward stage (`diffuser attend`, the
   "forward" line: scores + softmax + hops), on the same Q, K, V, alternating, N = 4,096 on the
   authors' recipe, H = 12, D = 64, K = 5, alpha = 0.1. The Python time is the whole call, wall
   clock (argument checks, the finite-value scan of Q, K, V, the output allocation included).
2. train: one training step (forward + backward of out.square().mean(), no optimizer) of
   diffuser.torch.DiffuserAttention against the same module with PyTorch dense masked attention +
   diffusion and with torch.sparse (COO: edge scores gathered in checkpointed chunks,
   torch.sparse.softmax, torch.sparse.mm per hop), d_model = 768, 12 heads, B = 1, N = 4,096, and
   with no attention at all (projections: Z = V, the part every variant shares, which bounds the
   ratios any graph-pass speed can reach). diffuser-keep is DiffuserAttention(recompute=False):
   the forward keeps its weights and hop states for the backward (faster, more memory);
   diffuser-nocheck and diffuser-keep-nocheck add check_finite=False (no NaN/Inf scan of q, k, v:
   on a GPU, no synchronisation in the step). Each variant runs in its own process: step
   time (median of --steps after one warm-up step) and the step's peak memory (peak RSS of the
   process during the steps minus its RSS before them). With --device cuda (a CUDA build of the
   package) the modules and x live on the GPU, each step is timed between two synchronisations,
   and the step's peak memory is torch.cuda.max_memory_allocated() during the steps minus the
   memory allocated before them (the engine's scratch comes from PyTorch's allocator, so it counts).

    PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/bench_python.py --cli build/tools/diffuser
"""

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- 1. forward through Python vs the CLI ------------------------------------------------------


def bench_forward(a):
    import diffuser

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((a.n, 12, 64), dtype=np.float32) for _ in range(3))
    g = diffuser.Graph.from_pattern("diffuser", a.n)
    py_ms, cli_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, x in zip("qkv", (q, k, v)):
            np.save(f"{tmp}/{name}.npy", x)
        cmd = [a.cli, "attend", "--pattern", "diffuser", "--n", str(a.n), "--q", f"{tmp}/q.npy", "--k",
               f"{tmp}/k.npy", "--v", f"{tmp}/v.npy", "--out", f"{tmp}/z.npy", "--threads", str(a.threads)]
        diffuser.attend(q, k, v, g, threads=a.threads)  # warm-up (the graph's plans)
        for _ in range(a.reps):
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            cli_ms.append(float(re.search(r"^\s*forward\s.*?([\d.,]+) ms", out, re.M).group(1).replace(",", "")))
            t = time.perf_counter()
            z = diffuser.attend(q, k, v, g, threads=a.threads)
            py_ms.append((time.perf_counter() - t) * 1e3)
        err = float(np.abs(z - np.load(f"{tmp}/z.npy")).max())
    py, cli = statistics.median(py_ms), statistics.median(cli_ms)
    print(f"forward N={a.n}: python {py:.1f} ms (runs {', '.join(f'{x:.1f}' for x in py_ms)}), "
          f"CLI forward stage {cli:.1f} ms (runs {', '.join(f'{x:.1f}' for x in cli_ms)}): "
          f"python/CLI = {py / cli:.3f}; max |z_python - z_cli| = {err:.2e}")
    return {"n": a.n, "edges": g.num_edges, "python_ms": py_ms, "cli_forward_ms": cli_ms, "python_median_ms": py,
            "cli_median_ms": cli, "ratio": py / cli, "max_abs_diff": err}


# ---- 2. training step: DiffuserAttention and its PyTorch peers ----------------------------------


def peer_modules():
    import torch
    from torch import nn

    class Peer(nn.Module):
        """The projections of DiffuserAttention, with the attention done in PyTorch."""

        def __init__(self, d_model, heads, src, dst, n, hops, alpha):
            super().__init__()
            self.h, self.d, self.n, self.hops, self.alpha = heads, d_model // heads, n, hops, alpha
            self.qkv_proj = nn.Linear(d_model, 3 * d_model)
            self.out_proj = nn.Linear(d_model, d_model)
            # buffers, so that .to(device) moves them with the parameters
            self.register_buffer("src", torch.as_tensor(src, dtype=torch.long), persistent=False)
            self.register_buffer("dst", torch.as_tensor(dst, dtype=torch.long), persistent=False)

        def forward(self, x):
            b, n, dm = x.shape
            qkv = self.qkv_proj(x).reshape(n, 3, self.h, self.d)
            z = self.attend(*qkv.unbind(1))  # (N, H, D)
            return self.out_proj(z.reshape(b, n, dm))

    class Dense(Peer):
        """Masked dense attention: (H, N, N) scores, softmax, K dense products."""

        def __init__(self, *args):
            super().__init__(*args)
            adj = torch.zeros(self.n, self.n, dtype=torch.bool)
            adj[self.dst, self.src] = True
            self.register_buffer("adj", adj, persistent=False)

        def attend(self, q, k, v):
            q, k, v = (t.permute(1, 0, 2) for t in (q, k, v))  # (H, N, D)
            s = (q @ k.transpose(1, 2)) / math.sqrt(self.d)
            a = torch.softmax(s.masked_fill(~self.adj, float("-inf")), -1)
            z = v
            for _ in range(self.hops):
                z = (1 - self.alpha) * (a @ z) + self.alpha * v
            return z.permute(1, 0, 2)

    class Sparse(Peer):
        """torch.sparse: heads block-diagonal in one (H N, H N) COO matrix; edge scores gathered in
        chunks of edges under activation checkpointing (so the (E, H, D) gathers are never all
        alive: torch 1.13 has no CPU backward for torch.sparse.sampled_addmm), then
        torch.sparse.softmax and torch.sparse.mm per hop, all differentiable."""

        chunk = 32768

        def __init__(self, *args):
            super().__init__(*args)
            off = torch.arange(self.h)[:, None] * self.n
            index = torch.stack([(self.dst[None] + off).reshape(-1), (self.src[None] + off).reshape(-1)])
            self.register_buffer("index", index, persistent=False)

        def scores(self, q, k):
            from torch.utils.checkpoint import checkpoint

            parts = []
            for a in range(0, len(self.src), self.chunk):
                dst, src = self.dst[a:a + self.chunk], self.src[a:a + self.chunk]
                parts.append(checkpoint(lambda qq, kk, d=dst, s=src: (qq[d] * kk[s]).sum(-1), q, k))
            return torch.cat(parts) / math.sqrt(self.d)  # (E, H)

        def attend(self, q, k, v):
            n, h, d = q.shape
            vals = self.scores(q, k).t().reshape(-1)  # head-major, like self.index
            a = torch.sparse.softmax(torch.sparse_coo_tensor(self.index, vals, (h * n, h * n)), dim=1)
            vb = v.permute(1, 0, 2).reshape(h * n, d)
            z = vb
            for _ in range(self.hops):
                z = (1 - self.alpha) * torch.sparse.mm(a, z) + self.alpha * vb
            return z.reshape(h, n, d).permute(1, 0, 2)

    class Projections(Peer):
        """No attention at all (Z = V): the projections, reshapes and their gradients alone, the part
        of a step every variant shares; the step of any variant is at least this."""

        def attend(self, q, k, v):
            return v

    return Dense, Sparse, Projections


def train_one(a):
    """One variant in this process: prints one JSON line."""
    import torch

    import diffuser
    from diffuser.torch import DiffuserAttention

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = diffuser.Graph.from_pattern("diffuser", a.n)
    d_model, heads = 768, 12
    if a.train_one.startswith("diffuser"):
        parts = a.train_one.split("-")[1:]
        if not set(parts) <= {"keep", "nocheck"}:
            sys.exit(f"bench_python: unknown variant {a.train_one}")
        m = DiffuserAttention(d_model, heads, g, hops=5, alpha=0.1, threads=a.threads,
                              recompute="keep" not in parts, check_finite="nocheck" not in parts)
    else:
        src, dst = g.edges()
        Dense, Sparse, Projections = peer_modules()
        m = {"dense": Dense, "sparse": Sparse, "projections": Projections}[a.train_one](d_model, heads, src, dst,
                                                                                     a.n, 5, 0.1)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    m = m.to(device)
    x = torch.randn(1, a.n, d_model, device=device, requires_grad=True)

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def step():
        m.zero_grad(set_to_none=True)
        x.grad = None
        m(x).square().mean().backward()

    times = []
    rss0, peak0 = rss_bytes(), peak_rss_bytes()
    held = 0
    for i in range(a.steps + 1):
        t = time.perf_counter()
        step()
        sync()
        if i:  # the first step is the warm-up (graph plans, allocator)
            times.append((time.perf_counter() - t) * 1e3)
        elif cuda:  # GPU: the peak of the timed steps above what the warm-up left allocated
            torch.cuda.reset_peak_memory_stats(device)
            held = torch.cuda.memory_allocated(device)
    peak = peak_rss_bytes()
    step_peak = torch.cuda.max_memory_allocated(device) - held if cuda else max(0, peak - rss0)
    print(json.dumps({"variant": a.train_one, "device": str(device), "step_ms": times,
                      "median_ms": statistics.median(times), "rss_before": rss0, "peak_rss": peak,
                      "peak_before": peak0, "step_peak_bytes": step_peak, "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name(device) if cuda else None, "edges": g.num_edges}))


def bench_train(a):
    rows = {}
    for variant in a.variants.split(","):
        steps = a.steps if variant.startswith("diffuser") else a.peer_steps
        cmd = [sys.executable, __file__, "--train-one", variant, "--n", str(a.n), "--threads", str(a.threads),
               "--steps", str(steps), "--device", a.device]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            tail = run.stderr.strip().splitlines()[-1:] or ["(no message)"]
            sys.exit(f"bench_python: the {variant} step on {a.device} failed: {tail[0]}")
        r = json.loads(run.stdout.strip().splitlines()[-1])
        rows[variant] = r
        print(f"train step N={a.n} {a.device} {variant:21s}: median {r['median_ms']:9.1f} ms "
              f"(steps {', '.join(f'{t:.0f}' for t in r['step_ms'])}), step peak "
              f"{r['step_peak_bytes'] / 2**20:8.1f} MiB")
    peers = [v for v in rows if not v.startswith("diffuser") and v != "projections"]
    for mine in [v for v in rows if v.startswith("diffuser")]:
        if mine in rows:
            ours = rows[mine]
            for variant in peers:
                r = rows[variant]
                print(f"  {variant} against {mine}: {r['median_ms'] / ours['median_ms']:.1f}x the time, "
                      f"{r['step_peak_bytes'] / max(ours['step_peak_bytes'], 1):.1f}x the step peak memory")
    if "projections" in rows:
        proj = rows["projections"]["median_ms"]
        if "diffuser" in rows:
            print(f"  projections alone: {proj:.1f} ms, {proj / rows['diffuser']['median_ms']:.0%} of our step; "
                  f"the graph passes take {rows['diffuser']['median_ms'] - proj:.1f} ms")
        for variant in peers:
            print(f"  ceiling of the ratio against {variant} (a step of zero-cost graph passes): "
                  f"{rows[variant]['median_ms'] / proj:.1f}x")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7, help="forward: alternating CLI / Python runs")
    ap.add_argument("--steps", type=int, default=5, help="train: DiffuserAttention steps after a warm-up")
    ap.add_argument("--peer-steps", type=int, default=2, help="train: steps of each PyTorch peer after a warm-up")
    ap.add_argument("--variants", default="diffuser,projections,dense,sparse",
                    help="diffuser, diffuser-keep (recompute=False), diffuser-nocheck, diffuser-keep-nocheck "
                         "(check_finite=False), projections (Z = V: the shared part of every step), dense, sparse")
    ap.add_argument("--cli", default=os.environ.get("DIFFUSER_CLI", "build/tools/diffuser"))
    ap.add_argument("--only", choices=["forward", "train"])
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--device", default="cpu", help="train: cpu, or cuda (a CUDA build of the package)")
    ap.add_argument("--train-one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.train_one:
        train_one(a)
        return
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"load average {' '.join(load)}; {os.cpu_count()} CPUs; {a.threads} threads; device {a.device}")
    result = {"load_before": load, "threads": a.threads, "device": a.device,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if a.only in (None, "forward"):
        result["forward"] = bench_forward(a)
    if a.only in (None, "train"):
        result["train"] = bench_train(a)
    with open("/proc/loadavg") as f:
        result["load_after"] = f.read().split()[:3]
    print(f"load average after: {' '.join(result['load_after'])}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
