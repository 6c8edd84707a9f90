"""Turning estimator input into the tensors a module's forward takes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_array
from skorch.dataset import Dataset

from fireworks_sk._frames import is_native_frame
from fireworks_sk._numbers import column_numbers
from fireworks_sk.message import (
    Column,
    Message,
    from_columns,
    read_column,
    read_columns,
)

__all__ = [
    "ARRAY_COLUMN",
    "TARGET_COLUMN",
    "MessageDataset",
    "array_message",
    "column_tensor",
    "is_message_dataset",
    "is_named",
    "is_ragged",
    "placeholder_target",
    "resolve_dataset",
    "stack_columns",
]

# Arrays and 2-D tensors are fed whole, as one tensor column of this name.
ARRAY_COLUMN = "X"
# The target travels through MessageLoader as one more column of the batch.
TARGET_COLUMN = "__target__"
# Who needs numbers, in the errors of column_tensor and stack_columns.
_OWNER = "a Torch estimator's input"


def placeholder_target(n: int, device: Any = None) -> torch.Tensor:
    """The target fed for rows without one: float32 zeros of shape ``(n, 1)``.

    skorch's Dataset gives ``torch.Tensor([0])`` per row when its ``y`` is
    None, which a DataLoader collates to this, so a loss or callback written
    for skorch gets a tensor rather than None (as for a validation dataset
    built with ``type(dataset)(dataset.X, y=None)``).
    """
    return torch.zeros((n, 1), dtype=torch.float32, device=device)


def is_ragged(y: Any) -> bool:
    """Whether ``y`` is a 1-D object array of sequences: one target sequence per
    row, of lengths that may differ, which skorch's Dataset hands out row by
    row (and so cannot be one tensor)."""
    if not isinstance(y, np.ndarray) or y.dtype != object or y.ndim != 1:
        return False
    return len(y) > 0 and all(np.ndim(row) >= 1 for row in y)


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
    non-numeric input) through :func:`sklearn.utils.check_array`, which reads
    an object array of numbers as numbers, as scikit-learn's estimators do;
    NaN, infinity and values out of float32's range are refused by
    :func:`~fireworks_sk._numbers.column_numbers`, as for a named column.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    array = check_array(
        X,
        dtype=(np.float32, np.float64),
        ensure_all_finite=False,
        ensure_min_samples=min_rows,
    )
    tensor = column_numbers(ARRAY_COLUMN, array, torch.float32, owner=_OWNER)
    return from_columns({ARRAY_COLUMN: tensor}, array.shape[0])


def column_tensor(name: str, column: Column) -> torch.Tensor:
    """One input column as a tensor: tensors as they are, pandas columns as float32.

    Raises
    ------
    TypeError
        If a pandas column is not numeric (encode it with OneHot or
        IndexEncoder first).
    ValueError
        If the column holds complex numbers, NaN or infinity, or values out of
        the range of float32.
    """
    dtype = None if isinstance(column, torch.Tensor) else torch.float32
    return column_numbers(name, column, dtype, owner=_OWNER)


def stack_columns(message: Message, names: list[str]) -> torch.Tensor:
    """Columns ``names`` flattened and stacked into one float32 ``(n, p)`` tensor."""
    n = len(message)
    parts = [
        column_numbers(
            name, read_column(message, name), torch.float32, owner=_OWNER
        ).reshape(n, -1)
        for name in names
    ]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class MessageDataset(Dataset):
    """The tensors fed to a module, with the encoded target, as one dataset.

    This is what the Torch estimators' ``get_dataset`` returns and what skorch's
    ``train_split`` cuts with :class:`torch.utils.data.Subset`; the estimators'
    ``get_iterator`` turns it (or a Subset of it) back into one Message for
    :class:`~fireworks_sk.MessageLoader`. It is a :class:`skorch.dataset.Dataset`
    whose ``X`` and ``y`` are the module's inputs (as numpy arrays, which
    skorch's scorers and splits expect) and the encoded target, so a
    ``train_split`` or callback written for skorch can read ``dataset.X`` and
    ``dataset.y`` and build new datasets with ``type(dataset)(X, y)``.

    Parameters
    ----------
    X : Message, torch.Tensor, dict of str to torch.Tensor, or array-like
        The module's inputs: a tensor (or array) is fed positionally, a dict by
        keyword; a Message of one column positionally, of several by keyword.
    y : torch.Tensor, array-like or None, default=None
        Encoded target: class indices or float targets.
    positional : bool or None, default=None
        Feed a Message's single column positionally (True) or by keyword
        (False); None decides from X as above.

    Examples
    --------
    >>> import torch
    >>> ds = MessageDataset(torch.zeros(4, 3), torch.arange(4))
    >>> ds.X.shape, len(type(ds)(ds.X[:2], ds.y[:2]))
    ((4, 3), 2)
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        *,
        positional: bool | None = None,
    ) -> None:
        message, inferred = _input_message(X)
        if y is not None:
            y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
            if len(y) != len(message):
                raise ValueError(
                    f"X has {len(message)} rows but y has {len(y)}; they must match."
                )
        self.message = message
        self.positional = inferred if positional is None else positional
        # skorch's Dataset attributes, for skorch code that indexes X and y.
        self.y = y
        self.X_indexing = self.y_indexing = None
        self.X_is_ndframe = False
        self._len = len(message)

    @property
    def X(self) -> Any:
        """The module's inputs as skorch's Dataset holds them: a numpy array, or
        a dict of them by argument name, sharing memory with the tensors fed to
        the module. A tensor numpy cannot hold (on a GPU, or of a dtype such as
        bfloat16) is given as the tensor."""
        inputs = self.inputs()
        if isinstance(inputs, dict):
            return {name: _as_array(value) for name, value in inputs.items()}
        return _as_array(inputs)

    def __len__(self) -> int:
        return len(self.message)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Row ``index`` as ``(inputs, target)``, for a ``DataLoader``; without a
        target, the placeholder ``tensor([0.])`` skorch's Dataset gives."""
        row = {
            name: column[index] for name, column in read_columns(self.message).items()
        }
        x = next(iter(row.values())) if self.positional else row
        y = placeholder_target(1)[0] if self.y is None else self.y[index]
        return x, y

    def inputs(self, message: Message | None = None) -> torch.Tensor | dict:
        """The forward arguments of ``message`` (default: all rows)."""
        columns = read_columns(self.message if message is None else message)
        return next(iter(columns.values())) if self.positional else columns

    def subset(self, indices: Any) -> MessageDataset:
        """The rows at ``indices``, gathered once."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        y = None if self.y is None else self.y.index_select(0, index.to(self.y.device))
        return MessageDataset(self.message[index], y, positional=self.positional)

    def loader_message(self) -> Message:
        """Inputs and target as one Message, for MessageLoader."""
        if self.y is None:
            return self.message
        columns = {**read_columns(self.message), TARGET_COLUMN: self.y}
        return from_columns(columns, len(self.message))


def _as_array(value: Any) -> Any:
    """A CPU tensor as a numpy array over the same memory; anything else as is."""
    if not torch.is_tensor(value) or value.device.type != "cpu":
        return value
    try:
        return value.detach().numpy()
    except TypeError:  # a dtype numpy lacks, such as bfloat16
        return value


def _input_message(X: Any) -> tuple[Message, bool]:
    """X as a Message of input tensors, and whether it is fed positionally."""
    if isinstance(X, Message):
        return X, len(X.columns) == 1
    if isinstance(X, Mapping):
        return Message({str(k): torch.as_tensor(v) for k, v in X.items()}), False
    tensor = X if torch.is_tensor(X) else torch.as_tensor(np.asarray(X))
    return from_columns({ARRAY_COLUMN: tensor}, len(tensor)), True


def is_message_dataset(dataset: Any) -> bool:
    """Whether ``dataset`` is a MessageDataset or (nested) Subsets of one."""
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    return isinstance(dataset, MessageDataset)


def resolve_dataset(
    dataset: Any, encode: Callable[[Any, Any], MessageDataset | None] | None = None
) -> MessageDataset | None:
    """A MessageDataset from itself, from (nested) Subsets of one, or from data.

    Parameters
    ----------
    dataset : torch Dataset
        A dataset with ``X`` and ``y`` attributes that is not a MessageDataset
        (skorch's :class:`~skorch.dataset.Dataset`, as in
        ``predefined_split(Dataset(X_valid, y_valid))``) holds data as the user
        passes it to ``fit``; ``encode(X, y)`` turns it into a MessageDataset
        (or gives None).
    encode : callable or None, default=None

    Returns
    -------
    MessageDataset or None
        None for any other dataset, which is read row by row as skorch reads it.
    """
    if isinstance(dataset, MessageDataset):
        return dataset
    if isinstance(dataset, torch.utils.data.Subset):
        base = resolve_dataset(dataset.dataset, encode)
        return None if base is None else base.subset(dataset.indices)
    if encode is not None and hasattr(dataset, "X") and hasattr(dataset, "y"):
        return encode(dataset.X, dataset.y)
    return None
