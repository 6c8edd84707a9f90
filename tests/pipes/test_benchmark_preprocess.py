"""benchmarks/preprocess.py still runs (on tiny data; nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_preprocess_benchmark_runs_and_prints_its_tables():
    command = [sys.executable, "benchmarks/preprocess.py", "--rows", "500"]
    command += ["--rows32", "300"]
    command += ["--repeat", "1", "--small-rows", "60", "--small-repeat", "2"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| fireworks_sk BatchNormalizer + OneHot |" in result.stdout
    assert "| fit + transform, 500 rows of float64 |" in result.stdout
    assert "| fit + transform, 300 rows of float32 |" in result.stdout
    assert "| fit + predict, 60 rows, LogisticRegression |" in result.stdout
    assert "| ratio fireworks_sk / scikit-learn |" in result.stdout
