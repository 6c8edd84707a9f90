"""Shared fixtures: Messages of every column kind (tensor-only, pandas-only, mixed)."""

from __future__ import annotations

import pytest

from fireworks_sk import Message
from tests._data import MESSAGE_FACTORIES


@pytest.fixture(params=sorted(MESSAGE_FACTORIES))
def kind(request) -> str:
    """The name of a column kind: "mixed", "pandas" or "tensor"."""
    return request.param


@pytest.fixture
def message(kind) -> Message:
    """A Message of N_ROWS rows, for each column kind."""
    return MESSAGE_FACTORIES[kind]()


@pytest.fixture
def make_message(kind):
    """A factory ``make_message(n, seed)`` for the current column kind."""
    return MESSAGE_FACTORIES[kind]
