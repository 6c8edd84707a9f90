"""Fit, transform and predict out of core: a whole pipeline over a Source.

``fit_stream`` fits the steps of a Pipeline in passes over the stream. A pass
fits a group of consecutive steps; a step joins the group when it reads no
column whose values depend on the not yet complete statistics of a step
before it in the group, which is decided on the first chunk of the pass. So
``BatchNormalizer(numeric)`` then ``OneHot(categorical)`` share one pass, while
a step after ``Stack`` of scaled columns gets a pass of its own, and every
statistic equals the one an in-memory ``fit`` learns.
"""

from __future__ import annotations

import inspect
import os
import queue
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing, suppress
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline

from fireworks_sk.estimators._loader import check_seed
from fireworks_sk.exceptions import SchemaError, SourceError
from fireworks_sk.message import Message
from fireworks_sk.pipes._base import Pipe
from fireworks_sk.pipes._columns import FunctionPipe
from fireworks_sk.pipes._junction import Junction
from fireworks_sk.sources._base import Chunk, Source, import_extra

__all__ = [
    "fit_stream",
    "predict_stream",
    "transform_stream",
    "write_parquet",
    "write_sql",
]

# Column sets: a set of names, or None for "every column" (unknown reads or
# changes, e.g. a step that returns an array).
Columns = set[str] | None


# ------------------------------------------------------------------ helpers
def _check_source(source: Any, caller: str) -> None:
    if not isinstance(source, Source):
        hint = (
            " Wrap it: DataFrameSource(data, chunk_size)."
            if isinstance(source, (pd.DataFrame, Message))
            else ""
        )
        raise TypeError(
            f"{caller} expects a fireworks_sk.sources Source; got "
            f"{type(source).__name__}.{hint}"
        )


class _NoBar:
    def update(self, n: int) -> None:
        """Do nothing: progress is off."""

    def close(self) -> None:
        """Do nothing: progress is off."""


def progress_bar(
    total: int | None, desc: str, verbose: int, unit: str = " rows"
) -> Any:
    """A tqdm bar counting whole units, or a stand-in when off or tqdm is missing."""
    if not verbose:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    # Whole units: unit_scale would show "0.00rows" before the first chunk.
    return tqdm(total=total, desc=desc, unit=unit)


