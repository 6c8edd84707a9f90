"""plot_history draws the learning curves, and explains a missing matplotlib."""

from __future__ import annotations

import sys

import pytest
from skorch.dataset import ValidSplit

from fireworks_sk import TorchClassifier, plot_history


def test_plot_history_draws_train_and_valid_loss(blobs):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = blobs
    clf = TorchClassifier(max_epochs=3, train_split=ValidSplit(4)).fit(X, y)
    ax = plot_history(clf)
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "valid_loss"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]


def test_plot_history_names_the_missing_key(blobs):
    pytest.importorskip("matplotlib")
    X, y = blobs
    clf = TorchClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"History has no \['valid_loss'\]"):
        plot_history(clf, keys=("valid_loss",))


def test_plot_history_before_fit_is_explained():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="has no training history; fit it"):
        plot_history(TorchClassifier())


def test_plot_history_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"fireworks-sk\[plot\]"):
        plot_history(TorchClassifier())
