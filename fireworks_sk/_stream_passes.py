"""The passes of ``fit_stream`` over a stream that fit a Pipeline's transformers.

A pass fits a group of consecutive steps; a step joins the group when it reads
no column whose values depend on the not yet complete statistics of a step
before it in the group, which is decided on the first chunk of the pass. So
``BatchNormalizer(numeric)`` then ``OneHot(categorical)`` share one pass, while
a step after ``Stack`` of scaled columns gets a pass of its own, and every
statistic equals the one an in-memory ``fit`` learns.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any

from sklearn.base import clone
from sklearn.pipeline import Pipeline

from fireworks_sk._stream_read import StreamTarget, read_pass
from fireworks_sk.message import Message, stored_column
from fireworks_sk.pipes._base import Pipe
from fireworks_sk.pipes._columns import FunctionPipe
from fireworks_sk.pipes._junction import Junction
from fireworks_sk.schema import same_layout
from fireworks_sk.sources._base import Source

# Column sets: a set of names, or None for "every column" (unknown reads or
# changes, e.g. a step that returns an array).
Columns = set[str] | None


def flat_steps(estimator: Any) -> list[Any]:
    """The steps of (nested) Pipelines, without "passthrough" and None."""
    if not isinstance(estimator, Pipeline):
        return [estimator]
    return [
        step
        for _, inner in estimator.steps
        if inner is not None and not isinstance(inner, str)
        for step in flat_steps(inner)
    ]


def _is_stateless(step: Any) -> bool:
    """A Pipe that learns only its input schema (no ``partial_fit``)."""
    if isinstance(step, Junction):
        return all(_is_stateless(p) for _, p in step.named_pipes())
    return isinstance(step, Pipe) and not hasattr(step, "partial_fit")


def split_learner(steps: list[Any]) -> tuple[list[Any], Any]:
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
    return {
        c
        for c in after.columns
        if c not in before or stored_column(after, c) is not stored_column(before, c)
    }


def _overlaps(reads: Columns, tainted: Columns) -> bool:
    if tainted == set():
        return False
    return reads is None or tainted is None or bool(reads & tainted)


def adopt(target: Any, fitted: Any) -> None:
    """Give ``target`` the fitted state of its clone ``fitted``, keeping params."""
    if isinstance(target, Pipeline):
        for (_, mine), (_, theirs) in zip(target.steps, fitted.steps):
            if mine is not None and not isinstance(mine, str):
                adopt(mine, theirs)
    params = set(target.get_params(deep=False))
    for name in [k for k in vars(target) if k not in params]:
        delattr(target, name)
    for name, value in vars(fitted).items():
        if name not in params:
            setattr(target, name, value)


def transform_through(steps: list[Any], x: Any) -> Any:
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
                adopt(step, probe)
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
            # Dtypes count: a later step records its input's dtypes and checks
            # each chunk against them (an int column scaled to float changed).
            messages = isinstance(x, Message) and isinstance(out, Message)
            skip = stateful and messages and same_layout(x, out)
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
    steps: list[Any], start: int, source: Source, target: StreamTarget, verbose: int
) -> tuple[int, bool]:
    """One pass fitting the steps from ``start`` on that can share it.

    Returns the index of the first step left, and whether the pass read the
    whole stream (a group of stateless steps needs the first chunk only).
    """
    group, end = _Group(), start
    names = ", ".join(type(s).__name__ for s in steps[start:])
    # closing(): stop the reading thread now, also when a step raises.
    with closing(read_pass(source, f"fit {names}", verbose)) as chunks:
        for chunk in chunks:
            x, y = target.split(chunk)
            x = transform_through(steps[:start], x)
            if not group.members:
                end = group.open(steps, start, x, y)
                if not group.learns:
                    return end, False
            else:
                group.feed(x, y)
    return end, True


def fit_transformers(
    steps: list[Any], source: Source, target: StreamTarget, verbose: int
) -> None:
    done = 0
    while done < len(steps):
        done, whole = _fit_group(steps, done, source, target, verbose)
        if whole:
            target.finish_classes()
