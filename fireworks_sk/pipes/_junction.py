"""Junction: several pipes on one input, outputs merged by column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.base import clone
from sklearn.utils.metaestimators import available_if

from fireworks_sk._compat import (
    BaseComposition,
    composition_params,
    set_composition_params,
)
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import (
    Column,
    Message,
    from_columns,
    read_column,
    read_columns,
    shares_data,
    stored_column,
)
from fireworks_sk.pipes._base import Pipe, restored_on_error

__all__ = ["Junction"]


def _can_partial_fit(pipe: Any) -> bool:
    # A Pipe without partial_fit learns only its input schema (the library's
    # convention: Pipes that learn statistics are StatefulPipes), so fitting it
    # on the first batch is its partial fit.
    return hasattr(pipe, "partial_fit") or (
        isinstance(pipe, Pipe) and not isinstance(pipe, Junction)
    )


def _all_branches_can_partial_fit(junction: Junction) -> bool:
    return all(_can_partial_fit(pipe) for _, pipe in junction.named_pipes())


def _branch_input(pipe: Any, message: Message) -> Any:
    """What a branch reads: a Pipe the Message, any other transformer a DataFrame.

    A DataFrame gives a scikit-learn transformer the column names, which it
    records in ``feature_names_in_`` and hands on in ``get_feature_names_out``.
    """
    return message if isinstance(pipe, Pipe) else message.to_dataframe()


def _branch_output(
    name: str, pipe: Any, message: Message, names: list[str] | None
) -> Message:
    """A branch's output as a Message, whatever output its set_output asks for.

    A Pipe's own transform is used, so columns it leaves alone stay the same
    objects and are recognised as unchanged. Any other transformer's output
    (array or DataFrame) becomes pandas columns named ``names``, its output
    names recorded at fit.
    """
    if isinstance(pipe, Pipe):
        return pipe._transform(pipe._validate(message, reset=False))
    if len(message) == 0:
        # scikit-learn transformers refuse zero rows; the names say the layout.
        return Message({n: pd.Series([], dtype=np.float64) for n in names})
    out = pipe.transform(_branch_input(pipe, message))
    if isinstance(out, Message):
        return out
    if scipy.sparse.issparse(out):
        out = out.toarray()  # Message columns are dense (OneHotEncoder's default)
    if not isinstance(out, pd.DataFrame):
        out = pd.DataFrame(np.asarray(out)).infer_objects()
    if names is not None and out.shape[1] != len(names):
        raise ValueError(
            f"Junction branch {name!r} returned {out.shape[1]} columns; it "
            f"returned {len(names)} when fitted."
        )
    if names is None:
        names = [f"{name}{i}" for i in range(out.shape[1])]
    return Message(out.set_axis(names, axis=1))


def _branch_names(name: str, pipe: Any, message: Message) -> list[str] | None:
    """A scikit-learn branch's output names, fixed once it is fitted.

    Its ``get_feature_names_out``, or ``name0, name1, ...`` for a branch
    without one (its width read from one transformed row). None for a Pipe.
    """
    if isinstance(pipe, Pipe):
        return None
    if hasattr(pipe, "get_feature_names_out"):
        return [str(n) for n in pipe.get_feature_names_out()]
    return list(_branch_output(name, pipe, message[:1], None).columns)


class Junction(BaseComposition, Pipe):
    """Apply several pipes to the same input and merge their outputs by column.

    A column that no branch changes appears once, as it was; a branch that
    hands an input column on (``m[name]``, the same data) leaves it
    unchanged. A column changed by one branch takes that
    branch's value; new columns are added in branch order. Two branches that
    change the same column raise an error.

    Parameters
    ----------
    pipes : list of (str, transformer) or list of transformers, default=None
        The branches. Named pairs, as in ``sklearn.pipeline.FeatureUnion``, make
        nested parameters such as ``scale__with_std`` searchable; plain pipes
        are named after their class. None means no branch: the input passes
        through unchanged. A branch may be any scikit-learn transformer (a
        ``SimpleImputer``, a ``Pipeline`` ending in one): it reads the input
        as a DataFrame (tensor columns flattened) and its output becomes
        pandas columns named by its ``get_feature_names_out``.

    Attributes
    ----------
    pipes_ : list of (str, Pipe)
        Fitted copies of the branches.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import BatchNormalizer, Junction, Message, OneHot
    >>> m = Message({"x": torch.tensor([1.0, 3.0]), "c": ["a", "b"]})
    >>> j = Junction([("scale", BatchNormalizer()), ("onehot", OneHot())])
    >>> j.fit_transform(m).columns
    ['x', 'c']
    """

    def __init__(self, pipes: list[Any] | None = None) -> None:
        self.pipes = pipes

    def _is_named(self) -> bool:
        return (
            isinstance(self.pipes, (list, tuple))
            and len(self.pipes) > 0
            and all(isinstance(p, tuple) and len(p) == 2 for p in self.pipes)
        )

    def named_pipes(self) -> list[tuple[str, Any]]:
        """The branches as ``(name, pipe)`` pairs.

        Unnamed branches are named after their class in lower case, as
        :func:`sklearn.pipeline.make_pipeline` names steps (``onehot``,
        ``onehot-2`` for a second one).

        Returns
        -------
        list of (str, Pipe)

        Raises
        ------
        TypeError
            If ``pipes`` is not a list, or mixes pairs and bare pipes.
        """
        pipes = self.pipes or []
        if not isinstance(pipes, (list, tuple)):
            raise TypeError(
                "Junction(pipes=...) takes a list of pipes; got "
                f"{type(pipes).__name__}."
            )
        if all(isinstance(p, tuple) and len(p) == 2 for p in pipes):
            return list(pipes)
        if any(isinstance(p, tuple) for p in pipes):
            raise TypeError(
                "Junction(pipes=...) takes either all (name, pipe) pairs or all pipes."
            )
        names = [type(p).__name__.lower() for p in pipes]
        return [
            (
                name
                if names.count(name) == 1
                else f"{name}-{names[: i + 1].count(name)}",
                p,
            )
            for i, (name, p) in enumerate(zip(names, pipes))
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        if self._is_named():
            return composition_params(self, "pipes", deep=deep)
        return super().get_params(deep=False)

    def set_params(self, **params: Any) -> Junction:
        if self._is_named():
            return set_composition_params(self, "pipes", **params)
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        pipes = self.pipes if isinstance(self.pipes, (list, tuple)) else []
        branches = [p[1] if isinstance(p, tuple) else p for p in pipes]
        tags.input_tags.allow_nan = all(
            p.__sklearn_tags__().input_tags.allow_nan for p in branches
        )
        return tags

    def fit(self, X: Any, y: Any = None) -> Junction:
        """Fit a copy of every branch on ``X``.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like
        y : array-like or None, default=None
            Passed to every branch.

        Returns
        -------
        self
        """
        with restored_on_error(self):
            message = self._validate(X, reset=True)
            self.pipes_ = [(name, clone(pipe)) for name, pipe in self.named_pipes()]
            for _, pipe in self.pipes_:
                pipe.fit(_branch_input(pipe, message), y)
            self._record_branch_names(message)
            self._check_output_names()
        return self

    @available_if(_all_branches_can_partial_fit)
    def partial_fit(self, X: Any, y: Any = None) -> Junction:
        """Update every branch with one batch.

        Branches without ``partial_fit`` (Pipes that learn only their input
        schema, such as Stack or ToTensor) are fitted on the first batch.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like
        y : array-like or None, default=None

        Returns
        -------
        self
        """
        first_call = not hasattr(self, "pipes_")
        # All branches or none: a branch failing undoes those updated before it.
        with restored_on_error(self):
            message = self._validate(X, reset=first_call)
            if first_call:
                self.pipes_ = [(name, clone(pipe)) for name, pipe in self.named_pipes()]
            for _, pipe in self.pipes_:
                if hasattr(pipe, "partial_fit"):
                    pipe.partial_fit(_branch_input(pipe, message), y)
                elif first_call:
                    pipe.fit(_branch_input(pipe, message), y)
            self._record_branch_names(message)
            self._check_output_names()
        return self

    def _record_branch_names(self, message: Message) -> None:
        self._branch_names = {
            name: _branch_names(name, pipe, message) for name, pipe in self.pipes_
        }

    def _transform(self, message: Message) -> Message:
        return self._merge(message)[0]

    def _merge(self, message: Message) -> tuple[Message, dict[str, Any]]:
        """Merged branch outputs, and the branch that produced each changed column."""
        merged: dict[str, Column] = {}
        changed_by: dict[str, tuple[str, Any]] = {}
        for name, pipe in self.pipes_:
            out = _branch_output(name, pipe, message, self._branch_names[name])
            for column in out.columns:
                # Stored entries: a column held in a block is the same object
                # in every Message that shares it, unlike the Series built from it.
                value = stored_column(out, column)
                if _passes_through(message, column, value):
                    merged.setdefault(column, value)
                    continue
                if column in changed_by:
                    raise SchemaError(
                        f"Junction branches {changed_by[column][0]!r} and {name!r} "
                        f"both produce the column {column!r}; select distinct columns "
                        "in each branch."
                    )
                changed_by[column] = (name, pipe)
                merged[column] = value
        if not self.pipes_:
            merged = read_columns(message)
        return from_columns(merged, len(message)), changed_by

    def _column_feature_names(self, name: str, column: Any) -> list[str]:
        _, changed_by = self._merge(self._empty_input())
        pipe = changed_by.get(name, (None, None))[1]
        if isinstance(pipe, Pipe):
            return pipe._column_feature_names(name, column)
        return super()._column_feature_names(name, column)


def _passes_through(message: Message, name: str, value: Any) -> bool:
    """Whether a branch's column ``name`` is the input's, unchanged: the same
    stored column, or a Series over the same data (what ``m[name]``, a new
    Series over the Message's data, hands a branch)."""
    if name not in message:
        return False
    if value is stored_column(message, name):
        return True
    return isinstance(value, pd.Series) and shares_data(
        value, read_column(message, name)
    )
