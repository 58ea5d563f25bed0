"""Runs one pytest file for ctest: exit 77 (ctest's skip code) when pytest or NumPy is missing or
when every case of the file was skipped (e.g. no torch), else pytest's own exit status."""

import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)


class Outcomes:
    def __init__(self):
        self.passed = self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.skipped:
            self.skipped += 1


outcomes = Outcomes()
rc = pytest.main(["-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnraisableExceptionWarning",
                  *sys.argv[1:]], plugins=[outcomes])
if rc == 0 and outcomes.passed == 0 and outcomes.skipped > 0:
    sys.exit(77)
sys.exit(int(rc))
