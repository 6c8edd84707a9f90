"""Building a Torch estimator's module: seeded, sized, lazy layers materialised.

The body of the net's ``initialize_module``: ``module=None`` builds
:class:`DefaultMLP` with one output per class or target, any other module is
built as skorch builds it; both under the seed of ``random_state``, and
then run once on a row of zeros so that lazy layers have real weights before
the optimizer is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from skorch.exceptions import NotInitializedError

from fireworks_sk import _seeding
from fireworks_sk.estimators._data import MessageDataset
from fireworks_sk.estimators._feeding import positional
from fireworks_sk.estimators._module import DefaultMLP
from fireworks_sk.estimators._net_random import cuda_devices, seed
from fireworks_sk.message import Message

__all__ = ["build_module", "default_module", "materialise"]


def build_module(net: Any, skorch_build: Callable[[], Any]) -> None:
    """Set ``net.module_``, seeded by ``random_state``, lazy layers materialised.

    ``skorch_build()`` builds a module that is not None as skorch does (an
    instance is used as it is, which ``random_state`` cannot seed).
    """
    _warn_if_unseedable(net)
    with _seeding.seeded(seed(net, _seeding.INIT), cuda_devices(net)):
        if net.module is None:
            net.module_ = default_module(net)
        else:
            skorch_build()
        materialise(net, net.module_)


def _warn_if_unseedable(net: Any) -> None:
    """A module instance, used as it is, escapes ``random_state``."""
    if net.random_state is None or not isinstance(net.module, torch.nn.Module):
        return
    if net.get_params_for("module"):
        return  # skorch builds a new instance from the module__ parameters
    warnings.warn(
        f"{type(net).__name__} got module as an instance "
        f"({type(net.module).__name__}(...)): random_state cannot "
        "re-initialise it, so training starts from the weights it holds, and "
        "a second fit continues where the first stopped. Pass the class, "
        "with its arguments as module__name=..., to have random_state seed "
        "its initialisation.",
        UserWarning,
        stacklevel=3,  # the net's initialize_module
    )


def default_module(net: Any) -> DefaultMLP:
    """The DefaultMLP of ``module=None``, one output per class or target."""
    if not hasattr(net, "n_outputs_"):
        raise NotInitializedError(
            f"{type(net).__name__}(module=None) sizes its default module from "
            "the data; call fit or partial_fit instead of initialize, or pass "
            "a module."
        )
    return DefaultMLP(n_outputs=net.n_outputs_, **net.get_params_for("module"))


def materialise(net: Any, module: torch.nn.Module) -> None:
    """Run lazy layers once on a row of zeros so the optimizer sees real weights.

    Zeros of the fitted shapes and dtypes, rather than a training row, so
    that no data ends up in the model; one row, as some forwards cannot
    reshape an empty batch. Nothing runs before the net has seen data.
    """
    lazy = any(torch.nn.parameter.is_lazy(p) for p in module.parameters())
    if not lazy or not hasattr(net, "_feed_schema_"):
        return
    arguments = _zero_row(net)
    was_training = module.training
    module.eval()
    with torch.no_grad():
        if isinstance(arguments, dict):
            module(**arguments)
        else:
            module(arguments)
    module.train(was_training)


def _zero_row(net: Any) -> torch.Tensor | dict[str, torch.Tensor]:
    """One row of zeros of the fed inputs, as ``forward`` takes them."""
    zeros = {
        name: torch.zeros((1, *column.shape[1:]), dtype=column.dtype)
        for name, column in net._feed_schema_.to_tensors().items()
    }
    return MessageDataset(Message(zeros), positional=positional(net)).inputs()
