"""pytest set-up of the qat_mlir tests: the package and the helpers on
sys.path, tests skipped without torch, the measured figures printed in the
summary."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

pytest.importorskip("torch")


def pytest_terminal_summary(terminalreporter):
    from helpers import FIGURES
    if FIGURES:
        terminalreporter.write_sep("-", "qat_mlir figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
