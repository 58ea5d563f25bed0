"""`cmake --install` puts a working package into <prefix>/<DIFFUSER_PYTHON_INSTALL_DIR> (ctest gives
the build folder and the install folder)."""

import os
import subprocess
import sys

import pytest


def test_installed_package_imports(tmp_path):
    build = os.environ.get("DIFFUSER_BUILD_DIR")
    where = os.environ.get("DIFFUSER_PYTHON_INSTALL_DIR")
    if not build or not where:
        pytest.skip("DIFFUSER_BUILD_DIR / DIFFUSER_PYTHON_INSTALL_DIR not set (ctest sets them)")
    if os.path.isabs(where):
        pytest.skip(f"the package installs to an absolute folder ({where}), outside any test prefix")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], check=True, capture_output=True)
    site = prefix / where
    assert (site / "diffuser" / "__init__.py").is_file()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = ("import diffuser, numpy as np; g = diffuser.Graph.from_pattern('window:1', 8); "
            "x = np.ones((8, 1, 4), np.float32); print(diffuser.__file__); print(diffuser.attend(x, x, x, g).sum())")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env,
                         cwd=tmp_path).stdout.split()
    assert out[0].startswith(str(site)) and float(out[1]) == pytest.approx(32.0)
