"""diffuser.attend on NumPy arrays against the float64 NumPy reference; zero-copy, strided views,
thread counts."""

import tracemalloc

import numpy as np
import pytest

import diffuser
from reference import heat_theta, numpy_attend, ppr_theta, rel_error

GRAPHS = {
    "window": lambda: diffuser.Graph.from_pattern("window:2", 37),
    "random+global": lambda: diffuser.Graph.from_pattern("random:3+global:1", 50, seed=3),
    "recipe-small": lambda: diffuser.Graph.from_pattern("diffuser:8:4:2", 96, seed=1),
    "bigbird": lambda: diffuser.Graph.from_pattern("bigbird:4:1:1", 40),
    # empty rows (tokens 0 and 7 attend to nothing), a self loop, a hub
    "edges": lambda: diffuser.Graph.from_edges([1, 2, 3, 3, 5, 6, 6, 4, 2, 2, 2, 2], [2, 1, 1, 4, 4, 3, 6, 5, 3, 4, 5, 6],
                                               n=8),
}


def qkv(n, h=3, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, h, d)).astype(np.float32) for _ in range(3)]


def check(g, q, k, v, ref_theta, mask=None, **kw):
    z, w = diffuser.attend(q, k, v, g, mask=mask, return_weights=True, **kw)
    src, dst = g.edges()
    ref, wref = numpy_attend(src, dst, g.n, q, k, v, ref_theta, mask)
    assert z.dtype == np.float32 and z.shape == q.shape
    assert w.dtype == np.float32 and w.shape == (g.num_edges, q.shape[1])
    assert rel_error(z, ref) <= 1e-5
    assert rel_error(w, wref) <= 1e-5
    # the default path (weights never leave the engine) gives the same z
    np.testing.assert_array_equal(diffuser.attend(q, k, v, g, mask=mask, **kw), z)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_ppr_against_reference(name):
    g = GRAPHS[name]()
    q, k, v = qkv(g.n)
    check(g, q, k, v, ppr_theta(5, 0.1))
    check(g, q, k, v, ppr_theta(3, 0.3), hops=3, alpha=0.3)


@pytest.mark.parametrize("name", ["window", "random+global", "edges"])
def test_masks(name):
    g = GRAPHS[name]()
    q, k, v = qkv(g.n, seed=4)
    rng = np.random.default_rng(1)
    mask = (rng.random(g.n) > 0.3).astype(np.int64)
    check(g, q, k, v, ppr_theta(5, 0.1), mask=mask)
    check(g, q, k, v, ppr_theta(5, 0.1), mask=mask.astype(bool))
    check(g, q, k, v, ppr_theta(0, 0.1), mask=mask.astype(np.uint8), hops=0)


def test_plain_attention_theta_heat():
    g = GRAPHS["random+global"]()
    q, k, v = qkv(g.n, h=2, d=16, seed=7)
    check(g, q, k, v, ppr_theta(0, 0.1), hops=0)
    check(g, q, k, v, [0.5, 0.3, 0.2], theta=[0.5, 0.3, 0.2])
    check(g, q, k, v, [0.25], theta=[0.25])  # K = 0 with theta: Z = theta_0 V
    check(g, q, k, v, [0.0, 0.0, 0.0, 1.0], theta=np.array([0.0, 0.0, 0.0, 1.0]))
    check(g, q, k, v, heat_theta(8, 2.0), heat=2.0, hops=8)
    check(g, q, k, v, heat_theta(1, 0.5), heat=0.5, hops=1)


def test_one_head_one_dim_one_token():
    g = diffuser.Graph.from_pattern("self", 1)
    q, k, v = qkv(1, h=1, d=1)
    check(g, q, k, v, ppr_theta(5, 0.1))


def test_contiguous_inputs_are_not_copied():
    g = GRAPHS["window"]()
    q, _, _ = qkv(g.n)
    addr, copied = diffuser._core.engine_view(q)
    assert addr == q.ctypes.data and not copied


