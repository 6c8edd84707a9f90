"""Prediction input of a Torch estimator, and its two fast paths.

``prediction_dataset`` is the body of the net's ``get_dataset``: X checked
against the fitted columns and fed as a MessageDataset. Small predictions are
dominated by overhead, so a DataFrame of exactly the fitted numeric columns is
converted in one step (``_frame_matrix``), and inputs of up to one batch skip
the loader (``fits_one_batch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from skorch import NeuralNet
from skorch.dataset import Dataset as SkorchDataset

from fireworks_sk._numbers import is_numeric_column
from fireworks_sk.estimators._data import ARRAY_COLUMN, MessageDataset
from fireworks_sk.estimators._feeding import (
    feed,
    has_custom_dataset,
    is_internal,
    positional,
    resolve_inputs,
    valid_batch_size,
)
from fireworks_sk.estimators._inputs import check_input
from fireworks_sk.estimators._sparse import check_sparse
from fireworks_sk.estimators._targets import split_target
from fireworks_sk.message import Message, frame_dtypes, from_columns

__all__ = ["fits_one_batch", "prediction_dataset"]


def prediction_dataset(net: Any, X: Any, y: Any = None) -> Any:
    """The body of ``get_dataset``: X as the dataset predictions read.

    A dataset handed around by skorch is kept; ``dataset=`` your own class
    and scipy sparse X are read as skorch reads them.
    """
    if is_internal(X):
        return X
    if has_custom_dataset(net):
        return NeuralNet.get_dataset(net, X, y)
    if sparse.issparse(X):
        # skorch's Dataset densifies sparse rows as the batches are read.
        return SkorchDataset(check_sparse(net, X, min_rows=0), y)
    net.check_is_fitted()
    if not hasattr(net, "n_features_in_"):
        return _unchecked_dataset(net, X)
    inputs = _frame_matrix(net, X)
    if inputs is None:
        message, named, _ = split_target(net, X, None, fitting=False)
        inputs = feed(net, check_input(net, message, named))
    return net.dataset(inputs, positional=positional(net))


def _unchecked_dataset(net: Any, X: Any) -> MessageDataset:
    """X for a net that was initialised (and loaded) but never fitted.

    As in skorch, after ``initialize()`` and ``load_params(...)`` X is fed
    as it comes: there are no fitted columns to check it against.
    """
    message, _, _ = split_target(net, X, None, fitting=False)
    inputs, stack = resolve_inputs(net, message)
    return net.dataset(
        feed(net, message, inputs, stack), positional=stack or len(inputs) == 1
    )


def _frame_matrix(net: Any, X: Any) -> Message | None:
    """A DataFrame of exactly the fitted numeric columns in one conversion.

    This is the common case of a model fitted on a numeric DataFrame; it
    skips the per-column Message path, which dominates small predictions.
    None means "take the general path", which also explains any error.
    """
    if not (net._stack_ and isinstance(X, pd.DataFrame)):
        return None
    names = getattr(net, "feature_names_in_", None)  # none when fitted on arrays
    if names is None or not np.array_equal(X.columns, names):
        return None
    dtypes = frame_dtypes(X)
    if not all(is_numeric_column(t) for t in dtypes):
        return None
    if dtypes != list(net._schema_.dtypes.values()):
        return None  # the general path checks them against the Schema
    with np.errstate(over="ignore", invalid="ignore"):  # explained by the general path
        matrix = X.to_numpy(dtype=np.float32, na_value=np.nan)
    if not np.isfinite(matrix).all():
        return None
    tensor = torch.from_numpy(np.require(matrix, requirements=["C", "W"]))
    return from_columns({ARRAY_COLUMN: tensor}, len(matrix))


def fits_one_batch(net: Any, dataset: Any) -> bool:
    """Whether ``forward_iter`` feeds ``dataset`` in one evaluation step,
    without a loader: a MessageDataset of at most one prediction batch."""
    if not isinstance(dataset, MessageDataset):
        return False
    size = valid_batch_size(net)
    return size == -1 or len(dataset) <= size
