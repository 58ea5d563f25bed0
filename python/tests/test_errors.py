"""Every error path: a diffuser.Error (a ValueError) with a one-line message naming the value, and
the interpreter still standing."""

import numpy as np
import pytest

import diffuser

G = diffuser.Graph.from_pattern("window:1", 6)
Q = np.zeros((6, 2, 4), np.float32)


def expect(fn, pattern):
    with pytest.raises(diffuser.Error, match=pattern) as info:
        fn()
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)
    return info.value


ATTEND_CASES = {
    "float64": (lambda: diffuser.attend(Q.astype(np.float64), Q, Q, G), "q must be float32, got float64"),
    "int": (lambda: diffuser.attend(Q, Q.astype(np.int32), Q, G), "k must be float32, got int32"),
    "rank": (lambda: diffuser.attend(Q[0], Q, Q, G), r"q must have shape \(N, H, D\), got shape \(2, 4\)"),
    "shape": (lambda: diffuser.attend(Q, Q[:, :1], Q, G), r"k has shape \(6, 1, 4\) but q has \(6, 2, 4\)"),
    "n": (lambda: diffuser.attend(Q[:5], Q[:5], Q[:5], G), "N mismatch: .* has 6 nodes but q has 5 tokens"),
    "empty": (lambda: diffuser.attend(Q[:, :, :0], Q[:, :, :0], Q[:, :, :0], G), "q has an empty dimension"),
    "list": (lambda: diffuser.attend([[1.0]], Q, Q, G), "q must be a NumPy array or a torch tensor, got list"),
    "nan": (lambda: diffuser.attend(Q, Q, np.where(np.arange(48).reshape(6, 2, 4) == 13, np.nan, Q).astype(
        np.float32), G), r"v holds a non-finite value at \[1, 1, 1\]"),
    "inf": (lambda: diffuser.attend(np.full_like(Q, np.inf), Q, Q, G), "q holds a non-finite value at"),
    "graph": (lambda: diffuser.attend(Q, Q, Q, "window:1"), "graph must be a diffuser.Graph, got str"),
    "hops": (lambda: diffuser.attend(Q, Q, Q, G, hops=300), r"hops must be in \[0, 256\], got 300"),
    "hops type": (lambda: diffuser.attend(Q, Q, Q, G, hops=2.5), "hops must be an integer, got 2.5"),
    "alpha": (lambda: diffuser.attend(Q, Q, Q, G, alpha=1.5), r"alpha must be in \[0, 1\], got 1.5"),
    "theta+heat": (lambda: diffuser.attend(Q, Q, Q, G, theta=[1.0], heat=1.0), "mutually exclusive"),
    "theta+hops": (lambda: diffuser.attend(Q, Q, Q, G, theta=[0.5, 0.5], hops=3), "drop hops"),
    "theta+alpha": (lambda: diffuser.attend(Q, Q, Q, G, theta=[0.5, 0.5], alpha=0.2), "drop alpha"),
    "theta empty": (lambda: diffuser.attend(Q, Q, Q, G, theta=[]), "theta needs at least one"),
    "theta nan": (lambda: diffuser.attend(Q, Q, Q, G, theta=[0.5, float("nan")]), "theta_1 is not a finite"),
    "theta text": (lambda: diffuser.attend(Q, Q, Q, G, theta="0.5"), "theta must be a sequence of numbers"),
    "heat": (lambda: diffuser.attend(Q, Q, Q, G, heat=-1.0), "heat time must be finite and >= 0"),
    "heat+alpha": (lambda: diffuser.attend(Q, Q, Q, G, heat=1.0, alpha=0.3), "alpha applies to the PPR"),
    "mask float": (lambda: diffuser.attend(Q, Q, Q, G, mask=np.ones(6)), "mask must be an integer or bool array"),
    "mask length": (lambda: diffuser.attend(Q, Q, Q, G, mask=np.ones(5, np.int8)), r"mask must have shape \(6,\)"),
    "threads 0": (lambda: diffuser.attend(Q, Q, Q, G, threads=0), r"threads must be in \[1, 4096\], got 0"),
    "threads big": (lambda: diffuser.attend(Q, Q, Q, G, threads=10**6), r"threads must be in \[1, 4096\]"),
    "threads str": (lambda: diffuser.attend(Q, Q, Q, G, threads="2"), "threads must be an integer"),
    "return_weights": (lambda: diffuser.attend(Q, Q, Q, G, return_weights="yes"), "return_weights must be True"),
    "big endian": (lambda: diffuser.attend(Q.astype(">f4"), Q, Q, G), "q must be float32, got big-endian"),
    "no nodes": (lambda: diffuser.attend(Q, Q, Q, diffuser.Graph.from_edges([], [])), "has no nodes"),
}


