"""A Torch estimator's random state: the seeds of its streams within a fit.

A seeded fit holds a :class:`~fireworks_sk._seeding.FitRandom` in the net's
``_random_`` while it runs (:func:`fit_context`); the module's
initialisation, each epoch's shuffle order and noise, and the validation
split draw seeds from it (:func:`seed`), and the training, validation and
evaluation steps swap its noise into torch's generators (:func:`global_draws`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch

from fireworks_sk import _seeding
from fireworks_sk._compat import skorch_module_names

__all__ = [
    "begin_epoch",
    "cuda_devices",
    "fit_context",
    "global_draws",
    "seed",
    "split_context",
]


@contextlib.contextmanager
def fit_context(net: Any) -> Iterator[None]:
    """Limit threads and, when seeded, hold the fit's own random state.

    The seed is checked (and a numpy generator asked for it) once per fit;
    ``fit`` enters again through ``partial_fit`` and keeps the outer state.
    """
    _seeding.limit_threads()
    if net.random_state is None or "_random_" in vars(net):
        yield
        return
    base = _seeding.check_seed(net.random_state, type(net).__name__)
    vars(net)["_random_"] = _seeding.FitRandom(base, cuda_devices(net))
    try:
        yield
    finally:
        vars(net).pop("_random_", None)


def seed(net: Any, *stream: int) -> int | None:
    """The seed of one random stream (and its keys), None when unseeded."""
    fit_random = vars(net).get("_random_")
    if fit_random is not None:
        return fit_random.derive(*stream)
    base = _seeding.check_seed(net.random_state, type(net).__name__)
    return None if base is None else _seeding.derive_seed(base, *stream)


def global_draws(net: Any) -> Any:
    """The context of one step: the fit's noise in torch's generators,
    when the modules may draw from them (see ``_seeding``)."""
    fit_random = vars(net).get("_random_")
    if fit_random is None:
        return contextlib.nullcontext()
    return fit_random.global_draws(partial(_torch_modules, net))


def begin_epoch(net: Any) -> None:
    """Seed the noise of the epoch whose history row skorch just opened."""
    fit_random = vars(net).get("_random_")
    if fit_random is not None:
        fit_random.begin_epoch(len(net.history) - 1)


def split_context(net: Any) -> Any:
    """The context of skorch's train/validation split: the global random
    states seeded from ``random_state``, when there is a seed and a split."""
    split_seed = seed(net, _seeding.SPLIT)
    if split_seed is None or not net.train_split:
        return contextlib.nullcontext()
    return _seeding.seeded_globals(split_seed, cuda_devices(net))


def cuda_devices(net: Any) -> list[int]:
    """The CUDA devices the net trains on, whose generators it seeds."""
    if net.device is None or not torch.cuda.is_available():
        return []
    device = torch.device(net.device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _torch_modules(net: Any) -> list[Any]:
    return [getattr(net, name + "_", None) for name in skorch_module_names(net)]
