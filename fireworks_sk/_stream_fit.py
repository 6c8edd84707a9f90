"""``fit_stream``: fit a Pipeline chunk by chunk, as ``fit`` does in memory.

The transformers are fitted in passes (``_stream_passes``); the final
estimator then trains with ``partial_fit`` over passes of its own, a Torch
estimator one epoch per pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import numpy as np
import torch
from sklearn.base import clone, is_classifier

from fireworks_sk._seeding import pass_generator, stream_seed
from fireworks_sk._stream_passes import (
    adopt,
    fit_transformers,
    flat_steps,
    split_learner,
    transform_through,
)
from fireworks_sk._stream_read import (
    StreamTarget,
    check_source,
    read_pass,
    unique_values,
)
from fireworks_sk.message import Message
from fireworks_sk.sources._base import Source

__all__ = ["fit_stream"]


def _accepts(method: Any, name: str) -> bool:
    parameters = inspect.signature(method).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _wants_classes(learner: Any) -> bool:
    if learner is None or not is_classifier(learner):
        return False
    return _accepts(learner.partial_fit, "classes")


def _learner_kwargs(learner: Any, classes: Any, target: StreamTarget) -> dict[str, Any]:
    """``classes=`` for a classifier (all of them are needed on the first call)."""
    if not _wants_classes(learner):
        return {}
    if classes is not None:
        return {"classes": np.asarray(classes)}
    if target.y is None:
        return {}
    if isinstance(target.y, str):
        return {"classes": target.classes}
    return {"classes": np.unique(unique_values(target.y))}


def _epochs(learner: Any, epochs: int | None) -> tuple[int, dict[str, Any]]:
    """Passes over the stream, and what makes one ``partial_fit`` one epoch.

    Estimators with ``max_epochs`` (skorch's convention) train that many
    epochs per ``partial_fit`` call; fit_stream asks for one (``epochs=1``)
    per chunk and makes ``max_epochs`` passes over the stream instead.
    """
    max_epochs = getattr(learner, "max_epochs", None)
    per_call = {}
    if isinstance(max_epochs, int) and _accepts(learner.partial_fit, "epochs"):
        per_call = {"epochs": 1}
    n = epochs if epochs is not None else (max_epochs if per_call else 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"fit_stream(epochs={epochs!r}) must be a positive int.")
    return n, per_call


def _shuffled(x: Any, y: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    order = rng.permutation(len(x))
    x = x[order] if isinstance(x, Message) else np.asarray(x)[order]
    if isinstance(y, torch.Tensor):
        y = y[torch.from_numpy(order).to(y.device)]
    elif y is not None:
        y = np.asarray(y)[order]
    return x, y


def _fit_learner(
    transformers: list[Any], learner: Any, source: Source, target: StreamTarget, **opts
) -> None:
    """``epochs`` passes of ``partial_fit`` over the transformed chunks."""
    kwargs = _learner_kwargs(learner, opts["classes"], target)
    if _trains_by_passes(learner):
        _fit_net(transformers, learner, source, target, kwargs, **opts)
        return
    if opts["valid"] is not None:
        raise TypeError(
            f"fit_stream(valid=...) scores a Torch estimator after each epoch; "
            f"{type(learner).__name__} has no epochs to score."
        )
    n_epochs, per_call = _epochs(learner, opts["epochs"])
    # shuffle=None shuffles estimators trained epoch by epoch (max_epochs).
    shuffle = bool(per_call) if opts["shuffle"] is None else opts["shuffle"]
    seed = stream_seed(opts["random_state"], learner) if shuffle else None
    name = type(learner).__name__
    for epoch in range(n_epochs):
        rng = pass_generator(seed, epoch) if shuffle else None
        desc = f"fit {name}, epoch {epoch + 1}/{n_epochs}"
        with closing(read_pass(source, desc, opts["verbose"], rng)) as chunks:
            for chunk in chunks:
                x, y = target.split(chunk)
                x = transform_through(transformers, x)
                if rng is not None:
                    x, y = _shuffled(x, y, rng)
                args = (x,) if y is None else (x, y)
                learner.partial_fit(*args, **kwargs, **per_call)


def _trains_by_passes(learner: Any) -> bool:
    """A Torch estimator: one epoch is one pass over the stream."""
    return callable(getattr(learner, "_fit_passes", None))


def _fit_net(
    transformers: list[Any],
    learner: Any,
    source: Source,
    target: StreamTarget,
    kwargs: dict[str, Any],
    **opts: Any,
) -> None:
    """Train a Torch estimator for its epochs, one pass over ``source`` each."""
    _check_validation(learner, target, opts["valid"])
    passes = _NetPasses(transformers, learner, source, target, **opts)
    learner._fit_passes(
        passes.train,
        None if opts["valid"] is None else passes.validate,
        epochs=opts["epochs"],
        classes=kwargs.get("classes"),
    )


class _NetPasses:
    """The passes a Torch estimator trains on, chunks split and transformed.

    Each transformed chunk is a run of minibatches within the epoch; the chunk
    order is shuffled (where the source allows) by a generator seeded from
    ``random_state`` and the epoch, and the rows within a chunk by the net.
    """

    def __init__(
        self,
        transformers: list[Any],
        learner: Any,
        source: Source,
        target: StreamTarget,
        **opts: Any,
    ) -> None:
        self.transformers = transformers
        self.source, self.target, self.valid = source, target, opts["valid"]
        self.verbose = opts["verbose"]
        self.name = type(learner).__name__
        epochs = opts["epochs"]
        self.total = learner.max_epochs if epochs is None else epochs
        self.shuffle = opts["shuffle"] is not False
        # Drawn once: a numpy Generator as random_state gives one seed per fit.
        self.seed = stream_seed(opts["random_state"], learner) if self.shuffle else None

    def train(self, epoch: int) -> Iterator:
        """The training chunks of ``epoch``, in the epoch's order."""
        rng = pass_generator(self.seed, epoch) if self.shuffle else None
        desc = f"fit {self.name}, epoch {epoch + 1}/{self.total}"
        return self._chunks(self.source, self.target, desc, rng)

    def validate(self, epoch: int) -> Iterator:
        """The validation chunks scored after ``epoch``, in the source's order."""
        split = StreamTarget(self.target.y, "fit_stream(valid=...)")
        desc = f"score {self.name}, epoch {epoch + 1}"
        return self._chunks(self.valid, split, desc, None)

    def _chunks(
        self, stream: Source, split: StreamTarget, desc: str, rng: Any
    ) -> Iterator:
        with closing(read_pass(stream, desc, self.verbose, rng)) as pass_:
            for chunk in pass_:
                x, y = split.split(chunk)
                yield transform_through(self.transformers, x), y


def _check_validation(learner: Any, target: StreamTarget, valid: Any) -> None:
    """A net trained on a stream is validated on a source of its own, if any."""
    if learner.train_split is not None:
        raise ValueError(
            f"fit_stream cannot use {type(learner).__name__}"
            f"(train_split={learner.train_split!r}): "
            "it would split every chunk apart, so the validation rows would "
            "change with the chunk size. Set train_split=None and pass the "
            "validation rows as a source of their own: fit_stream(..., valid=...)."
        )
    if valid is None:
        return
    check_source(valid, "fit_stream(valid=...)")
    if not isinstance(target.y, str):
        raise TypeError(
            "fit_stream(valid=...) needs y to name the target column, which "
            "the validation source must hold too; got y of type "
            f"{type(target.y).__name__}."
        )


def _collect_classes(source: Source, target: StreamTarget, verbose: int) -> None:
    with closing(read_pass(source, "collect classes", verbose)) as chunks:
        for chunk in chunks:
            target.split(chunk)
    target.finish_classes()


# -------------------------------------------------------------- public API
def fit_stream(
    estimator: Any,
    source: Source,
    *,
    y: Any = None,
    classes: Any = None,
    epochs: int | None = None,
    shuffle: bool | None = None,
    random_state: int | None = None,
    valid: Source | None = None,
    verbose: int = 1,
) -> Any:
    """Fit a Pipe or a Pipeline chunk by chunk, as ``fit`` does in memory.

    Every step sees the output of the fully fitted steps before it, so the
    learned statistics equal those of ``estimator.fit`` on all the data (up to
    float rounding). Steps share a pass over the stream unless an earlier step
    of the pass changes the columns they learn from. A final estimator
    without ``transform`` (a classifier or regressor) is trained with
    ``partial_fit`` in passes of its own. A Torch estimator (TorchClassifier,
    TorchRegressor) trains as in ``fit``: one epoch is one pass over the
    stream, each chunk a run of minibatches of the epoch, one history row per
    epoch, so ``max_epochs``, ``EarlyStopping``, ``LRScheduler`` and
    ``Checkpoint`` count passes. Nothing is changed if the stream fails: a
    clone is fitted and its state copied at the end.

    Parameters
    ----------
    estimator : Pipe, Pipeline, or estimator with ``partial_fit``
        Intermediate steps need ``partial_fit`` or must be Pipes that learn
        only their input schema (ToTensor, Stack, SelectColumns, ...).
    source : Source
        The stream, e.g. ``ParquetSource("data/", chunk_size=100_000)``.
    y : str, array-like of shape (n_samples,) or None, default=None
        The target: the name of a column of the stream (left out of ``X``),
        values aligned with the stream's rows, or None.
    classes : array-like or None, default=None
        All class labels, for a classifier's first ``partial_fit``. None
        gathers them from ``y``, with a pass of their own if no step before
        reads the whole stream.
    epochs : int or None, default=None
        Passes of the final estimator over the stream. None means its
        ``max_epochs`` for a Torch estimator (or any whose ``partial_fit``
        takes ``epochs``, as skorch's), else 1.
    shuffle : bool or None, default=None
        Train the final estimator on the chunks in a random order (where the
        source allows: DataFrameSource, ParquetSource by file). None shuffles
        for estimators trained epoch by epoch (``max_epochs``, as Torch
        estimators) and not otherwise. A Torch estimator shuffles the rows
        within each chunk itself, as in ``fit`` (``iterator_train__shuffle``);
        other estimators get the rows of each chunk in a random order when
        shuffling.
    random_state : int or None, default=None
        Seed of the shuffling (for a Torch estimator, of each epoch's chunk
        order, with the epoch number); None uses the final estimator's
        ``random_state``, so a seeded estimator is trained reproducibly.
    valid : Source or None, default=None
        Validation rows for a Torch estimator, holding the ``y`` column too:
        after each epoch's pass over ``source`` they are scored, chunk by
        chunk, into ``valid_loss`` (which ``EarlyStopping`` watches by
        default). None scores nothing: a stream has no held-out rows unless
        given some, and the estimator's ``train_split`` must be None.
    verbose : int, default=1
        0 shows nothing; otherwise a tqdm bar per pass (rows, rows/s) when
        tqdm is installed.

    Returns
    -------
    estimator
        The estimator passed, fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import Pipeline
    >>> from fireworks_sk import BatchNormalizer, OneHot, fit_stream
    >>> from fireworks_sk.sources import DataFrameSource
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    >>> pipe = Pipeline([("scale", BatchNormalizer()), ("onehot", OneHot())])
    >>> fitted = fit_stream(pipe, DataFrameSource(df, chunk_size=2), verbose=0)
    >>> float(fitted[0].mean_["x"])
    2.0
    """
    check_source(source, "fit_stream")
    fitted = clone(estimator)
    transformers, learner = split_learner(flat_steps(fitted))
    target = StreamTarget(y, "fit_stream")
    if _wants_classes(learner) and classes is None and isinstance(y, str):
        target.classes = []  # gathered while the transformers are fitted
    fit_transformers(transformers, source, target, verbose)
    if learner is not None:
        if isinstance(target.classes, list):
            _collect_classes(source, target, verbose)
        _fit_learner(
            transformers,
            learner,
            source,
            target,
            classes=classes,
            epochs=epochs,
            shuffle=shuffle,
            random_state=random_state,
            valid=valid,
            verbose=verbose,
        )
    adopt(estimator, fitted)
    return estimator
