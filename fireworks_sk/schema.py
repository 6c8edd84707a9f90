"""Schema: the columns a fitted object saw, and the checks of new input.

One object records a Message's columns (names, and per column its kind,
tensor or pandas, its dtype and the shape of its rows) and answers every
question later asked of them, for every part of the library:

- Pipes and Torch estimators keep one as fitted state (handed over by their
  ``input_schema_``) and check each new input with :meth:`Schema.check`: the
  names (a scikit-learn style diff), the kind and row shape (errors) and the
  dtype (a warning, lenient within one family of dtypes and for categories),
  the one rule of :func:`layout_change`;
- sources compare each chunk with the first by that rule
  (:meth:`Schema.compare_layout`), and the stream scheduler asks whether a
  step kept its input's exact layout (:func:`same_layout`);
- persistence writes :meth:`Schema.describe` into a file's manifest, and
  servers read it back with the strict :meth:`Schema.from_description`;
- every "columns the input lacks" error is :func:`check_has_columns`'s, and
  every width error :func:`check_n_features`'s.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from fireworks_sk._portable import from_portable, to_portable
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import (
    Column,
    Message,
    column_dtypes,
    from_columns,
    read_column,
    stored_column,
)

__all__ = [
    "ColumnLayout",
    "LayoutDifference",
    "Schema",
    "check_column_schema",
    "check_has_columns",
    "check_n_features",
    "column_layout",
    "dtypes_agree",
    "layout",
    "layout_change",
    "names_diff",
    "same_layout",
    "warn_if_named_differs",
    "zero_rows",
]


def zero_rows(column: Column) -> Column:
    """An empty column of the same kind, dtype and row shape, on the CPU.

    A copy, not a view: a pickled view would carry the whole training data.
    """
    if isinstance(column, torch.Tensor):
        return column[:0].detach().to("cpu", copy=True)
    return column.iloc[:0].copy()


class ColumnLayout(NamedTuple):
    """What makes two columns alike for a stream: kind, dtype and row shape.

    ``kind`` is ``"tensor"``, ``"pandas"`` or ``"category"``. A categorical
    column is described by the dtype of its categories and whether they are
    ordered, not by the categories themselves: those differ batch by batch
    (a Parquet file's dictionaries) without making another kind of column.
    """

    kind: str
    dtype: Any
    shape: tuple[int, ...] = ()
    ordered: bool = False

    def __str__(self) -> str:
        if self.kind == "tensor":
            rows = f" with rows of shape {self.shape}" if self.shape else ""
            return f"a {self.dtype} tensor{rows}"
        if self.kind == "category":
            return f"category (of {self.dtype})"
        return str(self.dtype)


class LayoutDifference(NamedTuple):
    """Where a Message's columns differ from a :class:`Schema`'s."""

    column: str | None
    expected: Any
    found: Any


def column_layout(column: Any) -> ColumnLayout:
    """The :class:`ColumnLayout` of a tensor, a Series or a stored column."""
    if isinstance(column, torch.Tensor):
        return ColumnLayout("tensor", column.dtype, tuple(column.shape[1:]))
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnLayout("category", dtype.categories.dtype, (), bool(dtype.ordered))
    return ColumnLayout("pandas", dtype)


def layout(message: Message) -> dict[str, ColumnLayout]:
    """Each column's layout, in column order, read without building a Series."""
    return {name: column_layout(stored_column(message, name)) for name in message}


def same_layout(a: Message | Schema, b: Message | Schema) -> bool:
    """Same names in the same order, each with the same :class:`ColumnLayout`.

    Exact: another dtype, even of one family, is another layout. The stream
    scheduler asks this of a step's input and output, and Schemas compare so.
    """
    first = a.layout() if isinstance(a, Schema) else layout(a)
    second = b.layout() if isinstance(b, Schema) else layout(b)
    return list(first.items()) == list(second.items())


def layout_change(fitted: ColumnLayout, got: ColumnLayout) -> str | None:
    """How a column of layout ``got`` differs from one of ``fitted`` that counts.

    Returns ``"kind"`` (tensor, pandas column or categorical), ``"shape"``
    (a tensor's row shape), ``"dtype"`` (a dtype that left its family, see
    :func:`dtypes_agree`; two categoricals agree when both or neither are
    ordered, whatever their categories) or None when the columns agree.
    This is the one rule for a column that changed: :meth:`Schema.check`
    refuses the first two and warns on the third, and a source refuses a
    chunk for any of the three (:meth:`Schema.compare_layout`).
    """
    tensors = (fitted.kind == "tensor", got.kind == "tensor")
    if tensors[0] != tensors[1]:
        return "kind"
    if fitted.shape != got.shape:
        return "shape"
    if fitted.kind == "category" and got.kind == "category":
        return None if fitted.ordered == got.ordered else "dtype"
    if fitted.kind != got.kind:
        return "dtype"  # a categorical where plain values were, or the reverse
    return None if dtypes_agree(fitted.dtype, got.dtype) else "dtype"


def _dtype_family(dtype: Any) -> Any:
    """A dtype, with pandas's spellings of one kind of value made one.

    Strings (object, str, string[python], string[pyarrow]) are one family, as
    are int64 and Int64, float64 and Float64, bool and boolean: Dask reads
    strings as string[pyarrow], pandas as str or object, and a nullable column
    holds the same values as its plain counterpart.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if pd.api.types.is_string_dtype(dtype) and not isinstance(
        dtype, pd.CategoricalDtype
    ):
        return "string"
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        return dtype if numpy_dtype is None else np.dtype(numpy_dtype)
    return dtype


def dtypes_agree(fitted: Any, got: Any) -> bool:
    """Whether a column of dtype ``got`` holds what one of ``fitted`` held."""
    if fitted == got:
        return True
    return _dtype_family(fitted) == _dtype_family(got)


def check_column_schema(
    owner: str,
    name: str,
    fitted: Any,
    got: Any,
    check_dtype: bool = True,
    *,
    stacklevel: int = 4,
) -> None:
    """Refuse a column whose kind or row shape changed since fit; warn on dtype.

    ``fitted`` is the column's template, ``got`` the new column (a tensor, a
    Series or a Message's stored column); what counts as a change is
    :func:`layout_change`'s rule.
    """
    change = layout_change(column_layout(fitted), column_layout(got))
    if change == "kind":
        kinds = ("a pandas column", "a tensor")
        tensor = isinstance(got, torch.Tensor)
        raise SchemaError(
            f"Column {name!r} was {kinds[not tensor]} when "
            f"{owner} was fitted and is now {kinds[tensor]}."
        )
    if change == "shape":
        raise SchemaError(
            f"Column {name!r} has rows of shape {tuple(got.shape[1:])} but {owner} "
            f"was fitted on rows of shape {tuple(fitted.shape[1:])}."
        )
    if change == "dtype" and check_dtype:
        warnings.warn(
            f"Column {name!r} has dtype {got.dtype} but {owner} was fitted on dtype "
            f"{fitted.dtype}.",
            UserWarning,
            stacklevel=stacklevel,
        )


def names_diff(owner: str, fitted: Sequence[str], got: Sequence[str]) -> str:
    """scikit-learn's message for input names that differ from the fitted ones."""
    lines = []
    if len(got) != len(fitted):
        lines.append(_width_text(owner, len(got), len(fitted)) + ".")
    lines.append("The feature names should match those that were passed during fit.")
    unseen = [c for c in got if c not in set(fitted)]
    missing = [c for c in fitted if c not in set(got)]
    if unseen:
        lines.append("Feature names unseen at fit time:")
        lines += [f"- {c}" for c in unseen]
    if missing:
        lines.append("Feature names seen at fit time, yet now missing:")
        lines += [f"- {c}" for c in missing]
    if not unseen and not missing:
        lines.append("Feature names must be in the same order as they were in fit.")
    return "\n".join(lines) + "\n"


def _width_text(owner: str, got: int, expected: int) -> str:
    expecting = f"is expecting {expected} features as input"
    return f"X has {got} features, but {owner} {expecting}"


def check_n_features(
    owner: str, got: int, expected: int, *, named: bool, detail: str = ""
) -> None:
    """Refuse input of another width than fitted, in scikit-learn's words.

    A ValueError for an array, as scikit-learn raises; a :class:`SchemaError`
    (also a ValueError) for named columns. ``detail`` is appended, such as
    the fitted column names.
    """
    if got != expected:
        error = SchemaError if named else ValueError
        raise error(f"{_width_text(owner, got, expected)}{detail}.")


def check_has_columns(
    subject: str,
    names: Sequence[str],
    available: Sequence[str],
    *,
    fix: str,
    where: str = "the input",
    at: str = "",
    error: type[Exception] = SchemaError,
) -> None:
    """Refuse ``names`` of which ``available`` lacks some: the one message for it.

    ``"<subject> names columns [...] that <where> lacks<at>. <Where>
    columns: [...]. <fix>"``: the missing names, where they were looked for,
    the columns that are there and what to do.

    Examples
    --------
    >>> check_has_columns("Step(columns=...)", ["a", "z"], ["a", "b"], fix="...")
    Traceback (most recent call last):
    ...
    fireworks_sk.exceptions.SchemaError: Step(columns=...) names columns ['z'] ...
    """
    present = set(available)
    missing = [name for name in names if name not in present]
    if missing:
        label = where.removeprefix("the ").capitalize()
        raise error(
            f"{subject} names columns {missing!r} that {where} lacks{at}. {label} "
            f"columns: {list(available)!r}. {fix}"
        )


def warn_if_named_differs(
    owner: str, named: bool, fitted_named: bool, *, stacklevel: int
) -> bool:
    """Warn, as scikit-learn does, when input with feature names reaches an
    object fitted without them or the reverse; whether it did."""
    if named == fitted_named:
        return False
    warnings.warn(
        f"X has feature names, but {owner} was fitted without feature names"
        if named
        else f"X does not have valid feature names, but {owner} was fitted "
        "with feature names",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return True


# A description's dtypes: only these names are read back, each to a dtype made
# here, so no text of a (possibly crafted) manifest reaches a dtype parser.
_NUMPY_DTYPES = (
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 "
    "float64 complex64 complex128 object"
).split()
_TIMES, _TIME_UNITS = ("datetime64", "timedelta64"), ("s", "ms", "us", "ns")
_TORCH_DTYPES = (
    "bool int8 int16 int32 int64 uint8 float16 bfloat16 float32 float64 "
    "complex64 complex128"
).split()
#: Most dimensions, and most values, of one row of a described tensor column.
MAX_ROW_DIMS, MAX_ROW_VALUES = 8, 2**31


@functools.cache
def _described_dtypes() -> dict[str, dict[str, Any]]:
    """The dtypes :meth:`Schema.describe` writes, by kind and name."""
    pandas = [np.dtype(name) for name in _NUMPY_DTYPES]
    pandas += [np.dtype(f"{t}[{u}]") for t in _TIMES for u in _TIME_UNITS]
    pandas += [
        pd.Int8Dtype(),
        pd.Int16Dtype(),
        pd.Int32Dtype(),
        pd.Int64Dtype(),
        pd.UInt8Dtype(),
        pd.UInt16Dtype(),
        pd.UInt32Dtype(),
        pd.UInt64Dtype(),
        pd.Float32Dtype(),
        pd.Float64Dtype(),
        pd.BooleanDtype(),
        pd.StringDtype(),
        pd.CategoricalDtype(),
    ]
    try:  # pandas' default "str" dtype (pandas 2.3 on; not in pandas 2.2)
        pandas.append(pd.StringDtype(na_value=np.nan))
    except TypeError:
        pass
    return {
        "pandas": {str(dtype): dtype for dtype in pandas},
        "tensor": {str(getattr(torch, n)): getattr(torch, n) for n in _TORCH_DTYPES},
    }


def _described_column(entry: Any) -> tuple[str, Column]:
    """One entry of a description as a name and a zero-row template."""
    fields = {"name", "kind", "dtype", "shape"}
    if not isinstance(entry, dict) or set(entry) != fields:
        raise SchemaError(
            f"A schema description holds records of exactly {sorted(fields)}; "
            f"got {_shown(entry)}."
        )
    name, kind, dtype, shape = (entry[f] for f in ("name", "kind", "dtype", "shape"))
    known = _described_dtypes().get(kind) if isinstance(kind, str) else None
    if not isinstance(name, str) or known is None:
        raise SchemaError(
            f"A schema description names each column (a str) and its kind "
            f"('tensor' or 'pandas'); got {_shown(entry)}."
        )
    if not isinstance(dtype, str) or dtype not in known:
        raise SchemaError(
            f"Column {name!r} of a schema description has dtype {_shown(dtype)}, "
            f"which is not a {kind} dtype fireworks_sk describes."
        )
    _check_described_shape(name, kind, shape)
    if kind == "tensor":
        return name, torch.empty((0, *shape), dtype=known[dtype])
    return name, pd.Series([], dtype=known[dtype])


def _check_described_shape(name: str, kind: str, shape: Any) -> None:
    ints = isinstance(shape, list) and all(
        isinstance(n, int) and not isinstance(n, bool) for n in shape
    )
    if kind == "pandas":
        ok, rule = ints and not shape, "no shape ([])"
    else:
        ok = ints and len(shape) <= MAX_ROW_DIMS and all(n >= 1 for n in shape)
        ok = ok and math.prod(shape) <= MAX_ROW_VALUES
        rule = (
            f"at most {MAX_ROW_DIMS} dimensions of at least 1, and at most "
            f"{MAX_ROW_VALUES} values"
        )
    if not ok:
        raise SchemaError(
            f"Column {name!r} of a schema description has rows of shape "
            f"{_shown(shape)}; a {kind} column's rows have {rule}."
        )


def _shown(value: Any) -> str:
    """``value`` for an error message, cut short: it may be crafted."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


class Schema(Mapping[str, Column]):
    """The columns a fitted object saw, as zero-row templates.

    A mapping of column name to an empty column of the same kind (tensor or
    pandas Series), dtype and row shape, on the CPU. Pipes keep theirs in
    ``_schema_in`` and Torch estimators in ``_schema_``; both check new input
    with :meth:`check`, so a fitted estimator refuses what a fitted Pipe
    refuses and warns where a Pipe warns. The templates also give the feature
    names of a fitted object without data (:meth:`empty`).

    Parameters
    ----------
    columns : mapping of str to tensor or Series
        Columns of any length; only empty copies of them are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> from fireworks_sk.message import Message
    >>> from fireworks_sk.schema import Schema
    >>> schema = Schema.record(Message(pd.DataFrame({"a": [1, 2], "b": ["u", "v"]})))
    >>> schema.columns
    ['a', 'b']
    >>> schema.check("MyStep", Message(pd.DataFrame({"b": ["w"], "a": [3]})))
    Traceback (most recent call last):
    ...
    fireworks_sk.exceptions.SchemaError: The feature names should match ...
    """

    def __init__(self, columns: Mapping[str, Column]) -> None:
        self._templates = {name: zero_rows(c) for name, c in columns.items()}

    @classmethod
    def record(cls, message: Message) -> Schema:
        """The schema of ``message``'s columns."""
        return cls({name: read_column(message, name) for name in message.columns})

    # ---------------------------------------------------------------- mapping
    def __getitem__(self, name: str) -> Column:
        return self._templates[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._templates)

    def __len__(self) -> int:
        return len(self._templates)

    def __eq__(self, other: object) -> bool:
        """Same names in the same order, each with the same :class:`ColumnLayout`."""
        if not isinstance(other, Schema):
            return NotImplemented
        return same_layout(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {c}" for n, c in self.layout().items())
        return f"Schema({{{inner}}})"

    # ---------------------------------------------------------------- reading
    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self._templates)

    @property
    def n_features(self) -> int:
        """Flat features, as ``Message.shape[1]`` counts them."""
        return sum(int(np.prod(self.row_shape(n))) for n in self._templates)

    @property
    def dtypes(self) -> dict[str, Any]:
        """The dtype of each column, as ``Message.dtypes`` gives them."""
        return {name: column.dtype for name, column in self._templates.items()}

    def is_tensor(self, name: str) -> bool:
        """Whether column ``name`` was a tensor (otherwise a pandas column)."""
        return isinstance(self._templates[name], torch.Tensor)

    def row_shape(self, name: str) -> tuple[int, ...]:
        """The shape of one row of column ``name``; ``()`` for a pandas column."""
        return tuple(self._templates[name].shape[1:])

    def empty(self) -> Message:
        """A Message of zero rows with these columns, kinds, dtypes, row shapes."""
        return from_columns(dict(self._templates), 0)

    def layout(self) -> dict[str, ColumnLayout]:
        """Each column's :class:`ColumnLayout`, as :func:`layout` gives a Message's."""
        return dict(zip(self._templates, self._layouts()))

    def _layouts(self) -> tuple[ColumnLayout, ...]:
        """The columns' layouts, read once: templates never change (not saved)."""
        layouts = self.__dict__.get("_layout_cache")
        if layouts is None:
            layouts = tuple(column_layout(c) for c in self._templates.values())
            self._layout_cache = layouts
        return layouts

    def _unchanged(self, message: Message) -> bool:
        """Whether every column of ``message`` (which has the fitted names) has
        exactly its fitted dtype, and each tensor column its row shape.

        Then no column can be refused or warned of (equal dtypes are of one
        kind, a torch dtype equals no pandas one, and equal categoricals are
        alike in being ordered), so the checks below skip their per-column
        rule: one comparison of two lists instead of a layout per column.
        Anything else is left to that rule, which decides alone.
        """
        expected = self.__dict__.get("_dtypes_cache")
        if expected is None:
            dtypes = [column.dtype for column in self._templates.values()]
            shapes = [
                (name, tuple(column.shape[1:]))
                for name, column in self._templates.items()
                if isinstance(column, torch.Tensor)
            ]
            expected = self._dtypes_cache = (dtypes, shapes)
        dtypes, shapes = expected
        if column_dtypes(message, self._templates) != dtypes:
            return False
        return all(
            tuple(stored_column(message, name).shape[1:]) == shape
            for name, shape in shapes
        )

    def describe(self) -> list[dict[str, Any]]:
        """The schema as plain data, for a saved file's manifest."""
        return [
            {
                "name": name,
                "kind": "tensor" if self.is_tensor(name) else "pandas",
                "dtype": str(column.dtype),
                "shape": list(column.shape[1:]),
            }
            for name, column in self._templates.items()
        ]

    @classmethod
    def from_description(cls, description: Any) -> Schema:
        """The Schema that :meth:`describe` gave ``description`` of.

        A saved file's manifest is read by servers and command-line tools
        that did not write it, so the description is checked strictly, as
        untrusted input: a list of records with exactly the fields
        :meth:`describe` writes; unique ``str`` names; ``kind`` ``"tensor"``
        or ``"pandas"``; a dtype from the fixed list of those it writes
        (looked up by name: no text reaches a dtype parser, so nothing is
        imported); a tensor's row shape of at most ``MAX_ROW_DIMS``
        dimensions of at least 1 and ``MAX_ROW_VALUES`` values, a pandas
        column's ``[]``. Templates have zero rows: nothing of a row's size
        is allocated. A categorical column comes back without categories.

        Raises
        ------
        SchemaError
            Naming the first entry or field that is not what :meth:`describe`
            writes.
        """
        if not isinstance(description, list):
            raise SchemaError(
                f"A schema description is a list of columns; got "
                f"{type(description).__name__}."
            )
        columns: dict[str, Column] = {}
        for entry in description:
            name, template = _described_column(entry)
            if name in columns:
                raise SchemaError(f"A schema description names column {name!r} twice.")
            columns[name] = template
        schema = cls.__new__(cls)
        schema._templates = columns  # already zero-row, CPU copies
        return schema

    # --------------------------------------------------------------- checking
    def compare_layout(self, message: Message) -> LayoutDifference | None:
        """The first difference of ``message``'s columns that counts, or None.

        Names must be the same, in the same order; each column must agree by
        :func:`layout_change`: same kind and row shape, a dtype of the same
        family (int64 and Int64, the string dtypes, float64 and Float64),
        categoricals alike in being ordered or not, whatever their categories.
        This is where :meth:`check` refuses or warns, without the warning.

        Returns
        -------
        LayoutDifference or None
            ``column`` is None when the names differ (``expected`` and
            ``found`` are then the lists of names), else the first column
            that changed with its fitted and new :class:`ColumnLayout`.
        """
        if message.columns != self.columns:
            return LayoutDifference(None, self.columns, message.columns)
        if self._unchanged(message):
            return None
        for name, template in self._templates.items():
            expected = column_layout(template)
            found = column_layout(stored_column(message, name))
            if layout_change(expected, found):
                return LayoutDifference(name, expected, found)
        return None

    def diff(self, owner: str, names: Sequence[str]) -> str:
        """How ``names`` differ from the fitted names, as scikit-learn says it."""
        return names_diff(owner, self.columns, list(names))

    def check(
        self, owner: str, message: Message, *, dtypes: bool = True, stacklevel: int = 5
    ) -> None:
        """Check ``message`` against the schema; ``owner`` names the checker.

        Raises
        ------
        SchemaError
            If the names differ (the message is a diff of them), or a column
            changed kind (tensor or pandas) or row shape.

        Warns
        -----
        UserWarning
            When ``dtypes`` and a column's dtype left its family (int64 and
            Int64 are one family, as are the string dtypes; two categoricals
            always agree).
        """
        if message.columns != self.columns:
            raise SchemaError(self.diff(owner, message.columns))
        if self._unchanged(message):
            return
        for name, template in self._templates.items():
            check_column_schema(
                owner,
                name,
                template,
                stored_column(message, name),
                dtypes,
                stacklevel=stacklevel,
            )

    # ------------------------------------------------------------ persisting
    def __getstate__(self) -> dict[str, Any]:
        # Plain data (numpy arrays, strings): skops reads it trusting only
        # this class, and equal schemas pickle to equal bytes.
        return {"columns": to_portable(self._templates)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        columns = from_portable(state["columns"])
        if not isinstance(columns, dict):
            raise TypeError(f"a Schema holds a dict of columns, not {columns!r}")
        for name, column in columns.items():
            if not isinstance(name, str) or not isinstance(
                column, (torch.Tensor, pd.Series)
            ):
                raise TypeError(
                    f"a Schema holds columns by name; got {name!r}: "
                    f"{type(column).__name__}"
                )
            if len(column):
                raise ValueError(
                    f"a Schema holds columns of 0 rows; column {name!r} has "
                    f"{len(column)}"
                )
        self._templates = columns
