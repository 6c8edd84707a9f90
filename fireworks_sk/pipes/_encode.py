"""Category encoders: OneHot (float indicator tensors) and IndexEncoder (codes)."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import torch

from fireworks_sk._numbers import (
    check_finite,
    column_numbers,
    is_numeric_column,
    missing_value_error,
)
from fireworks_sk.message import Column, Message, read_array, read_column
from fireworks_sk.pipes._base import StatefulPipe
from fireworks_sk.pipes._state import learned
from fireworks_sk.schema import check_has_columns

__all__ = ["IndexEncoder", "OneHot", "add_counts", "sorted_counts"]

_SHOWN = 5
# Up to this many rows, categories are looked up in a dict: pandas' lookup
# costs tens of microseconds per call whatever the size, a dict about 0.1 per
# row. Both give the same codes (tests/pipes/test_derived_state.py).
_SMALL = 128


def _is_categorical(column: Column) -> bool:
    """Columns encoded by default: anything but floating-point values."""
    if isinstance(column, torch.Tensor):
        return column.dim() == 1 and not column.is_floating_point()
    return not pd.api.types.is_float_dtype(column.dtype)


def _values(name: str, column: Column, missing: str = "error") -> pd.Series:
    """A 1-D column as a Series (tensors share memory where they can).

    With ``missing="category"`` NaN passes the finite check, and None, NaN
    and ``pd.NA`` of an object column all become NaN: one category.
    """
    if isinstance(column, torch.Tensor):
        if column.dim() != 1:
            raise ValueError(
                f"Column {name!r} has rows of shape {tuple(column.shape[1:])}; only "
                "1-D columns hold categories."
            )
        values = column.detach().cpu().numpy()
        _check_finite(name, values, missing)
        return pd.Series(values, name=name, copy=False)
    if missing == "category" and column.hasnans:
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column  # its missing values are NaN already
        if not isinstance(column.dtype, np.dtype) or column.dtype == object:
            # Object, string, boolean, Int64, Float64: None and pd.NA as NaN.
            values = column.to_numpy(dtype=object, na_value=np.nan, copy=True)
            values[pd.isna(values)] = np.nan
            return pd.Series(values, name=name, copy=False)
    if column.dtype.kind in "fc":
        _check_finite(name, column.to_numpy(), missing)
    return column


def _check_finite(name: str, values: np.ndarray, missing: str) -> None:
    if missing == "category" and values.dtype.kind in "fc":
        values = values[~np.isnan(values)]  # NaN is a category; inf is not
    check_finite(name, values)


def _missing_error(name: str, values: pd.Series) -> ValueError:
    row = int(np.flatnonzero(values.isna().to_numpy())[0])
    return missing_value_error(name, row)


def _value_counts(name: str, column: Column, missing: str) -> pd.Series:
    values = _values(name, column, missing)
    counts = values.value_counts(sort=False, dropna=False)
    # pandas counts lists and dicts, which no lookup can find again: refuse
    # them here, looking at the rows only when a distinct value is one.
    if counts.index.dtype == object and _unhashable_error(name, counts.index):
        raise _unhashable_error(name, values)
    # Checking the few distinct values is cheaper than scanning every row.
    if counts.index.hasnans and missing == "error":
        raise _missing_error(name, values)
    # A Categorical reports its declared categories too; keep those seen.
    counts = counts[counts.to_numpy() > 0]  # an array mask: no index alignment
    index = counts.index
    if isinstance(index, pd.CategoricalIndex) and not index.ordered:
        # Unordered categories are sorted by value, as scikit-learn sorts them:
        # their declared order belongs to one batch (a Parquet file's
        # dictionary), and batches may declare them in different orders.
        counts.index = index.astype(index.categories.dtype)
    return counts


def _unhashable_error(name: str, values: pd.Series) -> TypeError | None:
    """The error naming the first value of ``values`` that cannot be a
    category (a list, a dict: it has no hash), or None if there is none."""
    for row, value in enumerate(values.tolist()):
        try:
            hash(value)
        except TypeError:
            return TypeError(
                f"Column {name!r} holds a {type(value).__name__} at row {row}, "
                "which cannot be a category; categories are single values (str, "
                "number, bool). Convert or drop such values first."
            )
    return None


def _check_same_order(name: str, a: pd.Index, b: pd.Index) -> None:
    """Refuse batches of an ordered Categorical that declare different orders."""
    ordered = [isinstance(i, pd.CategoricalIndex) and i.ordered for i in (a, b)]
    if not any(ordered):
        return
    if not all(ordered) or list(a.categories) != list(b.categories):
        shown = [
            list(i.categories) if o else "unordered" for i, o in zip((a, b), ordered)
        ]
        raise TypeError(
            f"Column {name!r} is an ordered Categorical whose categories differ "
            f"between batches ({shown[0]!r}, then {shown[1]!r}); give every batch "
            "the same categories in the same order."
        )


def add_counts(a: pd.Series, b: pd.Series) -> pd.Series:
    """Value counts ``a`` and ``b`` added, a value missing from one counting 0.

    Once the vocabulary is known, a batch brings no new value: its counts are
    then added in place of ``a``'s, found by position, with no alignment of
    the two indexes (which costs more than the counting). The sum is the same
    Series as pandas' aligned ``add``, up to the order that ``sorted_counts``
    fixes.
    """
    index = a.index
    if index.dtype == b.index.dtype and not isinstance(index, pd.CategoricalIndex):
        if not (index.hasnans or b.index.hasnans):
            positions = index.get_indexer(b.index)
            if (positions >= 0).all():
                values = a.to_numpy(dtype=np.int64, copy=True)
                values[positions] += b.to_numpy(dtype=np.int64)
                return pd.Series(values, index=index, name=a.name)
    total = a.add(b, fill_value=0).astype(np.int64)
    if (
        index.dtype == b.index.dtype
        and total.index.dtype != index.dtype
        and not isinstance(index, pd.CategoricalIndex)
    ):
        # pandas 2 infers int64 from an object index of ints: keep the values'
        # dtype, as a count of the whole column at once gives it.
        total.index = total.index.astype(index.dtype)
    return total


def sorted_counts(name: str, counts: pd.Series) -> pd.Series:
    """Counts sorted by value, the missing-value category last."""
    try:
        counts = counts.sort_index()
    except TypeError as exc:
        kinds = sorted({type(v).__name__ for v in counts.index})
        raise TypeError(
            f"Column {name!r} mixes values of types {kinds}; categories must be of "
            "one type to be sorted. Cast the column first."
        ) from exc
    # pandas leaves a CategoricalIndex that starts with NaN unsorted.
    missing = counts.index.isna()
    return counts.iloc[np.argsort(missing, kind="stable")] if missing.any() else counts


# The fitted attributes the encoders learn (see pipes/_state.learned).
_LEARNED = ("categories_", "infrequent_categories_", "_offset_", "n_codes_")


def _arrow_strings(dtype: Any) -> bool:
    """Whether a column of ``dtype`` holds its strings in a pyarrow string array."""
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pandas.ArrowDtype
    return arrow is not None and str(arrow) in ("string", "large_string")


class _Lookup:
    """Where each category of one column sits: ``categories_[name]`` indexed.

    Derived from the fitted categories and built on first use, so that a
    transform pays pandas' cost of building an index (and its hash table), or
    the Arrow array of the categories, once per fit, not once per call. Never
    saved: a loaded encoder builds it again.

    Few rows are looked up in a dict, a column of pyarrow strings by pyarrow,
    a Categorical by its declared categories, anything else by pandas'
    ``get_indexer`` (``index_codes``, the general lookup); each gives the
    general lookup's codes.
    """

    __slots__ = ("_arrow", "_index", "_objects", "_table", "categories")

    def __init__(self, categories: np.ndarray) -> None:
        self.categories = categories
        self._index: pd.Index | None = None
        self._objects: pd.Index | None = None
        self._table: tuple[dict[Any, int], int] | None = None
        self._arrow: Any = None

    def codes(self, values: pd.Series) -> np.ndarray:
        """Positions of ``values`` in the categories; -1 for values not among them."""
        table = self.table()
        if table is not None and len(values) <= _SMALL:
            return self.table_codes(values, table)
        found = self.arrow_codes(values)
        if found is None:
            found = self.category_codes(values)
        return self.index_codes(values) if found is None else found

    def index_codes(self, values: pd.Series) -> np.ndarray:
        """The codes by pandas' ``get_indexer``: the general lookup."""
        if self._index is None:
            self._index = pd.Index(self.categories)
        index = self._index
        if values.dtype != index.dtype and not len(values) == 0:
            if self._objects is None:
                self._objects = index.astype(object)
            index = self._objects
            values = values.astype(object)
        return index.get_indexer(values)

    def arrow_codes(self, values: pd.Series) -> np.ndarray | None:
        """The codes of ``index_codes`` by pyarrow's ``index_in``, for a column
        of pyarrow strings without missing values and categories that are
        strings or NaN; None for any other.

        pandas' lookup turns each of the column's strings into a Python
        object first; pyarrow hashes them where they lie, tens of times
        faster. Missing values are left to pandas, whose dtypes differ in
        whether they find the NaN category.
        """
        if not _arrow_strings(values.dtype) or self.table() is None:
            return None
        import pyarrow as pa  # installed: the column's pandas dtype needs it
        import pyarrow.compute as pc

        if self._arrow is None:
            # The categories as strings, NaN as null; a string Arrow cannot
            # hold (a lone surrogate) leaves the lookup to pandas.
            listed = [
                c if isinstance(c, str) else None for c in self.categories.tolist()
            ]
            try:
                self._arrow = pa.array(listed, type=pa.large_string())
            except (pa.ArrowException, UnicodeError):
                self._arrow = False
        if self._arrow is False:
            return None
        strings = pa.array(values.array)  # the column's own buffers
        if strings.null_count:
            return None
        # The NaN category is a null, which no string finds.
        found = pc.index_in(strings, value_set=self._arrow)
        return np.asarray(found.fill_null(-1), dtype=np.intp)

    def category_codes(self, values: pd.Series) -> np.ndarray | None:
        """The codes of ``index_codes`` for a pandas Categorical column, by
        looking its few categories up and taking their codes by the
        column's; None for any other column.

        ``index_codes`` makes a Python object of every row of a Categorical.
        """
        if not isinstance(values.dtype, pd.CategoricalDtype):
            return None
        # The column's categories, then NaN: its code -1 takes the last.
        declared = values.cat.categories.to_numpy(dtype=object)
        found = self.index_codes(pd.Series(np.append(declared, np.nan), dtype=object))
        return found[values.cat.codes.to_numpy()]

    def table(self) -> tuple[dict[Any, int], int] | None:
        """Category -> position, and the position of NaN (-1 if none), when
        every category is a string or NaN; None otherwise.

        For strings a dict finds exactly what ``get_indexer`` finds; NaN is
        looked up apart, as NaN equals nothing, not even NaN.
        """
        if self._table is None:
            table: dict[Any, int] = {}
            nan = -1
            for position, category in enumerate(self.categories.tolist()):
                if isinstance(category, str):
                    table[category] = position
                elif isinstance(category, float) and math.isnan(category):
                    nan = position
                else:
                    table, nan = None, -1
                    break
            self._table = (table, nan)
        return None if self._table[0] is None else self._table

    def found_codes(self, values: Any) -> np.ndarray | None:
        """The codes of few rows when the dict finds every one of them; None
        for any other column (the caller looks its Series up).

        ``values`` is what :func:`~fireworks_sk.message.read_array` gives. A
        Series' lookup first turns missing values into NaN and checks
        floating-point values; a found value is neither missing (but NaN) nor
        of a floating-point column, so these codes are the Series' codes.
        """
        table = self.table()
        if (
            table is None
            or isinstance(values, torch.Tensor)
            or len(values) > _SMALL
            or values.dtype.kind in "fc"
        ):
            return None
        try:
            codes = self.table_codes(values, table)
        except TypeError:  # a value without a hash: the Series' lookup names it
            return None
        return None if (codes < 0).any() else codes

    @staticmethod
    def table_codes(values: pd.Series, table: tuple[dict[Any, int], int]) -> np.ndarray:
        """The codes by dict lookups: the same as ``index_codes`` for few rows."""
        found, nan = table
        listed = values.tolist()
        codes = [found.get(v, -1) for v in listed]
        if nan >= 0:
            codes = [
                nan if c < 0 and isinstance(v, float) and math.isnan(v) else c
                for c, v in zip(codes, listed)
            ]
        return np.array(codes, dtype=np.intp)


