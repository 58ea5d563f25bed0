"""Analysis of attention patterns before any training, with pictures: how far information travels
in k hops, how fast uniform attention mixes, and how much of the diffused attention comes from
tokens that are not directly connected.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/analysis.py [OUTDIR]
"""

import os
import sys

import numpy as np

import diffuser

out = sys.argv[1] if len(sys.argv) > 1 else "analysis-pictures"
os.makedirs(out, exist_ok=True)
n = 2048
patterns = {"recipe": "diffuser", "window": "window:140", "bigbird": "bigbird:64:3:2"}

for name, spec in patterns.items():
    g = diffuser.Graph.from_pattern(spec, n)
    r = diffuser.reach(g, max_hops=4)
    s = diffuser.spectral(g, laplacian=False)
    m = diffuser.mass(g, hops=5, alpha=0.1)
    cov = ", ".join(f"{c:.1%}" for c in r["coverage"])
    print(f"{name:8s} E={g.num_edges:9,d}  coverage k=1..4: {cov}  diameter {r['diameter']}  "
          f"spectral gap {s['spectral_gap']:.3f}  outside mass {m['outside_mass']:.1%}")
    # Pictures as bytes: write them, or show them in a notebook (a Graph shows its pattern itself).
    with open(os.path.join(out, f"pattern_{name}.png"), "wb") as f:
        f.write(diffuser.viz(g, "pattern", "png"))
    with open(os.path.join(out, f"reach2_{name}.svg"), "wb") as f:
        f.write(diffuser.viz(g, "reach", "svg", hops=2))

# One token's receptive field per hop, and its row of the diffusion with softmax attention.
g = diffuser.Graph.from_pattern("window:2+random:1", 64, seed=3)
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((64, 2, 16), dtype=np.float32) for _ in range(3))
with open(os.path.join(out, "field.png"), "wb") as f:
    f.write(diffuser.viz(g, "field", "png", token=20, hops=6))
with open(os.path.join(out, "attention.png"), "wb") as f:
    f.write(diffuser.viz(g, "attention", "png", token=20, q=q, k=k, v=v, hops=5))
with open(os.path.join(out, "graph.dot"), "wb") as f:
    f.write(diffuser.viz(g, "graph", "dot"))  # format "svg"/"png" when GraphViz is installed
print("pictures in", out)
