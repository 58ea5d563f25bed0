"""diffuser.viz: every kind the CLI draws, as PNG and SVG bytes, identical to `diffuser viz`."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import diffuser

PNG = b"\x89PNG\r\n\x1a\n"
GRAPH = diffuser.Graph.from_pattern("window:2+random:1", 48, seed=0)


def cli_picture(tmp_path, name, *args):
    cli = os.environ.get("DIFFUSER_CLI")
    if not cli:
        pytest.skip("DIFFUSER_CLI not set")
    out = tmp_path / name
    subprocess.run([cli, "viz", "--pattern", "window:2+random:1", "--n", "48", "--out", str(out), *args],
                   check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.parametrize("kind,extra,cli_args", [
    ("pattern", {}, []),
    ("reach", {"hops": 3}, ["--hops", "3"]),
    ("field", {"token": 20, "hops": 5}, ["--token", "20", "--hops", "5"]),
    ("attention", {"token": 7, "hops": 4}, ["--token", "7", "--hops", "4"]),
])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_kinds_match_cli(tmp_path, kind, extra, cli_args, fmt):
    data = diffuser.viz(GRAPH, kind, fmt, **extra)
    assert isinstance(data, bytes)
    if fmt == "png":
        assert data[:8] == PNG
    else:
        assert b"<svg" in data[:400]
    assert data == cli_picture(tmp_path, f"p.{fmt}", "--kind", kind, *cli_args)


def test_attention_with_qkv_matches_cli(tmp_path):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((48, 2, 4)).astype(np.float32) for _ in range(3))
    for name, x in zip("qkv", (q, k, v)):
        np.save(tmp_path / f"{name}.npy", x)
    data = diffuser.viz(GRAPH, "attention", "png", token=10, q=q, k=k, v=v, theta=[0.3, 0.4, 0.3],
                        title="three hops", size=256)
    want = cli_picture(tmp_path, "a.png", "--kind", "attention", "--token", "10", "--q", str(tmp_path / "q.npy"),
                       "--k", str(tmp_path / "k.npy"), "--v", str(tmp_path / "v.npy"), "--theta", "0.3,0.4,0.3",
                       "--title", "three hops", "--size", "256")
    assert data == want


def test_graph_drawing():
    dot = diffuser.viz(GRAPH, "graph", "dot")
    assert dot.startswith(b"digraph")
    if shutil.which("neato") is None:
        with pytest.raises(diffuser.Error, match="GraphViz"):
            diffuser.viz(GRAPH, "graph", "svg")
    else:
        assert b"<svg" in diffuser.viz(GRAPH, "graph", "svg", layout="dot")
        assert diffuser.viz(GRAPH, "graph", "png")[:8] == PNG  # (neato layouts abort in Debian 12 GraphViz)


def test_large_graph_is_binned():
    g = diffuser.Graph.from_pattern("diffuser", 4096)
    png = diffuser.viz(g, "pattern", "png")
    assert png[:8] == PNG and len(png) < 1_000_000
