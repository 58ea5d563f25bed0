"""diffuser.attend: Diffuser attention on NumPy arrays or torch tensors."""

import numpy as np

from . import _core
from ._arrays import coefficients, flag, is_torch, threads_arg
from ._graph import core_of


def attend(q, k, v, graph, *, hops=5, alpha=0.1, theta=None, heat=None, mask=None, threads=None,
           return_weights=False, check_finite=True):
    """Diffuser attention: Z = sum_k theta_k A^k V with A = softmax over each token's incoming
    edges of q_i . k_j / sqrt(D).

    q, k, v: (N, H, D) float32 NumPy arrays or torch tensors, N = graph.n, read in place (any
    layout with D contiguous, e.g. q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2] of one (N, 3, H, D)
    array; other layouts are copied once). Torch in, torch out; with a tensor that requires grad
    (and grad mode on) this is diffuser.torch.attend, which is differentiable.
    hops, alpha: PPR diffusion, Z_0 = V, Z_{k+1} = (1 - alpha) A Z_k + alpha V (hops = 0: Z = A V).
    theta: theta_0..theta_K instead; heat: heat kernel with time T over `hops` hops.
    mask: (N,) integer or bool, nonzero = real token; edges from or to padding get weight 0.
    threads: CPU threads (None: the default, DIFFUSER_THREADS or every hardware thread).
    return_weights: also return A as (E, H) float32 in CSR order (the order of graph.edges()).
    check_finite: scan q, k, v for NaN and Inf first and raise diffuser.Error naming the first (on a
    GPU a synchronisation; False skips it, and non-finite inputs give non-finite outputs).
    Returns Z (N, H, D) float32, or (Z, weights).
    """
    if is_torch(q) or is_torch(k) or is_torch(v):
        from . import torch as dtorch

        return dtorch.attend(q, k, v, graph, hops=hops, alpha=alpha, theta=theta, heat=heat, mask=mask,
                             threads=threads, return_weights=return_weights, check_finite=check_finite)
    g = core_of(graph)
    hops, alpha, theta, heat = coefficients(hops, alpha, theta, heat)
    return_weights = flag("return_weights", return_weights)
    check_finite = flag("check_finite", check_finite)
    # The outputs, from q's shape when it has one of (N, H, D); the extension checks q, k, v first.
    try:
        shape = tuple(int(x) for x in getattr(q, "shape", ()))
    except (TypeError, ValueError):
        shape = ()
    out = weights = None
    if len(shape) == 3 and min(shape) >= 0:
        out = np.empty(shape, np.float32)
        if return_weights:
            weights = np.empty((g.num_edges, shape[1]), np.float32)
    z, w = _core.attend(g, q, k, v, _mask_arg(mask), hops, alpha, theta, heat, threads_arg(threads),
                        return_weights, 0.0, 0, out, weights, check_finite=check_finite)
    return (z, w) if return_weights else z


def _mask_arg(mask):
    """Masks are small (N bytes): torch masks on any device come to the CPU."""
    if is_torch(mask):
        return mask.detach().cpu()
    return mask
