"""Fit, transform and predict out of core: a whole pipeline over a Source.

``fit_stream`` fits a Pipeline in passes over the stream (``_stream_fit``,
``_stream_passes``); ``transform_stream`` and ``predict_stream`` yield results
chunk by chunk, which ``write_parquet`` and ``write_sql`` write out
(``_stream_sinks``). Every pass reads through ``_stream_read``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

from fireworks_sk._stream_fit import fit_stream
from fireworks_sk._stream_read import StreamTarget, check_source, read_pass
from fireworks_sk._stream_sinks import write_parquet, write_sql
from fireworks_sk.sources._base import Source

__all__ = [
    "fit_stream",
    "predict_stream",
    "transform_stream",
    "write_parquet",
    "write_sql",
]


def _target_column(y: Any, caller: str) -> StreamTarget:
    if y is not None and not isinstance(y, str):
        raise TypeError(
            f"{caller}(y=...) names the target column of the stream to leave out; "
            f"got {type(y).__name__}."
        )
    return StreamTarget(y, caller)


def transform_stream(
    estimator: Any, source: Source, *, y: str | None = None, verbose: int = 0
) -> Iterator[Any]:
    """Transform a stream chunk by chunk.

    Parameters
    ----------
    estimator : fitted transformer or Pipeline
    source : Source
    y : str or None, default=None
        A target column of the stream, left out before transforming.
    verbose : int, default=0
        Non-zero shows a tqdm bar.

    Yields
    ------
    Message (or whatever ``estimator.transform`` returns), one per chunk.
    """
    return _apply_stream(estimator, source, "transform", y, verbose)


def predict_stream(
    estimator: Any,
    source: Source,
    *,
    y: str | None = None,
    method: str = "predict",
    verbose: int = 0,
) -> Iterator[Any]:
    """Predict a stream chunk by chunk.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
    source : Source
    y : str or None, default=None
        A target column of the stream, left out before predicting.
    method : str, default="predict"
        The method to call: "predict", "predict_proba", "decision_function"...
    verbose : int, default=0
        Non-zero shows a tqdm bar.

    Yields
    ------
    ndarray or Tensor, one per chunk.
    """
    if not hasattr(estimator, method):
        raise AttributeError(f"{type(estimator).__name__} has no method {method!r}.")
    return _apply_stream(estimator, source, method, y, verbose)


def _apply_stream(
    estimator: Any, source: Source, method: str, y: str | None, verbose: int
) -> Iterator[Any]:
    caller = "transform_stream" if method == "transform" else "predict_stream"
    check_source(source, caller)
    target = _target_column(y, caller)
    call = getattr(estimator, method)

    def results() -> Iterator[Any]:
        with closing(read_pass(source, method, verbose, empty_ok=True)) as chunks:
            for chunk in chunks:
                yield call(target.split(chunk)[0])

    return results()
