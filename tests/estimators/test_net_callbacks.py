"""skorch's callbacks and training modes keep working on the Torch estimators."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import state_dicts_equal
from sklearn.metrics import accuracy_score
from skorch.callbacks import (
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LoadInitState,
    LRScheduler,
    ProgressBar,
)
from skorch.dataset import ValidSplit

from fireworks_sk import TorchClassifier

SPLIT = {"train_split": ValidSplit(4, stratified=True), "batch_size": 16}


def test_early_stopping_stops_before_max_epochs(blobs):
    X, y = blobs
    clf = TorchClassifier(
        random_state=0,
        max_epochs=200,
        lr=0.05,
        callbacks=[EarlyStopping(patience=2, threshold=0.01)],
        **SPLIT,
    ).fit(X, y)
    assert len(clf.history) < 200


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path, blobs, dropout):
    X, y = blobs
    params = {"random_state": 0, "module__dropout": dropout, **SPLIT}
    straight = TorchClassifier(max_epochs=6, **params).fit(X, y)

    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    TorchClassifier(max_epochs=3, callbacks=[checkpoint], **params).fit(X, y)
    load = LoadInitState(Checkpoint(dirname=str(tmp_path), monitor=None))
    resumed = TorchClassifier(max_epochs=3, callbacks=[load], **params).fit(X, y)

    assert len(resumed.history) == 6
    assert state_dicts_equal(straight.module_, resumed.module_)
    assert resumed.history[-1, "train_loss"] == straight.history[-1, "train_loss"]


def test_lr_scheduler_changes_the_learning_rate(blobs):
    X, y = blobs
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    clf = TorchClassifier(lr=0.1, max_epochs=3, callbacks=[scheduler], **SPLIT)
    clf.fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_progress_bar_counts_the_loader_batches(blobs, capsys):
    X, y = blobs
    clf = TorchClassifier(max_epochs=1, callbacks=[ProgressBar()], **SPLIT)
    clf.fit(X, y)
    # 90 training rows in batches of 16 give 6 batches, 30 validation rows 2.
    assert "/8 [" in capsys.readouterr().err


def test_epoch_scoring_on_string_labels_matches_accuracy(blobs):
    X, y = blobs
    scoring = EpochScoring("accuracy", name="valid_accuracy", lower_is_better=False)
    clf = TorchClassifier(
        random_state=0, max_epochs=3, callbacks=[scoring], **SPLIT
    ).fit(X, y)
    index = np.arange(len(y))
    _, valid_index = next(ValidSplit(4, stratified=True).check_cv(y).split(index, y))
    expected = accuracy_score(y[valid_index], clf.predict(X[valid_index]))
    assert clf.history[-1, "valid_accuracy"] == pytest.approx(expected)
    assert clf.history[-1, "valid_acc"] == pytest.approx(expected)


def test_warm_start_continues_training(blobs):
    X, y = blobs
    clf = TorchClassifier(random_state=0, max_epochs=2, warm_start=True, **SPLIT)
    clf.fit(X, y)
    weights = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    clf.fit(X, y)
    assert len(clf.history) == 4
    assert not all((weights[k] == v).all() for k, v in clf.module_.state_dict().items())


def test_fit_without_warm_start_reinitialises(blobs):
    X, y = blobs
    clf = TorchClassifier(random_state=0, max_epochs=2, **SPLIT)
    first = clf.fit(X, y).predict_proba(X)
    second = clf.fit(X, y).predict_proba(X)
    assert len(clf.history) == 2
    np.testing.assert_array_equal(first, second)


def test_partial_fit_trains_on_without_reinitialising(blobs):
    X, y = blobs
    clf = TorchClassifier(random_state=0, max_epochs=2, **SPLIT)
    clf.partial_fit(X, y)
    module = clf.module_
    clf.partial_fit(X, y)
    assert clf.module_ is module
    assert len(clf.history) == 4


class ModeRecorder(torch.nn.Module):
    """A linear model that records whether each forward ran in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.modes: list[bool] = []

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return self.linear(X)


def test_training_batches_run_in_train_mode_and_validation_in_eval(blobs):
    X, y = blobs
    clf = TorchClassifier(ModeRecorder, max_epochs=2, **SPLIT).fit(X, y)
    # 90 training rows in batches of 16 give 6 batches, 30 validation rows 2.
    assert clf.module_.modes == ([True] * 6 + [False] * 2) * 2
    clf.predict(X[:3])
    clf.partial_fit(X, y)
    assert clf.module_.modes[-16:-8] == [True] * 6 + [False] * 2
