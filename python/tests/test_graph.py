"""diffuser.Graph: construction, reading, round trips through files, scipy, networkx and pickle."""

import json
import os
import pickle
import subprocess

import numpy as np
import pytest

import diffuser


def test_from_pattern_matches_edges():
    g = diffuser.Graph.from_pattern("window:1", 5)
    assert g.n == 5 and g.num_edges == 13
    src, dst = g.edges()
    assert src.dtype == np.int32 and dst.dtype == np.int32
    # CSR order: by destination, sources ascending
    assert list(zip(dst.tolist(), src.tolist())) == sorted(zip(dst.tolist(), src.tolist()))
    assert set(zip(src.tolist(), dst.tolist())) == {(j, i) for i in range(5) for j in range(5) if abs(i - j) <= 1}
    row_ptr, col = g.csr()
    assert row_ptr.dtype == np.int64 and row_ptr[-1] == 13 and np.array_equal(col, src)


def test_every_pattern_term_and_seed():
    for spec in ["window:3", "blocks:8", "dilated:2:3", "global:2", "global-random:3", "global-at:0,5,9",
                 "random:4", "bigbird:4:1:1", "self", "full", "diffuser", "diffuser:8:4:2",
                 "window:1+random:2+global:1"]:
        g = diffuser.Graph.from_pattern(spec, 64, seed=5)
        assert g.n == 64 and g.num_edges > 0, spec
        assert g == diffuser.Graph.from_pattern(spec, 64, seed=5)
    assert diffuser.Graph.from_pattern("random:4", 64, seed=1) != diffuser.Graph.from_pattern("random:4", 64, seed=2)


def test_from_edges_dedup_and_n():
    g = diffuser.Graph.from_edges(np.array([0, 0, 2]), np.array([1, 1, 0]))
    assert g.n == 3 and g.num_edges == 2
    g = diffuser.Graph.from_edges([0], [1], n=10)
    assert g.n == 10 and g.stats()["empty_rows"] == 9
    assert diffuser.Graph.from_edges(np.array([], np.int64), np.array([], np.int64)).n == 0
    for dtype in (np.int8, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
        assert diffuser.Graph.from_edges(np.array([1, 2], dtype), np.array([0, 1], dtype)).num_edges == 2


def test_from_edges_torch():
    torch = pytest.importorskip("torch")
    g = diffuser.Graph.from_edges(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]))
    assert g.n == 3 and g.num_edges == 3


def test_stats_match_the_cli():
    g = diffuser.Graph.from_pattern("diffuser:8:4:2", 128, seed=3)
    s = g.stats()
    assert s["source"] == "pattern 'diffuser:8:4:2' (N=128, seed 3)"
    assert s["nodes"] == 128 and s["edges"] == g.num_edges
    cli = os.environ.get("DIFFUSER_CLI")
    if not cli:
        pytest.skip("DIFFUSER_CLI not set")
    out = subprocess.run([cli, "graph", "--pattern", "diffuser:8:4:2", "--n", "128", "--seed", "3", "--json"],
                         check=True, capture_output=True, text=True).stdout
    want = json.loads(out)
    assert set(want) == set(s)
    for key in set(want) - {"build_ms"}:
        if isinstance(want[key], float):
            assert s[key] == pytest.approx(want[key], rel=1e-5), key
        elif isinstance(want[key], dict):
            for sub in want[key]:
                assert s[key][sub] == pytest.approx(want[key][sub], rel=1e-5), (key, sub)
        else:
            assert s[key] == want[key], key


@pytest.mark.parametrize("ext", [".txt", ".mtx", ".npy", ".dot", ".graphml"])
def test_file_round_trip(tmp_path, ext):
    g = diffuser.Graph.from_pattern("window:2+random:2", 30, seed=2)
    p = tmp_path / f"g{ext}"
    g.save(p)
    h = diffuser.Graph.load(p, n=30) if ext == ".npy" else diffuser.Graph.load(str(p))
    assert h == g and h.source == f"file {p}"


def test_scipy_round_trip():
    sp = pytest.importorskip("scipy.sparse")
    g = diffuser.Graph.from_pattern("random:3+global:1", 40, seed=9)
    m = g.to_scipy()
    assert m.shape == (40, 40) and m.nnz == g.num_edges
    src, dst = g.edges()
    assert np.all(np.asarray(m[dst, src]).ravel() == 1)  # A[i, j] != 0 for the edge j -> i
    assert diffuser.Graph.from_scipy(m) == g
    assert diffuser.Graph.from_scipy(m.tocoo()) == g and diffuser.Graph.from_scipy(m.tocsc()) == g
    # explicit zeros are not edges; any nonzero value is
    z = sp.csr_matrix((np.array([0.0, 2.5, -1.0]), np.array([1, 0, 2]), np.array([0, 1, 2, 3])), shape=(3, 3))
    h = diffuser.Graph.from_scipy(z)
    assert h.num_edges == 2 and set(zip(*[a.tolist() for a in h.edges()])) == {(0, 1), (2, 2)}
    assert diffuser.Graph.from_scipy(np.eye(4)).num_edges == 4


def test_networkx_round_trip():
    nx = pytest.importorskip("networkx")
    G = nx.DiGraph()
    G.add_nodes_from(["c", "a", "b", "lonely"])
    G.add_edges_from([("a", "b"), ("b", "c"), ("c", "a"), ("a", "a")])
    g = diffuser.Graph.from_networkx(G)
    assert g.n == 4 and g.num_edges == 4 and g.node_labels == ["c", "a", "b", "lonely"]
    # edge u -> v: v attends to u; token ids follow G's node order
    assert set(zip(*[a.tolist() for a in g.edges()])) == {(1, 2), (2, 0), (0, 1), (1, 1)}
    H = g.to_networkx()
    assert set(H.nodes) == set(G.nodes) and set(H.edges) == set(G.edges)
    # undirected graphs give both directions; a diffuser graph round-trips
    assert diffuser.Graph.from_networkx(nx.path_graph(4)).num_edges == 6
    p = diffuser.Graph.from_pattern("random:2+window:1", 25, seed=4)
    assert diffuser.Graph.from_networkx(p.to_networkx()) == p


def test_block_diagonal():
    a = diffuser.Graph.from_pattern("window:1", 3)
    b = diffuser.Graph.from_pattern("full", 2)
    g = diffuser.Graph.block_diagonal([a, b, a])
    assert g.n == 8 and g.num_edges == 7 + 4 + 7
    src, dst = g.edges()
    assert set(zip(src[7:11].tolist(), dst[7:11].tolist())) == {(3, 3), (3, 4), (4, 3), (4, 4)}


def test_pickle_and_repr():
    g = diffuser.Graph.from_pattern("random:3", 20, seed=1)
    h = pickle.loads(pickle.dumps(g))
    assert h == g and h.source == g.source
    assert "n=20" in repr(g) and "random:3" in repr(g)
    assert hash(h) == hash(g)


def test_notebook_pictures():
    g = diffuser.Graph.from_pattern("window:2", 16)
    assert g._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in g._repr_svg_()
    big = diffuser.Graph.from_pattern("window:8", 5000)  # binned, not 5000 x 5000 cells
    assert len(big._repr_png_()) < 500_000
