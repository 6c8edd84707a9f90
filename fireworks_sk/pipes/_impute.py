"""Impute: fill missing values with statistics merged exactly over batches."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import torch

from fireworks_sk._numbers import (
    check_finite,
    column_numbers,
    float_dtype,
    is_numeric_column,
)
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import Column, Message, read_column
from fireworks_sk.pipes._base import StatefulPipe
from fireworks_sk.pipes._encode import sorted_counts
from fireworks_sk.pipes._state import learned, statistics_problem
from fireworks_sk.schema import check_column_schema

__all__ = ["Impute"]

_STRATEGIES = ("mean", "most_frequent", "constant")
# scikit-learn's SimpleImputer fills non-numeric columns with this by default.
_DEFAULT_TEXT_FILL = "missing_value"


def _is_number(column: Column) -> bool:
    """Numbers that a mean makes sense of: real tensors (floating ones hold
    the missing values) and numeric, non-boolean Series."""
    if isinstance(column, torch.Tensor):
        return not column.is_complex()
    return is_numeric_column(column, booleans=False, complex_numbers=False)


def _numbers(name: str, column: Column, dtype: Any, *, verb: str, why: str) -> Any:
    """``column`` through the one converter, missing values as NaN; a column
    that is not numbers is refused with Impute's own advice."""
    if not is_numeric_column(column):
        raise TypeError(
            f"Impute cannot {verb} column {name!r} of dtype {column.dtype}: {why}"
        )
    return column_numbers(name, column, dtype, allow_nan=True, owner="Impute")


def _float64(name: str, column: Column) -> torch.Tensor:
    """The column as a float64 tensor of shape (n, ...) on the CPU, missing
    values as NaN."""
    why = "it is not numeric. Use strategy='most_frequent' or 'constant' for it."
    values = _numbers(name, column, torch.float64, verb="average", why=why)
    return values.detach().cpu()


def _refuse_infinity(name: str, values: torch.Tensor, missing: torch.Tensor) -> None:
    """Missing values are Impute's business; infinity is not (the NaN rule)."""
    check_finite(name, torch.where(missing, 0.0, values))


def _mean_state(name: str, column: Column) -> tuple[torch.Tensor, torch.Tensor]:
    """Count of observed values and their sum, per element of a row."""
    values = _float64(name, column)
    missing = torch.isnan(values)
    _refuse_infinity(name, values, missing)
    return (~missing).sum(0), torch.where(missing, 0.0, values).sum(0)


def _value_counts(column: Column) -> list[pd.Series]:
    """Counts of the observed values, one Series per element of a row."""
    if isinstance(column, pd.Series):
        counts = column.value_counts(sort=False, dropna=True)
        # A Categorical reports its declared categories too; keep those seen.
        return [counts[counts > 0]]
    flat = column.detach().cpu().reshape(column.shape[0], -1)
    if flat.is_floating_point():
        flat = flat.to(torch.float64)  # numpy has no bfloat16
    flat = flat.numpy()
    return [
        pd.Series(flat[:, j]).value_counts(sort=False, dropna=True)
        for j in range(flat.shape[1])
    ]


def _merge_counts(name: str, a: list[pd.Series], b: list[pd.Series]) -> list:
    try:
        return [x.add(y, fill_value=0).astype(np.int64) for x, y in zip(a, b)]
    except TypeError as exc:
        raise TypeError(
            f"Column {name!r} holds values of a different type than in earlier batches."
        ) from exc


def _most_frequent(name: str, counts: pd.Series) -> Any:
    """The most frequent value; the smallest among ties, as SimpleImputer picks."""
    if counts.empty:
        return None
    counts = sorted_counts(name, counts)
    value = counts.index[int(np.argmax(counts.to_numpy()))]
    return value.item() if isinstance(value, np.generic) else value


