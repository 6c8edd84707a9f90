"""Where the Torch estimators part from skorch's ``NeuralNet`` to meet scikit-learn.

scikit-learn asks that ``__init__`` and ``set_params`` store parameters only
and that ``get_params`` list parameters only; skorch builds state in both and
lists bookkeeping. Callbacks expect X and y as passed to ``fit``, while the
net trains on an encoded dataset; a pickle holds no fit's passing state.
The net's methods of the same names call these.
"""

from __future__ import annotations

from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import get_len
from skorch.history import History

from fireworks_sk._compat import SKORCH_BOOKKEEPING_PARAMS
from fireworks_sk.estimators._data import MessageDataset
from fireworks_sk.estimators._feeding import FEEDING_SETTINGS
from fireworks_sk.estimators._loader import MessageLoader

__all__ = [
    "batch_length",
    "callback_kwargs",
    "new_batch",
    "notify",
    "param_names",
    "picklable_state",
    "run_epoch",
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


# skorch's hooks whose bodies are empty: Callback's own, and the net's where
# NeuralNet does nothing. ``notify`` calls them once per batch for each
# callback; skipping them changes nothing. Held here, so their ids stay theirs.
_NO_OP_HOOKS = (
    *(
        getattr(Callback, name)
        for name in (
            "on_train_begin",
            "on_train_end",
            "on_epoch_begin",
            "on_epoch_end",
            "on_batch_begin",
            "on_batch_end",
            "on_grad_computed",
        )
    ),
    NeuralNet.on_epoch_end,
    NeuralNet.on_batch_end,
    NeuralNet.on_grad_computed,
)
_NO_OP_IDS = frozenset(id(hook) for hook in _NO_OP_HOOKS)
_TRAIN_HOOKS = frozenset({"on_train_begin", "on_train_end"})


def notify(net: Any, method_name: str, cb_kwargs: dict[str, Any]) -> None:
    """skorch's ``notify``: the net's hook, then each callback's, in order.

    A hook that is one of skorch's empty ones (a callback that does not
    override ``on_batch_begin``, say) is not called: it would do nothing.
    """
    if method_name in _TRAIN_HOOKS:
        callback_kwargs(net, method_name, cb_kwargs)
    hook = getattr(net, method_name)
    if id(getattr(hook, "__func__", None)) not in _NO_OP_IDS:
        hook(net, **cb_kwargs)
    for _, callback in net.callbacks_:
        hook = getattr(callback, method_name)
        if id(getattr(hook, "__func__", None)) not in _NO_OP_IDS:
            hook(net, **cb_kwargs)


def new_batch(history: Any) -> None:
    """``history.new_batch()``; skorch's own History is written to directly."""
    if type(history) is History:
        list.__getitem__(history, -1)["batches"].append({})
    else:
        history.new_batch()


def run_epoch(
    net: Any,
    iterator: Any,
    training: bool,
    prefix: str,
    step_fn: Any,
    fit_params: dict[str, Any],
) -> None:
    """skorch's ``run_single_epoch``: each batch's step, loss and size recorded.

    The same hooks with the same arguments, and the same history entries, as
    skorch's; skorch's own ``History`` is written to directly, not through
    its ``__getitem__``, which copies the list of epochs at every call.
    """
    if iterator is None:
        return
    loss_key, size_key = prefix + "_loss", prefix + "_batch_size"
    batch_count = 0
    for batch in iterator:
        net.notify("on_batch_begin", batch=batch, training=training)
        step = step_fn(batch, **fit_params)
        loss = step["loss"].item()
        history = net.history
        if type(history) is History:
            # The current batch's row, as ``history[-1]["batches"][-1]``.
            row = list.__getitem__(history, -1)["batches"][-1]
            row[loss_key] = loss
            row[size_key] = batch_length(batch)
        else:
            history.record_batch(loss_key, loss)
            history.record_batch(size_key, batch_length(batch))
        net.notify("on_batch_end", batch=batch, training=training, **step)
        batch_count += 1
    net.history.record(prefix + "_batch_count", batch_count)


def batch_length(batch: Any) -> int:
    """skorch's ``get_len`` of a batch's X, at once for a dense tensor."""
    X = batch[0] if isinstance(batch, (tuple, list)) else batch
    if type(X) is torch.Tensor and X.layout is torch.strided and X.dim():
        return X.shape[0]  # what len(X) returns
    return get_len(X)


def picklable_state(state: dict[str, Any]) -> dict[str, Any]:
    """skorch's pickled state without a fit's own, as a pickle is not in a fit."""
    for name in _FIT_STATE:
        state.pop(name, None)
    return state
