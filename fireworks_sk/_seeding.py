"""Seeds, random generators and the context a seeded fit runs in.

One ``random_state`` seeds everything an estimator draws, through independent
streams derived from it with :func:`derive_seed`: the module's initialisation
(:data:`INIT`), the shuffle order of each epoch (:data:`SHUFFLE`), the noise
of each epoch such as dropout (:data:`EPOCH`) and the train/validation split
(:data:`SPLIT`). Each stream depends only on the seed and, where it changes
per epoch, on the epoch number, so a run resumed from a checkpoint draws what
an uninterrupted run would have drawn.

Draws fireworks_sk makes itself take a generator of their own
    The shuffle order of :class:`~fireworks_sk.MessageLoader` (and of a
    ``DataLoader`` an estimator builds) and the chunk and row orders of
    ``fit_stream`` come from generators seeded for their epoch
    (:func:`torch_generator`, :func:`pass_generator`). They never read or
    advance a global random state, so they need no lock. Unseeded, they
    take one seed from torch's generator (:func:`fresh_seed`), as a
    ``DataLoader`` does, under the lock that seeded fits' steps hold.

torch's global generator is held only by the steps that need it
    Some draws cannot be given a generator: ``torch.nn.functional.dropout``
    (behind ``nn.Dropout``) takes none, layers draw their initial weights in
    their ``__init__``, and a module of your own may call ``torch.rand`` in
    ``forward``. These go to torch's one generator per process (one per CUDA
    device). A seeded fit therefore keeps its own noise generators
    (:class:`FitRandom`, a ``torch.Generator`` for the CPU and one per CUDA
    device it trains on), reseeded at every epoch, and swaps their state into
    torch's global generators for each training, validation and evaluation
    step, under :data:`GLOBAL_LOCK`, and back out after. Only modules that may
    draw globally take the lock (:func:`draws_globally`): a module built from
    torch.nn layers without dropout never does, so fits of such modules in
    several threads run side by side, and fits with dropout wait for each
    other one step at a time, not one fit at a time. Building the module and
    splitting off validation rows (skorch's ``ValidSplit`` draws from numpy's
    global state) hold the lock for as long as they take, with the global
    states seeded and restored after (:func:`seeded`, :func:`seeded_globals`).
    Draws made by code outside these steps in other threads (an unseeded fit
    with dropout, say) still share torch's generator, as they always do.

Thread limits
    :func:`limit_threads` lowers torch's threads to ``OMP_NUM_THREADS``, which
    joblib sets in its workers, and never raises them again: a fit that
    restored the count on its way out would race with a fit still running in
    another thread.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

__all__ = [
    "EPOCH",
    "GLOBAL_LOCK",
    "INIT",
    "SHUFFLE",
    "SPLIT",
    "FitRandom",
    "check_seed",
    "derive_seed",
    "draws_globally",
    "fresh_seed",
    "limit_threads",
    "pass_generator",
    "seeded",
    "seeded_globals",
    "stream_seed",
    "torch_generator",
]

# Independent random streams derived from one random_state.
INIT, SHUFFLE, EPOCH, SPLIT = 0, 1, 2, 3

#: Held while torch's global generators carry a seeded fit's state.
#: Re-entrant: building a module may happen inside a step's callback.
GLOBAL_LOCK = threading.RLock()

# torch.nn layers that draw from the global generator in training.
_RANDOM_LAYERS = (
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
    torch.nn.FeatureAlphaDropout,
)


def derive_seed(*words: int) -> int:
    """A 63-bit seed mixed from non-negative integers (a stream and its keys).

    ``derive_seed(seed, epoch)`` differs for every epoch and every seed and does
    not depend on any global random state.
    """
    state = np.random.SeedSequence([int(w) for w in words]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def fresh_seed() -> int:
    """A 62-bit seed for an unseeded draw, taken from torch's global generator.

    As ``torch.utils.data.DataLoader`` takes its base seed, so that
    ``torch.manual_seed`` makes unseeded shuffles reproducible. It is drawn
    under :data:`GLOBAL_LOCK`, so it never takes a draw from a seeded fit's
    step that holds torch's generator in another thread.
    """
    with GLOBAL_LOCK:
        return int(torch.randint(2**62, (1,), dtype=torch.int64))


def check_seed(random_state: Any, owner: str) -> int | None:
    """``random_state`` as a non-negative int, or None when it is None.

    A ``numpy.random.Generator`` or ``RandomState`` is asked for one integer, as
    scikit-learn estimators do with ``check_random_state``.
    """
    if random_state is None:
        return None
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(f"{owner}(random_state=...) must be an int; got a bool.")
    if isinstance(random_state, Integral):
        if random_state < 0:
            raise ValueError(
                f"{owner}(random_state={random_state}) must be a non-negative int."
            )
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    raise TypeError(
        f"{owner}(random_state=...) must be None, an int or a numpy random "
        f"generator; got {type(random_state).__name__}."
    )


def torch_generator(*words: int, device: str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` of its own, seeded by ``derive_seed(*words)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(*words))


def stream_seed(random_state: Any, estimator: Any) -> int | None:
    """The seed of ``fit_stream``'s orders: its ``random_state``, else the
    estimator's own; None when neither is set."""
    if random_state is None:
        random_state = getattr(estimator, "random_state", None)
    return check_seed(random_state, "fit_stream")


