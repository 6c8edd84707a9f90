"""Every script in benchmarks/ still runs and prints its tables.

The scripts run on tiny data; nothing here is timed (speed is measured by
hand, see docs/benchmarks.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    """Run ``benchmarks/<script>`` with ``args``; its standard output."""
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_train_benchmark_prints_its_tables():
    out = _run(
        "train.py",
        *("--rows", "600", "--epochs", "1", "--repeats", "3"),
        *("--predict-rows", "300", "--predict-repeats", "1"),
    )
    assert "| plain torch loop |" in out
    assert "| Pipeline(Pipes + TorchClassifier), 1-row DataFrame |" in out
    for width in (8, 60):
        assert f"ColumnTransformer+skorch, {width} numeric" in out
    assert "| ratio MessageLoader / randperm + index_select |" in out
    assert "| ratio Pipes + TorchClassifier / skorch |" in out


def test_preprocess_benchmark_prints_its_tables():
    out = _run(
        "preprocess.py",
        *("--rows", "500", "--rows32", "300", "--repeat", "1"),
        *("--small-rows", "60", "--small-repeat", "2"),
    )
    assert "| fireworks_sk BatchNormalizer + OneHot |" in out
    assert "| fit + transform, 500 rows of float64 |" in out
    assert "| fit + transform, 300 rows of float32 |" in out
    assert "| fit + predict, 60 rows, LogisticRegression |" in out
    assert "| ratio fireworks_sk / scikit-learn |" in out


def test_stream_benchmark_prints_its_table(tmp_path):
    out = _run(
        "stream.py",
        *("--rows", "3000", "--files", "2", "--chunk-size", "1000"),
        *("--dir", str(tmp_path), "--repeat", "1"),
    )
    assert "| case (chunk_size 1,000) |" in out
    assert "| CPU seconds | CPU vs pyarrow |" in out
    for case in ("pyarrow", "pyarrow + to_pandas", "ParquetSource", "fit", "fit x3"):
        assert f"| {case} | " in out
    assert "| fit x3 | 9,000 |" in out


def test_scale_out_benchmark_prints_its_table(tmp_path):
    pytest.importorskip("distributed", reason="the 'dask' extra is not installed")
    out = _run(
        "scale_out.py",
        *("--rows", "2000", "--files", "2", "--dir", str(tmp_path / "data")),
        *("--search-rows", "120"),
    )
    assert "2,000 rows in 2 files" in out
    for case in (
        "start local_cluster(n_workers=2)",
        "fit_stream(ParquetSource, chunk_size=100_000)",
        "Dask DataFrame, local_cluster (2 processes)",
        "GridSearchCV, Dask backend (2 processes)",
    ):
        assert f"| {case} | " in out


def test_serve_benchmark_prints_its_table():
    pytest.importorskip("uvicorn", reason="the 'serve' extra is not installed")
    out = _run("serve.py", "--requests", "3")
    assert "| POST /predict over loopback |" in out
    assert "| in process, predict_proba |" in out
