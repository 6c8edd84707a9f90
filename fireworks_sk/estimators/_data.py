"""Turning estimator input into the tensors a module's forward takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_array

from fireworks_sk._frames import is_native_frame
from fireworks_sk.message import Column, Message
from fireworks_sk.pipes._base import check_finite
from fireworks_sk.pipes._columns import _is_number_column

__all__ = [
    "ARRAY_COLUMN",
    "TARGET_COLUMN",
    "MessageDataset",
    "array_message",
    "column_tensor",
    "is_named",
    "resolve_dataset",
    "stack_columns",
]

# Arrays and 2-D tensors are fed whole, as one tensor column of this name.
ARRAY_COLUMN = "X"
# The target travels through MessageLoader as one more column of the batch.
TARGET_COLUMN = "__target__"


def is_named(X: Any) -> bool:
    """Whether ``X`` carries column names (a Message, dict or string-named frame)."""
    if isinstance(X, (Message, Mapping)):
        return True
    if is_native_frame(X):
        return True
    return isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)


def array_message(X: Any, *, min_rows: int) -> Message:
    """An unnamed 2-D input as a Message of one float32 tensor column ``"X"``.

    Raises the errors scikit-learn users expect (sparse, 1-D, empty, complex or
    non-numeric input) through :func:`sklearn.utils.check_array`.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    array = check_array(
        X,
        dtype=(np.float32, np.float64),
        ensure_all_finite=False,
        ensure_min_samples=min_rows,
    )
    tensor = torch.tensor(array, dtype=torch.float32)
    check_finite(ARRAY_COLUMN, tensor)
    return Message._from_columns({ARRAY_COLUMN: tensor}, array.shape[0])


def column_tensor(name: str, column: Column) -> torch.Tensor:
    """One input column as a tensor: numeric pandas columns become float32.

    Raises
    ------
    TypeError
        If a pandas column is not numeric (encode it with OneHot or
        IndexEncoder first).
    ValueError
        If a floating column holds NaN or infinity.
    """
    if isinstance(column, torch.Tensor):
        check_finite(name, column)
        return column
    if not _is_number_column(column):
        raise TypeError(
            f"Column {name!r} has dtype {column.dtype} and cannot be fed to the "
            "module; encode it first (OneHot or IndexEncoder) or leave it out of "
            "'inputs'."
        )
    values = column.to_numpy(dtype=np.float32, na_value=np.nan)
    check_finite(name, values)
    return torch.tensor(values)


def stack_columns(message: Message, names: list[str]) -> torch.Tensor:
    """Columns ``names`` flattened and stacked into one float32 ``(n, p)`` tensor."""
    n = len(message)
    parts = [column_tensor(name, message[name]).reshape(n, -1) for name in names]
    if len(parts) == 1:
        return parts[0].to(torch.float32)
    return torch.cat([p.to(torch.float32) for p in parts], dim=1)


class MessageDataset(torch.utils.data.Dataset):
    """The tensors fed to a module, with the encoded target, as one dataset.

    This is what the Torch estimators' ``get_dataset`` returns and what skorch's
    ``train_split`` cuts with :class:`torch.utils.data.Subset`; the estimators'
    ``get_iterator`` turns it (or a Subset of it) back into one Message for
    :class:`~fireworks_sk.MessageLoader`.

    Parameters
    ----------
    message : Message
        Tensor columns, one per argument of ``module.forward``.
    y : torch.Tensor or None, default=None
        Encoded target: class indices or float targets.
    positional : bool, default=True
        Feed the single column positionally; otherwise by keyword.
    """

    def __init__(
        self,
        message: Message,
        y: torch.Tensor | None = None,
        *,
        positional: bool = True,
    ) -> None:
        if y is not None and len(y) != len(message):
            raise ValueError(
                f"X has {len(message)} rows but y has {len(y)}; they must match."
            )
        self.message = message
        self.y = y
        self.positional = positional

    def __len__(self) -> int:
        return len(self.message)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        row = self.message[index]
        y = None if self.y is None else self.y[index]
        return self.inputs(row), y

    def inputs(self, message: Message | None = None) -> torch.Tensor | dict:
        """The forward arguments of ``message`` (default: all rows)."""
        columns = (self.message if message is None else message)._columns
        if self.positional:
            return next(iter(columns.values()))
        return dict(columns)

    def subset(self, indices: Any) -> MessageDataset:
        """The rows at ``indices``, gathered once."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        y = None if self.y is None else self.y.index_select(0, index.to(self.y.device))
        return MessageDataset(self.message[index], y, positional=self.positional)

    def loader_message(self) -> Message:
        """Inputs and target as one Message, for MessageLoader."""
        if self.y is None:
            return self.message
        columns = {**self.message._columns, TARGET_COLUMN: self.y}
        return Message._from_columns(columns, len(self.message))


def resolve_dataset(dataset: Any) -> MessageDataset:
    """A MessageDataset from itself or from (nested) Subsets of one."""
    if isinstance(dataset, MessageDataset):
        return dataset
    if isinstance(dataset, torch.utils.data.Subset):
        return resolve_dataset(dataset.dataset).subset(dataset.indices)
    raise TypeError(
        f"Expected a MessageDataset or a Subset of one; got {type(dataset).__name__}. "
        "Pass X as a Message, DataFrame, dict or array."
    )
