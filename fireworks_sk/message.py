"""The Message: a table whose columns are pandas Series or torch tensors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
import torch

from fireworks_sk._compat import frame_blocks, masked_buffers
from fireworks_sk._frames import copies_on_write, native_to_pandas
from fireworks_sk._numbers import column_numbers, float_dtype, is_numeric_column
from fireworks_sk._portable import from_portable, to_portable
from fireworks_sk.exceptions import CorruptStateError

__all__ = [
    "Column",
    "Message",
    "check_unique_columns",
    "column_dtypes",
    "column_matrix",
    "flat_feature_names",
    "from_columns",
    "frame_dtypes",
    "from_frame",
    "read_array",
    "read_column",
    "read_columns",
    "stored_column",
    "stored_columns",
    "take_column",
    "with_block",
]

Column = torch.Tensor | pd.Series

_REPR_ROWS = 10


def flat_feature_names(name: str, shape: Sequence[int]) -> list[str]:
    """Names of the scalar features of a column whose rows have ``shape``.

    A 1-D column is one feature named after the column; a tensor column with
    trailing dimensions ``(k, ...)`` flattens to ``name_0 ... name_{k-1}``.
    """
    width = int(np.prod(shape)) if len(shape) else 1
    if len(shape) == 0:
        return [name]
    return [f"{name}_{i}" for i in range(width)]


def _to_column(name: str, values: Any) -> Column:
    """Turn one user-supplied column into a Series or a tensor, sharing memory."""
    if scipy.sparse.issparse(values) or (
        isinstance(values, torch.Tensor) and values.layout != torch.strided
    ):
        raise TypeError(
            f"Column {name!r} is sparse ({type(values).__name__}); Message columns "
            "are dense: convert it with '.toarray()' or '.to_dense()' first."
        )
    if isinstance(values, torch.Tensor):
        if values.dim() == 0:
            raise ValueError(
                f"Column {name!r} is a 0-d tensor; a column needs one value per row."
            )
        return values
    if isinstance(values, pd.Series):
        # Positions, not labels: a Series sliced with a step (RangeIndex 0, 2,
        # 4) must not be realigned on 0, 1, 2 later.
        if values.index.equals(pd.RangeIndex(len(values))):
            return values if values.name == name else values.rename(name)
        return values.reset_index(drop=True).rename(name)
    if isinstance(values, pd.DataFrame):
        raise TypeError(
            f"Column {name!r} got a DataFrame; pass its columns one by one or build "
            "the Message from the DataFrame itself."
        )
    if isinstance(values, np.ndarray):
        if values.ndim == 0:
            raise ValueError(f"Column {name!r} is a 0-d array; a column needs rows.")
        if is_numeric_column(values, complex_numbers=False):
            if not values.flags.writeable:
                values = values.copy()
            return torch.from_numpy(values)
        if values.ndim != 1:
            raise TypeError(
                f"Column {name!r} is a {values.ndim}-D array of dtype {values.dtype}; "
                "only numeric arrays may have more than one dimension."
            )
        return pd.Series(values, name=name)
    if isinstance(values, (list, tuple, range, pd.Index, pd.Categorical)):
        return pd.Series(values, name=name)
    raise TypeError(
        f"Column {name!r} has unsupported type {type(values).__name__}; expected a "
        "torch.Tensor, numpy.ndarray, pandas.Series or list."
    )


class _Block:
    """Columns of one numpy dtype held together, as pandas holds them.

    A block read from a DataFrame keeps ``frame``, which owns the values (so
    pandas' copy-on-write guards them): the whole frame when it is short (see
    ``_LAZY_ROWS``), else a slice of the block's own columns; and ``start``,
    the position of its first column there. ``values``, its ``(n, k)``
    read-only array, is a view of pandas' own block when the columns lie
    together in one, else read on first use. A block a Pipe computed keeps
    ``values``, read-only, and builds ``frame`` only when a column's Series is
    read. Either way a Pipe acting on
    all ``k`` columns does one numpy operation instead of one per Series.
    """

    __slots__ = (
        "_frame",
        "_values",
        "dtype",
        "length",
        "names",
        "shape",
        "start",
    )

    def __init__(
        self,
        dtype: np.dtype,
        length: int,
        names: list[str],
        *,
        frame: pd.DataFrame | None = None,
        start: int = 0,
        values: np.ndarray | None = None,
    ) -> None:
        self.dtype = dtype
        self.length = length
        self.shape = (length,)  # of each column's Series
        self.names = names
        self._frame = frame
        self.start = start
        self._values = values

    def columns(self) -> list[_BlockColumn]:
        """A new column object for each position. The block keeps none of
        them: a column keeps its block, and a cycle between the two would
        leave both to the cyclic garbage collector (a stream's chunks would
        pile up between its runs)."""
        return [_BlockColumn(self, p) for p in range(len(self.names))]

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            stop = self.start + len(self.names)
            self._values = self._frame.iloc(axis=1)[self.start : stop].to_numpy()
        return self._values

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(self._values, columns=self.names, copy=False)
        return self._frame


class _LazyColumn:
    """A pandas column of a Message whose Series is built only when read.

    ``dtype`` and ``shape`` are those of the Series it stands for, so schema
    checks read them without building it. Built once: every Message that
    shares this column shares its Series, as Messages share the Series they
    hold.
    """

    __slots__ = ("built", "dtype", "shape")

    def __init__(self, dtype: Any, shape: tuple[int]) -> None:
        self.dtype = dtype
        self.shape = shape
        self.built: pd.Series | None = None

    def series(self) -> pd.Series:
        if self.built is None:
            self.built = self._build()
        return self.built

    def _build(self) -> pd.Series:
        raise NotImplementedError

    def array(self) -> Any:
        """What :func:`read_array` gives: the values its Series holds, read
        without building the Series where it is not built yet."""
        return _series_array(self.built) if self.built is not None else self._array()

    def _array(self) -> Any:
        return _series_array(self.series())


class _BlockColumn(_LazyColumn):
    """Column ``position`` of a ``_Block``."""

    __slots__ = ("block", "position")

    def __init__(self, block: _Block, position: int) -> None:
        # Not through the base class: one of these is made per column.
        self.dtype = block.dtype
        self.shape = block.shape
        self.built = None
        self.block = block
        self.position = position

    def _build(self) -> pd.Series:
        return self.block.frame.iloc(axis=1)[self.block.start + self.position]

    def _array(self) -> np.ndarray:
        values = self.block.values[:, self.position]
        values.flags.writeable = False  # a new view: the block's own flags stay
        return values


class _FrameColumn(_LazyColumn):
    """Column ``position`` of a DataFrame, of a dtype no block holds."""

    __slots__ = ("frame", "position", "source")

    def __init__(
        self, frame: pd.DataFrame, position: int, dtype: Any, source: Any = None
    ) -> None:
        super().__init__(dtype, (len(frame),))
        self.frame = frame
        self.position = position
        # (pandas' block values, the column's row there), if read from them.
        self.source = source

    def _build(self) -> pd.Series:
        return self.frame.iloc(axis=1)[self.position]

    def _array(self) -> Any:
        if self.source is None:
            return _series_array(self.series())
        values, row = self.source
        if values.ndim == 1:  # an extension array holds this column alone
            return values
        # A row of a 2-D block, as pandas' Series of it holds it; read-only.
        values = values[row]
        if isinstance(values, np.ndarray):
            values.flags.writeable = False
        return values


def _is_block_dtype(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


# Frames of up to this many rows are read lazily: their columns keep the whole
# frame (a few rows of it) and build a Series only when one is read. Longer
# frames give each column its own slice at once, so that a column the Message
# drops is freed with the frame, as pandas frees it.
_LAZY_ROWS = 1024


def _block_columns(
    frame: pd.DataFrame, names: list[Any]
) -> dict[str, _LazyColumn | pd.Series]:
    """The columns ``names`` of a DataFrame with a default RangeIndex, which
    the caller hands over; runs of one numeric dtype become blocks."""
    if not set(map(type, names)) <= {str}:
        names = [_checked_name(name) for name in names]  # raises, naming one
    found = frame_blocks(frame)
    dtypes = frame_dtypes(frame, found)
    lazy = len(frame) <= _LAZY_ROWS
    by_position = frame.iloc(axis=1)
    columns: dict[str, _LazyColumn | pd.Series] = {}
    count = len(dtypes)
    start = 0
    while start < count:
        stop = start + 1
        dtype = dtypes[start]
        if not _is_block_dtype(dtype):
            if not lazy:
                columns[names[start]] = by_position[start]
            else:
                source = None
                if found is not None:
                    source = (found[0][found[1][start]], found[2][start])
                columns[names[start]] = _FrameColumn(frame, start, dtype, source)
            start = stop
            continue
        # By identity first: pandas gives the columns of one block one dtype.
        while stop < count and (dtypes[stop] is dtype or dtypes[stop] == dtype):
            stop += 1
        values = None if found is None else _run_view(*found, start, stop)
        block = _Block(
            dtype,
            len(frame),
            names[start:stop],
            frame=frame if lazy else by_position[start:stop],
            start=start if lazy else 0,
            values=values,
        )
        columns.update(zip(block.names, block.columns()))
        start = stop
    return columns


def frame_dtypes(frame: pd.DataFrame, found: Any = None) -> list[Any]:
    """``frame.dtypes.tolist()``, read from pandas' blocks where it can be
    (``found``: what :func:`~fireworks_sk._compat.frame_blocks` gave, if
    asked already), without the Series ``frame.dtypes`` builds."""
    found = frame_blocks(frame) if found is None else found
    if found is None:
        return frame.dtypes.tolist()
    arrays, numbers, _ = found
    return [arrays[number].dtype for number in numbers]


def _run_view(
    arrays: list[Any], numbers: list[int], rows: list[int], start: int, stop: int
) -> np.ndarray | None:
    """Columns ``start:stop`` as a read-only ``(n, k)`` view of pandas' block,
    if they are consecutive rows of one; None otherwise."""
    number, first = numbers[start], rows[start]
    width = stop - start
    array = arrays[number]
    if not (isinstance(array, np.ndarray) and array.ndim == 2):
        return None
    if numbers[start:stop] != [number] * width or rows[start:stop] != list(
        range(first, first + width)
    ):
        return None
    view = array[first : first + width].T
    view.flags.writeable = False
    return view


def check_unique_columns(frame: pd.DataFrame) -> list[Any]:
    """A DataFrame's column names; refuses names that repeat, naming them."""
    names = frame.columns.tolist()
    if set(map(type, names)) <= {str} and len(set(names)) == len(names):
        return names  # string names, read without building pandas' hash table
    if not frame.columns.is_unique:
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        raise ValueError(f"Duplicate column names: {duplicated!r}.")
    return names


