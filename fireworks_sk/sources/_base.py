"""Source: a re-iterable stream of Messages, and DataFrameSource."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from fireworks_sk.exceptions import FireworksError, SchemaError, SourceError
from fireworks_sk.message import Message
from fireworks_sk.schema import Schema

__all__ = [
    "Chunk",
    "DataFrameSource",
    "Source",
    "check_chunk_size",
    "import_extra",
    "read_chunks",
    "row_span",
]


def import_extra(module: str, extra: str, user: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{user} needs the optional dependency {module.split('.')[0]!r}; install "
            f"it with: pip install 'fireworks-sk[{extra}]'"
        ) from exc


def check_chunk_size(owner: str, chunk_size: Any) -> int:
    """``chunk_size`` as an int, refused unless it is an int of at least 1."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral):
        raise TypeError(
            f"{owner}(chunk_size=...) must be a positive int; got "
            f"{type(chunk_size).__name__}."
        )
    if chunk_size < 1:
        raise ValueError(f"{owner}(chunk_size={chunk_size}) must be at least 1.")
    return int(chunk_size)


@dataclass(frozen=True)
class Chunk:
    """One chunk of a stream, with where it came from.

    Attributes
    ----------
    message : Message
        At most ``chunk_size`` rows.
    offset : int
        Row offset of the chunk's first row in the stream's natural order.
    position : str
        Where the rows came from, for error messages (file, row group, rows).
    """

    message: Message
    offset: int
    position: str


class _SchemaCheck:
    """Compares every chunk of an iteration with the first one.

    The rule is :meth:`fireworks_sk.schema.Schema.compare_layout`'s, the one
    a fitted step checks its input by: a chunk may differ from the first
    only where a step fitted on the first would take it without a word. Its
    names and their order, each column's kind (tensor or pandas) and row
    shape must stay; a dtype may change within its family (int64 and Int64,
    the string dtypes, float64 and Float64, bool and boolean) and a
    categorical's categories may change chunk by chunk. Any other dtype
    change is refused, naming the column, the chunk and the fix: an integer
    column read as float in a later CSV chunk (a NaN arrived), or a Parquet
    file whose int32 column was int64 in the first. Read whole, pandas would
    give such a column one dtype; streamed, steps fitted on the first chunk
    would see another, and the streamed fit would no longer equal the
    in-memory one. Declaring the dtype (``dtype=`` for CSV, a cast when
    writing Parquet or in the SQL query) makes every chunk alike.
    """

    def __init__(self, owner: str, hint: str) -> None:
        self.owner = owner
        self.hint = hint
        self.first: tuple[str, Schema] | None = None

    def __call__(self, message: Message, position: str) -> None:
        if self.first is None:
            self.first = (position, Schema.record(message))
            return
        first_position, schema = self.first
        difference = schema.compare_layout(message)
        if difference is None:
            return
        name, expected, found = difference
        if name is None:
            raise SchemaError(
                f"{self.owner}: the chunk at {position} has columns {found!r}, "
                f"but the first chunk ({first_position}) had {expected!r}."
            )
        raise SchemaError(
            f"{self.owner}: column {name!r} is {found} in the chunk "
            f"at {position}, but {expected} in the first "
            f"chunk ({first_position}). {self.hint}"
        )


def read_chunks(
    source: Source, rng: np.random.Generator | None = None
) -> Iterator[Chunk]:
    """The checked chunks of ``source``, each with where its rows came from;
    ``rng`` shuffles the chunk order where the source can do so cheaply.

    What the stream functions read; iterating a Source gives the Messages alone.
    """
    return source._chunks(rng)


