"""Pipes on Dask DataFrames: statistics reduced on the workers, lazy transforms.

Imported only when a Dask object reaches a Pipe, so dask stays optional.

Fitting computes ``_chunk_state`` of every partition where the partition
lives and merges the states with ``_merge_states`` in a tree of fan-in
``SPLIT_EVERY``; only the small states (counts, means, M2, value counts)
travel, never rows. The merge is associative, so how rows are split into
partitions (files, row groups, empty partitions) does not change the result.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import dask
import pandas as pd
from dask.dataframe.utils import make_meta

from fireworks_sk._validation import as_message
from fireworks_sk.message import Message

if TYPE_CHECKING:  # pipes._base imports this module when Dask data arrives
    from fireworks_sk.pipes._base import Pipe, StatefulPipe

__all__ = [
    "SPLIT_EVERY",
    "fit_schema",
    "partial_fit_partitions",
    "transform_partitions",
]

#: States merged by one task of the tree reduction.
SPLIT_EVERY = 8


def _meta(pipe: Pipe, X: Any) -> pd.DataFrame:
    """The empty pandas frame that describes ``X``'s columns and dtypes."""
    if X.ndim != 2:
        raise ValueError(
            f"{type(pipe).__name__} expects 2-D input (a table); got a Dask "
            f"{type(X).__name__}. Select a frame: ddf[[name]]."
        )
    # Dask's schema of the collection: no partition is read.
    return make_meta(X)


def _record_schema(pipe: Pipe, X: Any) -> Message:
    """The checks of a fit's input, made on the meta, then the schema recorded."""
    message, named = as_message(_meta(pipe, X))
    pipe._record_schema(message, named, rows_known=False)
    return message


def fit_schema(pipe: Pipe, X: Any) -> Pipe:
    """Fit a Pipe that learns only its input schema, from the frame's meta.

    The checks are those of a fit in memory: the input's (see
    ``Pipe._record_schema``) and the output names'.
    """
    pipe._fit(_record_schema(pipe, X))
    pipe._check_output_names()
    return pipe


def partial_fit_partitions(
    pipe: StatefulPipe, X: Any, *, first_call: bool
) -> StatefulPipe:
    """Merge the statistics of every partition of ``X`` into ``pipe``.

    Parameters
    ----------
    pipe : StatefulPipe
    X : dask.dataframe.DataFrame
    first_call : bool
        Whether ``pipe`` has no statistics yet: the schema is then recorded
        from the meta of ``X``, else ``X`` is checked against it.

    Returns
    -------
    pipe
    """
    if first_call:
        pipe.columns_ = pipe._select_columns(_record_schema(pipe, X))
    else:
        pipe._align(*as_message(_meta(pipe, X)))
    state = _reduce(pipe, X)
    if state is None:
        if first_call:
            pipe._reset()
            raise ValueError(
                f"{type(pipe).__name__} got a Dask DataFrame of 0 rows (all "
                f"{X.npartitions} partitions are empty); at least 1 row is "
                "required to fit."
            )
        return pipe
    if not first_call:
        state = pipe._merge_states(pipe._get_state(), state)
    pipe._set_state(state)
    pipe._check_output_names()
    return pipe


def _reduce(pipe: StatefulPipe, X: Any) -> Any:
    """The merged state of all partitions (None when every one is empty)."""
    # One key for the pipe: it travels once per worker, not once per task.
    shipped = dask.delayed(pipe, traverse=False)
    chunk = dask.delayed(_partition_state, pure=True)
    merge = dask.delayed(_merge, pure=True)
    states = [chunk(shipped, part) for part in X.to_delayed()]
    while len(states) > 1:
        states = [
            merge(shipped, *states[i : i + SPLIT_EVERY])
            for i in range(0, len(states), SPLIT_EVERY)
        ]
    return states[0].compute()


def _partition_state(pipe: StatefulPipe, frame: pd.DataFrame) -> Any:
    """Statistics of one partition, on a worker; None for an empty one."""
    message = pipe._validate(frame, reset=False)
    return pipe._chunk_state(message) if len(message) else None


def _merge(pipe: StatefulPipe, *states: Any) -> Any:
    present = [state for state in states if state is not None]
    return functools.reduce(pipe._merge_states, present) if present else None


def transform_partitions(pipe: Pipe, X: Any) -> Any:
    """Transform every partition lazily; a Dask DataFrame of the output.

    Parameters
    ----------
    pipe : Pipe
        Fitted.
    X : dask.dataframe.DataFrame

    Returns
    -------
    dask.dataframe.DataFrame
        Columns as ``Message.to_dataframe()`` lays them out, named by
        ``pipe.get_feature_names_out()``; each partition keeps its index, so
        the divisions of ``X`` still hold.
    """
    pipe._check_fitted()
    config = pipe._output_config()
    if config != "default":
        # scikit-learn's set_output wrapper would turn the result into one
        # in-memory frame, computing every partition on the client.
        raise TypeError(
            f"{type(pipe).__name__} has set_output(transform={config!r}), which "
            "would compute the whole Dask DataFrame into memory. Transforming a "
            "Dask DataFrame already gives a Dask DataFrame of named columns; call "
            "set_output(transform='default') on the Pipe or the Pipeline."
        )
    meta = _transform_frame(_meta(pipe, X), pipe)
    return X.map_partitions(_transform_frame, pipe, meta=meta)


def _transform_frame(frame: pd.DataFrame, pipe: Pipe) -> pd.DataFrame:
    out = pipe._transform(pipe._validate(frame, reset=False)).to_dataframe()
    out.columns = pipe.get_feature_names_out()
    out.index = frame.index
    return out
