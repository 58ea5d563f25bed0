#!/usr/bin/python3
"""Accuracy and speed of `diffuser spectral` against SciPy/LAPACK, for one or more builds.

For every case the graph is written by the first binary (`diffuser graph --out g.npy`), the exact
|lambda_2| of P = D^-1 A comes from LAPACK (numpy.linalg.eigvals on the dense matrix, N <= 4096)
or ARPACK (scipy.sparse.linalg.eigs on P deflated by 1, tol 1e-13), lambda_2 of the normalized
Laplacian of the symmetrized graph from scipy.sparse.linalg.eigsh. Then each binary runs
`spectral --json` REPEATS times, alternating; the medians of the analysis wall time (the JSON's
"seconds") and of the whole process's CPU time (user + system, graph build included, less
sensitive to other jobs on a shared machine) are reported.

  /usr/bin/python3 scripts/analysis/spectral_vs_scipy.py --bin old=OLD/diffuser --bin new=NEW/diffuser \
      [--extra new=--mixing-hops,0] [--repeats 3] [--cases recipe4096,window4096,...] [--plugin LIB.so]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

CASES = {
    "recipe4096": ("diffuser", 4096),
    "recipe16384": ("diffuser", 16384),
    "recipe65536": ("diffuser", 65536),
    "window4096": ("window:140", 4096),
    "bigbird4096": ("bigbird:32:4:1", 4096),
    "longformer4096": ("window:136+global:4", 4096),
    "random2000": ("random:3", 2000),
    "causal400": ("plugin:{plugin}:8", 400),
    "causal4096": ("plugin:{plugin}:64", 4096),
}


def transition(n, edges):
    src, dst = edges[:, 0], edges[:, 1]
    a = sp.csr_matrix((np.ones(len(src)), (dst, src)), shape=(n, n))
    deg = np.asarray(a.sum(axis=1)).ravel()
    empty = deg == 0
    a = a + sp.diags(empty.astype(float))
    deg[empty] = 1
    return sp.diags(1.0 / deg) @ a


def exact_lambda2(p):
    n = p.shape[0]
    if n <= 4096:
        ev = np.linalg.eigvals(p.toarray())
        ev = np.delete(ev, np.argmin(np.abs(ev - 1)))
        return float(np.max(np.abs(ev))), "LAPACK dense"
    op = sla.LinearOperator((n, n), matvec=lambda x: (lambda y: y - y.mean())(p @ x), dtype=float)
    ev = sla.eigs(op, k=3, which="LM", tol=1e-13, return_eigenvectors=False, ncv=60)
    return float(np.max(np.abs(ev))), "ARPACK deflated"


def laplacian_lambda2(n, edges):
    src, dst = edges[:, 0], edges[:, 1]
    keep = src != dst
    a = sp.csr_matrix((np.ones(keep.sum()), (dst[keep], src[keep])), shape=(n, n))
    a = ((a + a.T) > 0).astype(float)
    d = np.asarray(a.sum(axis=1)).ravel()
    isq = 1 / np.sqrt(np.maximum(d, 1e-300))
    m = sp.diags(isq) @ a @ sp.diags(isq)
    u = np.sqrt(d) / np.linalg.norm(np.sqrt(d))
    op = sla.LinearOperator((n, n), matvec=lambda x: (lambda y: y - u * (u @ y))(m @ (x - u * (u @ x))),
                            dtype=float)
    mu = sla.eigsh(op, k=1, which="LA", tol=1e-13, return_eigenvectors=False, ncv=60)
    return float(1 - mu[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH of a diffuser binary")
    ap.add_argument("--extra", action="append", default=[], help="NAME=ARG,ARG extra spectral options")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", default=",".join(k for k in CASES if k != "recipe65536"))
    ap.add_argument("--plugin", default="")
    ap.add_argument("--laplacian", action="store_true", help="also time and check the Laplacian")
    args = ap.parse_args()
    bins = dict(b.split("=", 1) for b in args.bin)
    extra = {k: v.split(",") for k, v in (e.split("=", 1) for e in args.extra)}
    first = next(iter(bins.values()))
    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            spec, n = CASES[case]
            spec = spec.format(plugin=args.plugin)
            g = os.path.join(tmp, "g.npy")
            subprocess.run([first, "graph", "--pattern", spec, "--n", str(n), "--out", g], check=True,
                           stdout=subprocess.DEVNULL)
            edges = np.load(g)
            p = transition(n, edges)
            ref, how = exact_lambda2(p)
            lref = laplacian_lambda2(n, edges) if args.laplacian else None
            print(f"\n{case}: {spec}, N = {n}, {len(edges)} edges; exact |lambda_2| = {ref:.12f} ({how})"
                  + (f", lambda_2(L) = {lref:.12f}" if lref is not None else ""), flush=True)
            times = {name: [] for name in bins}
            cpu = {name: [] for name in bins}
            outs = {}
            for _ in range(args.repeats):
                for name, path in bins.items():
                    cmd = [path, "spectral", "--pattern", spec, "--n", str(n), "--json", "--quiet"]
                    if not args.laplacian:
                        cmd.append("--no-laplacian")
                    cmd += extra.get(name, [])
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    j = json.loads(r.stdout)
                    times[name].append(j["seconds"])
                    cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                    outs[name] = j
            for name, j in outs.items():
                m = j.get("lambda2_modulus")
                err = abs(m - ref) if m is not None else float("nan")
                lap = ""
                if lref is not None and j.get("laplacian"):
                    lap = f", lambda_2(L) error {abs(j['laplacian']['lambda2'] - lref):.1e}"
                note = "" if j.get("lambda2_reliable", True) else " [reported unreliable]"
                print(f"  {name:>5}: |lambda_2| = {m if m is None else format(m, '.12f')} "
                      f"(error {err:.1e}){note}, {j['iterations']} products, analysis wall median "
                      f"{statistics.median(times[name]):.3f} s of {', '.join(f'{t:.3f}' for t in times[name])}, "
                      f"process CPU median {statistics.median(cpu[name]):.3f} s{lap}", flush=True)
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
