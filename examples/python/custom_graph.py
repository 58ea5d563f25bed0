"""A custom token graph from networkx or scipy, saved, loaded and used for attention.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/custom_graph.py
"""

import os
import tempfile

import networkx as nx
import numpy as np
import scipy.sparse as sp

import diffuser

n = 256

# networkx: an edge u -> v means token v attends to token u; undirected edges go both ways.
# A "small world": a ring where every token sees its 4 nearest neighbours, with some rewiring.
G = nx.connected_watts_strogatz_graph(n, k=4, p=0.1, seed=1)
G.add_edges_from((i, i) for i in range(n))  # every token also attends to itself
g_nx = diffuser.Graph.from_networkx(G)  # token i is the i-th node of G.nodes (g_nx.node_labels)
print(g_nx, g_nx.stats()["in_degree"])

# scipy: A[i, j] != 0 is the edge j -> i (row i of A is row i of the attention matrix).
# Causal local attention: token i attends to tokens i-8 .. i.
rows, cols = [], []
for i in range(n):
    for j in range(max(0, i - 8), i + 1):
        rows.append(i)
        cols.append(j)
A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
g_causal = diffuser.Graph.from_scipy(A)
assert (g_causal.to_scipy() != A).nnz == 0

# The union of both, through the edge lists.
s1, d1 = g_nx.edges()
s2, d2 = g_causal.edges()
g = diffuser.Graph.from_edges(np.concatenate([s1, s2]), np.concatenate([d1, d2]), n=n)
print("union:", g)

# Files in every format the CLI reads and writes.
with tempfile.TemporaryDirectory() as tmp:
    for ext in (".txt", ".mtx", ".graphml", ".dot", ".npy"):
        path = os.path.join(tmp, "graph" + ext)
        g.save(path)
        assert diffuser.Graph.load(path, n=n) == g
    print("saved and loaded as .txt .mtx .graphml .dot .npy")

rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((n, 4, 32), dtype=np.float32) for _ in range(3))
z = diffuser.attend(q, k, v, g, hops=4, alpha=0.15)
print("Z", z.shape, "reach in 4 hops:", f"{diffuser.reach(g, max_hops=4)['coverage'][-1]:.1%} of pairs")