def pass_generator(seed: int | None, epoch: int) -> np.random.Generator:
    """The numpy Generator of one pass's orders (of chunks, of rows).

    It follows from ``(seed, epoch)``, so pass ``epoch`` visits the stream in
    the same order whether or not the passes before it ran in this process;
    None draws from the operating system's entropy.
    """
    return np.random.default_rng(None if seed is None else [seed, epoch])


def _seed_global(seed: int, devices: list[int]) -> None:
    torch.default_generator.manual_seed(seed)
    for index in devices:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int | None, devices: list[int]) -> Iterator[None]:
    """Run holding torch's global generators, seeded; restore them after.

    For draws that cannot take a generator, such as a module's layers drawing
    their initial weights. None runs the body as it is, without the lock.
    """
    if seed is None:
        yield
        return
    with GLOBAL_LOCK, torch.random.fork_rng(devices=devices):
        _seed_global(seed, devices)
        yield


@contextlib.contextmanager
def seeded_globals(seed: int, devices: list[int]) -> Iterator[None]:
    """Seed torch's, numpy's and Python's global generators, restoring them after.

    For code the estimator does not own that draws from the global state, as
    skorch's ``ValidSplit`` (through scikit-learn's splitters) and
    ``torch.utils.data.random_split`` do.
    """
    with seeded(seed, devices):
        numpy_state, python_state = np.random.get_state(), random.getstate()
        try:
            np.random.seed(seed % 2**32)
            random.seed(seed)
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def draws_globally(modules: Iterable[Any]) -> bool:
    """Whether running ``modules`` may draw from torch's global generator.

    Only code fireworks_sk can vouch for is taken not to: modules whose classes
    come from ``torch.nn`` or fireworks_sk, none of them a dropout layer with
    ``p > 0``, an ``RReLU``, or a layer with a ``dropout`` rate above 0
    (``nn.LSTM``, ``nn.MultiheadAttention``). A module of any other class (one
    of your own, whose ``forward`` may call ``torch.rand``) is taken to draw.
    """
    for top in modules:
        if not isinstance(top, torch.nn.Module):
            continue  # a criterion given as a plain function
        for module in top.modules():
            if _may_draw(module):
                return True
    return False


def _may_draw(module: torch.nn.Module) -> bool:
    if not type(module).__module__.startswith(("torch.nn.", "fireworks_sk.")):
        return True
    if isinstance(module, _RANDOM_LAYERS):
        return module.p > 0
    if isinstance(module, torch.nn.RReLU):
        return True
    rate = getattr(module, "dropout", 0)
    return isinstance(rate, Real) and not isinstance(rate, bool) and rate > 0


