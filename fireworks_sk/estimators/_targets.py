"""The target ``y`` of a Torch estimator: found, checked and encoded for training.

A classifier trains on class indices (int64) and learns its classes on the
first call; a regressor trains on float32 values of a fixed number of targets.
Each encoder returns the tensor the net trains on and the array skorch's
``train_split`` stratifies by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import is_classifier
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from fireworks_sk._numbers import column_numbers
from fireworks_sk._validation import as_message
from fireworks_sk.estimators._data import array_message, is_named, is_ragged
from fireworks_sk.estimators._guards import check_no_missing
from fireworks_sk.message import Message
from fireworks_sk.schema import check_has_columns

__all__ = [
    "as_labels",
    "class_labels",
    "distinct_labels",
    "encode_classes",
    "encode_labels",
    "encode_target",
    "encode_values",
    "scoring_target",
    "split_target",
]


# ------------------------------------------------------------ finding y
def split_target(
    net: Any, X: Any, y: Any, *, fitting: bool
) -> tuple[Message, bool, Any]:
    """X as a Message without the target column, whether it is named, and y.

    y is read from the column named by ``net.target`` when it is None.
    """
    if not is_named(X):
        if net.target is not None and fitting and y is None:
            raise ValueError(
                f"{type(net).__name__}(target={net.target!r}) names a column, "
                "but X has no column names; pass y, or X as a DataFrame, dict "
                "or Message."
            )
        return array_message(X, min_rows=1 if fitting else 0), False, y
    message = as_message(X)[0]
    if net.target is not None and fitting and y is None:
        check_has_columns(
            f"{type(net).__name__}(target=...)",
            [net.target],
            message.columns,
            where="X",
            fix="Pass y, or add the column.",
            error=ValueError,
        )
    if net.target is not None and net.target in message:
        if y is None:
            y = message[net.target]
        message = message.drop(net.target)
    return message, True, y


def scoring_target(net: Any, X: Any, y: Any) -> Any:
    """The y that ``score`` compares with: y, else X's target column, as numpy."""
    if y is None and net.target is not None and is_named(X):
        message = as_message(X)[0]
        if net.target in message:
            y = message[net.target]
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return y


# --------------------------------------------------------------- labels
def as_labels(y: Any) -> np.ndarray:
    """Class labels as a 1-D array, or 2-D and more for several per row."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    elif isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] > 1):
        return y  # several class indices per row, as skorch accepts
    return column_or_1d(y, warn=True)


def distinct_labels(y: Any) -> np.ndarray:
    """Sorted distinct labels; labels of several types (1 and "a") are refused."""
    try:
        return np.unique(y)
    except TypeError as exc:
        types = sorted({type(v).__name__ for v in np.asarray(y, dtype=object)})
        raise TypeError(
            f"y mixes labels of types {types!r}, which cannot be sorted into "
            "classes; cast y to one type (e.g. y.astype(str))."
        ) from exc


def encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices of ``y`` in ``classes``; unknown labels raise naming them.

    Integer labels none of which is a class but all of which index ``classes``
    are already indices: skorch's ``classes=["neg", "pos"]`` names the codes
    of an integer-coded y.
    """
    if _are_indices(y, classes):
        return y.astype(np.int64)
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    position = np.clip(np.searchsorted(ordered, y), 0, len(ordered) - 1)
    known = ordered[position] == y
    if not np.all(known):
        unknown = np.unique(y[~known]).tolist()
        raise ValueError(
            f"y contains labels {unknown!r} that are not in classes_ "
            f"{classes.tolist()!r}; pass all labels as 'classes' on the first call."
        )
    return order[position].astype(np.int64)


def _are_indices(y: np.ndarray, classes: np.ndarray) -> bool:
    if not np.issubdtype(y.dtype, np.integer) or not len(y):
        return False
    if not ((y >= 0) & (y < len(classes))).all():
        return False
    try:
        return not np.isin(y, classes).any()
    except TypeError:
        return True


def class_labels(net: Any) -> np.ndarray:
    """``classes_``, or with ``classes=[]`` (which hides ``classes_``, as in
    skorch) the labels seen in y."""
    if net.classes is not None and not len(net.classes):
        return np.asarray(net.classes_inferred_)
    return np.asarray(net.classes_)