@pytest.mark.parametrize("case", sorted(ATTEND_CASES))
def test_attend_errors(case):
    fn, pattern = ATTEND_CASES[case]
    expect(fn, pattern)


GRAPH_CASES = {
    "pattern term": (lambda: diffuser.Graph.from_pattern("windoww:2", 8), "windoww"),
    "pattern number": (lambda: diffuser.Graph.from_pattern("window:x", 8), "window:x"),
    "pattern n": (lambda: diffuser.Graph.from_pattern("window:1", 0), r"n must be in \[1, 2147483647\], got 0"),
    "pattern seed": (lambda: diffuser.Graph.from_pattern("random:2", 8, seed=-1), "seed must be >= 0"),
    "pattern spec": (lambda: diffuser.Graph.from_pattern(3, 8), "spec must be a string"),
    "full too large": (lambda: diffuser.Graph.from_pattern("full", 2_000_000), "full"),
    "missing file": (lambda: diffuser.Graph.from_pattern("file:/nonexistent/g.txt", 8), "/nonexistent/g.txt"),
    "edges range": (lambda: diffuser.Graph.from_edges([0, 5], [1, 2], n=4),
                    r"edge 1: src = 5 is out of range \[0, 4\)"),
    "edges negative": (lambda: diffuser.Graph.from_edges([0, 1], [1, -2]), r"edge 1: dst = -2 is out of range"),
    "edges int32": (lambda: diffuser.Graph.from_edges([0, 2**31], [1, 1]), "out of range"),
    "edges uint64": (lambda: diffuser.Graph.from_edges(np.array([2**64 - 1], np.uint64), np.array([0], np.uint64)),
                     "out of range"),
    "edges float": (lambda: diffuser.Graph.from_edges(np.array([0.0]), np.array([1.0])),
                    "src must be an integer array, got float64"),
    "edges bool": (lambda: diffuser.Graph.from_edges(np.array([True]), np.array([False])),
                   "src must be an integer array, got bool"),
    "edges length": (lambda: diffuser.Graph.from_edges([0, 1], [1]), "same length, got 2 and 1"),
    "edges 2d": (lambda: diffuser.Graph.from_edges(np.zeros((2, 2), np.int64), np.zeros(2, np.int64)),
                 "src must be 1-dimensional"),
    "edges n": (lambda: diffuser.Graph.from_edges([0], [1], n=-1), "n must be >= 0"),
    "load missing": (lambda: diffuser.Graph.load("/nonexistent/g.mtx"), "/nonexistent/g.mtx"),
    "load extension": (lambda: diffuser.Graph.load("/tmp/g.xyz"), "g.xyz"),
    "load path": (lambda: diffuser.Graph.load(3.5), "path must be a path"),
    "save folder": (lambda: G.save("/nonexistent/dir/g.txt"), "/nonexistent/dir"),
    "block empty": (lambda: diffuser.Graph.block_diagonal([]), "at least one graph"),
    "block type": (lambda: diffuser.Graph.block_diagonal([G, 3]), r"graphs\[1\] must be a diffuser.Graph"),
    "scipy square": (lambda: diffuser.Graph.from_scipy(np.zeros((2, 3))), r"square \(N, N\)"),
    "scipy type": (lambda: diffuser.Graph.from_scipy("m"), "scipy.sparse matrix or a 2-D array"),
    "networkx type": (lambda: diffuser.Graph.from_networkx([1, 2]), "networkx graph"),
    "direct": (lambda: diffuser.Graph(3), "build a Graph with"),
}


