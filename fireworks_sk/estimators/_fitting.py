"""What a Torch estimator's fit trains on: X and y checked, recorded, encoded.

:func:`prepare_fit` is the first step of ``fit``, ``partial_fit`` and a
stream's chunks: the first call records the input columns (``_schema_``),
the inputs fed to ``forward`` and the target's classes or width; later calls
are checked against them. It returns the dataset skorch's fit reads (a
:class:`MessageDataset` on the Message path) and the y its ``train_split``
stratifies by.
"""

from __future__ import annotations

from typing import Any

import torch
from scipy import sparse
from skorch.dataset import Dataset as SkorchDataset

from fireworks_sk.estimators._data import is_message_dataset, is_ragged
from fireworks_sk.estimators._feeding import (
    feed,
    has_custom_dataset,
    positional,
    resolve_inputs,
)
from fireworks_sk.estimators._inputs import check_input, record_input
from fireworks_sk.estimators._sparse import prepare_sparse
from fireworks_sk.estimators._targets import encode_target, split_target
from fireworks_sk.message import Message

__all__ = ["DATA_ATTRIBUTES", "forget_data", "prepare_fit"]

# Attributes learned from the data (besides skorch's module_, history_, ...).
DATA_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "inputs_",
    "n_outputs_",
    "classes_inferred_",
    "_schema_",
    "_stack_",
    "_feed_schema_",
    "_y_ndim_",
)


def forget_data(net: Any) -> None:
    """Drop what an earlier fit learned from its data."""
    for name in DATA_ATTRIBUTES:
        vars(net).pop(name, None)


def prepare_fit(
    net: Any, X: Any, y: Any, *, reset: bool, classes: Any = None
) -> tuple[Any, Any]:
    """The dataset skorch's fit trains on, and the y its train_split stratifies by.

    ``reset`` forgets an earlier fit first; ``classes`` names all class
    labels on a classifier's first call. A torch Dataset as X, and X for
    ``dataset=`` your own class, go on as skorch reads them.
    """
    if reset:
        forget_data(net)
    if isinstance(X, torch.utils.data.Dataset) and not is_message_dataset(X):
        return X, y  # read as skorch reads a Dataset (see get_iterator)
    if has_custom_dataset(net):
        return X, y  # for get_dataset to pass to the user's dataset
    first = not hasattr(net, "n_features_in_")
    if sparse.issparse(X):
        return prepare_sparse(net, X, y, first=first, classes=classes)
    message, y = _checked_input(net, X, y, first=first)
    y_tensor, y_split = encode_target(net, y, first=first, classes=classes)
    dataset, fed = _training_dataset(net, message, y_tensor, y_split)
    if first:
        net._feed_schema_ = fed[:0]
    return dataset, y_split


def _checked_input(net: Any, X: Any, y: Any, *, first: bool) -> tuple[Message, Any]:
    """X without its target column, recorded (first call) or checked; and y."""
    message, named, y = split_target(net, X, y, fitting=True)
    # Callbacks see X and y as the user passed them, as in skorch.
    net._user_data_ = (X, y)
    if first:
        record_input(net, message, named)
        net.inputs_, net._stack_ = resolve_inputs(net, message)
    else:
        message = check_input(net, message, named)
    if y is None:
        raise ValueError(
            f"{type(net).__name__} requires y to be passed, but the target y "
            "is None; pass y or name a column of X with target=...."
        )
    return message, y


def _training_dataset(
    net: Any, message: Message, y_tensor: Any, y_split: Any
) -> tuple[Any, Message]:
    """The dataset of the fed inputs and encoded target, and the fed inputs."""
    fed = feed(net, message)
    if is_ragged(y_split):
        # Targets of varying length cannot be one tensor: rows are read
        # through skorch's Dataset and collated per batch, as in skorch.
        data = net.dataset(fed, positional=positional(net))
        return SkorchDataset(data.inputs(), y_tensor), data.message
    dataset = net.dataset(fed, y_tensor, positional=positional(net))
    return dataset, dataset.message
