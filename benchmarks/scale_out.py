"""Scaling out on Dask: what fitting and searching cost on this machine.

Writes (once) ROWS rows x 10 columns (8 float, 2 string with 5 and 50
categories) in FILES Parquet files, then times, each once after a warm-up:

- starting ``local_cluster(n_workers=2, threads_per_worker=1)``;
- fitting ``BatchNormalizer`` + ``OneHot`` (``make_pipeline``; the OneHot
  then sees the scaled frame) in memory on pandas (reading included),
  with ``fit_stream`` over ``ParquetSource``, on ``dd.read_parquet`` with
  Dask's default threads, and on the same frame on the cluster;
- ``GridSearchCV`` (4 candidates x 3 folds) of BatchNormalizer + OneHot +
  Stack + a small TorchClassifier, ``n_jobs=1`` against joblib's Dask
  backend on the cluster.

Run it by hand; it prints a Markdown table:

    python benchmarks/scale_out.py [--rows N] [--files F] [--dir D]
        [--search-rows N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

# Run as a script, its folder is on sys.path: the sibling benchmark imports.
from stream import write_dataset  # noqa: E402


def _pipeline():
    from sklearn.pipeline import make_pipeline

    from fireworks_sk import BatchNormalizer, OneHot

    return make_pipeline(BatchNormalizer(), OneHot(["small", "large"]))


def _timed(func) -> float:
    func()  # warm-up: imports, thread pools, worker caches
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def fit_cases(folder: Path, client) -> dict[str, float]:
    """Seconds to fit the preprocessing pipeline, per way of reading the data."""
    import dask
    import dask.dataframe as dd
    import pandas as pd

    from fireworks_sk import fit_stream
    from fireworks_sk.sources import ParquetSource

    def pandas_fit():
        _pipeline().fit(pd.read_parquet(folder))

    def stream_fit():
        fit_stream(_pipeline(), ParquetSource(folder, 100_000), verbose=0)

    def dask_fit(scheduler):
        def fit():
            with dask.config.set(scheduler=scheduler):
                _pipeline().fit(dd.read_parquet(str(folder)))

        return fit

    return {
        "pandas, in memory (read + fit)": _timed(pandas_fit),
        "fit_stream(ParquetSource, chunk_size=100_000)": _timed(stream_fit),
        "Dask DataFrame, threads (2)": _timed(dask_fit("threads")),
        "Dask DataFrame, local_cluster (2 processes)": _timed(
            dask_fit("dask.distributed")
        ),
    }


def search_cases(client, rows: int = 3000) -> dict[str, float]:
    """Seconds for one GridSearchCV, in this process and on the cluster."""
    import joblib
    import pandas as pd
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from fireworks_sk import BatchNormalizer, OneHot, Stack, TorchClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    X["shop"] = rng.choice(["n", "s", "e"], rows)
    y = (X["a"] + (X["shop"] == "e") > 0.5).to_numpy().astype(np.int64)
    net = TorchClassifier(max_epochs=5, batch_size=64, random_state=0, verbose=0)
    pipe = make_pipeline(BatchNormalizer(), OneHot(["shop"]), Stack(), net)
    grid = {"torchclassifier__lr": [0.01, 0.03, 0.1, 0.3]}

    def serial():
        GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)

    def on_cluster():
        with joblib.parallel_config(backend="dask"):
            GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)

    return {
        "GridSearchCV, n_jobs=1": _timed(serial),
        "GridSearchCV, Dask backend (2 processes)": _timed(on_cluster),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--search-rows", type=int, default=3000)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.gettempdir()) / f"fireworks-dask-{args.rows}"
    if not folder.exists():
        write_dataset(folder, args.rows, args.files, offset=1e8)

    from fireworks_sk import local_cluster

    start = time.perf_counter()
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        rows = {"start local_cluster(n_workers=2)": time.perf_counter() - start}
        rows.update(fit_cases(folder, client))
        rows.update(search_cases(client, args.search_rows))
    import dask.dataframe as dd

    parts = dd.read_parquet(str(folder)).npartitions
    print(f"{args.rows:,} rows in {args.files} files, {parts} Dask partitions\n")
    print("| case | seconds |\n|---|---:|")
    for case, seconds in rows.items():
        print(f"| {case} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
