"""The Pipe base class: schema recording, alignment and transactional fits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from fireworks_sk._compat import transform_output
from fireworks_sk._numbers import column_numbers
from fireworks_sk._portable import from_portable, to_portable
from fireworks_sk._validation import (
    as_message,
    check_unique_names,
    check_widths,
    is_dask,
)
from fireworks_sk.exceptions import NotFittedError
from fireworks_sk.message import Message, flat_feature_names, read_column
from fireworks_sk.pipes._state import check_fitted_state
from fireworks_sk.schema import Schema, check_has_columns, warn_if_named_differs

__all__ = [
    "Pipe",
    "StatefulPipe",
    "restored_on_error",
    "selector_frame",
]


def selector_frame(message: Message) -> pd.DataFrame:
    """A 0-row DataFrame of ``message``'s columns and dtypes, for column selectors.

    A callable ``columns`` (such as scikit-learn's ``make_column_selector``)
    is given this frame: the same for a Dask DataFrame's meta and for data in
    memory, so the selection depends on names and dtypes only. A tensor
    column appears as a column of its element dtype.
    """
    return pd.DataFrame(
        {name: _selector_column(read_column(message, name)) for name in message.columns}
    )


def _selector_column(column: Any) -> Any:
    if isinstance(column, pd.Series):
        return column.iloc[:0].reset_index(drop=True)
    try:
        dtype = torch.empty(0, dtype=column.dtype).numpy().dtype
    except TypeError:  # bfloat16 and other dtypes numpy lacks
        dtype = np.dtype(np.float32)
    return pd.Series(np.empty(0, dtype=dtype))


def _snapshot(obj: Any) -> list[tuple[Any, dict[str, Any]]]:
    """The attributes of ``obj`` and of its fitted branches, copied shallowly.

    Fitting replaces attributes (statistics are merged into new objects), so
    putting these back undoes a fit.
    """
    snapshots = [(obj, dict(vars(obj)))]
    for _, branch in getattr(obj, "pipes_", None) or []:
        snapshots += _snapshot(branch)
    return snapshots


@contextlib.contextmanager
def restored_on_error(obj: Any) -> Iterator[None]:
    """Put ``obj`` back as it was if the block raises.

    A fit that fails on bad input leaves the Pipe as before the call: unfitted,
    or with its previous fit, never half-fitted.
    """
    snapshots = _snapshot(obj)
    try:
        yield
    except BaseException:
        for owner, attributes in snapshots:
            vars(owner).clear()
            vars(owner).update(attributes)
        raise


class Pipe(TransformerMixin, BaseEstimator):
    """Base class of every preprocessing step.

    A Pipe takes a Message, a pandas or polars DataFrame, a pyarrow Table, a
    dict or a 2-D array and returns a Message with the same rows. Subclasses
    implement ``_fit(message)`` (optional) and ``_transform(message)``;
    ``fit`` records the input schema, ``transform`` checks the input against
    it.

    A Pipe's ``columns`` parameter takes a name, a list of names, None (every
    column it can act on) or a callable such as scikit-learn's
    ``make_column_selector``: called once at fit with a 0-row DataFrame of the
    input's columns and dtypes, its names are kept in ``columns_``.
    """

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def __getstate__(self) -> dict[str, Any]:
        # Tensors and Series as numpy arrays: CPU-only, deterministic, and
        # readable by skops without trusting any extra type.
        return to_portable(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = from_portable(state)
        if isinstance(state.get("_schema_in"), dict):
            # Saved before the Schema: a dict of the same zero-row columns.
            state["_schema_in"] = Schema(state["_schema_in"])
        super().__setstate__(state)
        if self.__sklearn_is_fitted__():
            check_fitted_state(self)

    @property
    def input_schema_(self) -> Schema:
        """The columns the Pipe was fitted on, as a :class:`Schema`.

        Read-only; what :func:`fireworks_sk.save` writes into a file's
        manifest. Columns of an array are named ``x0, x1, ...``.

        Raises
        ------
        NotFittedError
            Before fit (an AttributeError too, so ``hasattr`` is False).
        """
        self._check_fitted()
        return self._schema_in

    def _fitted_state_problem(self) -> str | None:
        """What in the fitted state disagrees with the rest, or None.

        Run on every unpickled fitted Pipe (see ``pipes/_state.py``);
        Pipes whose state sizes an allocation check it here.
        """
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Pipes act on the columns they are given and pass the others through,
        # so string and categorical columns are accepted as input.
        tags.input_tags.string = True
        # The output is a Message, not an array, so scikit-learn's dtype check
        # (which reads ``output.dtype``) cannot apply; tests/pipes check that
        # float32 columns stay float32.
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ---------------------------------------------------------- public API
    def fit(self, X: Any, y: Any = None) -> Pipe:
        """Record the input schema and learn whatever the Pipe learns.

        Parameters
        ----------
        X : Message, DataFrame, dict, array-like of shape (n_samples, n_features), \
