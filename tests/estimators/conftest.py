"""Small data sets shared by the estimator tests (tiny, so the suite stays fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fireworks_sk import Message


def _blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.array(["ant", "bee", "cat"])
    codes = rng.integers(0, 3, size=n)
    centres = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    X = centres[codes] + rng.normal(scale=0.7, size=(n, 4))
    return X.astype(np.float32), labels[codes]


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """A (120, 4) float32 array and string labels of three classes."""
    return _blobs()


@pytest.fixture
def frame() -> pd.DataFrame:
    """Numeric and categorical columns with a string label column 'label'."""
    X, y = _blobs()
    rng = np.random.default_rng(1)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["colour"] = rng.choice(["red", "green", "blue"], size=len(df))
    df["label"] = y
    return df


@pytest.fixture
def two_input_message() -> Message:
    """Tensor columns 'left' (n, 2) and 'right' (n, 3), and a 'label' column."""
    X, y = _blobs()
    extra = np.random.default_rng(2).normal(size=(len(X), 1)).astype(np.float32)
    return Message(
        {
            "left": torch.from_numpy(X[:, :2].copy()),
            "right": torch.from_numpy(np.hstack([X[:, 2:], extra])),
            "label": y,
        }
    )


class TwoInputNet(torch.nn.Module):
    """A module whose forward takes two keyword arguments, left and right."""

    def __init__(self, hidden: int = 8, n_outputs: int = 3) -> None:
        super().__init__()
        self.left = torch.nn.Linear(2, hidden)
        self.right = torch.nn.Linear(3, hidden)
        self.out = torch.nn.Linear(hidden, n_outputs)

    def forward(self, *, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.left(left) + self.right(right)))


def state_dicts_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two modules hold bit-identical parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