# ------------------------------------------------------------- encoders
def encode_target(
    net: Any, y: Any, *, first: bool, classes: Any = None
) -> tuple[Any, np.ndarray]:
    """y as the net trains on it, and as ``train_split`` stratifies by it:
    class indices for a classifier, float32 values for a regressor (which
    has no classes)."""
    if is_classifier(net):
        return encode_classes(net, y, first=first, classes=classes)
    return encode_values(net, y, first=first)


def encode_classes(
    net: Any, y: Any, *, first: bool, classes: Any = None
) -> tuple[torch.Tensor, np.ndarray]:
    """A classifier's y as class indices; the first call learns the classes."""
    if is_ragged(y):
        return _encode_ragged(net, y, first=first, classes=classes)
    y = _checked_labels(y)
    _record_y_ndim(net, y.ndim, first=first)
    codes = _label_codes(net, y, first=first, classes=classes)
    return torch.from_numpy(codes), codes


def _checked_labels(y: Any) -> np.ndarray:
    y = as_labels(y)
    check_no_missing(y)
    assert_all_finite(y, input_name="y")
    distinct_labels(y)  # before scikit-learn's checks, whose error says less
    check_classification_targets(y if y.ndim < 3 else y.reshape(len(y), -1))
    return y


def _record_y_ndim(net: Any, ndim: int, *, first: bool) -> None:
    """Learn the dimensions of y on the first call; refuse others later."""
    if first:
        net._y_ndim_ = ndim
    elif ndim != getattr(net, "_y_ndim_", ndim):
        raise ValueError(
            f"y has {ndim} dimensions but {type(net).__name__} was fitted "
            f"on y of {net._y_ndim_}."
        )


def _label_codes(net: Any, y: np.ndarray, *, first: bool, classes: Any) -> np.ndarray:
    """Class indices of checked labels; the first call learns the classes."""
    if first:
        net.classes_inferred_ = distinct_labels(y if classes is None else classes)
        net.n_outputs_ = len(class_labels(net))
    return encode_labels(y.ravel(), class_labels(net)).reshape(y.shape)


def _encode_ragged(
    net: Any, y: np.ndarray, *, first: bool, classes: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of labels, of lengths that may differ, encoded element by
    element; one tensor of class indices per row, in an object array.

    The criterion checks the shapes within a row; y's dimensions (a row's
    plus one) must stay those of the first call.
    """
    rows = [np.asarray(row) for row in y]
    ndims = sorted({row.ndim for row in rows})
    if len(ndims) > 1:
        raise ValueError(
            f"y holds sequences of {ndims} dimensions; every row's target "
            "must have the same number of dimensions (lengths may differ)."
        )
    _record_y_ndim(net, 1 + rows[0].ndim, first=first)
    flat = _checked_labels(np.concatenate([row.ravel() for row in rows]))
    codes = _label_codes(net, flat, first=first, classes=classes)
    return _split_rows(codes, rows)


def _split_rows(
    codes: np.ndarray, rows: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat codes cut back into the rows' shapes: as tensors, and as arrays."""
    ends = np.cumsum([row.size for row in rows])[:-1]
    split = [c.reshape(r.shape) for c, r in zip(np.split(codes, ends), rows)]
    tensors = np.empty(len(rows), dtype=object)
    tensors[:] = [torch.from_numpy(c) for c in split]
    encoded = np.empty(len(rows), dtype=object)
    encoded[:] = split
    return tensors, encoded


def encode_values(net: Any, y: Any, *, first: bool) -> tuple[torch.Tensor, np.ndarray]:
    """A regressor's y as float32 of shape (n, n_targets); the first call
    learns the number of targets and the shape ``predict`` returns."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    if is_ragged(y):
        raise ValueError(
            f"y holds a sequence per row (an object array of arrays); "
            f"{type(net).__name__} needs targets of one shape, one row per "
            "sample: pad the sequences to one length."
        )
    y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
    owner = type(net).__name__
    target = column_numbers("y", y.reshape(len(y), -1), torch.float32, owner=owner)
    y2d = target.numpy()
    if first:
        net._y_ndim_ = y.ndim
        net.n_outputs_ = y2d.shape[1]
    elif y2d.shape[1] != net.n_outputs_:
        raise ValueError(
            f"y has {y2d.shape[1]} targets but {type(net).__name__} was fitted "
            f"on {net.n_outputs_}."
        )
    return target, y2d
