"""Seeding: each seeded fit owns its random state, so fits in threads do not
interleave their draws, and only steps that draw from torch's global
generator hold it."""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from torch import nn
from torch.utils.data import DataLoader

from fireworks_sk import (
    Message,
    MessageLoader,
    TorchClassifier,
    TorchRegressor,
    _seeding,
)
from fireworks_sk.estimators import DefaultMLP

FAST = {"max_epochs": 3, "batch_size": 16, "train_split": None}


class NoisyNet(nn.Module):
    """A module of its own that draws from torch's global generator."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 3)

    def forward(self, x):
        return self.linear(x + 0.1 * torch.randn_like(x))


class LinearNet(nn.Module):
    """A module of its own that draws nothing (but cannot be read to know it)."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 3)

    def forward(self, x):
        return self.linear(x)


class CountingLock:
    """GLOBAL_LOCK's stand-in: a re-entrant lock counting its acquisitions."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.count = 0

    def __enter__(self):
        self.lock.acquire()
        self.count += 1
        return self

    def __exit__(self, *exc):
        self.lock.release()


class ThreadProbe(Callback):
    """Record torch's thread count in the history at every epoch."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


class PickleAtEpochEnd(Callback):
    """Pickle the net in the middle of its fit, as Checkpoint(f_pickle=...) does."""

    def __init__(self) -> None:
        self.pickles: list[bytes] = []

    def on_epoch_end(self, net, **kwargs):
        if not self.pickles:
            self.pickles.append(pickle.dumps(net))

    def __getstate__(self):
        return {"pickles": []}


def _fit(blobs, **params):
    X, y = blobs
    return TorchClassifier(**{"random_state": 0, **FAST, **params}).fit(X, y)


def _weights(net) -> list[np.ndarray]:
    return [v.numpy().copy() for v in net.module_.state_dict().values()]


# ------------------------------------------------------------------ threads
def test_seeded_fits_in_threads_equal_the_same_fits_one_after_another(blobs):
    # Dropout, a module's own torch.randn and no noise at all, all at once: no
    # fit may take another's draws from torch's global generator.
    kinds = [
        {"module__dropout": 0.5},
        {},
        {"module": NoisyNet},
        {"module__dropout": 0.3, "random_state": 5},
    ]
    serial = [_weights(_fit(blobs, **params)) for params in kinds]
    barrier = threading.Barrier(len(kinds), timeout=120)

    def fit_at_once(params):
        barrier.wait()
        return _weights(_fit(blobs, **params))

    rng = torch.get_rng_state()
    with ThreadPoolExecutor(len(kinds)) as pool:
        threaded = list(pool.map(fit_at_once, kinds * 2))
    for i, weights in enumerate(threaded):
        for got, expected in zip(weights, serial[i % len(kinds)], strict=True):
            np.testing.assert_array_equal(got, expected)
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_seeded_dropout_fit_is_its_own_while_unseeded_loaders_shuffle(blobs):
    # Unseeded shuffling loaders built and iterated in another thread all
    # through the fit draw nothing from torch's generator the fit holds.
    alone = _weights(_fit(blobs, module__dropout=0.5))
    message = Message({"x": torch.arange(64.0)})
    done = threading.Event()

    def shuffle_until_done() -> int:
        loaders = 0
        while not done.is_set() or loaders == 0:
            list(MessageLoader(message, 8, shuffle=True))
            loaders += 1
        return loaders

    with ThreadPoolExecutor(1) as pool:
        shuffling = pool.submit(shuffle_until_done)
        try:
            together = _weights(_fit(blobs, module__dropout=0.5))
        finally:
            done.set()
        assert shuffling.result() > 0
    for got, expected in zip(together, alone, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_only_steps_that_draw_globally_take_the_lock(blobs, monkeypatch):
    lock = CountingLock()
    monkeypatch.setattr(_seeding, "GLOBAL_LOCK", lock)
    _fit(blobs)  # DefaultMLP without dropout: its steps draw nothing
    assert lock.count == 1  # building the module, and nothing else
    lock.count = 0
    net = _fit(blobs, module__dropout=0.5)
    steps = sum(len(row["batches"]) for row in net.history)
    assert lock.count == 1 + steps


def test_a_seeded_dropout_fit_leaves_global_random_state_alone(blobs):
    before = torch.get_rng_state()
    _fit(blobs, module__dropout=0.5)
    _fit(blobs, module=NoisyNet)
    assert torch.equal(before, torch.get_rng_state())


def test_a_seeded_fit_through_data_loaders_leaves_global_random_state_alone(blobs):
    # A DataLoader draws its workers' base seed every epoch, shuffled or not.
    loaders = {"iterator_train": DataLoader, "iterator_valid": DataLoader}
    before = torch.get_rng_state()
    _fit(blobs, train_split=ValidSplit(3), **loaders)
    _fit(blobs, iterator_train__shuffle=False, **loaders)
    assert torch.equal(before, torch.get_rng_state())


def test_an_unseeded_fit_follows_torch_manual_seed(blobs):
    # Initialisation, dropout and the shuffle order's base seed all come
    # from torch's global generator, as for a plain DataLoader.
    X, y = blobs
    params = {"module__dropout": 0.5, **FAST}
    torch.manual_seed(3)
    a = TorchClassifier(**params).fit(X, y)
    torch.manual_seed(3)
    b = TorchClassifier(**params).fit(X, y)
    for got, expected in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_epoch_noise_follows_the_seed_and_the_epoch(blobs):
    # One more epoch with warm_start continues with that epoch's noise, as
    # the uninterrupted run drew it.
    X, y = blobs
    params = {"random_state": 2, "module__dropout": 0.5, "batch_size": 16}
    params["train_split"] = None
    straight = TorchClassifier(max_epochs=4, **params).fit(X, y)
    resumed = TorchClassifier(max_epochs=3, **params).fit(X, y)
    resumed.partial_fit(X, y, epochs=1)
    for got, expected in zip(_weights(resumed), _weights(straight), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_net_pickled_during_a_fit_carries_no_random_state_of_the_fit(blobs):
    probe = PickleAtEpochEnd()
    _fit(blobs, module__dropout=0.5, callbacks=[probe])
    loaded = pickle.loads(probe.pickles[0])
    assert "_random_" not in vars(loaded)


def test_a_numpy_generator_seeds_a_fit_once(blobs):
    X, y = blobs
    fits = [
        TorchClassifier(random_state=np.random.default_rng(4), **FAST).fit(X, y)
        for _ in range(2)
    ]
    for got, expected in zip(_weights(fits[0]), _weights(fits[1]), strict=True):
        np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------- what draws globally
@pytest.mark.parametrize(
    ("module", "draws"),
    [
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(3)), False),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.2)), True),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.0)), False),
        (nn.AlphaDropout(0.1), True),
        (nn.RReLU(), True),
        (nn.LSTM(2, 3, num_layers=2, dropout=0.2), True),
        (nn.LSTM(2, 3, num_layers=2), False),
        (nn.MultiheadAttention(4, 2, dropout=0.1), True),
        (DefaultMLP(3, dropout=0.0), False),
        (DefaultMLP(3, dropout=0.1), True),
        (LinearNet(), True),
        (nn.Sequential(LinearNet()), True),
    ],
)
def test_draws_globally_trusts_only_torch_nn_and_own_layers_without_noise(
    module, draws
):
    assert _seeding.draws_globally([module, nn.CrossEntropyLoss()]) is draws


