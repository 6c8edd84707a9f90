"""Sinks: write the chunks of results of a stream to Parquet or SQL."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import pandas as pd

from fireworks_sk._atomic import atomic_write
from fireworks_sk._outputs import output_columns
from fireworks_sk.exceptions import SchemaError, SourceError
from fireworks_sk.message import Message
from fireworks_sk.sources._base import import_extra

__all__ = ["write_parquet", "write_sql"]


def _frame(result: Any, name: str) -> pd.DataFrame:
    """One chunk of results as a DataFrame; arrays are named by ``output_columns``."""
    if isinstance(result, Message):
        return result.to_dataframe()
    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, pd.Series):
        return result.reset_index(drop=True).to_frame(result.name or name)
    return pd.DataFrame(output_columns(name, result))


def write_parquet(
    results: Iterable[Any], path: str | os.PathLike, *, name: str = "prediction"
) -> int:
    """Write chunks of results to one Parquet file, a row group per chunk.

    The file appears only when every chunk is written (it is written beside
    the destination under a name of its own, synced and renamed, as
    :func:`fireworks_sk.save` writes), so a failed stream leaves no partial
    file, and of several writers to one path the last to finish wins with a
    whole file: readers never see a mixed or partial one.

    Parameters
    ----------
    results : iterable of Message, DataFrame, Series, ndarray or Tensor
        E.g. ``transform_stream(...)`` or ``predict_stream(...)``.
    path : str or path-like
        The Parquet file to write (replaced if it exists).
    name : str, default="prediction"
        Column name for array results: ``name`` for one output per row (shape
        (n,) or (n, 1)), ``name_0, name_1, ...`` for several.

    Returns
    -------
    int
        Rows written.
    """
    pa = import_extra("pyarrow", "parquet", "write_parquet")
    pq = import_extra("pyarrow.parquet", "parquet", "write_parquet")
    with atomic_write(path, action="Writing Parquet to") as handle:
        return _write_chunks(pa, pq, results, handle, name)


def _write_chunks(
    pa: Any, pq: Any, results: Iterable[Any], handle: Any, name: str
) -> int:
    """Write each chunk as a row group of one Parquet file on ``handle``."""
    writer, rows = None, 0
    try:
        for index, result in enumerate(results):
            table = _arrow_table(pa, _frame(result, name), writer, index)
            if writer is None:
                writer = pq.ParquetWriter(handle, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:
            raise ValueError("write_parquet got no results to write.")
        writer.close()
    except BaseException:
        # Cleaning up must not replace the error being raised.
        if writer is not None:
            with suppress(Exception):
                writer.close()
        raise
    return rows


def _arrow_table(pa: Any, frame: pd.DataFrame, writer: Any, index: int) -> Any:
    if writer is None:
        return pa.Table.from_pandas(frame, preserve_index=False)
    try:
        return pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False)
    except (pa.ArrowException, ValueError, KeyError) as exc:
        raise SchemaError(
            f"write_parquet: chunk {index} does not match the schema of the first "
            f"chunk ({writer.schema.names!r}): {exc}"
        ) from exc


def _cause(exc: BaseException) -> BaseException:
    """The driver's error under SQLAlchemy's and pandas' wrappers."""
    while exc.__cause__ is not None or getattr(exc, "orig", None) is not None:
        exc = getattr(exc, "orig", None) or exc.__cause__
    return exc


def write_sql(
    results: Iterable[Any],
    url: Any,
    table: str,
    *,
    name: str = "prediction",
) -> int:
    """Append chunks of results to a SQL table, in a transaction per chunk.

    The table is created from the first chunk if it does not exist. A chunk is
    either written whole or not at all; chunks written before a failure stay.

    Parameters
    ----------
    results : iterable of Message, DataFrame, Series, ndarray or Tensor
    url : str, sqlalchemy.URL or sqlalchemy.Engine
    table : str
        The table to append to.
    name : str, default="prediction"
        Column name for array results: ``name`` for one output per row (shape
        (n,) or (n, 1)), ``name_0, name_1, ...`` for several.

    Returns
    -------
    int
        Rows written.
    """
    sa = import_extra("sqlalchemy", "sql", "write_sql")
    engine = url if isinstance(url, sa.engine.Engine) else sa.create_engine(url)
    rows = 0
    try:
        for index, result in enumerate(results):
            frame = _frame(result, name)
            try:
                with engine.begin() as connection:
                    frame.to_sql(table, connection, if_exists="append", index=False)
            except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
                raise SourceError(
                    f"write_sql: appending chunk {index} to table {table!r} failed "
                    f"after {rows} rows were written: {_cause(exc)}"
                ) from exc
            rows += len(frame)
    finally:
        if engine is not url:
            engine.dispose()
    return rows