def test_check_finite_false_skips_the_scan():
    """check_finite=False: no NaN/Inf scan (no synchronisation on a GPU); NaN flows to the output."""
    v = Q.copy()
    v[2, 1, 3] = np.nan
    expect(lambda: diffuser.attend(Q, Q, v, G), r"v holds a non-finite value at \[2, 1, 3\]")
    z = diffuser.attend(Q, Q, v, G, check_finite=False)
    assert np.isnan(z[2, 1, 3]) and np.isfinite(z[:, 0]).all()
    expect(lambda: diffuser.attend(Q, Q, Q, G, check_finite="no"), "check_finite must be True or False")


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_graph_errors(case):
    fn, pattern = GRAPH_CASES[case]
    expect(fn, pattern)


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1\n1 x\n")
    expect(lambda: diffuser.Graph.load(bad), "bad.txt:2: 'x' is not an integer id")
    npy = tmp_path / "bad.npy"
    np.save(npy, np.zeros((3, 3), np.int32))
    expect(lambda: diffuser.Graph.load(npy), "bad.npy")
    mtx = tmp_path / "trunc.mtx"
    mtx.write_text("%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n")
    expect(lambda: diffuser.Graph.load(mtx), "trunc.mtx")


ANALYSIS_CASES = {
    "reach hops": (lambda: diffuser.reach(G, max_hops=0), r"max_hops must be in \[1, 1024\], got 0"),
    "reach sample": (lambda: diffuser.reach(G, sample=0), "sample must be >= 1"),
    "reach exact": (lambda: diffuser.reach(G, sample=3, exact=True), "exclude each other"),
    "reach confidence": (lambda: diffuser.reach(G, confidence=1.0), r"confidence must be in \(0, 1\)"),
    "reach tokens": (lambda: diffuser.reach(diffuser.Graph.from_pattern("self", 1)), "at least 2 tokens"),
    "spectral tol": (lambda: diffuser.spectral(G, tol=2.0), r"tol must be in \(0, 1\)"),
    "spectral krylov": (lambda: diffuser.spectral(G, krylov_dim=2), r"krylov_dim must be in \[4, 1000\]"),
    "spectral iter": (lambda: diffuser.spectral(G, max_iter=0), "max_iter must be >= 1"),
    "mass q only": (lambda: diffuser.mass(G, q=Q), "q and k go together"),
    "mass q shape": (lambda: diffuser.mass(G, q=Q[:4], k=Q[:4]), "q has 4 tokens but the graph has 6"),
    "mass theta": (lambda: diffuser.mass(G, theta=[-1.0, 2.0]), "theta"),
    "viz kind": (lambda: diffuser.viz(G, "heatmap"), "unknown kind 'heatmap'"),
    "viz format": (lambda: diffuser.viz(G, "pattern", "jpg"), "format must be 'png', 'svg' or 'pdf'"),
    "viz size": (lambda: diffuser.viz(G, size=50), r"size must be in \[128, 2048\]"),
    "viz token": (lambda: diffuser.viz(G, "field", token=6), r"token 6 is out of range \[0, 6\)"),
    "viz hops": (lambda: diffuser.viz(G, "pattern", hops=2), "hops apply to the reach"),
    "viz q": (lambda: diffuser.viz(G, "pattern", q=Q, k=Q), "apply to kind 'attention' only"),
    "viz layout": (lambda: diffuser.viz(G, "graph", layout="spring"), "spring"),
    "viz graph size": (lambda: diffuser.viz(diffuser.Graph.from_pattern("window:1", 300), "graph"), "N <= 256"),
    "viz nan": (lambda: diffuser.viz(G, "attention", q=np.full_like(Q, np.nan), k=Q), "q holds a non-finite"),
}


@pytest.mark.parametrize("case", sorted(ANALYSIS_CASES))
def test_analysis_errors(case):
    fn, pattern = ANALYSIS_CASES[case]
    expect(fn, pattern)


