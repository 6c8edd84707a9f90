"""Input checks shared by Pipes, estimators and their Dask and stream paths.

As ``sklearn.utils.validation`` is for scikit-learn: one place for turning
what a user passes into a Message and for the checks every fitted object
makes of it. The columns a fitted object remembers are :mod:`fireworks_sk.schema`.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.utils.validation import check_array

from fireworks_sk._compat import get_feature_names
from fireworks_sk._frames import native_to_pandas
from fireworks_sk._numbers import check_finite
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import (
    Message,
    check_unique_columns,
    from_frame,
    stored_column,
)

__all__ = [
    "as_message",
    "check_finite",
    "check_unique_names",
    "check_widths",
    "is_dask",
]


def is_dask(X: Any) -> bool:
    """Whether ``X`` is a Dask DataFrame or Series, without importing dask.

    Such an object exists only once ``dask.dataframe`` has been imported, so a
    look in ``sys.modules`` answers without the import (or the extra).
    """
    dd = sys.modules.get("dask.dataframe")
    return dd is not None and isinstance(X, (dd.DataFrame, dd.Series))


def as_message(X: Any, *, min_rows: int = 0) -> tuple[Message, bool]:
    """Convert a Message, DataFrame, dict or 2-D array-like to a Message.

    Returns
    -------
    message : Message
    named : bool
        Whether the input carried column names. Arrays, and DataFrames whose
        column names are all non-strings, get positional names ``x0, x1, ...``;
        names that mix strings and other types are refused, as scikit-learn
        refuses them.
    """
    if isinstance(X, Message):
        return X, True
    if is_dask(X):
        # np.asarray below would silently compute the whole collection.
        raise TypeError(
            f"A Dask {type(X).__name__} cannot be converted to one Message. Fit "
            "and transform it with a Pipe other than Junction, stream it with "
            "DaskSource, or call .compute() on it first."
        )
    if scipy.sparse.issparse(X):
        raise TypeError(
            "Sparse data was passed, but Pipes need dense data: convert it with "
            "'.toarray()' or build a Message of dense columns."
        )
    if isinstance(X, Mapping):
        return Message(X), True
    X = native_to_pandas(X)
    if isinstance(X, pd.DataFrame):
        names = check_unique_columns(X)
        # String names are feature names (scikit-learn's rule, read without
        # its cost); scikit-learn's own check raises for mixed str / non-str.
        if names and (
            set(map(type, names)) <= {str} or all(isinstance(n, str) for n in names)
        ):
            return from_frame(X, names), True
        if get_feature_names(X) is not None:
            return Message(X), True
        renamed = X.set_axis([f"x{i}" for i in range(X.shape[1])], axis=1)
        return Message(renamed), False
    array = check_array(
        X, dtype=None, ensure_all_finite=False, ensure_min_samples=min_rows
    )
    frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if array.dtype == object:
        frame = frame.infer_objects()
    return Message(frame), False


def check_widths(owner: str, message: Message) -> None:
    """Refuse tensor columns without features: they would reach a model unseen."""
    for name in message.columns:
        shape = tuple(stored_column(message, name).shape[1:])
        if shape and int(np.prod(shape)) == 0:
            raise ValueError(
                f"{owner} got column {name!r} with rows of shape {shape}, which "
                "hold no value; drop it or give it at least one feature."
            )


def check_unique_names(owner: str, names: Sequence[str]) -> None:
    """Refuse output names that repeat, also in two Unicode forms of one text."""
    seen: dict[str, str] = {}
    for name in names:
        key = unicodedata.normalize("NFC", name)
        if key in seen:
            same = "" if seen[key] == name else " (the same text in another form)"
            raise SchemaError(
                f"{owner} would output the feature name {name!r} twice{same}; "
                "rename or drop one of the input columns."
            )
        seen[key] = name