def test_packed_views_are_not_copied():
    g = GRAPHS["recipe-small"]()
    rng = np.random.default_rng(2)
    packed = rng.standard_normal((g.n, 3, 4, 8)).astype(np.float32)
    q, k, v = packed[:, 0], packed[:, 1], packed[:, 2]
    for x in (q, k, v):
        addr, copied = diffuser._core.engine_view(x)
        assert addr == x.ctypes.data and not copied
    z = diffuser.attend(q, k, v, g)
    np.testing.assert_array_equal(z, diffuser.attend(q.copy(), k.copy(), v.copy(), g))
    # heads sliced out of a wider tensor and every other row: still views
    wide = rng.standard_normal((2 * g.n, 6, 8)).astype(np.float32)
    sub = wide[::2, 1:5]
    assert not diffuser._core.engine_view(sub)[1]
    np.testing.assert_array_equal(diffuser.attend(sub, sub, sub, g),
                                  diffuser.attend(*(np.ascontiguousarray(sub),) * 3, g))


def test_other_layouts_are_copied_and_correct():
    g = GRAPHS["window"]()
    rng = np.random.default_rng(3)
    hnd = rng.standard_normal((4, g.n, 8)).astype(np.float32)
    layouts = {
        "heads-major (H, N, D) transposed": hnd.transpose(1, 0, 2),
        "D not contiguous": np.asfortranarray(hnd.transpose(1, 0, 2)),
        "negative strides": np.ascontiguousarray(hnd.transpose(1, 0, 2))[::-1],
        "broadcast (zero strides)": np.broadcast_to(hnd[:1].transpose(1, 0, 2), (g.n, 4, 8)),
    }
    for name, x in layouts.items():
        assert diffuser._core.engine_view(x)[1], name
        c = np.ascontiguousarray(x)
        np.testing.assert_array_equal(diffuser.attend(x, x, x, g), diffuser.attend(c, c, c, g), err_msg=name)


def test_read_only_inputs():
    g = GRAPHS["window"]()
    q, k, v = qkv(g.n)
    for x in (q, k, v):
        x.flags.writeable = False
    z = diffuser.attend(q, k, v, g)
    assert z.flags.writeable and z.flags.c_contiguous


def test_peak_memory_is_the_output():
    """NumPy allocations during attend: the output only (inputs are read in place); a copy of
    the inputs would add three times as much."""
    g = diffuser.Graph.from_pattern("window:4", 4096)
    q, k, v = qkv(g.n, h=4, d=32)
    diffuser.attend(q, k, v, g)  # warm-up
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        z = diffuser.attend(q, k, v, g)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < z.nbytes * 1.2, (peak, z.nbytes)


def test_thread_counts_agree():
    g = GRAPHS["recipe-small"]()
    q, k, v = qkv(g.n, h=4, d=16)
    base = diffuser.attend(q, k, v, g)
    for t in (1, 2, 3):
        np.testing.assert_allclose(diffuser.attend(q, k, v, g, threads=t), base, rtol=1e-6, atol=1e-7)
    assert diffuser.build_info()["threads"] >= 1


def test_concurrent_calls_from_python_threads():
    """The GIL is released while the engine runs: calls from several threads run together and
    give the same results."""
    from concurrent.futures import ThreadPoolExecutor

    g = GRAPHS["recipe-small"]()
    inputs = [qkv(g.n, h=4, d=16, seed=s) for s in range(6)]
    want = [diffuser.attend(*x, g, threads=1) for x in inputs]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda x: diffuser.attend(*x, g, threads=1), inputs))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_environment_is_read_once_at_import():
    """The base context comes from the environment, as the CLI's: DIFFUSER_THREADS,
    DIFFUSER_CPU_ISA, ...; a malformed value makes the import fail with the CLI's message."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np, diffuser; g = diffuser.Graph.from_pattern('window:2', 40); "
            "x = np.random.default_rng(0).standard_normal((40, 2, 8)).astype(np.float32); "
            "print(diffuser.build_info()['threads'], diffuser.build_info()['cpu_isa']); "
            "np.save(sys.argv[1], diffuser.attend(x, x, x, g))")

    def run(out, **env):
        return subprocess.run([sys.executable, "-c", "import sys; " + code, out], env={**os.environ, **env},
                              capture_output=True, text=True)

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        r = run(f"{tmp}/a.npy", DIFFUSER_THREADS="1", DIFFUSER_CPU_ISA="generic")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["1", "generic"]
        r = run(f"{tmp}/b.npy")
        assert r.returncode == 0, r.stderr
        np.testing.assert_allclose(np.load(f"{tmp}/a.npy"), np.load(f"{tmp}/b.npy"), rtol=1e-5, atol=1e-6)
        r = run(f"{tmp}/c.npy", DIFFUSER_THREADS="abc")
        assert r.returncode != 0 and "DIFFUSER_THREADS=abc" in r.stderr.strip().splitlines()[-1]