class Source:
    """A re-iterable stream of Messages of at most ``chunk_size`` rows.

    Subclasses set ``chunk_size`` and implement ``_read(rng)``, yielding
    ``(offset, position, data)``: the row offset of ``data`` in the stream, a
    description of where it came from for error messages, and a DataFrame,
    Message or dict of columns. This class splits what is longer than
    ``chunk_size`` (None: nothing is split), skips what is empty, and checks
    that every chunk has the columns and dtypes of the first. ``rng``, when
    given, asks for the pieces in a random order where the source can do that
    cheaply (``offset`` stays the natural one). Iterating again reads the
    data again from the start.
    """

    #: Appended to dtype mismatch errors: how to make the dtypes agree.
    _dtype_hint = "Cast the column to one dtype before streaming it."

    def __iter__(self) -> Iterator[Message]:
        """The chunks, as Messages, from the start of the data."""
        for chunk in self._chunks():
            yield chunk.message

    @property
    def n_rows(self) -> int | None:
        """Rows in the stream when known without reading it, else None."""
        return None

    def _chunks(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        """Checked chunks; ``rng`` shuffles the chunk order where possible."""
        check = _SchemaCheck(type(self).__name__, self._dtype_hint)
        with contextlib.closing(self._read(rng)) as pieces:
            yield from self._checked(pieces, check)

    def _checked(self, pieces: Iterator[tuple], check: _SchemaCheck) -> Iterator[Chunk]:
        """Split and check the pieces; a failure after the first names where."""
        rows, position = 0, None
        while True:
            try:
                offset, position, data = next(pieces)
            except StopIteration:
                return
            except FireworksError:
                raise
            except Exception as exc:
                if position is None:
                    raise
                raise self._failed(exc, rows, position) from exc
            message = data if isinstance(data, Message) else Message(data)
            for start, part in _split(message, self.chunk_size):
                check(part, position)
                yield Chunk(part, offset + start, position)
                rows += len(part)

    def _failed(self, exc: Exception, rows: int, position: str) -> Exception:
        """``exc`` with where the stream stopped; an OSError stays an OSError."""
        where = f"{self!r} failed after {rows} rows, after the chunk at {position}"
        if isinstance(exc, OSError) and exc.errno:
            return OSError(exc.errno, f"{where}: {exc.strerror}")
        if isinstance(exc, OSError):
            return OSError(f"{where}: {exc}")
        return SourceError(f"{where}: {type(exc).__name__}: {exc}")

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        raise NotImplementedError

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self._describe()}, chunk_size={self.chunk_size})"

    def _describe(self) -> str:
        return "..."


def _split(message: Message, size: int | None) -> Iterator[tuple[int, Message]]:
    """Pieces of at most ``size`` rows (None: one piece); an empty one gives none."""
    if len(message) == 0:
        return
    if size is None or len(message) <= size:
        yield 0, message
        return
    for start in range(0, len(message), size):
        yield start, message[start : start + size]


def row_span(start: int, stop: int) -> str:
    """Rows ``start`` to ``stop - 1`` as an error message names them."""
    return f"rows {start}-{stop - 1}"


class DataFrameSource(Source):
    """Stream an in-memory DataFrame or Message in chunks.

    Useful to test a streamed fit against an in-memory one, and to stream a
    Message with tensor columns. Chunks share the buffers of the input.

    Parameters
    ----------
    df : DataFrame or Message
        The data; it is not copied.
    chunk_size : int
        Rows per chunk; the last chunk may be shorter.

    Examples
    --------
    >>> import pandas as pd
    >>> from fireworks_sk.sources import DataFrameSource
    >>> source = DataFrameSource(pd.DataFrame({"x": range(5)}), chunk_size=2)
    >>> [len(m) for m in source]
    [2, 2, 1]
    """

    def __init__(self, df: pd.DataFrame | Message, chunk_size: int) -> None:
        if not isinstance(df, (pd.DataFrame, Message)):
            raise TypeError(
                f"DataFrameSource expects a DataFrame or a Message; got "
                f"{type(df).__name__}."
            )
        self.df = df
        self.chunk_size = check_chunk_size("DataFrameSource", chunk_size)
        self._message = df if isinstance(df, Message) else Message(df)

    @property
    def n_rows(self) -> int:
        """Rows in the data."""
        return len(self._message)

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        starts = np.arange(0, len(self._message), self.chunk_size)
        if rng is not None:
            starts = rng.permutation(starts)
        for start in starts.tolist():
            stop = min(start + self.chunk_size, len(self._message))
            yield start, row_span(start, stop), self._message[start:stop]

    def _describe(self) -> str:
        return f"<{len(self._message)} rows × {len(self._message.columns)} columns>"
