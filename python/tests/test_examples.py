"""The examples of examples/python run, and the training loop's loss goes down."""

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
