"""The input columns of a Torch estimator: recorded at fit, checked after.

A net keeps a :class:`~fireworks_sk.schema.Schema` in ``_schema_`` and checks
every later input with it, as a Pipe does: other names are a SchemaError
with a diff, another kind of column or row shape too, and a dtype that left
its family (an int column where floats were fitted) is warned about.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fireworks_sk.estimators._data import ARRAY_COLUMN, array_message
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import Message
from fireworks_sk.schema import Schema, check_n_features, warn_if_named_differs

__all__ = ["check_input", "record_input"]


def record_input(net: Any, message: Message, named: bool) -> None:
    """Set ``n_features_in_``, ``feature_names_in_`` and ``_schema_`` from X.

    ``named`` is False for an array, held as the one column ``"X"``.
    ``n_features_in_`` counts flat features (:attr:`Schema.n_features`), as
    ``Message.shape[1]`` and Pipes count them: a (n, 3) tensor column is 3.
    """
    name = type(net).__name__
    if not message.columns:
        raise ValueError(f"{name} got no input columns; X needs at least one.")
    if len(message) == 0:
        raise ValueError(f"{name} got 0 rows; at least 1 row is required to fit.")
    net._schema_ = Schema.record(message)
    net.n_features_in_ = net._schema_.n_features
    if named:
        net.feature_names_in_ = np.asarray(message.columns, dtype=object)


def check_input(net: Any, message: Message, named: bool) -> Message:
    """Check a later input against the fitted one; the input to feed.

    Named input where an array was fitted (or the reverse) is converted, with
    scikit-learn's warning; an array is checked for its width only, named
    columns with :meth:`Schema.check`, the check Pipes make.
    """
    fitted_named = hasattr(net, "feature_names_in_")
    if warn_if_named_differs(type(net).__name__, named, fitted_named, stacklevel=3):
        message = _converted(net, message, named)
        if fitted_named:
            return message  # the array's values under the fitted names
    if not fitted_named:
        width = message[ARRAY_COLUMN].shape[1]
        check_n_features(type(net).__name__, width, net.n_features_in_, named=False)
        return message
    net._schema_.check(type(net).__name__, message, stacklevel=4)
    return message


def _converted(net: Any, message: Message, named: bool) -> Message:
    """Named columns as one array, or an array as the fitted columns."""
    name = type(net).__name__
    if named:
        return array_message(np.asarray(message), min_rows=0)
    matrix = message[ARRAY_COLUMN]
    schema = net._schema_
    shaped = [c for c in schema.columns if schema.row_shape(c)]
    if shaped:
        raise SchemaError(
            f"{name} was fitted on columns with several values per row "
            f"({shaped!r}), which an array cannot name; pass a Message."
        )
    check_n_features(
        name,
        matrix.shape[1],
        net.n_features_in_,
        named=False,
        detail=f" (columns {list(net.feature_names_in_)!r})",
    )
    columns = {c: matrix[:, j] for j, c in enumerate(net.feature_names_in_)}
    return Message(columns)
