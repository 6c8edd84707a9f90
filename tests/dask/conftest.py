"""The one Dask cluster of tests/dask: two worker processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="package")
def client() -> Iterator:
    """A ``distributed.Client`` on a LocalCluster of 2 single-thread processes.

    Started once for tests/dask (2 to 10 s on 2 cores) by
    ``fireworks_sk.local_cluster``, which binds everything to 127.0.0.1, and
    closed after its last test, so the rest of the suite runs without it.
    """
    pytest.importorskip("distributed", reason="the 'dask' extra is not installed")
    from fireworks_sk import local_cluster

    with local_cluster(n_workers=2, threads_per_worker=1, processes=True) as client:
        yield client


def frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Float, large-offset float, int and string columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(3.0, 2.0, rows),
            # mean 1e8, std 1: a sum of squares would lose every digit of var.
            "big": rng.normal(1e8, 1.0, rows),
            "i": rng.integers(0, 6, rows),
            "s": rng.choice(["north", "south", "east", "west"], rows),
        }
    )


def from_pieces(pieces: list[pd.DataFrame]):
    """A Dask DataFrame with exactly these partitions, empty ones included."""
    import dask
    import dask.dataframe as dd

    return dd.from_delayed(
        [dask.delayed(p) for p in pieces], meta=pieces[0].iloc[:0], verify_meta=False
    )


def cut(df: pd.DataFrame, sizes: list[int]) -> list[pd.DataFrame]:
    """``df`` cut into consecutive pieces of ``sizes`` rows (0 gives an empty one)."""
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    assert bounds[-1] == len(df)
    return [df.iloc[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