class Impute(StatefulPipe):
    """Fill missing values (NaN, None, ``pd.NA``) column by column.

    The statistics are merged exactly across ``partial_fit`` calls and across
    the partitions of a Dask DataFrame, so fitting on a stream or a cluster
    gives the fit on all rows at once. Results equal scikit-learn's
    ``SimpleImputer`` on the same data. Tensor columns are filled element by
    element, each element of a row with its own statistic.

    Unlike the other Pipes, Impute accepts NaN; infinity is still refused,
    naming the column.

    Parameters
    ----------
    columns : str, list of str, callable or None, default=None
        Columns to fill. None means every numeric column and floating tensor
        column for ``strategy="mean"``, and every pandas column and floating
        tensor column otherwise. A callable (such as scikit-learn's
        ``make_column_selector``) is resolved once at fit.
    strategy : {"mean", "most_frequent", "constant"}, default="mean"
        Fill with the mean of the observed values (numeric columns), the most
        frequent one (any column; the smallest among ties), or ``fill_value``.
    fill_value : object or None, default=None
        The value of ``strategy="constant"``; None means 0 for numeric
        columns and ``"missing_value"`` for the others, as in SimpleImputer.
    add_indicator : bool, default=False
        Append one column ``<name>_missing`` per filled column: 1.0 where the
        value was missing, else 0.0, as in SimpleImputer's output (a float
        tensor of the same shape for a tensor column).

    Attributes
    ----------
    statistics_ : dict of str to object
        The fill value of each column: a scalar for a pandas column, a float64
        tensor of a row's shape for a tensor column. None (or NaN elements)
        where fit saw no value to compute it from.
    n_samples_seen_ : int
    columns_ : list of str
        The columns filled.

    Notes
    -----
    Numeric pandas columns come out as float64 (float32 stays float32), as
    SimpleImputer's output does; other columns keep their dtype, and a
    Categorical gains the fill value as a category.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from fireworks_sk import Impute
    >>> df = pd.DataFrame({"x": [1.0, np.nan, 3.0], "s": ["a", None, "a"]})
    >>> out = Impute(strategy="most_frequent").fit_transform(df)
    >>> out["x"].tolist(), out["s"].tolist()
    ([1.0, 1.0, 3.0], ['a', 'a', 'a'])
    """

    def __init__(
        self,
        columns: str | list[str] | Any | None = None,
        *,
        strategy: str = "mean",
        fill_value: Any = None,
        add_indicator: bool = False,
    ) -> None:
        self.columns = columns
        self.strategy = strategy
        self.fill_value = fill_value
        self.add_indicator = add_indicator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    def partial_fit(self, X: Any, y: Any = None) -> Impute:
        """Merge the statistics of one batch into the fitted ones.

        Parameters
        ----------
        X : Message, DataFrame, dict, array-like of shape (n_samples, n_features), \
or Dask DataFrame
        y : ignored

        Returns
        -------
        self
        """
        if self.strategy not in _STRATEGIES:
            raise ValueError(
                f"Impute(strategy={self.strategy!r}) is not one of "
                f"{list(_STRATEGIES)!r}."
            )
        value = self.fill_value
        if value is not None and (not pd.api.types.is_scalar(value) or pd.isna(value)):
            raise ValueError(
                f"Impute(fill_value={value!r}) must be one value that is not itself "
                "missing, such as 0 or 'unknown'; or None for the defaults."
            )
        return super().partial_fit(X, y)

    def _align(
        self, message: Message, named: bool, check_dtypes: bool = True
    ) -> Message:
        message = super()._align(message, named, check_dtypes=False)
        if not check_dtypes:
            return message
        owner = type(self).__name__
        for name, fitted in self._schema_in.items():
            # An int column that was complete at fit arrives as float64 once a
            # value is missing (pandas's NaN): expected here, so no warning.
            filled = name in self.columns_ and _is_number(fitted)
            if not (filled and _is_number(read_column(message, name))):
                check_column_schema(
                    owner, name, fitted, read_column(message, name), True
                )
        return message

    # ------------------------------------------------------------ fitting
    def _select_columns(self, message: Message) -> list[str]:
        if self.strategy == "mean":
            default = [
                c for c in message.columns if _fills_by_mean(read_column(message, c))
            ]
        else:
            default = [
                c for c in message.columns if _can_be_missing(read_column(message, c))
            ]
        names = self._resolve_columns(message, default)
        for name in names:
            self._check_column(name, read_column(message, name))
        if self.add_indicator:
            clash = [f"{n}_missing" for n in names if f"{n}_missing" in message]
            if clash:
                raise SchemaError(
                    f"Impute(add_indicator=True) would overwrite the columns "
                    f"{clash!r} of the input; rename them first."
                )
        return names

    def _check_column(self, name: str, column: Column) -> None:
        if self.strategy == "mean" and not _is_number(column):
            raise TypeError(
                f"Impute cannot average column {name!r} of dtype {column.dtype}: it "
                "is not numeric. Use strategy='most_frequent' or 'constant' for it."
            )
        if self.strategy == "constant" and _is_number(column):
            value = self._fill_value(column)
            if not isinstance(value, Real) or isinstance(value, bool):
                raise ValueError(
                    f"Impute(fill_value={value!r}) cannot fill the numeric column "
                    f"{name!r}; give a number, or leave that column out."
                )

    def _fill_value(self, column: Column) -> Any:
        if self.fill_value is not None:
            return self.fill_value
        return 0 if _is_number(column) else _DEFAULT_TEXT_FILL

    def _chunk_state(self, message: Message) -> tuple[int, dict[str, Any]]:
        if self.strategy == "mean":
            states = {n: _mean_state(n, read_column(message, n)) for n in self.columns_}
        elif self.strategy == "most_frequent":
            states = {
                n: self._counts_state(n, read_column(message, n)) for n in self.columns_
            }
        else:
            for name in self.columns_:
                if _is_number(read_column(message, name)):
                    # Infinity is refused at fit too, not first at transform.
                    values = _float64(name, read_column(message, name))
                    _refuse_infinity(name, values, torch.isnan(values))
            states = {name: None for name in self.columns_}
        return len(message), states

    @staticmethod
    def _counts_state(name: str, column: Column) -> list[pd.Series]:
        if _is_number(column):
            values = _float64(name, column)
            _refuse_infinity(name, values, torch.isnan(values))
        return _value_counts(column)

    def _merge_states(self, a: Any, b: Any) -> tuple[int, dict[str, Any]]:
        merged: dict[str, Any] = {}
        for name, state in a[1].items():
            other = b[1][name]
            if self.strategy == "mean":
                merged[name] = (state[0] + other[0], state[1] + other[1])
            elif self.strategy == "most_frequent":
                merged[name] = _merge_counts(name, state, other)
            else:
                merged[name] = None
        return a[0] + b[0], merged

    def _set_state(self, state: tuple[int, dict[str, Any]]) -> None:
        self.n_samples_seen_, self._states = state
        self.statistics_ = {
            name: self._statistic(name, column_state)
            for name, column_state in self._states.items()
        }

    def _get_state(self) -> tuple[int, dict[str, Any]]:
        return self.n_samples_seen_, self._states

    def _fitted_state_problem(self) -> str | None:
        if not learned(self, "statistics_"):
            return None
        for name in self.columns_:
            statistic = self.statistics_[name]
            if isinstance(statistic, torch.Tensor):
                problem = statistics_problem(name, self._schema_in[name], [statistic])
                if problem:
                    return problem
        return None

    def _statistic(self, name: str, state: Any) -> Any:
        template = self._schema_in[name]
        tensor = isinstance(template, torch.Tensor)
        if self.strategy == "mean":
            count, total = state
            mean = total / count  # NaN where no value was seen
            return mean if tensor else (None if count == 0 else float(mean))
        if self.strategy == "most_frequent":
            values = [_most_frequent(name, counts) for counts in state]
            if not tensor:
                return values[0]
            flat = [np.nan if v is None else float(v) for v in values]
            return torch.tensor(flat, dtype=torch.float64).reshape(template.shape[1:])
        value = self._fill_value(template)
        if tensor:
            return torch.full(template.shape[1:], float(value), dtype=torch.float64)
        return value

    # ---------------------------------------------------------- transform
    def _transform(self, message: Message) -> Message:
        filled = {
            name: self._fill(name, read_column(message, name)) for name in self.columns_
        }
        out = message.assign(**filled)
        if not self.add_indicator:
            return out
        indicators = {
            f"{name}_missing": _missing(read_column(message, name))
            for name in self.columns_
        }
        return out.assign(**indicators)

    def _fill(self, name: str, column: Column) -> Column:
        statistic = self.statistics_[name]
        if isinstance(column, torch.Tensor):
            return self._fill_tensor(name, column, statistic)
        missing = column.isna().to_numpy()
        if _is_number(self._schema_in[name]):
            return self._fill_numbers(name, column, missing, statistic)
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Always, so that every batch comes out with the same categories.
            if statistic is not None and statistic not in column.cat.categories:
                column = column.cat.add_categories([statistic])
        if not missing.any():
            return column
        self._check_statistic(name, statistic is None, missing)
        try:
            return column.fillna(statistic)
        except (TypeError, ValueError):
            # A value the dtype cannot hold (a number in a str column).
            return column.astype(object).fillna(statistic)

    def _fill_numbers(
        self, name: str, column: pd.Series, missing: np.ndarray, statistic: Any
    ) -> pd.Series:
        why = "it was numeric when fitted and is not numeric now."
        values = _numbers(name, column, float_dtype(column), verb="fill", why=why)
        if missing.any():
            self._check_statistic(name, statistic is None, missing)
            values = np.where(
                missing, np.asarray(statistic, dtype=values.dtype), values
            )
        check_finite(name, values)
        return pd.Series(values, name=name, copy=False)

    def _fill_tensor(
        self, name: str, column: torch.Tensor, statistic: torch.Tensor
    ) -> torch.Tensor:
        if not column.is_floating_point():
            return column  # holds no missing value
        missing = torch.isnan(column)
        if bool(missing.any()):
            unknown = torch.isnan(statistic).to(column.device) & missing
            self._check_statistic(name, bool(unknown.any()), missing)
            statistic = statistic.to(device=column.device, dtype=column.dtype)
            column = torch.where(missing, statistic, column)
        check_finite(name, column)
        return column

    def _check_statistic(self, name: str, absent: bool, missing: Any) -> None:
        if absent:
            raise ValueError(
                f"Impute(strategy={self.strategy!r}) saw no value in column {name!r} "
                "during fit, so it has nothing to fill its missing values with; fit "
                "on data with values there, or use strategy='constant'."
            )


def _can_be_missing(column: Column) -> bool:
    if isinstance(column, torch.Tensor):
        return column.is_floating_point()
    return True


def _fills_by_mean(column: Column) -> bool:
    return _can_be_missing(column) and _is_number(column)


def _missing(column: Column) -> Column:
    """1.0 where ``column`` holds a missing value, else 0.0.

    Floats, as in SimpleImputer's output: a tensor of the column's float
    dtype (float32 for an integer tensor), or a float64 Series.
    """
    if isinstance(column, torch.Tensor):
        dtype = column.dtype if column.is_floating_point() else torch.float32
        return torch.isnan(column).to(dtype)
    missing = column.isna().to_numpy().astype(np.float64)
    return pd.Series(missing, name=column.name, copy=False)
