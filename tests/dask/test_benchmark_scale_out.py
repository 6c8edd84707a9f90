"""benchmarks/scale_out.py still runs (on tiny data; nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_scale_out_benchmark_runs_and_prints_its_table(tmp_path):
    pytest.importorskip("distributed", reason="the 'dask' extra is not installed")
    command = [sys.executable, "benchmarks/scale_out.py", "--rows", "2000"]
    command += ["--files", "2", "--dir", str(tmp_path / "data")]
    command += ["--search-rows", "120"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "2,000 rows in 2 files" in result.stdout
    for case in (
        "start local_cluster(n_workers=2)",
        "fit_stream(ParquetSource, chunk_size=100_000)",
        "Dask DataFrame, local_cluster (2 processes)",
        "GridSearchCV, Dask backend (2 processes)",
    ):
        assert f"| {case} | " in result.stdout
