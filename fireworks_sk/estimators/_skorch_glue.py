"""Where the Torch estimators part from skorch's ``NeuralNet`` to meet scikit-learn.

scikit-learn asks that ``__init__`` and ``set_params`` store parameters only
and that ``get_params`` list parameters only; skorch builds state in both and
lists bookkeeping. Callbacks expect X and y as passed to ``fit``, while the
net trains on an encoded dataset; a pickle holds no fit's passing state.
The net's methods of the same names call these.
"""

from __future__ import annotations

from typing import Any

from fireworks_sk._compat import SKORCH_BOOKKEEPING_PARAMS
from fireworks_sk.estimators._data import MessageDataset
from fireworks_sk.estimators._feeding import FEEDING_SETTINGS
from fireworks_sk.estimators._loader import MessageLoader

__all__ = [
    "callback_kwargs",
    "param_names",
    "picklable_state",
    "skorch_defaults",
    "store_callbacks",
    "store_parameters",
]

# State of one fit, never pickled: X and y as passed, and the fit's random
# state; and the feeding settings, derived from parameters when next needed.
_FIT_STATE = ("_user_data_", "_random_", FEEDING_SETTINGS)


def skorch_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Defaults that differ from skorch's: silent, Message feeding, no split."""
    kwargs.setdefault("iterator_train", MessageLoader)
    kwargs.setdefault("iterator_valid", MessageLoader)
    kwargs.setdefault("dataset", MessageDataset)
    kwargs.setdefault("verbose", 0)
    return kwargs


def store_parameters(net: Any, *, module: Any, criterion: Any, **params: Any) -> None:
    """The rest of ``__init__`` after skorch's: store parameters, keep no state.

    skorch's ``__setattr__`` refuses torch module instances outside its
    initialize methods once ``initialized_`` exists, which here is a class
    default; ``__init__`` only stores parameters, so it bypasses the check.
    """
    vars(net).update(module=module, criterion=criterion)
    for name, value in params.items():
        setattr(net, name, value)
    _drop_init_state(net)


def _drop_init_state(net: Any) -> None:
    """Remove what skorch's ``__init__`` set, for the class defaults to show."""
    # A history passed as history=MyHistory() is kept, as skorch keeps it.
    if vars(net).get("history_") is None:
        vars(net).pop("history_", None)
    for name in ("initialized_", "virtual_params_"):
        vars(net).pop(name, None)


def store_callbacks(net: Any, params: dict[str, Any]) -> None:
    """Take ``callbacks`` out of ``params`` and store it, on an unfitted net.

    skorch builds the callbacks as soon as they are set, which fails on a
    value that ``__init__`` accepted; scikit-learn asks that ``set_params``
    store, as ``__init__`` does, and ``fit`` check. A fitted net, and
    ``callbacks__*`` routes, which need built callbacks, take skorch's way.
    """
    routes = any(key.startswith("callbacks__") for key in params)
    if "callbacks" in params and not routes and not net.initialized_:
        vars(net)["callbacks"] = params.pop("callbacks")
        vars(net).pop("callbacks_", None)  # built again by fit


def param_names(names: list[str]) -> list[str]:
    """skorch's parameter names without the bookkeeping ``__init__`` derives."""
    return [n for n in names if n not in SKORCH_BOOKKEEPING_PARAMS]


def callback_kwargs(net: Any, method_name: str, cb_kwargs: dict[str, Any]) -> None:
    """``on_train_begin`` and ``on_train_end`` get X and y as passed to ``fit``,
    not the encoded dataset (as skorch's callbacks such as
    ``InputShapeSetter`` expect)."""
    user = vars(net).get("_user_data_")
    if user is not None and method_name in ("on_train_begin", "on_train_end"):
        cb_kwargs["X"], cb_kwargs["y"] = user


def picklable_state(state: dict[str, Any]) -> dict[str, Any]:
    """skorch's pickled state without a fit's own, as a pickle is not in a fit."""
    for name in _FIT_STATE:
        state.pop(name, None)
    return state
