"""DaskSource: the partitions of a Dask DataFrame as a stream of Messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fireworks_sk.sources._base import (
    Source,
    check_chunk_size,
    import_extra,
    row_span,
)

__all__ = ["DaskSource"]


class DaskSource(Source):
    """Stream a Dask DataFrame partition by partition.

    Each partition is computed when it is reached (on the cluster of the
    active ``distributed.Client``, if any) and only that partition is held in
    memory, so ``fit_stream`` can train a Pipeline ending in a Torch estimator
    on data that does not fit on the client. Empty partitions are skipped;
    partitions need not match files, and may differ in size.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The data; it is not computed up front.
    chunk_size : int or None, default=None
        Rows per chunk: longer partitions are split. None gives one chunk per
        non-empty partition.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from fireworks_sk.sources import DaskSource
    >>> ddf = dd.from_pandas(pd.DataFrame({"x": range(5)}), npartitions=2)
    >>> [len(m) for m in DaskSource(ddf)]
    [3, 2]
    """

    #: Dask infers dtypes from the meta; partitions that disagree need a cast.
    _dtype_hint = "Cast it in the Dask DataFrame first: ddf.astype({name: dtype})."

    def __init__(self, ddf: Any, chunk_size: int | None = None) -> None:
        dd = import_extra("dask.dataframe", "dask", "DaskSource")
        if not isinstance(ddf, dd.DataFrame):
            raise TypeError(
                f"DaskSource expects a dask.dataframe.DataFrame; got "
                f"{type(ddf).__name__}. For pandas data use DataFrameSource."
            )
        self.ddf = ddf
        self.chunk_size = (
            None if chunk_size is None else check_chunk_size("DaskSource", chunk_size)
        )
        self._partition_offsets: np.ndarray | None = None

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        order = np.arange(self.ddf.npartitions)
        offsets = None
        if rng is not None:
            order = rng.permutation(order)
            offsets = self._offsets()
        offset = 0
        for i in order.tolist():
            frame = self.ddf.get_partition(i).compute()
            start = offset if offsets is None else int(offsets[i])
            yield start, self._position(i, start, len(frame)), frame
            offset += len(frame)

    def _offsets(self) -> np.ndarray:
        """Row offset of every partition in the natural order.

        A shuffled pass needs every partition's length first: one pass of
        ``len`` on the workers, done once and kept for later epochs.
        """
        if self._partition_offsets is None:
            lengths = self.ddf.map_partitions(len).compute()
            self._partition_offsets = np.concatenate([[0], np.cumsum(lengths)])
        return self._partition_offsets

    def _position(self, partition: int, start: int, rows: int) -> str:
        where = f"partition {partition} of {self.ddf.npartitions}"
        return f"{where}, {row_span(start, start + rows)}" if rows else where

    def _describe(self) -> str:
        columns = len(self.ddf.columns)
        return (
            f"<Dask DataFrame: {self.ddf.npartitions} partitions × {columns} columns>"
        )
