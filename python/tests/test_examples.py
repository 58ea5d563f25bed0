"""The examples of examples/python run, the training loop's loss goes down, and the benchmark script
runs end to end at a small size."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def run(name, *args, cwd):
    env = dict(os.environ)
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], check=True, capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300).stdout


def test_quickstart(tmp_path):
    out = run("quickstart.py", cwd=tmp_path)
    assert "Z (4096, 12, 64) float32" in out and "error: q must be float32, got float64" in out


def test_custom_graph(tmp_path):
    pytest.importorskip("networkx")
    pytest.importorskip("scipy")
    assert "saved and loaded" in run("custom_graph.py", cwd=tmp_path)


def test_analysis(tmp_path):
    out = run("analysis.py", str(tmp_path / "pics"), cwd=tmp_path)
    assert "recipe" in out and (tmp_path / "pics" / "pattern_recipe.png").read_bytes()[:4] == b"\x89PNG"


def test_training_loss_goes_down(tmp_path):
    pytest.importorskip("torch")
    losses = [float(x) for x in re.findall(r"loss ([\d.]+)", run("train.py", cwd=tmp_path))]
    assert len(losses) >= 5 and losses[-1] < 0.5 * losses[0], losses


def test_benchmark_script_small(tmp_path):
    """python/benchmarks/bench_python.py end to end at a small size: every variant's step runs, the
    JSON has the numbers the docs quote, and a device this torch lacks is a one-line error."""
    torch = pytest.importorskip("torch")
    script = EXAMPLES.parents[1] / "python" / "benchmarks" / "bench_python.py"
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(script), "--only", "train", "--n", "256", "--steps", "1", "--peer-steps", "1",
           "--variants", "diffuser,diffuser-keep,diffuser-keep-nocheck,projections,dense,sparse", "--json", str(out)]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    import json

    train = json.loads(out.read_text())["train"]
    assert set(train) == {"diffuser", "diffuser-keep", "diffuser-keep-nocheck", "projections", "dense",
                          "sparse"}, text
    assert "dense against diffuser-keep:" in text
    for r in train.values():
        assert r["device"] == "cpu" and len(r["step_ms"]) == 1 and r["median_ms"] > 0 and r["edges"] > 0
    assert "ceiling of the ratio against dense" in text
    if not torch.cuda.is_available():
        bad = subprocess.run(cmd[:-2] + ["--device", "cuda"], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 1 and "the diffuser step on cuda failed" in bad.stderr, bad.stderr
    unknown = subprocess.run(cmd[:10] + ["--variants", "diffuser-fast"], capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 1 and "unknown variant diffuser-fast" in unknown.stderr, unknown.stderr