def _has_default_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def _checked_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"Column names must be strings; got {name!r} ({type(name).__name__})."
        )
    return name


def stored_column(message: Message, name: str) -> Column | _LazyColumn:
    """Column ``name`` as the Message stores it, without building a Series.

    A column held in a block comes back as an object with the ``dtype`` and
    ``shape`` of its Series; anything else as the Series or tensor itself.
    For checks of kind, dtype and shape that must not cost a Series each.
    """
    if name not in message._entries:
        message._column(name)  # raises, naming the columns
    return message._entries[name]


def stored_columns(message: Message, names: Iterable[str]) -> list[Any]:
    """:func:`stored_column` of each of the columns ``names``, in one pass."""
    entries = message._entries
    try:
        return [entries[name] for name in names]
    except KeyError:
        return [stored_column(message, name) for name in names]  # names it


def shares_data(left: pd.Series, right: pd.Series) -> bool:
    """Whether two Series are one column read twice: the same dtype, length
    and data buffers, as ``m[name]`` gives each time it is read.

    Equal values in other buffers do not count: ``None`` and NaN, ``1`` and
    ``1.0`` or ``0.0`` and ``-0.0`` compare equal, and a column changed so is
    still changed. Where pandas does not show an array's buffers the answer
    is False.
    """
    if left.dtype != right.dtype or len(left) != len(right):
        return False
    a, b = left.array, right.array
    if a is b:
        return True
    if isinstance(left.dtype, pd.CategoricalDtype):
        return (
            left.dtype.ordered == right.dtype.ordered
            and left.dtype.categories.equals(right.dtype.categories)
            and _one_buffer(a.codes, b.codes)
        )
    if isinstance(left.dtype, np.dtype) and left.dtype.kind not in "mM":
        return _one_buffer(left.to_numpy(), right.to_numpy())
    if hasattr(a, "asi8"):  # datetimes, timedeltas and periods
        return _one_buffer(a.asi8, b.asi8)
    masked = masked_buffers(a), masked_buffers(b)
    if masked[0] is not None and masked[1] is not None:
        return all(map(_one_buffer, masked[0], masked[1]))
    if type(a).__name__.startswith("Arrow"):
        return a.__arrow_array__() is b.__arrow_array__()
    return False


