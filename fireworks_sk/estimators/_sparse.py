"""Scipy sparse input of a Torch estimator, read as skorch reads it.

A sparse matrix goes into skorch's :class:`~skorch.dataset.Dataset`, which
densifies its rows as the batches are read; the net checks its width and
records it as an array's, one float32 column ``"X"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import check_array
from skorch.dataset import Dataset as SkorchDataset

from fireworks_sk.estimators._data import ARRAY_COLUMN
from fireworks_sk.estimators._targets import encode_target
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.schema import Schema, check_n_features, warn_if_named_differs

__all__ = ["check_sparse", "prepare_sparse"]


def prepare_sparse(
    net: Any, X: Any, y: Any, *, first: bool, classes: Any
) -> tuple[SkorchDataset, Any]:
    """Sparse X in skorch's Dataset, and the y ``train_split`` stratifies by;
    y encoded as for dense X."""
    X = check_sparse(net, X, min_rows=1, first=first)
    if first:
        # The Schema an array of this width gets on the dense path.
        net._schema_ = Schema({ARRAY_COLUMN: torch.zeros((0, X.shape[1]))})
        net._feed_schema_ = net._schema_.empty()
        net.inputs_, net._stack_ = [ARRAY_COLUMN], True
    if y is None:
        raise ValueError(f"{type(net).__name__} requires y to be passed.")
    net._user_data_ = (X, y)
    y_tensor, y_split = encode_target(net, y, first=first, classes=classes)
    return SkorchDataset(X, y_tensor), y_split


def check_sparse(net: Any, X: Any, *, min_rows: int, first: bool = False) -> Any:
    """X as a float32 CSR matrix of the fitted width (learned when ``first``).

    Raises
    ------
    ValueError
        If X has fewer than ``min_rows`` rows, or another width than at fit.
    SchemaError
        If the net feeds named columns to ``forward`` one by one.
    """
    X = check_array(
        X, accept_sparse=True, dtype=np.float32, ensure_min_samples=min_rows
    )
    X = sparse.csr_matrix(X)  # skorch's Dataset reads rows of a matrix
    if first:
        net.n_features_in_ = X.shape[1]
        return X
    if hasattr(net, "feature_names_in_"):
        _check_unnamed(net)
    # A net initialised (and loaded) without a fit has no width to check: X is
    # fed as it comes, as dense X is.
    fitted = getattr(net, "n_features_in_", None)
    if fitted is not None:
        check_n_features(type(net).__name__, X.shape[1], fitted, named=False)
    return X


def _check_unnamed(net: Any) -> None:
    """Sparse X for a net fitted on named columns: scikit-learn's warning, as
    for an array; refused where the columns are fed one by one, by name or
    shape, which a matrix cannot give."""
    name = type(net).__name__
    if not net._stack_:
        raise SchemaError(
            f"{name} was fitted on columns {list(net.inputs_)!r}, fed to forward "
            "one by one, which a sparse matrix cannot name; pass a Message."
        )
    warn_if_named_differs(name, False, True, stacklevel=4)
