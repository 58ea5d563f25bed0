#!/usr/bin/env python3
"""A training step of DiffuserAttention(768, 12, check_finite=False) on a GPU, eager against captured
in one CUDA graph (torch.cuda.graph) and replayed, medians of 20, with recompute True and False.
usage: capture_step.py [N]. Needs a CUDA build of the package and a GPU
(docs/gpu-runs/2026-12-07-capture)."""

import statistics
import sys
import time

import torch

import diffuser
import diffuser.torch as dt


def median_ms(fn, reps=20):
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    torch.manual_seed(0)
    graph = diffuser.Graph.from_pattern("diffuser", n)
    for recompute in (True, False):
        m = dt.DiffuserAttention(768, 12, graph, recompute=recompute, check_finite=False).to("cuda")
        x = torch.randn(1, n, 768, device="cuda", requires_grad=True)

        def step():
            m(x).square().mean().backward()

        side = torch.cuda.Stream()  # warm-up off the default stream, as torch.cuda.graph asks
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        eager = median_ms(step)
        for p in list(m.parameters()) + [x]:
            p.grad = None
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            step()
        replay = median_ms(cuda_graph.replay)
        print(f"N={n} recompute={recompute}: eager {eager:.2f} ms, CUDA graph replay {replay:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
