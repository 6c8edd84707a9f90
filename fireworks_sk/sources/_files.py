"""File sources: CSVSource (pandas' chunked reader) and ParquetSource (pyarrow)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fireworks_sk.exceptions import SourceError
from fireworks_sk.schema import check_has_columns
from fireworks_sk.sources._base import (
    Source,
    check_chunk_size,
    import_extra,
    row_span,
)

__all__ = ["CSVSource", "ParquetSource", "open_source", "regular_file"]

_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
PathLike = str | os.PathLike


def _missing(owner: str, path: PathLike, what: str = "No such file") -> OSError:
    return FileNotFoundError(errno.ENOENT, f"{owner}: {what}", os.fspath(path))


def regular_file(path: PathLike, owner: str) -> Path:
    """``path``, checked to name a regular file (links followed).

    A device such as ``/dev/zero`` never ends, a FIFO may block for ever, and
    a directory holds no table: each is refused, naming the path, before
    anything is opened.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    SourceError
        If something other than a regular file is.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise _missing(owner, path) from None
    if not stat.S_ISREG(mode):
        raise SourceError(
            f"{owner}: {os.fspath(path)!r} is {_file_kind(mode)}, not a regular "
            "file; only files are read."
        )
    return Path(path)


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _guarded(
    items: Iterator[Any], errors: tuple[type[Exception], ...], where: Callable[[], str]
) -> Iterator[Any]:
    """Re-raise a reader's errors as SourceError naming ``where()`` it failed."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except errors as exc:
            raise SourceError(f"Reading {where()} failed: {exc}") from exc
        yield item


class CSVSource(Source):
    """Stream a CSV file in chunks with pandas' chunked reader.

    pandas infers dtypes chunk by chunk, so a column that is integer in one
    chunk and has a missing value (float) in another raises an error naming
    both; pass ``dtype=`` to fix the type of such columns.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    chunk_size : int
        Rows per chunk; the last chunk may be shorter.
    **read_csv_kwargs
        Passed to :func:`pandas.read_csv` (``sep``, ``dtype``, ``usecols``, ...).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fireworks_sk.datasets import load_penguins
    >>> from fireworks_sk.sources import CSVSource
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = Path(folder.name) / "penguins.csv"
    >>> load_penguins().to_csv(path, index=False)
    >>> source = CSVSource(path, chunk_size=100, dtype={"year": "float64"})
    >>> [len(m) for m in source]
    [100, 100, 100, 44]
    >>> next(iter(source)).dtypes["year"]
    dtype('float64')
    >>> folder.cleanup()
    """

    _dtype_hint = "Pass dtype={column: ...} to CSVSource to read it one way."

    def __init__(self, path: PathLike, chunk_size: int, **read_csv_kwargs: Any) -> None:
        clash = sorted({"chunksize", "iterator", "nrows"} & set(read_csv_kwargs))
        if clash:
            raise TypeError(
                f"CSVSource sets chunking itself; remove the arguments {clash!r}."
            )
        self.path = path
        self.chunk_size = check_chunk_size("CSVSource", chunk_size)
        self.read_csv_kwargs = read_csv_kwargs

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        regular_file(self.path, "CSVSource")
        offset = 0
        kwargs = {**self.read_csv_kwargs, "chunksize": self.chunk_size}
        with self._open(kwargs) as reader:
            where = lambda: f"{os.fspath(self.path)!r} after data row {offset}"  # noqa: E731
            for frame in _guarded(reader, (ValueError,), where):
                yield offset, self._position(offset, len(frame)), frame
                offset += len(frame)

    def _open(self, kwargs: dict[str, Any]) -> Any:
        # pandas reads the header on opening: an empty file fails here.
        try:
            return pd.read_csv(self.path, **kwargs)
        except ValueError as exc:
            raise SourceError(
                f"Opening {os.fspath(self.path)!r} as CSV failed: {exc}"
            ) from exc

    def _position(self, start: int, n: int) -> str:
        return f"{os.fspath(self.path)!r}, data {row_span(start, start + n)}"

    def _describe(self) -> str:
        return repr(os.fspath(self.path))


class ParquetSource(Source):
    """Stream Parquet files in chunks, one file at a time, with bounded memory.

    Each file is read with ``pyarrow.parquet.ParquetFile.iter_batches``, so at
    most one row group's worth of data is held at once.

    Parameters
    ----------
    path_or_dir : str, path-like, or list of them
        A Parquet file, a directory (its ``*.parquet``, ``*.parq`` and ``*.pq``
        files, recursively, in sorted order; names starting with ``.`` or ``_``
        are skipped), or a list of files and directories read in order.
    chunk_size : int
        Most rows per chunk. Chunks end at row-group boundaries, so some
        chunks may be shorter.
    columns : list of str or None, default=None
        Columns to read; None reads every column.

    Examples
    --------
    A folder of two Parquet files, read in name order:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from fireworks_sk.datasets import load_penguins
    >>> from fireworks_sk.sources import ParquetSource
    >>> folder = tempfile.TemporaryDirectory()
    >>> penguins = load_penguins()
    >>> penguins[:200].to_parquet(Path(folder.name) / "part-0.parquet", index=False)
    >>> penguins[200:].to_parquet(Path(folder.name) / "part-1.parquet", index=False)
    >>> source = ParquetSource(
    ...     folder.name, chunk_size=100, columns=["species", "body_mass_g"]
    ... )
    >>> [len(m) for m in source]
    [100, 100, 100, 44]
    >>> next(iter(source)).columns
    ['species', 'body_mass_g']
    >>> folder.cleanup()
    """

    _dtype_hint = "The files must share one schema; cast the column when writing."

    def __init__(
        self,
        path_or_dir: PathLike | Sequence[PathLike],
        chunk_size: int,
        columns: list[str] | None = None,
    ) -> None:
        self.path_or_dir = path_or_dir
        self.chunk_size = check_chunk_size("ParquetSource", chunk_size)
        self.columns = columns

    @property
    def files(self) -> list[Path]:
        """The files read, in order."""
        if isinstance(self.path_or_dir, (str, os.PathLike)):
            entries = [self.path_or_dir]
        else:
            entries = list(self.path_or_dir)
        return [file for entry in entries for file in _parquet_files(Path(entry))]

    @property
    def n_rows(self) -> int:
        """Rows in all files, from the file footers."""
        return sum(self._row_counts(self.files))

    def _row_counts(self, files: list[Path]) -> list[int]:
        pq = import_extra("pyarrow.parquet", "parquet", "ParquetSource")
        counts = []
        for file in files:
            with _open_parquet(pq, file) as parquet:
                counts.append(parquet.metadata.num_rows)
        return counts

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        pq = import_extra("pyarrow.parquet", "parquet", "ParquetSource")
        files = self.files
        floats = self._ints_with_nulls(pq, files)
        if rng is None:
            order, offsets = range(len(files)), None
        else:
            order = rng.permutation(len(files)).tolist()
            offsets = np.cumsum([0, *self._row_counts(files)]).tolist()
        offset = 0
        for i in order:
            start = offset if offsets is None else offsets[i]
            for item in self._read_file(pq, files[i], start, floats):
                offset += len(item[2])
                yield item

    def _ints_with_nulls(self, pq: Any, files: list[Path]) -> set[str]:
        """Integer columns with a missing value in some row group (footers).

        pandas reads an integer batch with a missing value as float64, one
        without as int64; reading every batch of such a column as float64
        keeps the chunks alike, as ``pandas.read_parquet`` of all files is.
        """
        import pyarrow as pa

        found: set[str] = set()
        for file in files:
            with _open_parquet(pq, file) as parquet:
                found |= _nullable_ints(pa, parquet)
        return found

    def _read_file(
        self, pq: Any, path: Path, offset: int, floats: set[str]
    ) -> Iterator[tuple]:
        import pyarrow as pa

        with _open_parquet(pq, path) as probe:
            self._check_columns(probe, path)
            strings = _dictionary_strings(pa, probe, self.chunk_size)
        with _open_parquet(pq, path, read_dictionary=list(strings)) as parquet:
            metadata = parquet.metadata
            groups = range(metadata.num_row_groups)
            ends = np.cumsum([metadata.row_group(g).num_rows for g in groups])
            start = 0
            where = lambda: f"{str(path)!r}, row group {_group(ends, start)}"  # noqa: E731
            batches = parquet.iter_batches(
                batch_size=self.chunk_size, columns=self._column_list()
            )
            batches = (_as_strings(pa, batch, strings) for batch in batches)
            for batch in _guarded(batches, (pa.ArrowException, OSError), where):
                rows = row_span(start, start + batch.num_rows)
                position = f"{where()}, {rows} of the file"
                yield offset + start, position, _to_pandas(batch, floats)
                start += batch.num_rows

    def _column_list(self) -> list[str] | None:
        if self.columns is None:
            return None
        return [self.columns] if isinstance(self.columns, str) else list(self.columns)

    def _check_columns(self, parquet: Any, path: Path) -> None:
        check_has_columns(
            "ParquetSource(columns=...)",
            self._column_list() or [],
            parquet.schema_arrow.names,
            where=f"the file {str(path)!r}",
            fix="Name columns the file has, or columns=None for all of them.",
        )

    def _describe(self) -> str:
        return repr(self.path_or_dir)


def _open_parquet(pq: Any, path: Path, **options: Any) -> Any:
    import pyarrow as pa

    try:
        return pq.ParquetFile(path, **options)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"Opening {str(path)!r} as Parquet failed: {exc}") from exc


def _to_pandas(batch: Any, floats: set[str]) -> pd.DataFrame:
    # split_blocks: numeric columns are not copied into one consolidated block.
    frame = batch.to_pandas(split_blocks=True)
    cast = {c: "float64" for c in floats if c in frame and frame[c].dtype.kind in "iu"}
    return frame.astype(cast) if cast else frame


# A dictionary page no larger than this holds every value of its column chunk:
# writers fall back to plain pages only past a larger dictionary (1 MiB for
# pyarrow and parquet-mr). Were one to do so sooner, reading would be slower
# (pyarrow would hash the plain values), never different.
_SMALL_DICTIONARY = 64 * 1024


def _dictionary_strings(pa: Any, parquet: Any, batch_size: int) -> dict[str, Any]:
    """String columns stored as a small dictionary in every row group, each
    with its Arrow type; none where batches would span row groups.

    pyarrow decodes such a column to its codes and dictionary faster than to
    strings, and a cast back to strings copies each value once, as decoding
    does; so they are read as dictionaries and cast back (``_as_strings``),
    which gives the batch read without ``read_dictionary``. Read so, a batch
    also ends where a row group does: only where every row group but the
    last holds whole batches are the batches the same.
    """
    metadata = parquet.metadata
    groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
    if any(group.num_rows % batch_size for group in groups[:-1]):
        return {}
    fields = list(parquet.schema_arrow)
    names = [field.name for field in fields]
    found = {
        field.name: field.type
        for field in fields
        if (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
        and names.count(field.name) == 1
        and "." not in field.name  # a nested column's path looks the same
    }
    for group in groups:
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema in found and not _small_dictionary(column):
                del found[column.path_in_schema]
    return found


def _small_dictionary(column: Any) -> bool:
    if not column.has_dictionary_page:
        return False
    size = column.data_page_offset - column.dictionary_page_offset
    return 0 < size <= _SMALL_DICTIONARY


def _as_strings(pa: Any, batch: Any, strings: dict[str, Any]) -> Any:
    """``batch`` with the columns read as dictionaries cast back to strings."""
    if not strings:
        return batch
    columns, schema = batch.columns, batch.schema
    for i, field in enumerate(schema):
        if field.name in strings and pa.types.is_dictionary(field.type):
            columns[i] = columns[i].cast(strings[field.name])
            schema = schema.set(i, field.with_type(strings[field.name]))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _nullable_ints(pa: Any, parquet: Any) -> set[str]:
    ints = {f.name for f in parquet.schema_arrow if pa.types.is_integer(f.type)}
    metadata, found = parquet.metadata, set()
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            stats = column.statistics
            if column.path_in_schema in ints and stats is not None:
                if stats.has_null_count and stats.null_count > 0:
                    found.add(column.path_in_schema)
    return found


def _group(ends: np.ndarray, row: int) -> int:
    return int(np.searchsorted(ends, row, side="right"))


def _parquet_files(entry: Path) -> list[Path]:
    if not entry.is_dir():
        return [regular_file(entry, "ParquetSource")]
    found = sorted(
        path
        for path in entry.rglob("*")
        if path.is_file()
        and path.suffix in _PARQUET_SUFFIXES
        and not any(part[0] in "._" for part in path.relative_to(entry).parts)
    )
    if not found:
        raise _missing("ParquetSource", entry, "No Parquet files in the directory")
    return found


def open_source(path: PathLike, chunk_size: int, *, owner: str = "data") -> Source:
    """The file source for a data path, by one rule for every caller.

    - a folder: its Parquet files (:class:`ParquetSource`);
    - a regular file ending ``.csv``: :class:`CSVSource`;
    - a regular file ending ``.parquet``, ``.parq`` or ``.pq``:
      :class:`ParquetSource`;
    - anything else is refused, naming the path and the kinds accepted.

    Suffixes are matched whatever their case.

    Parameters
    ----------
    path : str or path-like
    chunk_size : int
        Most rows per chunk, as the sources take it.
    owner : str, default="data"
        What named the path (``"data.path"``, ``"DATA"``), for errors.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``, or a folder holds no Parquet file.
    SourceError
        If ``path`` is a device, a FIFO or another special file, or a file of
        another kind.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = Path(folder.name) / "data.csv"
    >>> _ = path.write_text("a,b\\n1,2\\n")
    >>> type(open_source(path, 10)).__name__
    'CSVSource'
    >>> folder.cleanup()
    """
    if not os.path.exists(path):
        raise _missing(owner, path, "No data file")
    if os.path.isdir(path):
        return ParquetSource(path, chunk_size)
    regular_file(path, owner)
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return CSVSource(path, chunk_size)
    if suffix in _PARQUET_SUFFIXES:
        return ParquetSource(path, chunk_size)
    raise SourceError(
        f"{owner}: {os.fspath(path)!r} is not a kind of data file that is read: "
        f"a .csv file, a Parquet file ({', '.join(_PARQUET_SUFFIXES)}) or a "
        "folder of Parquet files."
    )
