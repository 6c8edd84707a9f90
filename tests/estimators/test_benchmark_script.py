"""benchmarks/train.py still runs (on tiny data; nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_script_runs_and_prints_its_tables():
    command = [sys.executable, "benchmarks/train.py", "--rows", "600"]
    command += ["--epochs", "1", "--repeats", "3"]
    command += ["--predict-rows", "300", "--predict-repeats", "1"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| plain torch loop |" in result.stdout
    assert "| Pipeline(Pipes + TorchClassifier), 1-row DataFrame |" in result.stdout
    for width in (8, 60):
        assert f"ColumnTransformer+skorch, {width} numeric" in result.stdout
    assert "| ratio MessageLoader / randperm + index_select |" in result.stdout
    assert "| ratio Pipes + TorchClassifier / skorch |" in result.stdout
