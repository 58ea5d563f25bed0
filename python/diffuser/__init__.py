"""diffuser: Diffuser attention (Feng et al., AAAI 2023) for NumPy and PyTorch.

A sequence is a token graph: edge j -> i means token i attends to token j. On every edge the score
q_i . k_j / sqrt(D), a softmax over each token's incoming edges (A), then K hops of personalized
PageRank diffusion: Z_0 = V, Z_{k+1} = (1 - alpha) A Z_k + alpha V.

    import numpy as np, diffuser
    g = diffuser.Graph.from_pattern("diffuser", 4096)            # the authors' recipe
    q, k, v = (np.random.randn(4096, 12, 64).astype(np.float32) for _ in range(3))
    z = diffuser.attend(q, k, v, g, hops=5, alpha=0.1)           # (4096, 12, 64)

diffuser.torch (imported on first use) has the differentiable attend and the DiffuserAttention
module. Every error is a diffuser.Error (a ValueError) with a one-line message. docs/PYTHON.md.
"""

import importlib

from ._core import Error, __version__, build_info
from ._graph import Graph
from ._attend import attend
from ._analysis import mass, reach, spectral, viz

__all__ = ["Graph", "attend", "reach", "spectral", "mass", "viz", "Error", "build_info", "__version__"]


def __getattr__(name):
    # diffuser.torch without importing torch for NumPy-only users.
    if name == "torch":
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'diffuser' has no attribute {name!r}")
