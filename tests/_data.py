"""Test data: Messages of every column kind, every Pipe, and helpers to check values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from fireworks_sk import Message, pipes

N_ROWS = 60


def tensor_message(n: int = N_ROWS, seed: int = 0) -> Message:
    """Tensor columns only: a 1-D float, an (n, 3) float and a 1-D int64 column."""
    g = torch.Generator().manual_seed(seed)
    return Message(
        {
            "a": torch.randn(n, generator=g, dtype=torch.float64),
            "b": torch.randn(n, 3, generator=g, dtype=torch.float64) * 4 + 2,
            "k": torch.randint(0, 5, (n,), generator=g),
        }
    )


def pandas_message(n: int = N_ROWS, seed: int = 0) -> Message:
    """pandas columns only: float, int and string."""
    rng = np.random.default_rng(seed)
    return Message(
        pd.DataFrame(
            {
                "a": rng.normal(size=n),
                "i": rng.integers(0, 4, size=n),
                "s": rng.choice(["red", "green", "blue"], size=n),
            }
        )
    )


def mixed_message(n: int = N_ROWS, seed: int = 0) -> Message:
    """pandas and tensor columns together, a 2-D tensor column among them."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    return Message(
        {
            "a": pd.Series(rng.normal(size=n) * 3 + 1),
            "b": torch.randn(n, 2, generator=g, dtype=torch.float64),
            "s": pd.Series(rng.choice(["x", "y", "z"], size=n)),
            "t": torch.randn(n, generator=g, dtype=torch.float32),
        }
    )


MESSAGE_FACTORIES = {
    "tensor": tensor_message,
    "pandas": pandas_message,
    "mixed": mixed_message,
}


def snapshot(message: Message) -> dict:
    """Deep copies of every column, to check later that nothing was mutated."""
    return {
        name: message[name].clone()
        if isinstance(message[name], torch.Tensor)
        else message[name].copy(deep=True)
        for name in message.columns
    }


def assert_unchanged(message: Message, before: dict) -> None:
    assert message.columns == list(before)
    assert Message(before).equals(message)


def shops_frame(rows: int = 240, labels: tuple = ("no", "yes")) -> pd.DataFrame:
    """Two numeric columns, a shop category and a learnable binary ``label``."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(10, 3, rows),
            "b": rng.normal(-2, 0.5, rows),
            "shop": rng.choice(["north", "south", "east"], rows),
        }
    )
    positive = frame["a"] + 4 * (frame["shop"] == "east") > 11
    frame["label"] = np.where(positive, labels[1], labels[0])
    return frame


# Every public Pipe type; a new one appears in every test that uses the list.
PIPE_TYPES = tuple(
    getattr(pipes, name)
    for name in pipes.__all__
    if name not in ("Pipe", "StatefulPipe")
)


def every_pipe(
    configured: Mapping[type, Any] | None = None, exclude: tuple[type, ...] = ()
) -> list:
    """One new instance of each Pipe type, in PIPE_TYPES order.

    ``configured`` maps a type to the instance to use for it (columns that
    suit a test's data); other types get their defaults, a Junction two
    branches. ``exclude`` leaves types out; say why where it is used.
    """
    default = {
        pipes.Junction: pipes.Junction(
            [("scale", pipes.BatchNormalizer()), ("keep", pipes.SelectColumns())]
        )
    }
    chosen = {**default, **(configured or {})}
    unknown = set(chosen) - set(PIPE_TYPES)
    assert not unknown, f"not Pipe types: {unknown}"
    return [
        clone(chosen[kind]) if kind in chosen else kind()
        for kind in PIPE_TYPES
        if kind not in exclude
    ]