class _Encoder(StatefulPipe):
    """Vocabulary counting shared by the encoders; state is value counts."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        # By default floating-point columns are not encoded, so a NaN there is
        # passed through; named columns may be float, and NaN in an encoded
        # column raises, naming the column.
        tags.input_tags.allow_nan = self.columns is None
        return tags

    def _select_columns(self, message: Message) -> list[str]:
        default = [
            c for c in message.columns if _is_categorical(read_column(message, c))
        ]
        return self._resolve_columns(message, default)

    def _chunk_state(self, message: Message) -> tuple[int, dict[str, pd.Series]]:
        counts = {
            name: _value_counts(name, read_column(message, name), self.missing)
            for name in self.columns_
        }
        return len(message), counts

    def _merge_states(self, a: Any, b: Any) -> tuple[int, dict[str, pd.Series]]:
        merged = {}
        for name in a[1]:
            _check_same_order(name, a[1][name].index, b[1][name].index)
            try:
                merged[name] = add_counts(a[1][name], b[1][name])
            except TypeError as exc:
                raise TypeError(
                    f"Column {name!r} holds values of a different type than in "
                    "earlier batches."
                ) from exc
        return a[0] + b[0], merged

    def _set_state(self, state: tuple[int, dict[str, pd.Series]]) -> None:
        self.n_samples_seen_, counts = state
        counts = {name: sorted_counts(name, c) for name, c in counts.items()}
        self.categories_ = {name: c.index.to_numpy() for name, c in counts.items()}
        self._counts = counts
        self._lookups = {name: _Lookup(c) for name, c in self.categories_.items()}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_lookups", None)  # derived from categories_; built again
        return state

    def _lookup(self, name: str) -> _Lookup:
        lookups = vars(self).get("_lookups")
        if lookups is None:  # loaded from a file
            lookups = {n: _Lookup(c) for n, c in self.categories_.items()}
            self._lookups = lookups
        return lookups[name]

    def _get_state(self) -> tuple[int, dict[str, pd.Series]]:
        return self.n_samples_seen_, self._counts

    def _fitted_state_problem(self) -> str | None:
        if not learned(self, *_LEARNED):
            return None
        for name in self.columns_:
            categories = np.asarray(self.categories_[name])
            if categories.ndim != 1 or len(self._counts[name]) != len(categories):
                return f"has categories of column {name!r} unlike their counts"
        return None

    def _codes(self, name: str, message: Message) -> np.ndarray:
        """Positions in ``categories_[name]``; -1 for values not seen in fit."""
        lookup = self._lookup(name)
        codes = lookup.found_codes(read_array(message, name))
        if codes is not None:
            return codes
        return self._column_codes(name, read_column(message, name))

    def _column_codes(self, name: str, column: Column) -> np.ndarray:
        """``_codes`` from the column itself: the general lookup."""
        values = _values(name, column, self.missing)
        try:
            codes = self._lookup(name).codes(values)
        except TypeError as exc:
            raise _unhashable_error(name, values) or exc from exc
        # Missing values get -1 too; look for them only when some code is -1.
        if self.missing == "error" and (codes < 0).any() and values.hasnans:
            raise _missing_error(name, values)
        return codes

    def _unknown_error(
        self, name: str, column: Column, codes: np.ndarray
    ) -> ValueError:
        # tolist() turns numpy scalars into Python ones, which print as written.
        values = _values(name, column, self.missing).to_numpy()
        unknown = pd.unique(values[codes < 0]).tolist()
        shown = ", ".join(repr(v) for v in unknown[:_SHOWN])
        more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
        return ValueError(
            f"{type(self).__name__} found unknown categories [{shown}]{more} in column "
            f"{name!r} during transform. Fit on data that contains them, or set "
            "handle_unknown='ignore'."
        )

    def _check_missing(self) -> None:
        if self.missing not in ("error", "category"):
            raise ValueError(
                f"{type(self).__name__}(missing={self.missing!r}) is not one of "
                "['error', 'category']."
            )

    def _check_handle_unknown(self, allowed: tuple[str, ...]) -> None:
        if self.handle_unknown not in allowed:
            raise ValueError(
                f"{type(self).__name__}(handle_unknown={self.handle_unknown!r}) is not "
                f"one of {list(allowed)!r}."
            )

    def _decoded(self, name: str, positions: np.ndarray, valid: np.ndarray) -> Column:
        """Categories at ``positions``, missing where not ``valid``, in fit's kind."""
        template = self._schema_in[name]
        categories = self.categories_[name]
        if isinstance(template, torch.Tensor):
            if not valid.all():
                row = int(np.flatnonzero(~valid)[0])
                raise ValueError(
                    f"Row {row} of column {name!r} encodes no known category, and a "
                    "tensor column cannot hold a missing value."
                )
            return torch.as_tensor(categories[positions]).to(template.dtype)
        values = categories.astype(object)[np.where(valid, positions, 0)]
        values[~valid] = None
        try:
            return pd.Series(values, name=name, dtype=template.dtype)
        except (TypeError, ValueError):
            return pd.Series(values, name=name, dtype=object)

    def _encoded_column(self, message: Message, name: str, width: int) -> torch.Tensor:
        check_has_columns(
            f"{type(self).__name__}.inverse_transform",
            [name],
            message.columns,
            fix="Pass the encoder's output, with its encoded columns.",
            error=KeyError,
        )
        column = read_column(message, name)
        owner = f"{type(self).__name__}.inverse_transform"
        if not is_numeric_column(column):
            raise TypeError(
                f"{owner} needs the encoded column {name!r} (numbers, the output of "
                f"transform); got dtype {column.dtype}."
            )
        shape = tuple(column.shape[1:])
        if shape != ((width,) if width else ()):
            raise ValueError(
                f"Column {name!r} has rows of shape {shape}; the encoding gives "
                f"{(width,) if width else ()}."
            )
        return column_numbers(name, column, owner=owner).cpu()


