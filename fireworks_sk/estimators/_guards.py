"""Checks and repairs around the Torch estimators' fits.

Fit parameters and epoch counts that would train nothing, labels with holes,
optimizer names, and putting a net back as it was when a fit fails.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import torch

from fireworks_sk._compat import InvalidParameterError, LazySignature
from fireworks_sk.estimators._module import has_lazy_parameters
from fireworks_sk.exceptions import NetNotFittedError
from fireworks_sk.pipes._base import restored_on_error

__all__ = [
    "InvalidParameterError",
    "NetNotFittedError",
    "check_epochs",
    "check_fit_params",
    "check_no_missing",
    "list_skorch_params",
    "optimizer_class",
    "restored_net_on_error",
]


def check_epochs(owner: str, name: str, value: Any) -> None:
    """Refuse a number of epochs that trains nothing, as scikit-learn's max_iter.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` (and ``TypeError``), when ``value`` is not an int >= 1.
    """
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
        if value >= 1:
            return
    raise InvalidParameterError(
        f"The {name!r} parameter of {owner} must be an int in the range "
        f"[1, inf). Got {value!r} instead."
    )


def check_fit_params(net: Any, fit_params: dict[str, Any]) -> None:
    """Refuse fit parameters and epoch counts a fit of ``net`` cannot honour."""
    if "sample_weight" in fit_params:
        raise TypeError(
            f"{type(net).__name__} does not support sample_weight: skorch "
            "passes fit parameters unchanged to module.forward for every batch."
        )
    check_epochs(type(net).__name__, "max_epochs", net.max_epochs)
    if fit_params.get("epochs") is not None:
        check_epochs(type(net).__name__, "epochs", fit_params["epochs"])


def check_no_missing(y: np.ndarray) -> None:
    """Refuse NaN or None among labels of any dtype, naming y and the row."""
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"Input y contains NaN or None (first at row {int(np.argmax(missing))}); "
            "drop those rows or give them a label first."
        )


def optimizer_class(name: str, owner: str) -> type:
    """The torch.optim class named ``name``, case aside ("adam", "SGD").

    Raises
    ------
    ValueError
        Listing the accepted forms, when torch.optim has no such optimizer.
    """
    classes = {
        key.lower(): value
        for key, value in vars(torch.optim).items()
        if isinstance(value, type)
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    }
    if name.lower() not in classes:
        raise ValueError(
            f"{owner}(optimizer={name!r}) names no torch.optim optimizer. Pass an "
            "optimizer class such as torch.optim.Adam, a callable returning an "
            f"optimizer, or one of the names {sorted(classes)!r}."
        )
    return classes[name.lower()]


def list_skorch_params(cls: type) -> type:
    """Name every skorch parameter, with ``cls``'s default, in ``cls.__init__``.

    The estimators take skorch's parameters through ``**kwargs``. scikit-learn's
    repr (also of a Pipeline or a search holding the net), ``help()`` and
    ``inspect.signature`` read the signature, and would otherwise show every
    one of them as set by the user. Used as a class decorator; the defaults are
    read from a default instance when the signature is first asked for, not at
    import.
    """
    signature = inspect.signature(cls.__init__)

    def build() -> inspect.Signature:
        *named, var_keyword = signature.parameters.values()
        known = {parameter.name for parameter in named}
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
            for name, value in sorted(cls().get_params(deep=False).items())
            if name not in known
        ]
        return signature.replace(parameters=[*named, *extra, var_keyword])

    cls.__init__.__signature__ = LazySignature(build)
    return cls


def _state(obj: Any) -> dict[str, Any] | None:
    """A copy of a module's or optimizer's state; None for lazy modules."""
    if isinstance(obj, torch.nn.Module):
        if has_lazy_parameters(obj):
            return None
        return _copied(obj.state_dict())
    if isinstance(obj, torch.optim.Optimizer):
        return _copied(obj.state_dict())
    return None


def _copied(tree: Any) -> Any:
    """Tensors cloned through nested dicts and lists; other leaves are values.

    A state dict holds references to the tensors training updates in place;
    this is ``copy.deepcopy`` for that shape of data, several times faster.
    """
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {key: _copied(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_copied(value) for value in tree]
    return tree


@contextlib.contextmanager
def restored_net_on_error(net: Any) -> Iterator[None]:
    """Put ``net`` back as it was if the block raises, trained weights included.

    The Pipes' :func:`~fireworks_sk.pipes._base.restored_on_error` puts the
    attributes back; a net also trains its modules and optimizers in place, so
    their states are copied, and its history only grows, so it is cut back to
    its length. A fit that fails, on bad input or in the middle of training,
    leaves the net unfitted, or with its previous fit, never half-fitted.
    """
    values = list(vars(net).values())
    states = {
        id(obj): (obj, state) for obj in values if (state := _state(obj)) is not None
    }
    history = vars(net).get("history_")
    length = None if history is None else len(history)
    try:
        with restored_on_error(net):
            yield
    except BaseException:
        for obj, state in states.values():
            obj.load_state_dict(state)
        if length is not None:
            del history[length:]
        raise
