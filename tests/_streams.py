"""Test data for streams: one table written as CSV, Parquet, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fireworks_sk import Message

N_STREAM = 103  # prime, so every chunk size but 1 and N leaves an uneven last chunk
CHUNK_SIZES = [1, 2, 50, N_STREAM, N_STREAM + 42]


def stream_frame(n: int = N_STREAM, seed: int = 0) -> pd.DataFrame:
    """Floats with a large offset, ints, two string columns and a label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(1e6, 3.0, n),
            "z": rng.normal(0.0, 1.0, n),
            "i": rng.integers(0, 5, n),
            "color": rng.choice(["red", "green", "blue", "cyan"], n),
            "size": rng.choice(["S", "M", "L"], n),
            "label": rng.choice(["yes", "no"], n),
        }
    )


def write_csv(frame: pd.DataFrame, directory: Path) -> Path:
    path = directory / "data.csv"
    frame.to_csv(path, index=False)
    return path


def write_parquet_files(
    frame: pd.DataFrame, directory: Path, files: int = 3, row_group_size: int = 17
) -> Path:
    """``frame`` split over ``files`` files of several row groups each."""
    out = directory / "parquet"
    out.mkdir()
    bounds = np.linspace(0, len(frame), files + 1).astype(int)
    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = frame.iloc[start:stop]
        part.to_parquet(out / f"part-{k:03d}.parquet", row_group_size=row_group_size)
    return out


def write_sqlite(frame: pd.DataFrame, directory: Path, table: str = "data") -> str:
    import sqlalchemy as sa

    url = f"sqlite:///{directory / 'data.db'}"
    engine = sa.create_engine(url)
    frame.to_sql(table, engine, index=False)
    engine.dispose()
    return url


@contextmanager
def pg_table(url: str, frame: pd.DataFrame) -> Iterator[str]:
    """A PostgreSQL table holding ``frame`` for the duration; yields its name."""
    import sqlalchemy as sa

    table = f"fireworks_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url)
    try:
        frame.to_sql(table, engine, index=False)
        yield table
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        engine.dispose()


def assert_columns_close(a: Message, b: Message) -> None:
    """Same columns, kinds and dtypes; floats equal up to rounding."""
    assert a.columns == b.columns
    assert a.dtypes == b.dtypes
    for name in a.columns:
        left, right = a[name], b[name]
        if isinstance(left, torch.Tensor):
            tol = 1e-6 if left.dtype == torch.float32 else 1e-9
            torch.testing.assert_close(left, right, rtol=tol, atol=tol)
        elif left.dtype.kind == "f":
            np.testing.assert_allclose(
                left.to_numpy(), right.to_numpy(), rtol=1e-9, atol=1e-9
            )
        else:
            pd.testing.assert_series_equal(left, right)