class FitRandom:
    """The random state of one seeded fit.

    Parameters
    ----------
    seed : int
        The fit's base seed, from ``random_state`` (see :func:`check_seed`).
    devices : list of int
        The CUDA devices the fit trains on, whose generators it also owns.

    Attributes
    ----------
    noise : dict
        The fit's own ``torch.Generator`` per device (``"cpu"`` and CUDA
        device indices), reseeded by :meth:`begin_epoch`.
    """

    def __init__(self, seed: int, devices: list[int]) -> None:
        self.seed = seed
        self.devices = list(devices)
        self.noise: dict[Any, torch.Generator] = {"cpu": torch.Generator()}
        for index in self.devices:
            self.noise[index] = torch.Generator(device=f"cuda:{index}")
        self._draws: bool | None = None
        self._depth = 0
        self._swap: _Swap | None = None

    def derive(self, *stream: int) -> int:
        """The seed of a stream (and its keys, such as the epoch)."""
        return derive_seed(self.seed, *stream)

    def begin_epoch(self, epoch: int) -> None:
        """Reseed the noise generators for ``epoch`` (zero-based)."""
        seed = self.derive(EPOCH, epoch)
        for generator in self.noise.values():
            generator.manual_seed(seed)

    def global_draws(
        self, modules: Callable[[], Iterable[Any]]
    ) -> contextlib.AbstractContextManager:
        """The context of one step, with the noise generators standing in for
        torch's.

        ``modules()`` lists the modules the step runs; it is read once per
        fit. When none may draw globally the step runs as it is, without the
        lock. Nested steps (a callback predicting inside a step) share the
        outer step's swap.
        """
        if self._draws is None:
            self._draws = draws_globally(modules())
        if not self._draws or self._depth:
            return _AS_IT_IS
        if self._swap is None:
            pairs = [(torch.default_generator, self.noise["cpu"])]
            pairs += [
                (torch.cuda.default_generators[i], self.noise[i]) for i in self.devices
            ]
            self._swap = _Swap(self, pairs)
        return self._swap


_AS_IT_IS = contextlib.nullcontext()


class _Swap:
    """One fit's swap of its noise into torch's generators, for a step.

    Built once per fit and entered at every step that may draw: under
    ``GLOBAL_LOCK``, each default generator's state is saved and the noise's
    put in; on exit the noise keeps what the step drew and the default gets
    its state back.
    """

    __slots__ = ("lock", "owner", "pairs", "saved")

    def __init__(self, owner: FitRandom, pairs: list[tuple[Any, Any]]) -> None:
        self.owner = owner
        self.pairs = pairs
        self.saved: list[torch.Tensor] = []
        self.lock: Any = None

    def __enter__(self) -> None:
        self.lock = GLOBAL_LOCK
        self.lock.__enter__()
        try:
            self.saved = [default.get_state() for default, _ in self.pairs]
            for default, noise in self.pairs:
                default.set_state(noise.get_state())
        except BaseException:
            self.lock.__exit__(None, None, None)
            raise
        self.owner._depth += 1

    def __exit__(self, *exc_info: Any) -> None:
        self.owner._depth -= 1
        try:
            for (default, noise), state in zip(self.pairs, self.saved, strict=True):
                noise.set_state(default.get_state())
                default.set_state(state)
        finally:
            self.saved = []
            self.lock.__exit__(None, None, None)


def limit_threads() -> None:
    """Lower torch's threads to ``OMP_NUM_THREADS`` if that is lower.

    joblib sets the variable in its workers so that ``n_jobs`` of them do not
    oversubscribe the cores, but torch reads it only when it is first
    imported: a worker that imported torch earlier would run as many threads
    as cores. The count is lowered and never raised or restored, so fits in
    several threads cannot undo each other's limit.
    """
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and 0 < int(limit) < torch.get_num_threads():
        torch.set_num_threads(int(limit))
