"""diffuser.Graph: the token graph. An edge j -> i means token i attends to token j; the graph is
stored by destination (CSR), so row i lists the sources of token i, in ascending order."""

import collections
import itertools
import weakref

import numpy as np

from . import _core
from ._arrays import Error, integer, is_torch, text
from ._arrays import path as path_arg


def _index_array(name, x):
    """Edge ids from NumPy arrays, torch tensors (any device) or sequences; dtype checked in C++."""
    if is_torch(x):
        return x.detach().cpu()
    if hasattr(x, "__array_interface__") or hasattr(x, "__dlpack__") or isinstance(x, memoryview):
        return x
    try:
        a = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - any conversion failure is a bad argument
        raise Error(f"{name} must be an integer array, got {type(x).__name__} ({e})") from None
    return a.astype(np.int64) if a.size == 0 else a  # [] is float64 to NumPy


class Graph:
    """A token graph over n tokens (immutable).

    Build one with Graph.from_pattern, from_edges, from_scipy, from_networkx, load or
    block_diagonal. Edge j -> i: token i attends to token j. edges() and every per-edge array
    (attention weights) are in CSR order: by destination i, sources j ascending.
    """

    __slots__ = ("_g", "_key", "node_labels", "_batches", "__weakref__")

    def __init__(self, core):
        if not isinstance(core, _core.Graph):
            raise Error("build a Graph with Graph.from_pattern, from_edges, from_scipy, from_networkx or load")
        self._g = core
        # from_networkx: the original node of token i is node_labels[i] (None otherwise).
        self.node_labels = None
        self._batches = None  # batch size -> its block-diagonal graph (_batched)
        self._key = next(_keys)
        _live[self._key] = self

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_pattern(cls, spec, n, seed=0):
        """A pattern expression over n tokens, e.g. "diffuser", "window:2+global:1",
        "bigbird:64:3:2" (every term of `diffuser graph --help`, joined by '+'); random terms
        are reproducible from seed."""
        spec = text("spec", spec)
        n = integer("n", n)
        seed = integer("seed", seed, 0)
        return cls(_core.Graph.from_pattern(spec, n, seed))

    @classmethod
    def from_edges(cls, src, dst, n=None):
        """Edges src[e] -> dst[e] (token dst[e] attends to token src[e]) from integer NumPy arrays,
        torch tensors or sequences; duplicates are merged. n: the number of tokens (default: the
        largest id + 1)."""
        n = integer("n", n, 0, none=True)
        return cls(_core.Graph.from_edges(_index_array("src", src), _index_array("dst", dst), n))

    @classmethod
    def from_scipy(cls, m):
        """A square scipy.sparse matrix (or 2-D array): entry A[i, j] != 0 is the edge j -> i, so
        row i of A is row i of the attention matrix. Explicitly stored zeros are not edges."""
        import scipy.sparse as sp

        if not sp.issparse(m):
            if not hasattr(m, "shape") or len(getattr(m, "shape", ())) != 2:
                raise Error(f"m must be a scipy.sparse matrix or a 2-D array, got {type(m).__name__}")
            m = sp.coo_matrix(np.asarray(m))
        if len(m.shape) != 2 or m.shape[0] != m.shape[1]:
            raise Error(f"m must be square (N, N), got shape {tuple(m.shape)}")
        coo = m.tocoo()
        keep = coo.data != 0
        return cls(_core.Graph.from_edges(coo.col[keep], coo.row[keep], int(m.shape[0]),
                                          f"scipy.sparse matrix (N={m.shape[0]})"))

    @classmethod
    def from_networkx(cls, G):
        """A networkx graph: edge u -> v means v attends to u; an undirected edge goes both ways.
        Token i is the i-th node of G.nodes (G's node order); graph.node_labels lists them."""
        if not all(hasattr(G, a) for a in ("nodes", "edges", "is_directed")):
            raise Error(f"G must be a networkx graph, got {type(G).__name__}")
        nodes = list(G.nodes)
        index = {u: i for i, u in enumerate(nodes)}
        pairs = np.array([(index[u], index[v]) for u, v in G.edges()], dtype=np.int64).reshape(-1, 2)
        src, dst = pairs[:, 0], pairs[:, 1]
        if not G.is_directed():
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        g = cls(_core.Graph.from_edges(src, dst, len(nodes), f"networkx graph (N={len(nodes)})"))
        g.node_labels = nodes
        return g

    @classmethod
    def load(cls, path, n=None):
        """A graph file: .txt/.edges/.el (edge list), .mtx (Matrix Market), .npy ((E, 2) src, dst),
        .dot/.gv, .graphml, as `diffuser graph --graph` reads them. n: the number of tokens
        (default: the file's count or the largest id + 1)."""
        n = integer("n", n, 1, none=True)
        return cls(_core.Graph.load(path_arg("path", path), n))

    @classmethod
    def block_diagonal(cls, graphs):
        """The union of graphs side by side (token ids of part p shifted by the tokens before it):
        a batch of sequences as one graph, as the C++ GraphBatch builds it."""
        parts = list(graphs)
        for i, g in enumerate(parts):
            if not isinstance(g, Graph):
                raise Error(f"graphs[{i}] must be a diffuser.Graph, got {type(g).__name__}")
        return cls(_core.Graph.block_diagonal([g._g for g in parts]))

    def _batched(self, batch):
        """The block-diagonal graph of `batch` copies of this one (itself for 1); the last four
        sizes are kept with this graph, so a batch shape builds its graph once."""
        if batch == 1:
            return self
        if self._batches is None:
            self._batches = collections.OrderedDict()
        return _recent(self._batches, batch, lambda: Graph.block_diagonal([self] * batch))

    # ---- reading ------------------------------------------------------------------------------

    @property
    def n(self):
        """The number of tokens."""
        return self._g.n

    @property
    def num_edges(self):
        return self._g.num_edges

    @property
    def source(self):
        """Where the graph came from ("pattern 'diffuser' (N=4096, seed 0)", "file g.mtx", ...)."""
        return self._g.source

    def edges(self):
        """(src, dst): two int32 arrays of the edges in CSR order (by dst, src ascending)."""
        src = np.empty(self.num_edges, np.int32)
        dst = np.empty(self.num_edges, np.int32)
        self._g.edges_into(src, dst)
        return src, dst

    def csr(self):
        """(row_ptr, col): the CSR arrays (int64 (n + 1,), int32 (E,)); row i's sources are
        col[row_ptr[i]:row_ptr[i + 1]]."""
        row_ptr = np.empty(self.n + 1, np.int64)
        col = np.empty(self.num_edges, np.int32)
        self._g.csr_into(row_ptr, col)
        return row_ptr, col

    def save(self, path):
        """Writes the graph (atomically) in the format of the extension (as load reads them)."""
        self._g.save(path_arg("path", path))

    def stats(self):
        """The statistics of `diffuser graph --json`: source, nodes, edges, in_degree {min, mean,
        max}, out_degree_max, empty_rows, self_loops, symmetric, density, build_ms."""
        return self._g.stats()

    def to_scipy(self, dtype=np.float32):
        """The (n, n) scipy.sparse.csr_matrix A with A[i, j] = 1 for every edge j -> i."""
        import scipy.sparse as sp

        row_ptr, col = self.csr()
        return sp.csr_matrix((np.ones(len(col), dtype=dtype), col, row_ptr), shape=(self.n, self.n))

    def to_networkx(self):
        """A networkx.DiGraph with an edge j -> i for every edge; nodes are 0..n-1, or the
        original nodes of a graph from from_networkx."""
        import networkx as nx

        labels = self.node_labels if self.node_labels is not None else range(self.n)
        labels = list(labels)
        G = nx.DiGraph()
        G.add_nodes_from(labels)
        src, dst = self.edges()
        G.add_edges_from((labels[s], labels[d]) for s, d in zip(src.tolist(), dst.tolist()))
        return G

    # ---- Python protocols ---------------------------------------------------------------------

    def __repr__(self):
        return f"diffuser.Graph(n={self.n}, num_edges={self.num_edges}, source={self.source!r})"

    def __eq__(self, other):
        if not isinstance(other, Graph):
            return NotImplemented
        return self._g.equals(other._g)

    def __hash__(self):
        return hash((self.n, self.num_edges))

    def __reduce__(self):
        row_ptr, col = self.csr()
        return (_rebuild, (self.n, row_ptr, col, self.source, self.node_labels))

    def _repr_png_(self):
        """The pattern picture for notebooks (binned beyond 2,048 tokens)."""
        from ._analysis import viz

        return viz(self, "pattern", "png", size=480)

    def _repr_svg_(self):
        from ._analysis import viz

        return viz(self, "pattern", "svg", size=480).decode("utf-8")


