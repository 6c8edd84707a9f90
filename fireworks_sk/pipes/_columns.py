"""Column pipes: conversion to tensors, stacking, selection and functions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
import torch

from fireworks_sk._numbers import column_numbers, is_numeric_column, numpy_dtype
from fireworks_sk._validation import as_message
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import (
    Message,
    column_matrix,
    flat_feature_names,
    from_columns,
    read_column,
    stored_column,
    stored_columns,
)
from fireworks_sk.pipes._base import Pipe
from fireworks_sk.schema import Schema

__all__ = ["DropColumns", "FunctionPipe", "SelectColumns", "Stack", "ToTensor"]


def resolve_dtype(owner: str, dtype: Any) -> torch.dtype:
    """``dtype`` as a ``torch.dtype``: a torch dtype, its name, or a numpy dtype.

    Only names of real torch dtypes resolve: ``"float32"``, ``"torch.int64"``;
    ``"Tensor"`` or ``"nn"`` do not.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    name = dtype.removeprefix("torch.") if isinstance(dtype, str) else None
    if isinstance(dtype, np.dtype) or (
        isinstance(dtype, type) and issubclass(dtype, np.generic)
    ):
        name = np.dtype(dtype).name
    resolved = getattr(torch, name, None) if name else None
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            f"{owner}(dtype={dtype!r}) is not a torch dtype or the name of one: "
            "use e.g. 'float32', 'float64', 'int64' or torch.float32."
        )
    return resolved


def _groups(names: list[str], columns: list[Any]) -> list[tuple[list[str], int]]:
    """Each tensor column alone, runs of consecutive pandas columns together,
    with their widths; ``columns`` are the columns ``names`` as the Message
    stores them. A pandas column is one value wide."""
    groups: list[tuple[list[str], int]] = []
    start = 0
    tensors = [
        i for i, column in enumerate(columns) if isinstance(column, torch.Tensor)
    ]
    for i in [*tensors, len(names)]:
        if i > start:  # the pandas columns before this tensor
            groups.append((names[start:i], i - start))
        if i < len(names):
            groups.append(([names[i]], math.prod(columns[i].shape[1:])))
        start = i + 1
    return groups


