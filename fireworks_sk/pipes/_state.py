"""The check that a fitted Pipe's state agrees with itself, run when it is loaded.

A size stored apart from the data it describes (a OneHot's output positions,
an IndexEncoder's code counts, a scaler's or imputer's statistics against the
input schema) would size an allocation on the first transform, so a small
crafted file could ask for gigabytes. Each Pipe class names what in its state
disagrees (``Pipe._fitted_state_problem``); :func:`check_fitted_state` runs it
when a fitted Pipe is unpickled, so joblib, pickle and skops loads all refuse
such a state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from fireworks_sk.exceptions import CorruptStateError
from fireworks_sk.schema import Schema

__all__ = ["check_fitted_state", "learned", "schema_problem", "statistics_problem"]

# What a state missing an attribute, or holding one of the wrong kind, raises
# while it is checked.
_INCOMPLETE = (AttributeError, KeyError, TypeError, ValueError, IndexError)


def check_fitted_state(pipe: Any) -> None:
    """Refuse a fitted Pipe whose state disagrees with itself.

    Raises
    ------
    CorruptStateError
        Naming the Pipe's class and what disagrees.
    """
    try:
        problem = schema_problem(pipe) or pipe._fitted_state_problem()
    except _INCOMPLETE as exc:
        problem = f"has an incomplete fitted state ({type(exc).__name__}: {exc})"
    if problem:
        raise CorruptStateError(
            f"{type(pipe).__name__} {problem}; its saved state is corrupt."
        )


def schema_problem(pipe: Any) -> str | None:
    """What in a fitted Pipe's input schema disagrees with the counts and
    names scikit-learn reads (``n_features_in_``, ``feature_names_in_``)."""
    schema = pipe._schema_in
    if not isinstance(schema, Schema):
        return f"has an input schema of type {type(schema).__name__}"
    names = getattr(pipe, "feature_names_in_", None)
    if pipe.n_features_in_ != schema.n_features or (
        names is not None and list(names) != schema.columns
    ):
        return "has an input schema unlike its n_features_in_ or feature_names_in_"
    return None


def learned(pipe: Any, *attributes: str) -> bool:
    """Whether ``pipe`` holds any of the fitted attributes it learns
    (``attributes``, or ``n_samples_seen_``).

    A Pipe holding none is between recording its input schema and learning:
    a Dask fit sends it so to the workers (its private state of an earlier
    fit may linger; a transform reads the fitted attributes first). Once it
    holds any, it must hold its whole state, agreeing, or the state is
    incomplete.
    """
    return any(hasattr(pipe, name) for name in ("n_samples_seen_", *attributes))


def statistics_problem(
    name: str, template: Any, statistics: Iterable[Any]
) -> str | None:
    """Whether statistics of column ``name`` fit its rows, as ``template``
    (the column's zero-row schema) gives them: each must broadcast against a
    row without giving more than one value per input value."""
    row = tuple(template.shape[1:]) if isinstance(template, torch.Tensor) else ()
    for statistic in statistics:
        try:
            fits = np.broadcast_shapes(np.shape(statistic), (1, *row)) == (1, *row)
        except ValueError:
            fits = False
        if not fits:
            return (
                f"has statistics for column {name!r} of another shape than its "
                f"rows, {row}"
            )
    return None