def _rebuild(n, row_ptr, col, source, node_labels):
    g = Graph(_core.Graph.from_csr(n, row_ptr, col, source))
    g.node_labels = node_labels
    return g


# Every live Graph under an integer key: torch custom ops (diffuser.torch) take no Python objects,
# so a graph travels through them as its key. Entries leave with their graph.
_live = weakref.WeakValueDictionary()
_keys = itertools.count(1)


def graph_by_key(key):
    """The live Graph or PatternGraphs under key."""
    g = _live.get(key)
    if g is None:
        raise Error(f"graph key {key} names no live diffuser.Graph")
    return g


class PatternGraphs:
    """The graphs of one pattern expression for every sequence length met (the last four kept),
    under an integer key like a Graph's: a torch custom op given the key and its input's length
    builds a new length's graph itself, so no Python graph building happens in traced code."""

    __slots__ = ("spec", "seed", "_by_n", "_key", "__weakref__")

    def __init__(self, spec, seed=0):
        self.spec = text("spec", spec)
        self.seed = integer("seed", seed, 0)
        self._by_n = collections.OrderedDict()
        self._key = next(_keys)
        _live[self._key] = self

    def graph(self, n):
        return _recent(self._by_n, n, lambda: Graph.from_pattern(self.spec, n, self.seed))

    def __reduce__(self):  # a copy registers under a key of its own
        return (PatternGraphs, (self.spec, self.seed))


def _recent(cache, key, build, keep=4):
    """cache[key], built on a miss; the `keep` most recently used entries stay (an OrderedDict)."""
    g = cache.get(key)
    if g is None:
        g = cache[key] = build()
        while len(cache) > keep:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return g


def sequence_graph_by_key(key, rows, batch):
    """The graph of one sequence for a call on `rows` = batch x N tokens through key (a Graph, or
    a PatternGraphs' graph for N)."""
    g = graph_by_key(key)
    if isinstance(g, PatternGraphs):
        if batch < 1 or rows % batch:
            raise Error(f"{rows} tokens do not split into {batch} sequences of equal length")
        return g.graph(rows // batch)
    return g


def batch_graph_by_key(key, rows, batch):
    """The block-diagonal graph of a call on `rows` tokens in `batch` sequences through key."""
    return sequence_graph_by_key(key, rows, batch)._batched(batch)


def core_of(graph, name="graph"):
    if not isinstance(graph, Graph):
        raise Error(f"{name} must be a diffuser.Graph, got {type(graph).__name__}")
    return graph._g