class _ReadAhead:
    """Chunks read by a background thread, at most ``depth`` ahead of use.

    Readers (pyarrow, database drivers) release the GIL, so reading the next
    chunk overlaps fitting on this one. The chunk iterator runs and is closed
    in the reading thread only, as SQLite connections require.

    The consumer never waits on a read in progress: it polls the queue, so
    Ctrl-C takes effect at once on every platform, and on leaving (an error,
    an interrupt, ``close``) it gives the reader ``grace`` seconds to stop. A
    reader still blocked in a read after that is left behind: it is a daemon
    thread, and it closes the source when the read returns.
    """

    grace = 0.5

    def __init__(self, chunks: Iterator[Chunk], depth: int = 1) -> None:
        self._chunks = chunks
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

    def _read(self, chunks: Iterator[Chunk]) -> None:
        try:
            for chunk in chunks:
                if not self._put(("chunk", chunk)):
                    return
            self._put(("done", None))
        except BaseException as exc:  # handed to the consuming thread
            self._put(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _put(self, item: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _get(self) -> tuple:
        # A timeout lets signals in where a plain lock wait does not (Windows).
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue

    def __iter__(self) -> Iterator[Chunk]:
        # Started here, inside the try: however iteration ends, even by an
        # interrupt before the first chunk, the reader is told to stop.
        thread = threading.Thread(
            target=self._read,
            args=(self._chunks,),
            name="fireworks_sk read-ahead",
            daemon=True,
        )
        try:
            thread.start()
            while True:
                kind, value = self._get()
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            self._stop.set()
            if thread.ident is not None:
                thread.join(timeout=self.grace)


def _pass(
    source: Source,
    desc: str,
    verbose: int,
    rng: np.random.Generator | None = None,
    *,
    empty_ok: bool = False,
) -> Iterator[Chunk]:
    """One pass over ``source`` with a progress bar; refuses an empty stream."""
    bar = progress_bar(source.n_rows if verbose else None, desc, verbose)
    rows = 0
    try:
        with closing(iter(_ReadAhead(source._chunks(rng)))) as chunks:
            for chunk in chunks:
                yield chunk
                rows += len(chunk.message)
                bar.update(len(chunk.message))
    finally:
        bar.close()
    if rows == 0 and not empty_ok:
        raise ValueError(f"{source!r} yielded no rows; there is nothing to fit.")


def _values(column: Any) -> Any:
    return column.to_numpy() if isinstance(column, pd.Series) else column


class _Target:
    """``y`` of a stream: None, a column of the stream, or an aligned array."""

    def __init__(self, y: Any, caller: str) -> None:
        if isinstance(y, pd.Series):
            y = y.to_numpy()
        elif y is not None and not isinstance(y, (str, np.ndarray, torch.Tensor)):
            y = np.asarray(y)
        self.y = y
        self.caller = caller
        # A list while the classes of a column ``y`` are being collected.
        self.classes: list[np.ndarray] | np.ndarray | None = None

    def split(self, chunk: Chunk) -> tuple[Any, Any]:
        """The chunk's features and its ``y`` (None when there is none)."""
        message = chunk.message
        if self.y is None:
            return message, None
        if isinstance(self.y, str):
            if self.y not in message:
                raise KeyError(
                    f"{self.caller}(y={self.y!r}): the stream has no column "
                    f"{self.y!r} (chunk at {chunk.position}). Columns: "
                    f"{message.columns!r}."
                )
            x, y = message.drop(self.y), _values(message[self.y])
        else:
            x, y = message, self.y[chunk.offset : chunk.offset + len(message)]
            if len(y) != len(message):
                raise ValueError(
                    f"{self.caller}: y has {len(self.y)} rows but the stream has "
                    f"more (chunk at {chunk.position})."
                )
        if isinstance(self.classes, list):
            self.classes.append(_unique(y))
        return x, y

    def finish_classes(self) -> None:
        """Stop collecting: a whole pass has gone through ``split``."""
        if isinstance(self.classes, list):
            values = np.concatenate(self.classes) if self.classes else np.empty(0)
            self.classes = np.unique(pd.unique(values))


def _unique(y: Any) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        return torch.unique(y).cpu().numpy()
    return pd.unique(np.asarray(y).ravel())


# -------------------------------------------------------------- the steps
def _flat_steps(estimator: Any) -> list[Any]:
    """The steps of (nested) Pipelines, without "passthrough" and None."""
    if not isinstance(estimator, Pipeline):
        return [estimator]
    return [
        step
        for _, inner in estimator.steps
        if inner is not None and not isinstance(inner, str)
        for step in _flat_steps(inner)
    ]


def _is_stateless(step: Any) -> bool:
    """A Pipe that learns only its input schema (no ``partial_fit``)."""
    if isinstance(step, Junction):
        return all(_is_stateless(p) for _, p in step._named_pipes())
    return isinstance(step, Pipe) and not hasattr(step, "partial_fit")


def _split_learner(steps: list[Any]) -> tuple[list[Any], Any]:
    """Transformers and the final predictor (None when the last step transforms)."""
    last = steps[-1]
    learner = None if hasattr(last, "transform") else last
    transformers = steps[:-1] if learner is not None else steps
    for step in transformers:
        if not (hasattr(step, "partial_fit") or _is_stateless(step)):
            raise TypeError(
                f"{type(step).__name__} cannot be fitted out of core: it has no "
                "partial_fit. Fit it in memory, or use a step that has one."
            )
    if learner is not None and not hasattr(learner, "partial_fit"):
        raise TypeError(
            f"The final estimator {type(learner).__name__} has no partial_fit, so "
            "fit_stream cannot train it chunk by chunk (try SGDClassifier, "
            "SGDRegressor or a Torch estimator)."
        )
    return transformers, learner


def _reads(step: Any) -> Columns:
    """Columns whose values a fitted step learns from; None when unknown."""
    if isinstance(step, Junction):
        parts = [_reads(pipe) for _, pipe in step.pipes_]
        return None if any(p is None for p in parts) else set().union(*parts)
    columns = getattr(step, "columns_", None)
    if isinstance(step, Pipe) and not isinstance(step, FunctionPipe):
        if isinstance(columns, list):
            return set(columns)
    return None


def _changed(before: Any, after: Any) -> Columns:
    """Columns ``after`` does not share with ``before``: new or recomputed."""
    if not (isinstance(before, Message) and isinstance(after, Message)):
        return None
    return {c for c in after.columns if c not in before or after[c] is not before[c]}


def _overlaps(reads: Columns, tainted: Columns) -> bool:
    if tainted == set():
        return False
    return reads is None or tainted is None or bool(reads & tainted)


def _adopt(target: Any, fitted: Any) -> None:
    """Give ``target`` the fitted state of its clone ``fitted``, keeping params."""
    if isinstance(target, Pipeline):
        for (_, mine), (_, theirs) in zip(target.steps, fitted.steps):
            if mine is not None and not isinstance(mine, str):
                _adopt(mine, theirs)
    params = set(target.get_params(deep=False))
    for name in [k for k in vars(target) if k not in params]:
        delattr(target, name)
    for name, value in vars(fitted).items():
        if name not in params:
            setattr(target, name, value)


def _through(steps: list[Any], x: Any) -> Any:
    for step in steps:
        x = step.transform(x)
    return x


def _shapes_unsettled(x: Any, tainted: Columns) -> bool:
    """Whether ``x`` has a tensor column whose values are not final yet.

    Its shape may still change (OneHot's width grows with the vocabulary),
    and a step records the shapes of its input when fitted, so a step that
    sees such a column must wait for a pass of its own.
    """
    if tainted == set():
        return False
    if tainted is None or not isinstance(x, Message):
        return True
    return any(c in x and x.is_tensor(c) for c in tainted)


def _same_layout(before: Any, after: Any) -> bool:
    """Same column names, kinds (tensor or pandas), dtypes and row shapes.

    Dtypes count: a later step records its input's dtypes and checks each
    chunk against them (an int column scaled to float is a changed layout).
    """
    if not (isinstance(before, Message) and isinstance(after, Message)):
        return False
    if before.columns != after.columns:
        return False
    return all(
        before.is_tensor(c) == after.is_tensor(c)
        and before[c].dtype == after[c].dtype
        and tuple(before[c].shape[1:]) == tuple(after[c].shape[1:])
        for c in before.columns
    )


class _Group:
    """Consecutive steps fitted in one pass; opened on the pass's first chunk."""

    def __init__(self) -> None:
        # (step, learns from every chunk, transform skippable after chunk 0)
        self.members: list[tuple[Any, bool, bool]] = []

    def open(self, steps: list[Any], start: int, x: Any, y: Any) -> int:
        """Fit the steps that can share this pass on the first chunk.

        Returns the index of the first step left for a later pass.
        """
        tainted: Columns = set()
        for index in range(start, len(steps)):
            step = steps[index]
            if _shapes_unsettled(x, tainted):
                return index
            stateful = not _is_stateless(step)
            if stateful and tainted != set():
                probe = clone(step).partial_fit(x, y)
                if _overlaps(_reads(probe), tainted):
                    return index
                _adopt(step, probe)
            elif stateful:
                step.partial_fit(x, y)
            else:
                step.fit(x, y)
            out = step.transform(x)
            if stateful or _overlaps(_reads(step), tainted):
                changed = _changed(x, out)
                tainted = None if None in (changed, tainted) else tainted | changed
            # A learning step that keeps the column layout changes only values no
            # later member reads, so later chunks may skip its transform.
            skip = stateful and _same_layout(x, out)
            self.members.append((step, stateful, skip))
            x = out
        return len(steps)

    @property
    def learns(self) -> bool:
        """Whether any member learns from more than the first chunk."""
        return any(stateful for _, stateful, _ in self.members)

    def feed(self, x: Any, y: Any) -> None:
        """Update the members with one more chunk."""
        last = max(i for i, (_, stateful, _) in enumerate(self.members) if stateful)
        for i, (step, stateful, skip) in enumerate(self.members[: last + 1]):
            if stateful:
                step.partial_fit(x, y)
            if i < last and not skip:
                x = step.transform(x)


def _fit_group(
    steps: list[Any], start: int, source: Source, target: _Target, verbose: int
) -> tuple[int, bool]:
    """One pass fitting the steps from ``start`` on that can share it.

    Returns the index of the first step left, and whether the pass read the
    whole stream (a group of stateless steps needs the first chunk only).
    """
    group, end = _Group(), start
    names = ", ".join(type(s).__name__ for s in steps[start:])
    # closing(): stop the reading thread now, also when a step raises.
    with closing(_pass(source, f"fit {names}", verbose)) as chunks:
        for chunk in chunks:
            x, y = target.split(chunk)
            x = _through(steps[:start], x)
            if not group.members:
                end = group.open(steps, start, x, y)
                if not group.learns:
                    return end, False
            else:
                group.feed(x, y)
    return end, True


def _fit_transformers(
    steps: list[Any], source: Source, target: _Target, verbose: int
) -> None:
    done = 0
    while done < len(steps):
        done, whole = _fit_group(steps, done, source, target, verbose)
        if whole:
            target.finish_classes()


# ---------------------------------------------------------------- learner
def _accepts(method: Any, name: str) -> bool:
    parameters = inspect.signature(method).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _wants_classes(learner: Any) -> bool:
    if learner is None or not is_classifier(learner):
        return False
    return _accepts(learner.partial_fit, "classes")


def _learner_kwargs(learner: Any, classes: Any, target: _Target) -> dict[str, Any]:
    """``classes=`` for a classifier (all of them are needed on the first call)."""
    if not _wants_classes(learner):
        return {}
    if classes is not None:
        return {"classes": np.asarray(classes)}
    if target.y is None:
        return {}
    if isinstance(target.y, str):
        return {"classes": target.classes}
    return {"classes": np.unique(_unique(target.y))}


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


def _shuffle_rng(
    learner: Any, shuffle: bool | None, random_state: Any, per_call: dict
) -> np.random.Generator | None:
    """The generator of the shuffling; None when not shuffling.

    ``shuffle=None`` shuffles for estimators trained epoch by epoch (skorch's
    ``max_epochs``), seeded by ``random_state`` or else the estimator's own.
    """
    if shuffle is None:
        shuffle = bool(per_call)
    if not shuffle:
        return None
    if random_state is None:
        random_state = getattr(learner, "random_state", None)
    if isinstance(random_state, np.random.RandomState):
        random_state = random_state.randint(2**31)
    return np.random.default_rng(random_state)


def _fit_learner(
    transformers: list[Any], learner: Any, source: Source, target: _Target, **opts
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
    rng = _shuffle_rng(learner, opts["shuffle"], opts["random_state"], per_call)
    name = type(learner).__name__
    for epoch in range(n_epochs):
        desc = f"fit {name}, epoch {epoch + 1}/{n_epochs}"
        with closing(_pass(source, desc, opts["verbose"], rng)) as chunks:
            for chunk in chunks:
                x, y = target.split(chunk)
                x = _through(transformers, x)
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
    target: _Target,
    kwargs: dict[str, Any],
    **opts: Any,
) -> None:
    """Train a Torch estimator for its epochs, one pass over ``source`` each.

    Each transformed chunk is a run of minibatches within the epoch; the chunk
    order is shuffled (where the source allows) by a generator seeded from
    ``random_state`` and the epoch, and the rows within a chunk by the net.
    """
    name = type(learner).__name__
    if learner.train_split is not None:
        raise ValueError(
            f"fit_stream cannot use {name}(train_split={learner.train_split!r}): "
            "it would split every chunk apart, so the validation rows would "
            "change with the chunk size. Set train_split=None and pass the "
            "validation rows as a source of their own: fit_stream(..., valid=...)."
        )
    valid = opts["valid"]
    if valid is not None:
        _check_source(valid, "fit_stream(valid=...)")
        if not isinstance(target.y, str):
            raise TypeError(
                "fit_stream(valid=...) needs y to name the target column, which "
                "the validation source must hold too; got y of type "
                f"{type(target.y).__name__}."
            )
    seed = _chunk_order_seed(learner, opts["shuffle"], opts["random_state"])
    epochs = opts["epochs"]
    total = learner.max_epochs if epochs is None else epochs
    verbose = opts["verbose"]

    def chunks(stream: Source, split: _Target, desc: str, rng: Any) -> Iterator:
        with closing(_pass(stream, desc, verbose, rng)) as pass_:
            for chunk in pass_:
                x, y = split.split(chunk)
                yield _through(transformers, x), y

    def train(epoch: int) -> Iterator:
        if seed is False:
            rng = None
        else:
            rng = np.random.default_rng([*seed, epoch] if seed else None)
        desc = f"fit {name}, epoch {epoch + 1}/{total}"
        return chunks(source, target, desc, rng)

    def validate(epoch: int) -> Iterator:
        split = _Target(target.y, "fit_stream(valid=...)")
        return chunks(valid, split, f"score {name}, epoch {epoch + 1}", None)

    learner._fit_passes(
        train,
        None if valid is None else validate,
        epochs=epochs,
        classes=kwargs.get("classes"),
    )


def _chunk_order_seed(learner: Any, shuffle: bool | None, random_state: Any) -> Any:
    """Words seeding each epoch's chunk order: [] unseeded, False not shuffled."""
    if shuffle is False:
        return False
    if random_state is None:
        random_state = getattr(learner, "random_state", None)
    seed = check_seed(random_state, "fit_stream")
    return [] if seed is None else [seed]


def _collect_classes(source: Source, target: _Target, verbose: int) -> None:
    with closing(_pass(source, "collect classes", verbose)) as chunks:
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
    _check_source(source, "fit_stream")
    fitted = clone(estimator)
    transformers, learner = _split_learner(_flat_steps(fitted))
    target = _Target(y, "fit_stream")
    if _wants_classes(learner) and classes is None and isinstance(y, str):
        target.classes = []  # gathered while the transformers are fitted
    _fit_transformers(transformers, source, target, verbose)
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
    _adopt(estimator, fitted)
    return estimator


def _target_column(y: Any, caller: str) -> _Target:
    if y is not None and not isinstance(y, str):
        raise TypeError(
            f"{caller}(y=...) names the target column of the stream to leave out; "
            f"got {type(y).__name__}."
        )
    return _Target(y, caller)


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
    _check_source(source, caller)
    target = _target_column(y, caller)
    call = getattr(estimator, method)

    def results() -> Iterator[Any]:
        with closing(_pass(source, method, verbose, empty_ok=True)) as chunks:
            for chunk in chunks:
                yield call(target.split(chunk)[0])

    return results()


# ------------------------------------------------------------------ sinks
def _frame(result: Any, name: str) -> pd.DataFrame:
    """One chunk of results as a DataFrame; arrays become ``name`` columns."""
    if isinstance(result, Message):
        return result.to_dataframe()
    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, pd.Series):
        return result.reset_index(drop=True).to_frame(result.name or name)
    if isinstance(result, torch.Tensor):
        result = result.detach().cpu().numpy()
    values = np.asarray(result)
    if values.ndim == 1:
        return pd.DataFrame({name: values})
    flat = values.reshape(len(values), -1)
    return pd.DataFrame({f"{name}_{i}": flat[:, i] for i in range(flat.shape[1])})


def write_parquet(
    results: Iterable[Any], path: str | os.PathLike, *, name: str = "prediction"
) -> int:
    """Write chunks of results to one Parquet file, a row group per chunk.

    The file appears only when every chunk is written (it is written beside
    the destination under a name of its own and renamed), so a failed stream
    leaves no partial file, and of several writers to one path the last to
    finish wins with a whole file: readers never see a mixed or partial one.

    Parameters
    ----------
    results : iterable of Message, DataFrame, Series, ndarray or Tensor
        E.g. ``transform_stream(...)`` or ``predict_stream(...)``.
    path : str or path-like
        The Parquet file to write (replaced if it exists).
    name : str, default="prediction"
        Column name for array results (``name_0, name_1, ...`` for 2-D ones).

    Returns
    -------
    int
        Rows written.
    """
    pa = import_extra("pyarrow", "parquet", "write_parquet")
    pq = import_extra("pyarrow.parquet", "parquet", "write_parquet")
    path = os.fspath(path)
    partial = _partial_file(path)
    writer, rows = None, 0
    try:
        for index, result in enumerate(results):
            table = _arrow_table(pa, _frame(result, name), writer, index)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:
            raise ValueError("write_parquet got no results to write.")
        writer.close()
        os.replace(partial, path)
    except BaseException:
        # Cleaning up must not replace the error being raised.
        if writer is not None:
            with suppress(Exception):
                writer.close()
        with suppress(OSError):
            os.unlink(partial)
        raise
    return rows


def _partial_file(path: str) -> str:
    """Create a new empty hidden file beside ``path``; return its name.

    The name is random and created exclusively (``O_EXCL``), so concurrent
    writers never share a file and a stale one from a killed run is left
    alone; it is short enough for the file system however long the
    destination's name is. Its mode is what a plain ``open`` would give.
    """
    folder, base = os.path.split(path)
    partial = os.path.join(folder, f".{base[:64]}.{secrets.token_hex(8)}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise type(exc)(
            exc.errno, f"write_parquet cannot write {path!r}: {exc.strerror}"
        ) from exc
    return partial


def _arrow_table(pa: Any, frame: pd.DataFrame, writer: Any, index: int) -> Any:
    if writer is None:
        return pa.Table.from_pandas(frame, preserve_index=False)
    try:
        return pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False)
    except (pa.ArrowException, ValueError, KeyError) as exc:
        raise SchemaError(
            f"write_parquet: chunk {index} does not match the schema of the first "
            f"chunk ({writer.schema.names!r}): {exc}"
        ) from exc


