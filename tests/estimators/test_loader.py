"""MessageLoader: batching, zero-copy slices, seeded epoch-aware shuffling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_sk import Message, MessageLoader


@pytest.fixture
def message() -> Message:
    n = 10
    return Message(
        {
            "x": torch.arange(n * 2, dtype=torch.float32).reshape(n, 2),
            "code": torch.arange(n),
            "name": [f"r{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "sizes"),
    [(3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]), (10, False, [10]), (20, True, [])],
)
def test_loader_len_and_batch_sizes(message, batch_size, drop_last, sizes):
    loader = MessageLoader(message, batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(batch) for batch in loader] == sizes


def test_loader_without_shuffle_slices_without_copying(message):
    batches = list(MessageLoader(message, batch_size=4))
    assert batches[1]["x"].data_ptr() == message["x"][4].data_ptr()
    assert batches[1]["code"].tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_visits_every_row_once_and_keeps_rows_aligned(message, shuffle):
    batches = list(MessageLoader(message, 3, shuffle=shuffle, random_state=0))
    codes = torch.cat([b["code"] for b in batches])
    assert sorted(codes.tolist()) == list(range(10))
    for batch in batches:
        assert batch["name"].tolist() == [f"r{int(i)}" for i in batch["code"]]
        assert torch.equal(batch["x"][:, 0], batch["code"].float() * 2)


def _epoch_orders(loader: MessageLoader, epochs: int) -> list[list[int]]:
    orders = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        orders.append(torch.cat([b["code"] for b in loader]).tolist())
    return orders


def test_loader_same_seed_same_orders_and_epochs_differ(message):
    first = _epoch_orders(MessageLoader(message, 4, shuffle=True, random_state=7), 3)
    again = _epoch_orders(MessageLoader(message, 4, shuffle=True, random_state=7), 3)
    assert first == again
    assert len({tuple(order) for order in first}) == 3


def test_loader_different_seeds_give_different_orders(message):
    a = _epoch_orders(MessageLoader(message, 4, shuffle=True, random_state=1), 2)
    b = _epoch_orders(MessageLoader(message, 4, shuffle=True, random_state=2), 2)
    assert a != b


def test_loader_order_of_an_epoch_does_not_depend_on_earlier_epochs(message):
    straight = _epoch_orders(MessageLoader(message, 4, shuffle=True, random_state=3), 4)
    resumed = MessageLoader(message, 4, shuffle=True, random_state=3)
    resumed.set_epoch(3)
    assert torch.cat([b["code"] for b in resumed]).tolist() == straight[3]
    assert resumed.order(2).tolist() == straight[2]


def test_loader_iteration_repeats_the_epoch_until_set_epoch(message):
    loader = MessageLoader(message, 4, shuffle=True, random_state=3)
    assert [b["code"].tolist() for b in loader] == [b["code"].tolist() for b in loader]


def test_seeded_loader_leaves_global_random_state_alone(message):
    before = torch.get_rng_state()
    list(MessageLoader(message, 4, shuffle=True, random_state=0))
    assert torch.equal(before, torch.get_rng_state())


def test_unseeded_loader_follows_torch_manual_seed(message):
    torch.manual_seed(5)
    a = MessageLoader(message, 4, shuffle=True).order().tolist()
    torch.manual_seed(5)
    b = MessageLoader(message, 4, shuffle=True).order().tolist()
    assert a == b


def test_unseeded_loader_draws_its_seed_under_the_global_lock(message, monkeypatch):
    # A seeded fit's step holds torch's generator under this lock: a draw
    # outside it could take one of the fit's numbers.
    from fireworks_sk import _seeding

    taken = []

    class Lock:
        def __enter__(self):
            taken.append(True)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(_seeding, "GLOBAL_LOCK", Lock())
    MessageLoader(message, 4, shuffle=True)
    assert taken == [True]
    MessageLoader(message, 4, shuffle=False)  # draws nothing
    assert taken == [True]


def test_loader_accepts_dataframe_and_leaves_it_unchanged():
    df = pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")})
    copy = df.copy()
    batches = list(MessageLoader(df, 2, shuffle=True, random_state=0))
    assert sorted(np.concatenate([b["a"].to_numpy() for b in batches])) == list(
        np.arange(5.0)
    )
    pd.testing.assert_frame_equal(df, copy)


def test_loader_moves_batches_to_device(message):
    batch = next(iter(MessageLoader(message, 4, device="cpu")))
    assert batch["x"].device == torch.device("cpu")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, r"batch_size=0\) must be a positive int"),
        ({"batch_size": 2.5}, TypeError, r"batch_size=...\) must be a positive int"),
        ({"random_state": -1}, ValueError, r"random_state=-1\) must be a non-negative"),
        ({"random_state": "a"}, TypeError, r"got str"),
    ],
)
def test_loader_rejects_bad_arguments(message, kwargs, error, match):
    with pytest.raises(error, match=match):
        MessageLoader(message, **kwargs)


def test_loader_set_epoch_rejects_negative(message):
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        MessageLoader(message).set_epoch(-1)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    epoch=st.integers(0, 5),
)
def test_loader_batches_partition_the_rows(n, batch_size, shuffle, drop_last, epoch):
    message = Message({"i": torch.arange(n)})
    loader = MessageLoader(
        message, batch_size, shuffle=shuffle, drop_last=drop_last, random_state=0
    )
    loader.set_epoch(epoch)
    batches = list(loader)
    seen = [int(i) for batch in batches for i in batch["i"]]
    assert len(batches) == len(loader)
    assert all(len(b) == batch_size for b in batches[: n // batch_size])
    assert len(seen) == (n // batch_size * batch_size if drop_last else n)
    assert len(set(seen)) == len(seen)
    if not shuffle:
        assert seen == list(range(len(seen)))
