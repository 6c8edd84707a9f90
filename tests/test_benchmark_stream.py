"""benchmarks/stream.py still runs (on tiny data; nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stream_benchmark_runs_and_prints_its_table(tmp_path):
    command = [sys.executable, "benchmarks/stream.py", "--rows", "3000"]
    command += ["--files", "2", "--chunk-size", "1000", "--dir", str(tmp_path)]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| case (chunk_size 1,000) |" in result.stdout
    for case in ("pyarrow", "pyarrow + to_pandas", "fit", "fit x3"):
        assert f"| {case} | " in result.stdout
    assert "| fit x3 | 9,000 |" in result.stdout
