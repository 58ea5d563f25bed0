"""Independent float64 references of Diffuser attention for the tests: NumPy on edge lists (the
forward) and dense PyTorch with autograd (gradients, the module). Neither shares code with the
engine: Z = sum_k theta_k A^k V summed term by term."""

import math

import numpy as np


def ppr_theta(hops, alpha):
    if hops == 0:
        return [0.0, 1.0]
    return [alpha * (1 - alpha) ** k for k in range(hops)] + [(1 - alpha) ** hops]


def heat_theta(hops, t):
    theta = [math.exp(-t) * t**k / math.factorial(k) for k in range(hops)]
    return theta + [1.0 - sum(theta)]


def numpy_weights(src, dst, n, q, k, mask=None):
    """A (E, H) float64: softmax over each row's edges whose endpoints are both real."""
    q = q.astype(np.float64)
    k = k.astype(np.float64)
    scores = np.einsum("ehd,ehd->eh", q[dst], k[src]) / math.sqrt(q.shape[2])
    valid = np.ones(len(src), bool) if mask is None else (mask[src] != 0) & (mask[dst] != 0)
    scores = np.where(valid[:, None], scores, -np.inf)
    row_max = np.full((n, q.shape[1]), -np.inf)
    np.maximum.at(row_max, dst, scores)
    ex = np.where(valid[:, None], np.exp(scores - np.where(np.isfinite(row_max), row_max, 0)[dst]), 0.0)
    sums = np.zeros((n, q.shape[1]))
    np.add.at(sums, dst, ex)
    return np.where(valid[:, None], ex / np.where(sums > 0, sums, 1)[dst], 0.0)


def numpy_attend(src, dst, n, q, k, v, theta, mask=None):
    w = numpy_weights(src, dst, n, q, k, mask)
    x = v.astype(np.float64)
    z = theta[0] * x
    for t in theta[1:]:
        nxt = np.zeros_like(x)
        np.add.at(nxt, dst, w[:, :, None] * x[src])
        x = nxt
        z = z + t * x
    return z, w


def rel_error(got, want):
    scale = max(float(np.abs(want).max()), 1e-30)
    return float(np.abs(np.asarray(got, np.float64) - want).max()) / scale


def torch_attend(q, k, v, adj, theta, mask=None):
    """Dense float64 PyTorch: adj (N, N) bool, adj[i, j] for the edge j -> i."""
    import torch

    n, h, d = q.shape
    allowed = adj.clone()
    if mask is not None:
        m = mask != 0
        allowed = allowed & m[:, None] & m[None, :]
    s = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
    s = s.masked_fill(~allowed, float("-inf"))
    has = allowed.any(1)
    s = torch.where(has[None, :, None], s, torch.zeros_like(s))  # rows without edges: no NaN
    a = torch.softmax(s, -1) * allowed
    x = v.permute(1, 0, 2)
    z = theta[0] * x
    for t in theta[1:]:
        x = a @ x
        z = z + t * x
    return z.permute(1, 0, 2)


def adjacency(graph):
    import torch

    src, dst = graph.edges()
    adj = torch.zeros(graph.n, graph.n, dtype=torch.bool)
    adj[torch.as_tensor(dst, dtype=torch.long), torch.as_tensor(src, dtype=torch.long)] = True
    return adj


def check_against_float64(attend, graph, q, k, v, ref_theta, mask=None, kw=None, seed=1):
    """attend(q, k, v, graph, mask=mask, **kw) (a differentiable torch function, on q's device)
    against torch_attend with ref_theta in float64 on the CPU: Z within 1e-5 and dQ, dK, dV within
    1e-4 relative, all on q's device."""
    import torch

    def rel(a, b):
        a, b = a.detach().double().cpu(), b.detach().double()
        return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))

    n, h, d = q.shape
    dz = torch.randn(n, h, d, generator=torch.Generator().manual_seed(seed))
    leaves = [x.detach().clone().requires_grad_() for x in (q, k, v)]
    z = attend(*leaves, graph, mask=mask, **(kw or {}))
    z.backward(dz.to(q.device))
    ref = [x.detach().cpu().double().requires_grad_() for x in (q, k, v)]
    zr = torch_attend(*ref, adjacency(graph), ref_theta, mask)
    zr.backward(dz.double())
    assert z.dtype == torch.float32 and z.device == q.device and rel(z, zr) <= 1e-5
    for name, a, b in zip("qkv", leaves, ref):
        if b.grad is None:  # Z = theta_0 V does not depend on q and k
            assert a.grad is None or not a.grad.any(), name
        else:
            assert a.grad.device == q.device and rel(a.grad, b.grad) <= 1e-4, name