def test_torch_errors():
    torch = pytest.importorskip("torch")
    import diffuser.torch as dt

    q = torch.zeros(6, 2, 4)
    expect(lambda: dt.attend(q.double(), q, q, G), "q must be float32, got float64")
    expect(lambda: dt.attend(q.half(), q, q, G), "q must be float32, got float16")
    expect(lambda: dt.attend(q.bfloat16(), q, q, G), "q must be float32, got bfloat16")
    expect(lambda: dt.attend(q, q, q, G, dropout=1.0), r"dropout must be in \[0, 1\)")
    expect(lambda: dt.attend(q, q, q, G, dropout=0.1, return_weights=True), "not available with dropout")
    expect(lambda: dt.attend(q, q, q, G, mask=torch.ones(6)), "mask must be an integer or bool array, got float32")
    expect(lambda: dt.attend_qkv(torch.zeros(6, 2, 2, 4), G), r"qkv must have shape \(N, 3, H, D\)")
    expect(lambda: dt.attend("q", q, q, G), "q must be a torch tensor or a NumPy array")
    if torch.cuda.is_available():
        expect(lambda: dt.attend(q.cuda(), q, q, G), "q is on cuda:0")


def test_kept_state_buffers_are_checked():
    """The extension's checks of the buffers that recompute=False hands over (private arguments)."""
    core = diffuser._core
    g = diffuser.Graph.from_pattern("window:1", 6)
    e, z = g.num_edges, np.empty_like(Q)
    args = (g._g, Q, Q, Q, None, 3, 0.1, None, None, None, False, 0.0, 0, z, None)
    expect(lambda: core.attend(*args, keep_states=np.empty((3, 6, 2, 4), np.float32)),
           r"keep_states must have shape \(2, 6, 2, 4\), got \(3, 6, 2, 4\)")
    expect(lambda: core.attend(*args, keep_states=np.empty((2, 6, 2, 4), np.float64)),
           "keep_states must be float32, got float64")
    expect(lambda: core.attend(*args, keep_states=np.empty((2, 6, 4, 2), np.float32).transpose(0, 1, 3, 2)),
           "keep_states must be C-contiguous")
    expect(lambda: core.attend(*args, keep_weights=np.empty((e + 1, 2), np.float32)),
           rf"keep_weights must have shape \({e}, 2\)")
    d = [np.empty_like(Q) for _ in range(3)]
    expect(lambda: core.attend_backward(g._g, Q, Q, Q, Q, *d, None, 3, 0.1, None, None, None,
                                        weights=np.empty((e, 3), np.float32)), rf"weights must have shape \({e}, 2\)")
    expect(lambda: core.attend_backward(g._g, Q, Q, Q, Q, *d, None, 3, 0.1, None, None, None,
                                        states=np.empty((2, 6, 2, 5), np.float32)), "states must have shape")


def test_meta_tensors_are_refused():
    """Memory neither on the CPU nor on a CUDA device never reaches the engine."""
    torch = pytest.importorskip("torch")

    meta = torch.empty(6, 2, 4, device="meta")
    with pytest.raises(diffuser.Error, match="q is on"):
        diffuser.attend(meta, meta, meta, G)


class FakeCuda:
    """Host memory that calls itself cuda:0 (DLPack device (2, 0)), like numpy it exports only
    without a stream: every refusal of device memory must come before any read of it."""

    def __init__(self, a):
        self.a = a

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None):
        if stream is not None:
            raise BufferError("exports for the CPU only")
        return self.a.__dlpack__()


@pytest.mark.skipif(diffuser._core.build_info()["cuda_available"], reason="a usable GPU would read the host memory")
def test_device_memory_is_refused_where_it_cannot_go():
    from diffuser._graph import core_of

    fq = FakeCuda(Q)
    out = FakeCuda(np.empty_like(Q))
    expect(lambda: diffuser._core.attend(core_of(G), fq, fq, fq, None, 5, 0.1, None, None, None, False, 0.0, 0, out,
                                         None), "q is on cuda:0 but this build of diffuser cannot use CUDA")
    expect(lambda: diffuser.attend(fq, Q, Q, G), "k is on cpu but q is on cuda:0")
    expect(lambda: diffuser._core.attend(core_of(G), fq, fq, fq, None, 5, 0.1, None, None, None, False, 0.0, 0,
                                         np.empty_like(Q), None), "out is on cpu but q is on cuda:0")
    expect(lambda: diffuser.attend(Q, Q, Q, G, mask=FakeCuda(np.ones(6, np.int32))),
           "mask must be in host memory, got a tensor on cuda:0")
    expect(lambda: diffuser.mass(G, q=fq, k=fq), "q must be in host memory, got a tensor on cuda:0")
