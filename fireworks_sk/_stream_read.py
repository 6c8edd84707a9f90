"""Reading a Source for the stream functions: one pass, read ahead in a thread.

``read_pass`` is the one way the stream functions go over a Source: a
background thread (``_ReadAhead``) reads the next chunk while the caller works
on this one, and a progress bar counts the rows. ``StreamTarget`` splits each
chunk into its features and its ``y``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import numpy as np
import pandas as pd
import torch

from fireworks_sk.message import Message, read_column
from fireworks_sk.schema import check_has_columns
from fireworks_sk.sources._base import Chunk, Source, read_chunks


def check_source(source: Any, caller: str) -> None:
    if not isinstance(source, Source):
        hint = (
            " Wrap it: DataFrameSource(data, chunk_size)."
            if isinstance(source, (pd.DataFrame, Message))
            else ""
        )
        raise TypeError(
            f"{caller} expects a fireworks_sk.sources Source; got "
            f"{type(source).__name__}.{hint}"
        )


class _NoBar:
    def update(self, n: int) -> None:
        """Do nothing: progress is off."""

    def close(self) -> None:
        """Do nothing: progress is off."""


def progress_bar(
    total: int | None, desc: str, verbose: int, unit: str = " rows"
) -> Any:
    """A tqdm bar counting whole units, or a stand-in when off or tqdm is missing."""
    if not verbose:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    # Whole units: unit_scale would show "0.00rows" before the first chunk.
    return tqdm(total=total, desc=desc, unit=unit)


class _ReadAhead:
    """Chunks read by a background thread, at most ``depth`` ahead of use.

    Readers (pyarrow, database drivers) release the GIL, so reading the next
    chunk overlaps fitting on this one. The chunk iterator runs and is closed
    in the reading thread only, as SQLite connections require.

    The consumer never waits on a read in progress: it polls the queue, so
    Ctrl-C takes effect at once on every platform, and on leaving (an error,
    an interrupt, ``close``) it gives the reader ``grace`` seconds to stop. A
    reader still blocked in a read after that is left behind: it is a daemon
    thread, and it closes the source when the read returns.
    """

    grace = 0.5

    def __init__(self, chunks: Iterator[Chunk], depth: int = 1) -> None:
        self._chunks = chunks
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

    def _read(self, chunks: Iterator[Chunk]) -> None:
        try:
            for chunk in chunks:
                if not self._put(("chunk", chunk)):
                    return
            self._put(("done", None))
        except BaseException as exc:  # handed to the consuming thread
            self._put(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _put(self, item: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _get(self) -> tuple:
        # A timeout lets signals in where a plain lock wait does not (Windows).
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue

    def __iter__(self) -> Iterator[Chunk]:
        # Started here, inside the try: however iteration ends, even by an
        # interrupt before the first chunk, the reader is told to stop.
        thread = threading.Thread(
            target=self._read,
            args=(self._chunks,),
            name="fireworks_sk read-ahead",
            daemon=True,
        )
        try:
            thread.start()
            while True:
                kind, value = self._get()
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            self._stop.set()
            if thread.ident is not None:
                thread.join(timeout=self.grace)


def read_pass(
    source: Source,
    desc: str,
    verbose: int,
    rng: np.random.Generator | None = None,
    *,
    empty_ok: bool = False,
) -> Iterator[Chunk]:
    """One pass over ``source`` with a progress bar; refuses an empty stream."""
    bar = progress_bar(source.n_rows if verbose else None, desc, verbose)
    rows = 0
    try:
        with closing(iter(_ReadAhead(read_chunks(source, rng)))) as chunks:
            for chunk in chunks:
                yield chunk
                rows += len(chunk.message)
                bar.update(len(chunk.message))
    finally:
        bar.close()
    if rows == 0 and not empty_ok:
        raise ValueError(f"{source!r} yielded no rows; there is nothing to fit.")


def _values(column: Any) -> Any:
    return column.to_numpy() if isinstance(column, pd.Series) else column


class StreamTarget:
    """``y`` of a stream: None, a column of the stream, or an aligned array."""

    def __init__(self, y: Any, caller: str) -> None:
        if isinstance(y, pd.Series):
            y = y.to_numpy()
        elif y is not None and not isinstance(y, (str, np.ndarray, torch.Tensor)):
            y = np.asarray(y)
        self.y = y
        self.caller = caller
        # A list while the classes of a column ``y`` are being collected.
        self.classes: list[np.ndarray] | np.ndarray | None = None

    def split(self, chunk: Chunk) -> tuple[Any, Any]:
        """The chunk's features and its ``y`` (None when there is none)."""
        message = chunk.message
        if self.y is None:
            return message, None
        if isinstance(self.y, str):
            check_has_columns(
                f"{self.caller}(y=...)",
                [self.y],
                message.columns,
                where="the stream",
                at=f" (chunk at {chunk.position})",
                fix="Pass y= the name of a column of the stream, or y as an array.",
                error=KeyError,
            )
            x, y = message.drop(self.y), _values(read_column(message, self.y))
        else:
            x, y = message, self.y[chunk.offset : chunk.offset + len(message)]
            if len(y) != len(message):
                raise ValueError(
                    f"{self.caller}: y has {len(self.y)} rows but the stream has "
                    f"more (chunk at {chunk.position})."
                )
        if isinstance(self.classes, list):
            self.classes.append(unique_values(y))
        return x, y

    def finish_classes(self) -> None:
        """Stop collecting: a whole pass has gone through ``split``."""
        if isinstance(self.classes, list):
            values = np.concatenate(self.classes) if self.classes else np.empty(0)
            self.classes = np.unique(pd.unique(values))


def unique_values(y: Any) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        return torch.unique(y).cpu().numpy()
    return pd.unique(np.asarray(y).ravel())
