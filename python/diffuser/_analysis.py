"""diffuser.reach / spectral / mass / viz: graph analysis before any training (docs/ANALYSIS.md).
The dicts have the fields of the CLI's --json output; lists of numbers are NumPy arrays."""

import numpy as np

from . import _core
from ._arrays import Error, coefficients, flag, integer, numbers_list, real, text, threads_arg
from ._graph import core_of


def _sampling(sample, exact, confidence):
    return integer("sample", sample, 1, none=True), flag("exact", exact), real("confidence", confidence)


def reach(graph, max_hops=8, *, sample=None, exact=False, seed=0, confidence=0.95, threads=None):
    """Multi-hop reachability (`diffuser reach --json`): coverage per hop (fraction of ordered pairs
    (i, j), i != j, with i receiving from j within k hops), receptive fields, pairs at each
    distance, diameter, full-coverage hops, unreachable pairs. Exact up to N = 16,384 (or with
    exact=True), else estimated from `sample` tokens with a Hoeffding-Serfling bound."""
    sample, exact, confidence = _sampling(sample, exact, confidence)
    r = _core.reach(core_of(graph), integer("max_hops", max_hops), sample, exact, integer("seed", seed, 0),
                    confidence, threads_arg(threads))
    return _arrays(r, coverage=np.float64, pairs_at_distance=np.int64, sampled=np.int64)


def spectral(graph, *, tol=1e-10, max_iter=20000, krylov_dim=48, laplacian=True, seed=0, mixing_hops=16,
             mixing_sample=None, threads=None):
    """Spectral gap of uniform attention P = D^-1 A (`diffuser spectral --json`): lambda_2 of P
    (None when the eigenvalue problem is ill-conditioned: see lambda2_note and
    lambda2_computed), for the symmetrized graph the normalized Laplacian gap and the Ramanujan
    bound, and the mixing profile: the total-variation distance of k-hop attention from its limit
    for k up to `mixing_hops` (0: none), which stays meaningful on directed graphs."""
    return _core.spectral(core_of(graph), real("tol", tol), integer("max_iter", max_iter),
                          integer("krylov_dim", krylov_dim), flag("laplacian", laplacian), integer("seed", seed, 0),
                          integer("mixing_hops", mixing_hops), integer("mixing_sample", mixing_sample, none=True),
                          threads_arg(threads))


def mass(graph, *, hops=5, alpha=0.1, theta=None, heat=None, q=None, k=None, sample=None, exact=False, seed=0,
         confidence=0.95, threads=None):
    """Diffusion mass (`diffuser mass --json`): the share of each token's diffused attention that
    comes from tokens it is not connected to, per hop; uniform attention, or softmax attention
    from q and k ((N, H, D) float32)."""
    hops, alpha, theta, heat = coefficients(hops, alpha, theta, heat)
    sample, exact, confidence = _sampling(sample, exact, confidence)
    m = _core.mass(core_of(graph), hops, alpha, theta, heat, _array(q), _array(k), sample, exact,
                   integer("seed", seed, 0), confidence, threads_arg(threads))
    return _arrays(m, outside_mass_per_head=np.float64)


def viz(graph, kind="pattern", format="png", *, hops=None, token=None, q=None, k=None, v=None, alpha=None,
        theta=None, title=None, size=None, layout=None, threads=None):
    """The bytes of a picture (`diffuser viz`): kind "pattern" (the attention matrix, binned beyond
    N = 2,048), "reach" (hops to receive, up to `hops`), "field" (token's receptive field per
    hop), "attention" (token's row of sum_k theta_k A^k per head; uniform, or softmax from q, k;
    with v, each key's share of the output) or "graph" (node-link drawing through GraphViz, N <=
    256); format "png", "svg" or "pdf" ("dot" for kind "graph": the DOT text)."""
    kind = text("kind", kind)
    fmt = text("format", format)
    if theta is not None:
        theta = numbers_list("theta", theta)
    data, _, _ = _core.viz(core_of(graph), kind, fmt, integer("hops", hops, none=True),
                           integer("token", token, none=True), _array(q), _array(k), _array(v),
                           real("alpha", alpha, none=True), theta, text("title", title, none=True),
                           integer("size", size, none=True), text("layout", layout, none=True),
                           threads_arg(threads))
    return data


def _arrays(d, **dtypes):
    """The listed fields (lists from the extension) as NumPy arrays."""
    for key, dtype in dtypes.items():
        if key in d:
            d[key] = np.asarray(d[key], dtype=dtype)
    return d


def _array(x):
    """torch tensors are read where they are (CPU), detached."""
    if x is not None and hasattr(x, "detach"):
        return x.detach()
    return x


__all__ = ["reach", "spectral", "mass", "viz", "Error"]
