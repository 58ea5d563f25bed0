"""diffuser.reach / spectral / mass: the CLI's JSON fields and values (DIFFUSER_CLI is the built
`diffuser` program; ctest sets it)."""

import json
import os
import subprocess

import numpy as np
import pytest

import diffuser

SPEC, N, SEED = "window:2+random:2", 200, 4


def cli_json(*args):
    cli = os.environ.get("DIFFUSER_CLI")
    if not cli:
        pytest.skip("DIFFUSER_CLI not set")
    out = subprocess.run([cli, *args, "--pattern", SPEC, "--n", str(N), "--seed", str(SEED), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def same(got, want, path="", skip=("seconds", "threads")):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) >= set(want), (path, set(want) - set(got))
        for key in want:
            if key not in skip:
                same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        got = list(got.tolist() if hasattr(got, "tolist") else got)
        assert len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want)):
            same(a, b, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12), path
    else:
        assert got == want, path


GRAPH = diffuser.Graph.from_pattern(SPEC, N, seed=SEED)


def test_reach_matches_cli():
    r = diffuser.reach(GRAPH, max_hops=4)
    assert isinstance(r["coverage"], np.ndarray) and r["coverage"].shape == (4,)
    assert r["exact"] and r["sample_sources"] is None
    same(r, cli_json("reach", "--max-hops", "4", "--quiet"))


def test_reach_sampled_matches_cli():
    r = diffuser.reach(GRAPH, max_hops=3, sample=50, seed=2)
    assert not r["exact"] and r["sample_sources"] == 50 and len(r["sampled"]) == 50
    cli = os.environ.get("DIFFUSER_CLI")
    if not cli:
        pytest.skip("DIFFUSER_CLI not set")
    out = subprocess.run([cli, "reach", "--pattern", SPEC, "--n", str(N), "--seed", str(SEED), "--max-hops", "3",
                          "--sample", "50", "--json", "--quiet"], check=True, capture_output=True, text=True).stdout
    # the CLI's --seed seeds both the pattern and the sample; do the same here
    same(diffuser.reach(GRAPH, max_hops=3, sample=50, seed=SEED), json.loads(out))


def test_spectral_matches_cli():
    s = diffuser.spectral(GRAPH, seed=SEED)  # the CLI's --seed seeds the start vector too
    assert 0 < s["spectral_gap"] <= 1 and s["laplacian"]["components"] == 1
    same(s, cli_json("spectral", "--quiet"), skip=("seconds", "threads", "residual", "lambda2_residual",
                                                   "lambda_max_residual"))


def test_mass_matches_cli(tmp_path):
    m = diffuser.mass(GRAPH, hops=4, alpha=0.2)
    assert m["attention"] == "uniform" and len(m["per_hop"]) == 5
    same(m, cli_json("mass", "--hops", "4", "--alpha", "0.2"))
    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((N, 2, 8)).astype(np.float32) for _ in range(2))
    np.save(tmp_path / "q.npy", q)
    np.save(tmp_path / "k.npy", k)
    m = diffuser.mass(GRAPH, theta=[0.2, 0.5, 0.3], q=q, k=k)
    assert m["attention"] == "softmax" and m["outside_mass_per_head"].shape == (2,)
    same(m, cli_json("mass", "--theta", "0.2,0.5,0.3", "--q", str(tmp_path / "q.npy"), "--k",
                     str(tmp_path / "k.npy")))


def test_threads_argument():
    assert diffuser.reach(GRAPH, max_hops=2, threads=1)["threads"] == 1
    assert diffuser.mass(GRAPH, threads=2)["threads"] == 2