def _cause(exc: BaseException) -> BaseException:
    """The driver's error under SQLAlchemy's and pandas' wrappers."""
    while exc.__cause__ is not None or getattr(exc, "orig", None) is not None:
        exc = getattr(exc, "orig", None) or exc.__cause__
    return exc


def write_sql(
    results: Iterable[Any],
    url: Any,
    table: str,
    *,
    name: str = "prediction",
) -> int:
    """Append chunks of results to a SQL table, in a transaction per chunk.

    The table is created from the first chunk if it does not exist. A chunk is
    either written whole or not at all; chunks written before a failure stay.

    Parameters
    ----------
    results : iterable of Message, DataFrame, Series, ndarray or Tensor
    url : str, sqlalchemy.URL or sqlalchemy.Engine
    table : str
        The table to append to.
    name : str, default="prediction"
        Column name for array results (``name_0, name_1, ...`` for 2-D ones).

    Returns
    -------
    int
        Rows written.
    """
    sa = import_extra("sqlalchemy", "sql", "write_sql")
    engine = url if isinstance(url, sa.engine.Engine) else sa.create_engine(url)
    rows = 0
    try:
        for index, result in enumerate(results):
            frame = _frame(result, name)
            try:
                with engine.begin() as connection:
                    frame.to_sql(table, connection, if_exists="append", index=False)
            except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
                raise SourceError(
                    f"write_sql: appending chunk {index} to table {table!r} failed "
                    f"after {rows} rows were written: {_cause(exc)}"
                ) from exc
            rows += len(frame)
    finally:
        if engine is not url:
            engine.dispose()
    return rows
