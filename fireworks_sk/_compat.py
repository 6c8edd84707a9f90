"""The private APIs of dependencies that fireworks_sk relies on, in one place.

Each entry names what it is, where the dependency keeps it and since which
version; all are present from the oldest supported versions
(``requirements/oldest.txt``) to the newest tested (scikit-learn 1.9, skorch
1.4). ``tests/test_compat.py`` holds a test per entry that fails when the
dependency moves or changes it; fix the entry here, once, for every caller.
Where a public API can do the job, use that instead and drop the entry.

Private hooks that fireworks_sk overrides, and so cannot import from here:

- skorch's ``NeuralNet._set_training(training)`` (skorch 1.0 to 1.4), called
  before every training and validation batch; ``_MessageNet`` overrides it to
  switch only the modules whose mode differs.
- scikit-learn's ``BaseEstimator._get_param_names`` (every version), which
  skorch's ``NeuralNet`` overrides; ``_MessageNet`` overrides it to drop
  :data:`SKORCH_BOOKKEEPING_PARAMS`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

# scikit-learn >= 1.2: the error of its parameter validation (``max_iter=0``),
# a ValueError and a TypeError. No public import path.
from sklearn.utils._param_validation import InvalidParameterError

# scikit-learn >= 1.2: what ``set_output`` asks an estimator's method to return.
from sklearn.utils._set_output import _get_output_config

# scikit-learn >= 0.20: get_params/set_params routed through a list of
# (name, estimator) pairs, as Pipeline and FeatureUnion use it.
from sklearn.utils.metaestimators import _BaseComposition

# scikit-learn >= 1.0: a DataFrame's column names as ``feature_names_in_``
# records them; None when not all are strings, TypeError when mixed.
from sklearn.utils.validation import _get_feature_names

__all__ = [
    "SKORCH_BOOKKEEPING_PARAMS",
    "LazySignature",
    "BaseComposition",
    "InvalidParameterError",
    "composition_params",
    "frame_blocks",
    "get_feature_names",
    "masked_buffers",
    "set_composition_params",
    "skorch_init_done",
    "skorch_module_names",
    "skorch_modules",
    "transform_output",
]

BaseComposition = _BaseComposition
get_feature_names = _get_feature_names

#: skorch 1.0 to 1.4 lists these among ``NeuralNet._get_param_names()``: derived
#: by ``__init__``, they are bookkeeping rather than parameters to set.
SKORCH_BOOKKEEPING_PARAMS = frozenset({"_params_to_validate"})


def transform_output(estimator: Any) -> str:
    """The container ``set_output`` asks ``estimator.transform`` to return.

    ``"default"``, ``"pandas"`` or ``"polars"``: the estimator's own
    ``set_output(transform=...)``, else scikit-learn's global
    ``transform_output`` config.
    """
    return _get_output_config("transform", estimator)["dense"]


def composition_params(
    composition: Any, attr: str, *, deep: bool = True
) -> dict[str, Any]:
    """``get_params`` of a :data:`BaseComposition` holding (name, estimator)
    pairs in ``composition.<attr>``, each estimator a parameter by its name.

    scikit-learn >= 0.20 keeps this in ``_BaseComposition._get_params``.
    """
    return composition._get_params(attr, deep=deep)


def set_composition_params(composition: Any, attr: str, **params: Any) -> Any:
    """``set_params`` of a :data:`BaseComposition` (see
    :func:`composition_params`): a pair's name replaces its estimator,
    ``name__param`` sets that estimator's parameter. Returns ``composition``.

    scikit-learn >= 0.20 keeps this in ``_BaseComposition._set_params``.
    """
    return composition._set_params(attr, **params)


def frame_blocks(frame: Any) -> tuple[list[Any], list[int], list[int]] | None:
    """The arrays pandas holds ``frame``'s columns in, and where each column is.

    pandas (1.x to 3.x) keeps a DataFrame's columns in blocks,
    ``frame._mgr.blocks``: a numpy array of shape (columns, rows) per group of
    columns of one numpy dtype, or an extension array; column ``i`` is row
    ``_mgr.blklocs[i]`` of block ``_mgr.blknos[i]``. Reading them costs a few
    microseconds where ``frame.dtypes`` and a column slice per run cost tens.

    Returns
    -------
    tuple of (list of arrays, list of int, list of int) or None
        The blocks' values, each column's block and its row in the block; None
        where pandas does not hold the frame so (the caller takes the public
        route).
    """
    try:
        manager = frame._mgr
        values = [block.values for block in manager.blocks]
        numbers, rows = manager.blknos.tolist(), manager.blklocs.tolist()
    except AttributeError:
        return None
    if len(numbers) != frame.shape[1] or len(rows) != frame.shape[1]:
        return None
    return values, numbers, rows


def masked_buffers(array: Any) -> tuple[Any, Any] | None:
    """The values and the mask of a pandas masked array (``Int64``,
    ``Float64``, ``boolean``), which pandas 1.x to 3.x keep as ``_data`` and
    ``_mask``; None for any other array."""
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
        return data, mask
    return None


def skorch_module_names(net: Any) -> list[str]:
    """Names of a skorch net's modules and criteria (skorch 1.0 to 1.4).

    skorch keeps them in ``net._modules`` and ``net._criteria`` (``"module"``,
    ``"criterion"`` and any custom ones); the objects are ``net.<name>_``.
    """
    return [*net._modules, *net._criteria]


def skorch_modules(net: Any) -> list[str]:
    """Names of a skorch net's modules alone, without criteria (skorch 1.0 to 1.4).

    ``net._modules`` holds them (``"module"`` and any custom ones); skorch's
    ``check_is_fitted`` requires ``net.<name>_`` for each.
    """
    return list(net._modules)


def skorch_init_done(net: Any) -> bool:
    """Whether skorch's ``NeuralNet.__init__`` has run on ``net`` (skorch 1.0 to 1.4).

    Its ``__setattr__`` needs that state; ``__init__`` stores
    ``_params_to_validate`` in the instance dict, and nothing sets it before.
    """
    return "_params_to_validate" in vars(net)


class LazySignature(inspect.Signature):
    """A signature built on first use, by ``build`` (Python 3.11 to 3.13).

    ``inspect.signature`` returns a function's ``__signature__`` as it is, so
    this stands in for the built one: every method of ``inspect.Signature``
    reads the private ``_parameters`` and ``_return_annotation``, which build
    it once here.
    """

    def __init__(self, build: Callable[[], inspect.Signature]) -> None:
        self._build = build

    @functools.cached_property
    def _built(self) -> inspect.Signature:
        return self._build()

    @property
    def _parameters(self) -> Any:
        return self._built.parameters

    @property
    def _return_annotation(self) -> Any:
        return self._built.return_annotation

    def replace(self, **changes: Any) -> inspect.Signature:
        return self._built.replace(**changes)

    def __reduce__(self) -> Any:
        return self._built.__reduce__()