def _one_buffer(left: np.ndarray, right: np.ndarray) -> bool:
    return (
        left.shape == right.shape
        and left.dtype == right.dtype
        and left.strides == right.strides
        and left.ctypes.data == right.ctypes.data
    )


def column_dtypes(message: Message, names: Iterable[str]) -> list[Any]:
    """The dtype of each of the columns ``names``, without building a Series."""
    entries = message._entries
    return [entries[name].dtype for name in names]


def _runs(
    message: Message, names: Sequence[str]
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Split ``names`` into runs: consecutive columns of one block, each with
    the ``(n, k)`` view of its values, and single other columns, with None."""
    entries = [message._entries[name] for name in names]
    i = 0
    while i < len(entries):
        entry = entries[i]
        if not isinstance(entry, _BlockColumn):
            yield i, None
            i += 1
            continue
        block, position = entry.block, entry.position - i
        j = i + 1
        while j < len(entries):
            following = entries[j]
            if (
                type(following) is not _BlockColumn
                or following.block is not block
                or following.position != position + j
            ):
                break
            j += 1
        yield i, entry.block.values[:, entry.position : entry.position + j - i]
        i = j


def column_matrix(
    message: Message, names: Sequence[str], dtype: Any, *, owner: str
) -> np.ndarray:
    """Pandas columns ``names`` as one ``(n, len(names))`` array of ``dtype``.

    Consecutive columns of one block are read in one numpy operation (a
    read-only view when the dtype already matches); any other column goes
    through :func:`~fireworks_sk._numbers.column_numbers` with NaN kept, so
    the caller checks the whole array once. ``owner`` is named in errors.
    """
    parts = [
        column_numbers(
            names[i], message._column(names[i]), dtype, allow_nan=True, owner=owner
        ).reshape(-1, 1)
        if view is None
        else view.astype(dtype, copy=False)
        for i, view in _runs(message, names)
    ]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.empty((len(message), 0), dtype=dtype)
    return np.concatenate(parts, axis=1)


def with_block(message: Message, names: Sequence[str], values: np.ndarray) -> Message:
    """``message`` with columns ``names`` replaced by the columns of ``values``.

    ``values`` is an ``(n, len(names))`` array the caller hands over and never
    writes again; the new pandas columns share it as one block. A replaced
    column keeps its position.
    """
    values = values.view()
    values.flags.writeable = False  # shared by every Message that holds the block
    block = _Block(values.dtype, len(message), list(names), values=values)
    entries = dict(message._entries)
    entries.update(zip(block.names, block.columns()))
    return from_columns(entries, len(message))


def _handed_out(column: Column) -> Column:
    """``column`` as given to a user: a Series is a new Series object over the
    same data, as ``DataFrame.__getitem__`` gives, so that writing to it in
    place (copy-on-write copies first) cannot change the Message it came from;
    without copy-on-write (pandas 2 by default) it is a copy. A tensor is the
    tensor itself, as torch hands out views."""
    if isinstance(column, pd.Series):
        return column.copy(deep=not copies_on_write())
    return column


def read_column(message: Message, name: str) -> Column:
    """Column ``name`` itself, for fireworks_sk's own steps, which only read it.

    ``message[name]`` hands a user a new Series over the same data, so that a
    write to it cannot reach the Message; a step that never writes skips
    that object. Raises the KeyError of ``message[name]`` for a missing name.
    """
    return message._column(name)


def read_columns(message: Message) -> dict[str, Column]:
    """Every column itself (:func:`read_column` of each), in order, in a new
    dict the caller may change: for steps that only read the columns."""
    return {name: message._column(name) for name in message._entries}


def read_array(message: Message, name: str) -> Any:
    """The values of column ``name``, for steps that read a few rows in Python.

    A pandas column comes back as its Series holds it (``Series.array`` for
    an extension dtype, a read-only numpy array for a numpy one), without
    building a Series the Message has not built; ``.tolist()`` of it is the
    Series' ``tolist()``. A tensor comes back as it is. Raises the KeyError
    of ``message[name]`` for a missing name.
    """
    column = message._entries.get(name)
    if isinstance(column, _LazyColumn):
        return column.array()
    if isinstance(column, pd.Series):
        return _series_array(column)
    return message._column(name)  # a tensor, or the KeyError


def _series_array(series: pd.Series) -> Any:
    dtype = series.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind in "mM":
        return series.array  # pandas holds datetimes as its own arrays
    values = series.to_numpy().view()
    values.flags.writeable = False
    return values


def _column_length(column: Column) -> int:
    return column.shape[0]


def from_columns(columns: Mapping[str, Column | _LazyColumn], length: int) -> Message:
    """A Message over ``columns`` as they are, for fireworks_sk's own modules.

    The columns must already be what a Message stores: tensors, pandas
    Series with a default index, or block columns, each of ``length`` rows,
    under unique string names. Nothing is checked, converted or copied; the
    Message takes ``columns`` over. Users build Messages with ``Message(data)``.
    """
    message = Message.__new__(Message)
    message._entries = dict(columns) if not isinstance(columns, dict) else columns
    message._length = length
    return message


def from_frame(frame: pd.DataFrame, names: list[Any]) -> Message:
    """``Message(frame)`` for a frame whose column names ``names`` were read
    and checked for repeats by :func:`check_unique_columns`."""
    if not (_has_default_index(frame) and copies_on_write()):
        # Positions, not labels; and without copy-on-write (pandas 2) a copy,
        # so that later writes to the frame cannot reach the Message.
        frame = frame.reset_index(drop=True)
    else:
        # A frame of our own over the same blocks: pandas now copies a block
        # before the caller's frame writes to it.
        frame = frame.copy(deep=False)
    columns = _block_columns(frame, names)
    return from_columns(columns, len(frame) if columns else 0)


def take_column(column: Column, rows: slice | np.ndarray | torch.Tensor) -> Column:
    """Rows of one column: a view for slices, a gather for index arrays."""
    if isinstance(column, torch.Tensor):
        if isinstance(rows, slice):
            return column[rows]
        index = rows if isinstance(rows, torch.Tensor) else torch.from_numpy(rows)
        return column.index_select(0, index.to(column.device))
    if isinstance(rows, torch.Tensor):
        rows = rows.cpu().numpy()
    taken = column.iloc[rows]
    return taken.reset_index(drop=True)


def _normalise_rows(key: Any, length: int) -> slice | np.ndarray:
    """Turn any row key into a slice or an int64 index array, checking bounds."""
    if isinstance(key, slice):
        return slice(*key.indices(length))
    if isinstance(key, (int, np.integer)):
        position = int(key)
        if not -length <= position < length:
            raise IndexError(
                f"Row {position} is out of bounds for a Message of {length} rows."
            )
        position %= length
        return slice(position, position + 1, 1)
    if isinstance(key, (float, str, bytes, np.floating)):
        raise IndexError(
            f"Row key {key!r} is not an int, slice, index array or boolean mask."
        )
    if isinstance(key, torch.Tensor):
        key = key.detach().cpu().numpy()
    elif isinstance(key, pd.Series):
        key = key.to_numpy()
    array = np.asarray(key)
    if array.ndim != 1:
        raise IndexError(f"A row index must be 1-D; got shape {array.shape}.")
    if array.dtype.kind == "b":
        if array.shape[0] != length:
            raise IndexError(
                f"Boolean mask has {array.shape[0]} entries but the Message has "
                f"{length} rows."
            )
        return np.flatnonzero(array)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise IndexError(
            f"Row indices must be integers or booleans; got dtype {array.dtype}."
        )
    array = array.astype(np.int64, copy=False)
    bad = array[(array < -length) | (array >= length)]
    if bad.size:
        raise IndexError(
            f"Row {int(bad[0])} is out of bounds for a Message of {length} rows."
        )
    return np.where(array < 0, array + length, array)


class _ILocIndexer:
    """``m.iloc[rows]``: positional row selection, as in pandas."""

    def __init__(self, message: Message) -> None:
        self._message = message

    def __getitem__(self, key: Any) -> Message:
        if isinstance(key, tuple):
            raise IndexError(
                f"Message.iloc takes rows only; got {key!r}. Select columns by name: "
                "m.iloc[rows][['x', 'y']]."
            )
        return self._message._take_rows(key)


class Message:
    """A table of named columns, each a pandas Series or a torch tensor.

    Every column has the same number of rows. Tensor columns may carry trailing
    dimensions, shape ``(n, k, ...)``. Messages are values: every operation
    returns a new Message and shares the buffers of the columns it leaves alone.

    Parameters
    ----------
    data : DataFrame, Message, dict of str to column, or None, default=None
        The columns. Tensors are kept as they are; numeric numpy arrays become
        tensors that share their memory; other arrays, lists and Series become
        pandas columns. A polars DataFrame or a pyarrow Table is read as the
        pandas DataFrame it converts to.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import Message
    >>> m = Message({"x": torch.arange(4.0), "label": ["a", "b", "a", "c"]})
    >>> m.shape, len(m.columns)
    ((4, 2), 2)
    >>> m[1:3]["label"].tolist()
    ['b', 'a']
    """

    def __init__(self, data: Any = None) -> None:
        columns: dict[str, Column | _LazyColumn] = {}
        if not isinstance(data, (Message, pd.DataFrame, Mapping, type(None))):
            data = native_to_pandas(data)  # polars, pyarrow: looked up only here
        if data is None:
            items: Iterable[tuple[Any, Any]] = ()
        elif isinstance(data, Message):
            self._columns = dict(data._entries)
            self._length = data._length
            return
        elif isinstance(data, pd.DataFrame):
            message = from_frame(data, check_unique_columns(data))
            self._columns, self._length = message._entries, message._length
            return
        elif isinstance(data, Mapping):
            items = data.items()
        else:
            raise TypeError(
                "Message expects a DataFrame (pandas or polars), a pyarrow Table, "
                f"a dict of columns or a Message; got "
                f"{type(data).__name__}."
            )
        for name, values in items:
            columns[_checked_name(name)] = _to_column(name, values)
        self._columns = columns
        self._length = self._check_lengths(columns)

    @property
    def _columns(self) -> dict[str, Column]:
        """Every column as a Series or tensor; columns held in blocks are built."""
        if not any(isinstance(c, _LazyColumn) for c in self._entries.values()):
            return self._entries
        return {name: self._column(name) for name in self._entries}

    @_columns.setter
    def _columns(self, columns: dict[str, Column]) -> None:
        self._entries = columns

    @staticmethod
    def _check_lengths(columns: Mapping[str, Column | _LazyColumn]) -> int:
        lengths = {name: _column_length(col) for name, col in columns.items()}
        if not lengths:
            return 0
        first, length = next(iter(lengths.items()))
        for name, n in lengths.items():
            if n != length:
                raise ValueError(
                    f"Column {name!r} has {n} rows but column {first!r} has {length}; "
                    "every column of a Message must have the same length."
                )
        return length

    # ------------------------------------------------------------------ shape
    def __len__(self) -> int:
        return self._length

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self._entries)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, features)``, the shape of ``np.asarray(message)``.

        A tensor column of shape ``(n, k, ...)`` counts its ``k * ...`` flat
        features, every other column one, so scikit-learn counts the same
        features from ``X.shape[1]`` as from the array. ``len(m.columns)``
        counts columns.
        """
        width = sum(int(np.prod(column.shape[1:])) for column in self._entries.values())
        return (self._length, width)

    @property
    def dtypes(self) -> dict[str, Any]:
        """The dtype of each column: a ``torch.dtype`` or a pandas/numpy dtype."""
        return {name: column.dtype for name, column in self._entries.items()}

    def is_tensor(self, name: str) -> bool:
        """Whether column ``name`` is a torch tensor (otherwise a pandas Series)."""
        return isinstance(stored_column(self, name), torch.Tensor)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> Iterator[tuple[str, Column]]:
        """``(name, column)`` pairs in column order, as ``DataFrame.items``.

        Each column is what ``m[name]`` gives: a tensor, or a Series that
        shares the Message's data until it is written to.
        """
        for name in self._entries:
            yield name, _handed_out(self._column(name))

    # --------------------------------------------------------------- indexing
    def _column(self, name: str) -> Column:
        column = self._entries.get(name)
        if column is None:
            raise KeyError(
                f"Column {name!r} is not in the Message. Columns: {self.columns!r}."
            )
        return column.series() if isinstance(column, _LazyColumn) else column

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return _handed_out(self._column(key))
        if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
            return self._select(key)
        if isinstance(key, (tuple, dict, set, float)):
            raise KeyError(
                f"Unsupported Message key {key!r}: use a column name, a list of "
                "names, or a row index (int, slice, index array or boolean mask)."
            )
        return self._take_rows(key)

    @property
    def iloc(self) -> _ILocIndexer:
        """Positional row selection: ``m.iloc[2:10]``, ``m.iloc[[0, 5]]``."""
        return _ILocIndexer(self)

    def take(self, indices: Any, axis: int = 0) -> Message:
        """Rows at ``indices`` (as ``DataFrame.take``); ``axis=1`` takes columns."""
        if axis == 1:
            return self._select([self.columns[i] for i in np.asarray(indices)])
        if axis != 0:
            raise ValueError(f"Message.take: axis must be 0 or 1; got {axis!r}.")
        return self._take_rows(np.asarray(indices))

    def _select(self, names: Sequence[str]) -> Message:
        duplicated = sorted({n for n in names if list(names).count(n) > 1})
        if duplicated:
            raise KeyError(f"Columns selected more than once: {duplicated!r}.")
        missing = [n for n in names if n not in self._entries]
        if missing:
            raise KeyError(
                f"Columns {missing!r} are not in the Message. Columns: "
                f"{self.columns!r}."
            )
        columns = {name: self._entries[name] for name in names}
        return from_columns(columns, self._length)

    def _take_rows(self, key: Any) -> Message:
        rows = _normalise_rows(key, self._length)
        if isinstance(rows, slice):
            length = len(range(rows.start, rows.stop, rows.step))
            if rows.step < 0:
                rows = np.arange(rows.start, rows.stop, rows.step, dtype=np.int64)
        else:
            length = rows.shape[0]
        columns = {name: take_column(col, rows) for name, col in self._columns.items()}
        return from_columns(columns, length)

    # ------------------------------------------------------------- operations
    def assign(self, **columns: Any) -> Message:
        """Return a new Message with columns added or replaced.

        Values may be anything the constructor accepts, or a callable that takes
        this Message and returns the column. A replaced column keeps its position.
        """
        new = dict(self._entries)
        for name, values in columns.items():
            if callable(values) and not isinstance(values, torch.Tensor):
                # As in pandas: a callable sees the assignments before it.
                values = values(from_columns(dict(new), self._length))
            new[name] = _to_column(name, values)
            n = _column_length(new[name])
            if self._entries and n != self._length:
                raise ValueError(
                    f"Column {name!r} has {n} rows but the Message has {self._length}."
                )
        length = self._length if self._entries else self._check_lengths(new)
        return from_columns(new, length)

    def drop(self, columns: str | Sequence[str]) -> Message:
        """Return a new Message without ``columns``."""
        names = [columns] if isinstance(columns, str) else list(columns)
        missing = [n for n in names if n not in self._entries]
        if missing:
            raise KeyError(
                f"Cannot drop columns {missing!r}: not in the Message. Columns: "
                f"{self.columns!r}."
            )
        dropped = set(names)
        kept = {k: v for k, v in self._entries.items() if k not in dropped}
        return from_columns(kept, self._length)

    def rename(self, mapping: Mapping[str, str]) -> Message:
        """Return a new Message with columns renamed by ``mapping``."""
        missing = [n for n in mapping if n not in self._columns]
        if missing:
            raise KeyError(f"Cannot rename columns {missing!r}: not in the Message.")
        columns: dict[str, Column] = {}
        for name, column in self._columns.items():
            new_name = mapping.get(name, name)
            if new_name in columns:
                raise ValueError(f"Renaming gives the column {new_name!r} twice.")
            if isinstance(column, pd.Series):
                column = column.rename(new_name)
            columns[new_name] = column
        return from_columns(columns, self._length)

    @classmethod
    def concat(cls, messages: Iterable[Message]) -> Message:
        """Stack Messages by rows. All must have the same columns of the same kind.

        Parameters
        ----------
        messages : iterable of Message

        Returns
        -------
        Message
        """
        messages = [m if isinstance(m, Message) else Message(m) for m in messages]
        if not messages:
            raise ValueError("Message.concat needs at least one Message.")
        first = messages[0]
        for position, message in enumerate(messages[1:], start=1):
            if message.columns != first.columns:
                raise ValueError(
                    f"Message {position} has columns {message.columns!r}; expected "
                    f"{first.columns!r} as in Message 0."
                )
        columns = {}
        for name in first.columns:
            parts = [m._columns[name] for m in messages]
            columns[name] = _concat_column(name, parts)
        return from_columns(columns, sum(len(m) for m in messages))

    # ------------------------------------------------------------ conversions
    def to_dataframe(
        self, *, names: Sequence[str] | None = None, index: Any = None
    ) -> pd.DataFrame:
        """A DataFrame with tensor columns flattened into one column per feature.

        A tensor column ``x`` of shape ``(n, k)`` becomes ``x_0 ... x_{k-1}``.

        Parameters
        ----------
        names : sequence of str or None, default=None
            Names of the flat features, in order, instead of those of
            :meth:`feature_names` (e.g. a Pipe's ``get_feature_names_out()``).
        index : pandas Index or None, default=None
            Index of the DataFrame; None gives a ``RangeIndex``. Values are
            placed by position, never aligned on labels.
        """
        names = self.feature_names() if names is None else list(names)
        if len(names) != self.shape[1]:
            raise ValueError(
                f"to_dataframe got {len(names)} names for {self.shape[1]} features."
            )
        duplicated = sorted(set(pd.Index(names)[pd.Index(names).duplicated()]))
        if duplicated:
            raise ValueError(
                f"Flattening tensor columns gives duplicate DataFrame columns "
                f"{duplicated!r}; rename a column first (Message.rename)."
            )
        index = pd.RangeIndex(self._length) if index is None else index
        parts: list[Any] = []
        for column in self._columns.values():
            if isinstance(column, pd.Series):
                parts.append(column.set_axis(index))
                continue
            values = column.detach().cpu()
            width = int(np.prod(values.shape[1:]))
            parts += list(values.reshape(self._length, width).numpy().T)
        frame = pd.DataFrame(dict(enumerate(parts)), index=index)
        frame.columns = names
        return frame

    def to_tensors(
        self, columns: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Columns as tensors; numeric and boolean pandas columns are converted.

        Tensor columns come back as they are. A pandas column keeps its dtype
        (``Int64`` gives int64); one with missing values becomes float64 with
        NaN for them.

        Raises
        ------
        TypeError
            If a selected pandas column is not numeric or boolean.
        ValueError
            If a selected pandas column holds complex numbers.
        """
        names = self.columns if columns is None else list(columns)
        return {name: self._tensor(name) for name in names}

    def _tensor(self, name: str) -> torch.Tensor:
        column = self._column(name)
        if isinstance(column, torch.Tensor):
            return column
        return column_numbers(name, column, allow_nan=True, owner="to_tensors")

    def to(self, device: str | torch.device) -> Message:
        """Return a Message whose tensor columns live on ``device``."""
        columns = {
            name: col.to(device) if isinstance(col, torch.Tensor) else col
            for name, col in self._columns.items()
        }
        return from_columns(columns, self._length)

    def equals(self, other: object) -> bool:
        """Whether ``other`` is a Message with the same columns, kinds and values."""
        if not isinstance(other, Message):
            return False
        if self.columns != other.columns or len(self) != len(other):
            return False
        return all(
            _column_equals(self._columns[name], other._columns[name])
            for name in self.columns
        )

    def feature_names(self) -> list[str]:
        """Flat feature names, in the order of ``np.asarray(message)``'s columns."""
        names: list[str] = []
        for name, column in self._columns.items():
            names += flat_feature_names(name, tuple(column.shape[1:]))
        return names

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        parts = []
        names = self.columns
        for i, view in _runs(self, names):
            if view is None:
                column = self._column(names[i])
                values = column_numbers(
                    names[i],
                    column,
                    float_dtype(column),
                    allow_nan=True,
                    owner="np.asarray(Message)",
                )
                # Its flat width from its shape: -1 cannot be inferred at 0 rows.
                width = int(np.prod(values.shape[1:], dtype=np.int64))
                parts.append(values.reshape(self._length, width))
            else:
                parts.append(view.astype(float_dtype(view), copy=False))
        if len(parts) != 1:
            result = (
                np.concatenate(parts, axis=1)
                if parts
                else np.empty((self._length, 0), dtype=dtype or np.float64)
            )
            return result if dtype is None else result.astype(dtype, copy=False)
        result = parts[0] if dtype is None else parts[0].astype(dtype, copy=False)
        if copy:
            return np.array(result, copy=True)
        # Possibly a view of the column: read-only, as pandas does, so that an
        # estimator working in place cannot change the Message.
        result = result.view()
        result.flags.writeable = False
        return result

    def __repr__(self) -> str:
        return _render(self)

    def __getstate__(self) -> dict[str, Any]:
        # Tensors travel as numpy arrays: only the rows a view holds (torch
        # pickles a view's whole storage), on the CPU, and with the same bytes
        # every time, so joblib.hash (Pipeline(memory=...)) finds equal data.
        columns = {
            name: to_portable(col) if isinstance(col, torch.Tensor) else col
            for name, col in self._columns.items()
        }
        # The names again, as a list: joblib.hash sorts a dict's keys, so
        # without them Messages whose columns differ only in order hash alike.
        return {"columns": columns, "names": list(columns), "length": self._length}

    def __setstate__(self, state: dict[str, Any]) -> None:
        columns = state["columns"]
        names = state.get("names", list(columns))
        if len(names) != len(columns) or set(names) != set(columns):
            raise CorruptStateError(
                f"A Message's column order {names!r} does not name its columns "
                f"{list(columns)!r}."
            )
        self._columns = {name: from_portable(columns[name]) for name in names}
        self._length = state["length"]


def _concat_column(name: str, parts: list[Column]) -> Column:
    kinds = {isinstance(p, torch.Tensor) for p in parts}
    if len(kinds) > 1:
        raise ValueError(
            f"Column {name!r} is a tensor in some Messages and a pandas column in "
            "others; convert it first (ToTensor)."
        )
    if isinstance(parts[0], torch.Tensor):
        trailing = {tuple(p.shape[1:]) for p in parts}
        if len(trailing) > 1:
            raise ValueError(
                f"Column {name!r} has different trailing shapes across Messages: "
                f"{sorted(trailing)!r}."
            )
        return torch.cat(parts)
    return pd.concat(parts, ignore_index=True).rename(name)


def _column_equals(a: Column, b: Column) -> bool:
    if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor):
        return False
    if isinstance(a, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        a, b = a.cpu(), b.cpu()
        if not a.is_floating_point():
            return bool(torch.equal(a, b))
        # As pandas: NaN in the same place counts as equal.
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return a.dtype == b.dtype and a.equals(b)


def _cell_strings(column: Column, rows: np.ndarray) -> list[str]:
    taken = take_column(column, rows)
    if isinstance(taken, pd.Series):
        return [repr(v) if isinstance(v, str) else str(v) for v in taken.tolist()]
    if taken.dim() == 1:
        return [f"{v:.6g}" if isinstance(v, float) else str(v) for v in taken.tolist()]
    return [_short_tensor(row) for row in taken]


def _short_tensor(row: torch.Tensor) -> str:
    flat = row.reshape(-1).tolist()
    shown = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in flat[:4])
    return f"[{shown}{', …' if len(flat) > 4 else ''}]"


def _render(message: Message) -> str:
    n = len(message)
    if n > _REPR_ROWS:
        half = _REPR_ROWS // 2
        rows = np.r_[np.arange(half), np.arange(n - half, n)]
    else:
        rows = np.arange(n)
    table = pd.DataFrame(
        {name: _cell_strings(col, rows) for name, col in message._columns.items()},
        index=rows,
    )
    lines = table.to_string().splitlines() if len(table.columns) else []
    if n > _REPR_ROWS:
        lines.insert(1 + _REPR_ROWS // 2, "...")
    kinds = []
    for name, col in message._columns.items():
        if isinstance(col, torch.Tensor):
            shape = "×".join(str(s) for s in col.shape[1:])
            kinds.append(f"{name}: {col.dtype}{f' ({shape})' if shape else ''}")
        else:
            kinds.append(f"{name}: {col.dtype}")
    footer = f"[Message: {n} rows × {len(message._columns)} columns]"
    return "\n".join([*lines, footer, "dtypes: " + ", ".join(kinds)])