or Dask DataFrame
            A Dask DataFrame's schema is read from its meta; no partition is
            computed unless the Pipe learns statistics.
        y : ignored

        Returns
        -------
        self
        """
        with restored_on_error(self):
            if is_dask(X):
                from fireworks_sk.pipes._dask import fit_schema

                return fit_schema(self, X)
            message = self._validate(X, reset=True)
            self._fit(message)
            self._check_output_names()
        return self

    def transform(self, X: Any) -> Message:
        """Transform ``X``; rows in equal rows out.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like
            Must have the columns seen in ``fit``, in the same order.

        Returns
        -------
        Message, or DataFrame under ``set_output(transform="pandas")``; a
        Dask DataFrame for a Dask DataFrame (lazy, tensor columns flattened
        into ``get_feature_names_out()`` columns, index kept).
        """
        if is_dask(X):
            from fireworks_sk.pipes._dask import transform_partitions

            return transform_partitions(self, X)
        message = self._validate(X, reset=False)
        return self._to_output(self._transform(message), X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Flat output feature names, in the column order of ``np.asarray``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; needed only to rename the positional ``x0, x1, ...``
            names of a Pipe fitted on an array.

        Returns
        -------
        ndarray of str objects
        """
        layout = self._output_layout(input_features)
        return np.asarray([f for _, names in layout for f in names], dtype=object)

    def _output_layout(self, input_features: Any = None) -> list[tuple[str, list]]:
        """Each output column with the names of its flat features, in order."""
        self._check_fitted()
        renames = self._input_renames(input_features)
        out = self._empty_output()
        return [
            (
                column,
                [
                    _rename_prefix(f, renames)
                    for f in self._column_feature_names(
                        column, read_column(out, column)
                    )
                ],
            )
            for column in out.columns
        ]

    def _input_renames(self, input_features: Any) -> dict[str, str]:
        """Map fitted input names to ``input_features``.

        ``input_features`` may name the input columns (one per column, as
        scikit-learn passes) or every flat input feature, as the previous step
        of a Pipeline reports them from its own ``get_feature_names_out``.
        """
        if input_features is None:
            return {}
        given = [str(f) for f in np.asarray(input_features, dtype=object)]
        columns = self._input_names()
        flat = self._empty_input().feature_names()
        if flat != columns and len(given) == len(flat):
            return dict(zip(flat, given))
        if len(given) != len(columns):
            raise ValueError(
                f"input_features should have length equal to number of features "
                f"({len(columns)}), got {len(given)}"
            )
        if hasattr(self, "feature_names_in_") and given != columns:
            raise ValueError("input_features is not equal to feature_names_in_")
        return dict(zip(columns, given))

    # ---------------------------------------------------------------- hooks
    def _fit(self, message: Message) -> None:
        """Learn from a validated Message; stateless Pipes learn nothing."""

    def _transform(self, message: Message) -> Message:
        raise NotImplementedError

    def _column_feature_names(self, name: str, column: Any) -> list[str]:
        return flat_feature_names(name, tuple(column.shape[1:]))

    # -------------------------------------------------------------- helpers
    def _check_output_names(self) -> None:
        check_unique_names(type(self).__name__, self.get_feature_names_out())

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )

    def _input_names(self) -> list[str]:
        """The fitted input columns (positional ``x0, x1, ...`` for arrays)."""
        return self._schema_in.columns

    def _empty_input(self) -> Message:
        return self._schema_in.empty()

    def _empty_output(self) -> Message:
        """A 0-row output: the output's columns, kinds and row shapes."""
        return self._transform(self._empty_input())

    def _validate(self, X: Any, *, reset: bool, check_dtypes: bool = True) -> Message:
        """Convert ``X`` and record (reset) or check the input columns."""
        if isinstance(X, (pd.Series, torch.Tensor)) and X.ndim == 1:
            raise ValueError(
                f"{type(self).__name__} expects 2-D input (a table); got a 1-D "
                f"{type(X).__name__}. Wrap it: Message({{'x': values}})."
            )
        if not reset:
            self._check_fitted()
        message, named = as_message(X, min_rows=1 if reset else 0)
        if not reset:
            regrouped = _regrouped(X, self._schema_in, type(self).__name__)
            message = message if regrouped is None else regrouped
        if reset:
            self._record_schema(message, named)
            return message
        return self._align(message, named, check_dtypes)

    def _record_schema(
        self, message: Message, named: bool, *, rows_known: bool = True
    ) -> None:
        """Check a fit's input, then remember its columns, kinds, dtypes, shapes.

        Every fit passes here, in memory or on a Dask DataFrame's meta (whose
        rows are not known yet: ``rows_known=False``): at least one column
        and one row, and no tensor column without features.

        ``n_features_in_`` is ``message.shape[1]``, the flat features that
        scikit-learn counts; ``feature_names_in_`` names the columns.
        """
        # A Message without columns has no rows either: name the real cause.
        if not message.columns:
            raise ValueError(
                f"{type(self).__name__} got no columns; at least 1 column is "
                "required to fit."
            )
        if rows_known and len(message) == 0:
            raise ValueError(
                f"{type(self).__name__} got 0 rows; at least 1 row is required to fit."
            )
        check_widths(type(self).__name__, message)
        self.n_features_in_ = message.shape[1]
        if named:
            self.feature_names_in_ = np.asarray(message.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._schema_in = Schema.record(message)

    def _align(
        self, message: Message, named: bool, check_dtypes: bool = True
    ) -> Message:
        """Check ``message`` against the fitted schema (see :meth:`Schema.check`).

        Input without names (an array) where names were fitted, or the
        reverse, is warned about and, when the widths agree, renamed.
        """
        fitted = self._input_names()
        fitted_named = hasattr(self, "feature_names_in_")
        name = type(self).__name__
        if warn_if_named_differs(name, named, fitted_named, stacklevel=3):
            if len(message.columns) == len(fitted):
                message = message.rename(dict(zip(message.columns, fitted)))
        self._schema_in.check(name, message, dtypes=check_dtypes)
        return message

    def _output_config(self) -> str:
        """What scikit-learn's set_output asks ``transform`` to return."""
        return transform_output(self)

    def _to_output(self, message: Message, X: Any = None) -> Any:
        """Return a DataFrame when scikit-learn's set_output asks for one.

        The DataFrame keeps the index of a DataFrame input, as scikit-learn's
        transformers do, and records in ``attrs`` which of its columns come
        from which Message column, so that a Pipe fitted on the Message can
        read it back (``set_output`` called after ``fit``).
        """
        if self._output_config() not in ("pandas", "polars"):
            return message
        layout = self._output_layout()
        frame = message.to_dataframe(
            names=[f for _, names in layout for f in names],
            index=X.index if isinstance(X, pd.DataFrame) else None,
        )
        frame.attrs[LAYOUT] = layout
        return frame

    def _resolve_columns(self, message: Message, default: list[str]) -> list[str]:
        """The columns a Pipe acts on: ``self.columns`` checked, or ``default``."""
        if self.columns is None:
            return default
        names = self.columns
        if callable(names) and not isinstance(names, str):
            names = names(selector_frame(message))
        names = [names] if isinstance(names, str) else names
        names = list(names) if isinstance(names, Iterable) else [names]
        if not all(isinstance(c, str) for c in names):
            raise TypeError(
                f"{type(self).__name__}(columns=...) must be a column name, a list "
                f"of names, a callable that returns names (such as "
                f"sklearn.compose.make_column_selector) or None; got "
                f"{self.columns!r}, which gives {names!r}."
            )
        check_has_columns(
            f"{type(self).__name__}(columns=...)",
            names,
            message.columns,
            fix="Name columns of the input in columns=..., or pass input that "
            "has them.",
        )
        return names


class StatefulPipe(Pipe):
    """A Pipe whose statistics merge across ``partial_fit`` calls.

    Subclasses implement ``_chunk_state(message)`` (statistics of one batch),
    ``_merge_states(a, b)`` (associative), ``_set_state(state)`` (fitted
    attributes from a state) and ``_get_state()`` (its inverse).
    """

    def fit(self, X: Any, y: Any = None) -> StatefulPipe:
        """Forget earlier batches, then fit on ``X``.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        with restored_on_error(self):
            self._reset()
            return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> StatefulPipe:
        """Update the statistics with one batch.

        A Dask DataFrame counts as one batch: the statistics of its partitions
        are computed and merged on the workers, and only those travel back.

        Parameters
        ----------
        X : Message, DataFrame, dict, array-like of shape (n_samples, n_features), \
or Dask DataFrame
        y : ignored

        Returns
        -------
        self
        """
        first_call = not hasattr(self, "n_samples_seen_")
        with restored_on_error(self):
            if is_dask(X):
                from fireworks_sk.pipes._dask import partial_fit_partitions

                return partial_fit_partitions(self, X, first_call=first_call)
            message = self._validate(X, reset=first_call)
            if len(message) == 0:
                return self
            if first_call:
                self.columns_ = self._select_columns(message)
            state = self._chunk_state(message)
            names = None if first_call else self._names_key()
            if not first_call:
                state = self._merge_states(self._get_state(), state)
            self._set_state(state)
            if names is None or names != self._names_key():
                self._check_output_names()
        return self

    def _reset(self) -> None:
        for attribute in [k for k in vars(self) if k.endswith("_")]:
            if not attribute.startswith("__"):
                delattr(self, attribute)

    def _select_columns(self, message: Message) -> list[str]:
        raise NotImplementedError

    def _chunk_state(self, message: Message) -> Any:
        raise NotImplementedError

    def _merge_states(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def _set_state(self, state: Any) -> None:
        raise NotImplementedError

    def _get_state(self) -> Any:
        """The mergeable state, rebuilt from the fitted attributes."""
        raise NotImplementedError

    def _names_key(self) -> Any:
        """What the output names depend on besides the input schema.

        ``partial_fit`` checks the output names again only when this changes
        (building them costs a transform of an empty input per batch); None
        means unknown, and they are checked after every batch.
        """
        return None


# The key of a DataFrame's ``attrs`` under which a Pipe's pandas output lists
# its Message columns, each with the names of its flat features.
LAYOUT = "fireworks_sk.layout"


def _regrouped(X: Any, schema: Mapping[str, Any], owner: str) -> Message | None:
    """The Message that a Pipe's pandas output ``X`` flattened, if it fits ``schema``.

    A Pipe fitted on Messages (a tensor column ``c`` of shape (n, 3)) then
    reads the DataFrame (``c_u, c_v, c_w``) that a previous step gives once
    ``set_output(transform="pandas")`` is called after fit. Only a DataFrame
    whose columns are exactly those its ``attrs`` list, column for column of
    ``schema`` with the same widths, is read back; any other is left to the
    usual schema check. Its values become the fitted dtype through
    :func:`~fireworks_sk._numbers.column_numbers`, whose errors name ``owner``.
    """
    layout = X.attrs.get(LAYOUT) if isinstance(X, pd.DataFrame) else None
    well_formed = isinstance(layout, list) and all(
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], list)
        for pair in layout
    )
    if not well_formed or [column for column, _ in layout] != list(schema):
        return None
    if list(X.columns) != [f for _, names in layout for f in names]:
        return None
    columns, start = {}, 0
    for (name, names), fitted in zip(layout, schema.values()):
        if len(names) != int(np.prod(fitted.shape[1:])):
            return None
        block = X.iloc[:, start : start + len(names)]
        start += len(names)
        if isinstance(fitted, torch.Tensor):
            # NaN is the Pipe's to judge (Impute takes it); a value the
            # fitted dtype cannot hold is refused here, by its feature's name.
            features = [
                column_numbers(
                    f, block.iloc[:, j], fitted.dtype, allow_nan=True, owner=owner
                )
                for j, f in enumerate(names)
            ]
            values = torch.stack(features, dim=1)
            columns[name] = values.reshape(len(X), *fitted.shape[1:])
        else:
            columns[name] = block.iloc[:, 0]
    return Message(columns)


def _rename_prefix(feature: str, mapping: dict[str, str]) -> str:
    for old in sorted(mapping, key=len, reverse=True):
        if feature == old:
            return mapping[old]
        if feature.startswith(old + "_"):
            return mapping[old] + feature[len(old) :]
    return feature
