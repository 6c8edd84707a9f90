"""Torch estimators on skorch, and the MessageLoader that feeds them."""

from fireworks_sk.estimators._data import MessageDataset
from fireworks_sk.estimators._loader import MessageLoader
from fireworks_sk.estimators._module import DefaultMLP
from fireworks_sk.estimators._net import TorchClassifier, TorchRegressor
from fireworks_sk.estimators._plot import plot_history

__all__ = [
    "DefaultMLP",
    "MessageDataset",
    "MessageLoader",
    "TorchClassifier",
    "TorchRegressor",
    "plot_history",
]