def test_a_criterion_given_as_a_function_is_not_a_module():
    assert _seeding.draws_globally([nn.Linear(2, 3), torch.nn.functional.mse_loss]) is (
        False
    )


# ------------------------------------------------------------------ seeds
def test_derive_seed_separates_streams_and_epochs():
    seeds = {
        _seeding.derive_seed(7, stream, epoch)
        for stream in range(4)
        for epoch in range(5)
    }
    assert len(seeds) == 20
    assert all(0 <= s < 2**63 for s in seeds)
    assert _seeding.derive_seed(7, 1, 2) == _seeding.derive_seed(7, 1, 2)


@pytest.mark.parametrize(
    ("random_state", "error", "match"),
    [
        (True, TypeError, r"Net\(random_state=\.\.\.\) must be an int; got a bool"),
        (-1, ValueError, r"Net\(random_state=-1\) must be a non-negative int"),
        ("0", TypeError, r"must be None, an int or a numpy random generator; got str"),
    ],
)
def test_check_seed_names_the_owner_and_the_value(random_state, error, match):
    with pytest.raises(error, match=match):
        _seeding.check_seed(random_state, "Net")


# --------------------------------------------------------------- threads
@pytest.fixture
def torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_omp_num_threads_limits_torch_from_the_first_fit_on(
    blobs, monkeypatch, torch_threads
):
    # Restoring the count after a fit could undo the limit of a fit still
    # running in another thread, so it stays lowered.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    net = _fit(blobs, callbacks=[ThreadProbe()])
    assert net.history[:, "torch_threads"] == [1] * FAST["max_epochs"]
    assert torch.get_num_threads() == 1


def test_fits_in_threads_all_train_under_the_limit(blobs, monkeypatch, torch_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    X, y = blobs
    barrier = threading.Barrier(2, timeout=120)

    def fit(max_epochs):
        barrier.wait()
        params = {**FAST, "max_epochs": max_epochs}
        net = TorchRegressor(callbacks=[ThreadProbe()], **params)
        return net.fit(X, X[:, :1]).history[:, "torch_threads"]

    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(fit, [1, 6])
    assert short + long == [1] * 7


def test_a_higher_omp_num_threads_never_raises_torch_threads(
    blobs, monkeypatch, torch_threads
):
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    _fit(blobs)
    assert torch.get_num_threads() == 2


# --------------------------------------------------------------- streams
def test_a_pass_order_follows_from_the_seed_and_the_pass():
    def order(seed, epoch):
        return _seeding.pass_generator(seed, epoch).permutation(10).tolist()

    assert order(7, 1) == order(7, 1)
    assert order(7, 1) != order(7, 2)
    assert order(7, 1) != order(8, 1)


def test_stream_seed_falls_back_on_the_estimators_own_and_names_fit_stream():
    estimator = TorchClassifier(random_state=3)
    assert _seeding.stream_seed(None, estimator) == 3
    assert _seeding.stream_seed(5, estimator) == 5
    assert _seeding.stream_seed(None, object()) is None
    with pytest.raises(TypeError, match=r"fit_stream\(random_state=\.\.\.\) must be"):
        _seeding.stream_seed(True, estimator)