def _tensor_numbers(name: str, column: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """``column_numbers`` of a tensor column as ``dtype``, NaN kept: a tensor
    already of that dtype is read as it is, as there is no cast to check."""
    own = numpy_dtype(column.dtype)
    if own is not None and own == dtype:  # numpy finds None equal to float64
        return column.detach().cpu().numpy()
    return column_numbers(name, column, dtype, allow_nan=True, owner="Stack")


class ToTensor(Pipe):
    """Convert numeric pandas columns to tensor columns.

    Parameters
    ----------
    columns : str, list of str or None, default=None
        Columns to convert; None means every numeric or boolean pandas column.
        Tensor columns named here are cast to ``dtype``.
    dtype : str or torch.dtype, default="float32"
        Dtype of the resulting tensors: a torch dtype or its name. Finite
        values out of its range are refused, naming the column.

    Attributes
    ----------
    columns_ : list of str
        The columns converted.
    dtype_ : torch.dtype
        ``dtype`` resolved.

    Examples
    --------
    >>> import pandas as pd
    >>> from fireworks_sk import ToTensor
    >>> ToTensor().fit_transform(pd.DataFrame({"a": [1, 2]}))["a"]
    tensor([1., 2.])
    """

    def __init__(
        self,
        columns: str | list[str] | None = None,
        dtype: str | torch.dtype = "float32",
    ) -> None:
        self.columns = columns
        self.dtype = dtype

    def _fit(self, message: Message) -> None:
        self.dtype_ = resolve_dtype(type(self).__name__, self.dtype)
        default = [
            c
            for c in message.columns
            if not message.is_tensor(c) and is_numeric_column(stored_column(message, c))
        ]
        self.columns_ = self._resolve_columns(message, default)
        self._transform(message)

    def _transform(self, message: Message) -> Message:
        converted = {
            c: column_numbers(c, read_column(message, c), self.dtype_, owner="ToTensor")
            for c in self.columns_
        }
        return message.assign(**converted)


class Stack(Pipe):
    """Concatenate several columns into one 2-D tensor column that replaces them.

    Tensor columns with trailing dimensions are flattened. The new column takes
    the place of the first stacked column.

    Parameters
    ----------
    columns : str, list of str or None, default=None
        Columns to stack, in order; None means every numeric pandas column and
        every tensor column.
    into : str, default="features"
        Name of the stacked column.
    dtype : str or torch.dtype, default="float32"
        Dtype of the stacked tensor: a torch dtype or its name. Finite values
        out of its range are refused, naming the column.

    Attributes
    ----------
    columns_ : list of str
        The columns stacked.
    dtype_ : torch.dtype
        ``dtype`` resolved.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import Message, Stack
    >>> m = Message({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0, 4.0])})
    >>> Stack().fit_transform(m)["features"]
    tensor([[1., 3.],
            [2., 4.]])
    """

    def __init__(
        self,
        columns: str | list[str] | None = None,
        into: str = "features",
        dtype: str | torch.dtype = "float32",
    ) -> None:
        self.columns = columns
        self.into = into
        self.dtype = dtype

    def _fit(self, message: Message) -> None:
        self.dtype_ = resolve_dtype(type(self).__name__, self.dtype)
        default = [
            c for c in message.columns if is_numeric_column(stored_column(message, c))
        ]
        self.columns_ = self._resolve_columns(message, default)
        if not self.columns_:
            # A (n, 0) feature column would reach the model silently.
            raise SchemaError(
                f"Stack found no numeric or tensor columns to stack among "
                f"{message.columns!r}. Encode categorical columns first (OneHot, "
                "IndexEncoder) or name the columns."
            )
        clash = self.into in message and self.into not in self.columns_
        if clash:
            raise SchemaError(
                f"Stack(into={self.into!r}) would overwrite the column {self.into!r}, "
                "which is not stacked; choose another name."
            )
        self._transform(message)

    def _transform(self, message: Message) -> Message:
        n = len(message)
        stacked = self._stack(message, n)
        first = self.columns_[0] if self.columns_ else None
        stacked_names = set(self.columns_)
        out: dict[str, Any] = {}
        for name in message.columns:
            if name == first:
                out[self.into] = stacked
            elif name not in stacked_names:
                out[name] = stored_column(message, name)
        if first is None:
            out[self.into] = stacked
        return from_columns(out, n)

    def _stack(self, message: Message, n: int) -> torch.Tensor:
        """Copy every column once into one (n, width) array, then check it once.

        Consecutive pandas columns are read together, so the numeric columns
        of a DataFrame cost one numpy copy, not one per column.
        """
        dtype = self.dtype_
        names = list(self.columns_)
        if not dtype.is_floating_point:
            # Integers: each column converted and range-checked on its own.
            parts = [
                column_numbers(c, read_column(message, c), dtype, owner="Stack")
                for c in names
            ]
            return torch.cat(
                [part.reshape(n, math.prod(part.shape[1:])) for part in parts], dim=1
            )
        groups = _groups(names, stored_columns(message, names))
        width = sum(width for _, width in groups)
        buffer = np.empty((n, width), dtype=numpy_dtype(dtype) or np.float64)
        start = 0
        with np.errstate(over="ignore"):  # overflow is found and named below
            for group, width in groups:
                if isinstance(stored_column(message, group[0]), torch.Tensor):
                    block = _tensor_numbers(
                        group[0], read_column(message, group[0]), buffer.dtype
                    ).reshape(n, width)
                else:
                    block = column_matrix(message, group, buffer.dtype, owner="Stack")
                buffer[:, start : start + width] = block
                start += width
        stacked = torch.from_numpy(buffer).to(dtype)  # no copy unless bfloat16
        finite = bool(np.isfinite(buffer).all())
        if finite and numpy_dtype(dtype) is None:  # bfloat16 may overflow here
            finite = bool(torch.isfinite(stacked).all())
        if not finite:
            for name in self.columns_:  # raises for the first column at fault
                column_numbers(name, read_column(message, name), dtype, owner="Stack")
        return stacked

    def _column_feature_names(self, name: str, column: Any) -> list[str]:
        if name != self.into:
            return super()._column_feature_names(name, column)
        return [
            feature
            for source in self.columns_
            for feature in flat_feature_names(
                source, tuple(self._schema_in[source].shape[1:])
            )
        ]


class SelectColumns(Pipe):
    """Keep only ``columns``, in the order given.

    Parameters
    ----------
    columns : str, list of str or None, default=None
        Columns to keep; None keeps every column.

    Attributes
    ----------
    columns_ : list of str
    """

    def __init__(self, columns: str | list[str] | None = None) -> None:
        self.columns = columns

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Values are passed through untouched, so NaN is none of its business.
        tags.input_tags.allow_nan = True
        return tags

    def _fit(self, message: Message) -> None:
        self.columns_ = self._resolve_columns(message, message.columns)

    def _transform(self, message: Message) -> Message:
        # The input was checked against the schema: every column is there.
        # Built directly, as m[[]] would select no rows rather than no columns.
        selected = {name: stored_column(message, name) for name in self.columns_}
        return from_columns(selected, len(message))


class DropColumns(Pipe):
    """Drop ``columns``.

    Parameters
    ----------
    columns : str, list of str or None, default=None
        Columns to drop; None drops nothing.

    Attributes
    ----------
    columns_ : list of str
    """

    def __init__(self, columns: str | list[str] | None = None) -> None:
        self.columns = columns

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Values are passed through untouched, so NaN is none of its business.
        tags.input_tags.allow_nan = True
        return tags

    def _fit(self, message: Message) -> None:
        self.columns_ = self._resolve_columns(message, [])

    def _transform(self, message: Message) -> Message:
        return message.drop(columns=self.columns_)


class FunctionPipe(Pipe):
    """Apply a function of a Message that keeps the rows.

    Parameters
    ----------
    func : callable or None, default=None
        ``func(message) -> Message | DataFrame | dict`` with the same number of
        rows; None is the identity.
    inverse_func : callable or None, default=None
        Used by ``inverse_transform``; None is the identity.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import FunctionPipe, Message
    >>> double = FunctionPipe(lambda m: m.assign(x=m["x"] * 2))
    >>> double.fit_transform(Message({"x": torch.tensor([1.0])}))["x"]
    tensor([2.])
    """

    def __init__(
        self,
        func: Callable[[Message], Any] | None = None,
        inverse_func: Callable[[Message], Any] | None = None,
    ) -> None:
        self.func = func
        self.inverse_func = inverse_func

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The function decides what values mean; missing values included.
        tags.input_tags.allow_nan = True
        return tags

    def _fit(self, message: Message) -> None:
        out = self._transform(message)
        # The function may not accept zero rows (a max, a division by a count):
        # the output's layout for get_feature_names_out is kept from fit.
        self._schema_out = Schema.record(out)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if isinstance(vars(self).get("_schema_out"), dict):
            # Saved before the Schema: a dict of the same zero-row columns.
            self._schema_out = Schema(self._schema_out)

    def _empty_output(self) -> Message:
        return self._schema_out.empty()

    def _transform(self, message: Message) -> Message:
        return self._call(self.func, message, "func")

    def inverse_transform(self, X: Any) -> Message:
        """Apply ``inverse_func``.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like

        Returns
        -------
        Message
        """
        self._check_fitted()
        return self._call(self.inverse_func, as_message(X)[0], "inverse_func")

    def _call(self, func: Callable | None, message: Message, role: str) -> Message:
        if func is None:
            return message
        result = func(message)
        tables = (Message, pd.DataFrame, Mapping)
        if not isinstance(result, tables) and not scipy.sparse.issparse(result):
            if np.ndim(result) != 2:
                raise TypeError(
                    f"FunctionPipe's {role} {getattr(func, '__name__', func)!r} "
                    f"returned {type(result).__name__}; it must return a Message, "
                    "DataFrame, dict or 2-D array."
                )
        result = as_message(result)[0]
        if len(result) != len(message):
            raise ValueError(
                f"FunctionPipe's {role} {getattr(func, '__name__', func)!r} returned "
                f"{len(result)} rows for {len(message)}; a Pipe keeps the rows."
            )
        return result
