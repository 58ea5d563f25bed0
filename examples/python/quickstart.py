"""Quickstart: a token graph, Diffuser attention on NumPy arrays, the attention weights.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/quickstart.py
"""

import numpy as np

import diffuser

# The authors' recipe over 4,096 tokens: overlapping blocks of 64, 64 random edges per token,
# 64 global tokens. An edge j -> i means token i attends to token j.
g = diffuser.Graph.from_pattern("diffuser", 4096, seed=0)
print(g)
print({k: g.stats()[k] for k in ("nodes", "edges", "in_degree", "symmetric")})

# Q, K, V of shape (N, H, D), float32. Here all three are views into one (N, 3, H, D) array, as a
# packed projection produces them: the engine reads them in place, no copy.
rng = np.random.default_rng(0)
qkv = rng.standard_normal((g.n, 3, 12, 64), dtype=np.float32)
q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]

# Scores q_i . k_j / sqrt(D) on the edges, softmax over each token's incoming edges (A), then
# 5 hops of personalized PageRank: Z_0 = V, Z_{k+1} = 0.9 A Z_k + 0.1 V.
z = diffuser.attend(q, k, v, g, hops=5, alpha=0.1)
print("Z", z.shape, z.dtype)

# Plain sparse attention (K = 0), a padding mask (the last 96 tokens are padding) and the
# weights A as (E, H) in CSR order, the order of g.edges().
mask = np.ones(g.n, dtype=bool)
mask[-96:] = False
z0, w = diffuser.attend(q, k, v, g, hops=0, mask=mask, return_weights=True)
src, dst = g.edges()
row = dst == 100
print(f"token 100 attends to {row.sum()} tokens; head 0's weights sum to {w[row, 0].sum():.6f}")

# Other diffusions: theta_0..theta_K given directly, or the heat kernel.
z_theta = diffuser.attend(q, k, v, g, theta=[0.2, 0.3, 0.5])
z_heat = diffuser.attend(q, k, v, g, heat=2.0, hops=8, threads=2)

# Every engine error is a diffuser.Error (a ValueError) with a one-line message.
try:
    diffuser.attend(q.astype(np.float64), k, v, g)
except diffuser.Error as e:
    print("error:", e)
