"""skorch's callbacks and training modes keep working on the Torch estimators."""

from __future__ import annotations

from unittest.mock import Mock

import numpy as np
import pytest
import torch
from conftest import state_dicts_equal
from sklearn.metrics import accuracy_score
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LoadInitState,
    LRScheduler,
    ProgressBar,
)
from skorch.dataset import ValidSplit, get_len
from skorch.history import History

from fireworks_sk import TorchClassifier
from fireworks_sk.estimators._skorch_glue import batch_length

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


class HookRecorder(Callback):
    """Records each hook skorch calls: its name, its keyword names, and for
    batch hooks whether it is training and the batch's rows."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def _note(self, name: str, kwargs: dict) -> None:
        batch = kwargs.get("batch")
        rows = None if batch is None else len(batch[1])
        self.calls.append((name, sorted(kwargs), kwargs.get("training"), rows))

    def on_train_begin(self, net, **kwargs):
        self._note("on_train_begin", kwargs)

    def on_epoch_begin(self, net, **kwargs):
        self._note("on_epoch_begin", kwargs)

    def on_batch_begin(self, net, **kwargs):
        self._note("on_batch_begin", kwargs)

    def on_grad_computed(self, net, **kwargs):
        self._note("on_grad_computed", kwargs)

    def on_batch_end(self, net, **kwargs):
        self._note("on_batch_end", kwargs)

    def on_epoch_end(self, net, **kwargs):
        self._note("on_epoch_end", kwargs)

    def on_train_end(self, net, **kwargs):
        self._note("on_train_end", kwargs)


def _module_and_params() -> dict:
    return {
        "module": torch.nn.Linear,
        "module__in_features": 4,
        "module__out_features": 3,
        "max_epochs": 2,
        "iterator_train__shuffle": True,
        **SPLIT,
    }


def test_callbacks_get_every_hook_with_skorch_arguments(blobs):
    X, y = blobs
    codes = np.unique(y, return_inverse=True)[1]
    ours, theirs = HookRecorder(), HookRecorder()
    TorchClassifier(callbacks=[ours], **_module_and_params()).fit(X, codes)
    NeuralNetClassifier(callbacks=[theirs], **_module_and_params()).fit(X, codes)
    # 90 training rows in batches of 16, then 30 validation rows, each epoch.
    assert [c[3] for c in ours.calls if c[0] == "on_batch_end"] == (
        [16] * 5 + [10] + [16, 14]
    ) * 2
    assert ours.calls == theirs.calls


def test_history_has_skorch_batch_entries(blobs):
    X, y = blobs
    codes = np.unique(y, return_inverse=True)[1]
    ours = TorchClassifier(**_module_and_params()).fit(X, codes)
    theirs = NeuralNetClassifier(**_module_and_params()).fit(X, codes)
    for epoch in (0, 1):
        mine, skorch_rows = ours.history[epoch], theirs.history[epoch]
        assert [sorted(b) for b in mine["batches"]] == [
            sorted(b) for b in skorch_rows["batches"]
        ]
        assert (
            ours.history[epoch, "batches", :, "train_batch_size"]
            == (theirs.history[epoch, "batches", :, "train_batch_size"])
        )
        assert mine["train_batch_count"] == skorch_rows["train_batch_count"] == 6
        assert mine["valid_batch_count"] == skorch_rows["valid_batch_count"] == 2
    losses = ours.history[-1, "batches", :, "train_loss"]
    assert all(type(loss) is float for loss in losses)


class CountingHistory(History):
    """A history of one's own: its batch records go through its methods."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recorded: list[str] = []

    def new_batch(self):
        self.recorded.append("new_batch")
        return super().new_batch()

    def record_batch(self, attr, value):
        self.recorded.append(attr)
        super().record_batch(attr, value)


def test_a_history_of_ones_own_records_each_batch_itself(blobs):
    X, y = blobs
    history = CountingHistory()
    clf = TorchClassifier(max_epochs=1, history=history, **SPLIT).fit(X, y)
    assert clf.history is history
    # Six training batches and two validation batches: each opened, then its
    # loss and size recorded.
    train = ["new_batch", "train_loss", "train_batch_size"]
    valid = ["new_batch", "valid_loss", "valid_batch_size"]
    assert history.recorded == train * 6 + valid * 2


def test_hooks_replaced_on_a_callback_or_the_net_are_called(blobs):
    X, y = blobs
    plain = Callback()
    plain.on_batch_begin = Mock()
    seen = []

    class Net(TorchClassifier):
        def on_batch_end(self, net, **kwargs):
            seen.append(kwargs["training"])

    Net(max_epochs=1, callbacks=[("plain", plain)], **SPLIT).fit(X, y)
    assert plain.on_batch_begin.call_count == 8
    assert seen == [True] * 6 + [False] * 2


class ScaledLinear(torch.nn.Module):
    """A linear model whose forward takes a fit parameter and keeps its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.inputs: list[torch.Tensor] = []

    def forward(self, X: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.inputs.append(X)
        return self.linear(X) * scale


@pytest.mark.parametrize("device", ["cpu", None])
def test_infer_feeds_a_tensor_and_fit_params_as_skorch_does(blobs, device):
    X, y = blobs
    clf = TorchClassifier(ScaledLinear, max_epochs=1, device=device).fit(X, y)
    batch = torch.from_numpy(X[:5])
    ours = clf.infer(batch, scale=2.0)
    theirs = NeuralNetClassifier.infer(clf, batch, scale=2.0)
    assert torch.equal(ours, theirs)
    assert clf.module_.inputs[-2] is batch and clf.module_.inputs[-1] is batch
    inputs = {"X": batch}
    assert torch.equal(clf.infer(inputs, scale=2.0), ours)


@pytest.mark.parametrize(
    "X",
    [
        torch.zeros(5, 3),
        torch.zeros(5, 3).to_sparse(),
        {"left": torch.zeros(5, 2), "right": torch.zeros(5, 1)},
        [torch.zeros(5, 2), torch.zeros(5, 1)],
        np.zeros((5, 3)),
    ],
    ids=["dense", "sparse", "dict", "list", "ndarray"],
)
def test_a_batch_counts_its_rows_as_skorch_counts_them(X):
    assert batch_length((X, None)) == get_len(X) == 5


def test_a_batch_of_unequal_inputs_is_refused_as_skorch_refuses_it():
    X = {"left": torch.zeros(5, 2), "right": torch.zeros(4, 1)}
    with pytest.raises(ValueError, match="consistent lengths"):
        batch_length((X, None))