class OneHot(_Encoder):
    """Encode category columns as float indicator tensors of shape (n, k).

    Categories are kept sorted. ``partial_fit`` grows the vocabulary batch by
    batch; rare categories may be grouped into one "infrequent" indicator.

    Parameters
    ----------
    columns : str, list of str, callable or None, default=None
        Columns to encode; None means every column that is not floating-point
        (strings, categoricals, booleans, integers, and 1-D integer tensors).
        A callable (such as scikit-learn's ``make_column_selector``) is
        resolved once at fit; ``columns_`` holds its result.
    handle_unknown : {"error", "ignore", "infrequent_if_exist"}, default="error"
        What a category unseen in fit does at transform: raise an error naming
        the column and values, encode as all zeros, or encode as the infrequent
        category where there is one (all zeros otherwise).
    min_frequency : int, float or None, default=None
        Categories seen fewer times (an int) or in a smaller fraction of rows
        (a float in (0, 1)) are infrequent.
    max_categories : int or None, default=None
        Keep at most this many output columns per input column, the infrequent
        one included; the most frequent categories are kept.
    missing : {"error", "category"}, default="error"
        What a missing value (NaN, None, ``pd.NA``) in an encoded column does:
        raise an error naming the column, or count as one category of its
        own, sorted last in ``categories_`` (as NaN), with the feature name
        ``<name>_nan``, as scikit-learn's OneHotEncoder does. A missing value
        first seen at transform is then an unknown category.

    Attributes
    ----------
    categories_ : dict of str to ndarray
        Sorted categories seen in fit, per column; an ordered pandas
        Categorical column keeps its declared order.
    infrequent_categories_ : dict of str to ndarray or None
        Categories grouped as infrequent, per column; None when there are none.
    n_samples_seen_ : int
    columns_ : list of str
        The columns encoded.

    Examples
    --------
    >>> from fireworks_sk import Message, OneHot
    >>> m = Message({"color": ["red", "blue", "red"]})
    >>> OneHot().fit_transform(m)["color"]
    tensor([[0., 1.],
            [1., 0.],
            [0., 1.]])
    """

    def __init__(
        self,
        columns: str | list[str] | None = None,
        *,
        handle_unknown: str = "error",
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
        missing: str = "error",
    ) -> None:
        self.columns = columns
        self.handle_unknown = handle_unknown
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.missing = missing

    def partial_fit(self, X: Any, y: Any = None) -> OneHot:
        """Count the categories of one batch into the vocabulary.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_handle_unknown(("error", "ignore", "infrequent_if_exist"))
        self._check_missing()
        self._check_frequency_params()
        return super().partial_fit(X, y)

    def _check_frequency_params(self) -> None:
        f = self.min_frequency
        if f is not None and not (
            (isinstance(f, Integral) and f >= 1)
            or (isinstance(f, Real) and not isinstance(f, Integral) and 0 < f < 1)
        ):
            raise ValueError(
                f"OneHot(min_frequency={f!r}) must be an int >= 1 or a float in (0, 1)."
            )
        m = self.max_categories
        if m is not None and not (isinstance(m, Integral) and m >= 1):
            raise ValueError(f"OneHot(max_categories={m!r}) must be an int >= 1.")

    def _set_state(self, state: tuple[int, dict[str, pd.Series]]) -> None:
        super()._set_state(state)
        self.infrequent_categories_ = {}
        self._positions = {}
        for name, counts in self._counts.items():
            frequent = self._frequent(counts)
            infrequent = ~frequent
            self.infrequent_categories_[name] = (
                counts.index.to_numpy()[infrequent] if infrequent.any() else None
            )
            # Output position of each category; infrequent ones share the last.
            positions = np.cumsum(frequent) - 1
            positions[infrequent] = int(frequent.sum())
            self._positions[name] = positions

    def _frequent(self, counts: pd.Series) -> np.ndarray:
        values = counts.to_numpy()
        keep = np.ones(len(values), dtype=bool)
        if self.min_frequency is not None:
            threshold = self.min_frequency
            if isinstance(threshold, Real) and not isinstance(threshold, Integral):
                threshold = threshold * self.n_samples_seen_
            keep &= values >= threshold
        # max_categories counts the output columns, the infrequent one included.
        outputs = keep.sum() + (not keep.all())
        if self.max_categories is not None and outputs > self.max_categories:
            room = self.max_categories - 1
            order = np.argsort(-values, kind="stable")
            ranked = order[keep[order]][:room]
            keep = np.zeros(len(values), dtype=bool)
            keep[ranked] = True
        return keep

    def _n_outputs(self, name: str) -> int:
        return int(self._positions[name].max()) + 1

    def _fitted_state_problem(self) -> str | None:
        # The largest position sizes the output of every transform.
        problem = super()._fitted_state_problem()
        if problem or not learned(self, *_LEARNED):
            return problem
        for name in self.columns_:
            n = len(self.categories_[name])
            positions = np.asarray(self._positions[name])
            if (
                positions.shape != (n,)
                or positions.dtype.kind not in "iu"
                or (n and (positions.min() < 0 or positions.max() >= n))
            ):
                return (
                    f"has output positions for column {name!r} that do not match "
                    f"its {n} categories"
                )
        return problem

    def _encode(self, name: str, message: Message) -> torch.Tensor:
        codes = self._codes(name, message)
        unknown = codes < 0
        some_unknown = bool(unknown.any())
        if some_unknown and self.handle_unknown == "error":
            raise self._unknown_error(name, read_column(message, name), codes)
        positions = self._positions[name]
        width = self._n_outputs(name)
        targets = positions[np.where(unknown, 0, codes) if some_unknown else codes]
        if some_unknown and self.handle_unknown == "infrequent_if_exist":
            if self.infrequent_categories_[name] is not None:
                targets = np.where(unknown, width - 1, targets)
                some_unknown = False
        # numpy's zeros come from calloc: the kernel's already-zeroed pages, about
        # 4x faster than torch.zeros writing zeros over a large output.
        out = np.zeros((len(codes), width), dtype=np.float32)
        # One write of every indicator at its flat position (a third faster
        # than torch's scatter_); unknown rows are zeroed after.
        flat = np.arange(0, out.size, width)
        flat += targets
        out.reshape(-1)[flat] = 1.0
        if some_unknown:
            out[unknown] = 0.0
        return torch.from_numpy(out)

    def _transform(self, message: Message) -> Message:
        return message.assign(
            **{name: self._encode(name, message) for name in self.columns_}
        )

    def _column_feature_names(self, name: str, column: Any) -> list[str]:
        if name not in self.columns_:
            return super()._column_feature_names(name, column)
        frequent = self.categories_[name][self._frequent(self._counts[name])]
        names = [f"{name}_{category}" for category in frequent]
        if self.infrequent_categories_[name] is not None:
            names.append(f"{name}_infrequent")
        return names

    def _names_key(self) -> tuple:
        return tuple(tuple(self._column_feature_names(n, None)) for n in self.columns_)

    def inverse_transform(self, X: Any) -> Message:
        """Map indicator rows back to categories.

        All-zero rows (unknown categories under ``handle_unknown="ignore"``) and
        rows of the infrequent indicator become missing values.

        Parameters
        ----------
        X : Message or dict
            Output of ``transform``.

        Returns
        -------
        Message
        """
        self._check_fitted()
        message = X if isinstance(X, Message) else Message(X)
        decoded = {}
        for name in self.columns_:
            width = self._n_outputs(name)
            encoded = self._encoded_column(message, name, width)
            chosen = encoded.argmax(dim=1).numpy()
            has_one = (encoded.sum(dim=1) > 0).numpy()
            # Output position -> category position; the infrequent indicator -> -1.
            lookup = np.full(width, -1, dtype=np.int64)
            frequent = np.flatnonzero(self._frequent(self._counts[name]))
            lookup[: len(frequent)] = frequent
            positions = lookup[chosen]
            decoded[name] = self._decoded(name, positions, has_one & (positions >= 0))
        return message.assign(**decoded)


class IndexEncoder(_Encoder):
    """Encode category columns as int64 code tensors, for ``torch.nn.Embedding``.

    Codes follow the sorted categories. With ``handle_unknown="ignore"`` code 0
    is reserved for unknown categories and known ones start at 1. The codes
    are fixed at fit: switching to ``"error"`` later keeps them (unknown
    categories then raise), switching to ``"ignore"`` later is refused, as no
    code is free for unknown ones.

    Parameters
    ----------
    columns : str, list of str, callable or None, default=None
        Columns to encode; None means every column that is not floating-point.
        A callable is resolved once at fit; ``columns_`` holds its result.
    handle_unknown : {"error", "ignore"}, default="error"
        Raise an error naming the column and values for a category unseen in
        fit, or give it code 0.
    missing : {"error", "category"}, default="error"
        What a missing value (NaN, None, ``pd.NA``) in an encoded column does:
        raise an error naming the column, or count as one category of its
        own, sorted last in ``categories_`` (as NaN), with the feature name
        ``<name>_nan``, as scikit-learn's OneHotEncoder does. A missing value
        first seen at transform is then an unknown category.

    Attributes
    ----------
    categories_ : dict of str to ndarray
        Sorted categories seen in fit, per column; an ordered pandas
        Categorical column keeps its declared order.
    n_codes_ : dict of str to int
        Number of distinct codes per column: the ``num_embeddings`` to use.
    n_samples_seen_ : int
    columns_ : list of str

    Examples
    --------
    >>> from fireworks_sk import IndexEncoder, Message
    >>> m = Message({"color": ["red", "blue", "red"]})
    >>> IndexEncoder().fit_transform(m)["color"]
    tensor([1, 0, 1])
    """

    def __init__(
        self,
        columns: str | list[str] | None = None,
        *,
        handle_unknown: str = "error",
        missing: str = "error",
    ) -> None:
        self.columns = columns
        self.handle_unknown = handle_unknown
        self.missing = missing

    def partial_fit(self, X: Any, y: Any = None) -> IndexEncoder:
        """Count the categories of one batch into the vocabulary.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_handle_unknown(("error", "ignore"))
        self._check_missing()
        return super().partial_fit(X, y)

    def _set_state(self, state: tuple[int, dict[str, pd.Series]]) -> None:
        super()._set_state(state)
        # The codes are fixed by the first fit: a later set_params may not
        # shift them under a model trained on them.
        if not hasattr(self, "_offset_"):
            self._offset_ = 1 if self.handle_unknown == "ignore" else 0
        self._check_offset()
        self.n_codes_ = {n: len(c) + self._offset_ for n, c in self.categories_.items()}

    def _fitted_state_problem(self) -> str | None:
        # A code count sizes the user's nn.Embedding.
        problem = super()._fitted_state_problem()
        if problem or not learned(self, *_LEARNED):
            return problem
        for name in self.columns_:
            codes = len(self.categories_[name]) + self._offset_
            if self._offset_ not in (0, 1) or self.n_codes_[name] != codes:
                return f"has a code count for column {name!r} unlike its categories"
        return problem

    def _check_offset(self) -> None:
        if self.handle_unknown == "ignore" and self._offset_ == 0:
            raise ValueError(
                "IndexEncoder was fitted with handle_unknown='error', so code 0 is "
                "a category and none is reserved for unknown ones; fit it again "
                "with handle_unknown='ignore' (every code then moves up by one)."
            )

    def _encode(self, name: str, message: Message) -> torch.Tensor:
        codes = self._codes(name, message)
        if self.handle_unknown == "error" and (codes < 0).any():
            raise self._unknown_error(name, read_column(message, name), codes)
        return torch.from_numpy(np.add(codes, self._offset_, dtype=np.int64))

    def _transform(self, message: Message) -> Message:
        self._check_offset()
        return message.assign(
            **{name: self._encode(name, message) for name in self.columns_}
        )

    def inverse_transform(self, X: Any) -> Message:
        """Map codes back to categories; code 0 under "ignore" becomes missing.

        Parameters
        ----------
        X : Message or dict
            Output of ``transform``.

        Returns
        -------
        Message
        """
        self._check_fitted()
        message = X if isinstance(X, Message) else Message(X)
        decoded = {}
        for name in self.columns_:
            encoded = self._encoded_column(message, name, 0).numpy()
            codes = encoded.astype(np.int64)
            if not np.array_equal(codes, encoded):
                row = int(np.flatnonzero(codes != encoded)[0])
                raise ValueError(
                    f"Code {float(encoded[row])} at row {row} of column {name!r} is "
                    "not a whole number; codes come from transform."
                )
            positions = codes - self._offset_
            valid = (positions >= 0) & (positions < len(self.categories_[name]))
            if not valid.all() and self.handle_unknown == "error":
                row = int(np.flatnonzero(~valid)[0])
                raise ValueError(
                    f"Code {int(codes[row])} at row {row} of column {name!r} is not a "
                    f"code of this encoder (0 to {self.n_codes_[name] - 1})."
                )
            decoded[name] = self._decoded(name, positions, valid)
        return message.assign(**decoded)
