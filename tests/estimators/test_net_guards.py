"""Torch estimators refuse or repair what would otherwise come out silently wrong."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import state_dicts_equal
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from fireworks_sk import TorchClassifier, TorchRegressor
from fireworks_sk._compat import InvalidParameterError

FAST = {"max_epochs": 4, "batch_size": 16}
LINEAR = {"module__in_features": 4, "module__out_features": 2}


def _binary(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    return X, np.where(X[:, 0] > 0, "yes", "no")


def _linear(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    return X, X @ np.array([1.0, 2.0, -1.0, 0.5], dtype=np.float32)


class FailAtEpoch(Callback):
    """Raises at the end of epoch ``epoch`` (1-based) of a run, when armed."""

    def __init__(self, epoch: int, armed: bool = True) -> None:
        self.epoch = epoch
        self.armed = armed

    def on_train_begin(self, net, **kwargs) -> None:
        self.seen_ = 0

    def on_epoch_end(self, net, **kwargs) -> None:
        self.seen_ += 1
        if self.armed and self.seen_ == self.epoch:
            raise RuntimeError("callback failed")


class Squeezed(torch.nn.Module):
    """A linear model returning shape (n,), as many tutorials write it."""

    def __init__(self, n_features: int = 4) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(X).squeeze(-1)


# ------------------------------------------------------ transactional fitting
def test_failed_refit_on_other_columns_keeps_the_previous_fit():
    X, y = _binary()
    clf = TorchClassifier(random_state=0, **FAST).fit(X, y)
    before = clf.predict_proba(X)
    bad_y = y.astype(object)
    bad_y[5] = None
    with pytest.raises(ValueError, match="y"):
        clf.fit(X[:, :3], bad_y)
    assert clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    with pytest.raises(ValueError, match="X has 3 features, but TorchClassifier"):
        clf.predict(X[:, :3])


def test_failed_partial_fit_keeps_weights_optimizer_and_history():
    X, y = _binary()
    fail = FailAtEpoch(2, armed=False)
    clf = TorchClassifier(callbacks=[fail], random_state=0, **FAST).partial_fit(X, y)
    weights = copy.deepcopy(clf.module_.state_dict())
    optimizer = copy.deepcopy(clf.optimizer_.state_dict())
    epochs = len(clf.history)
    fail.armed = True
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.partial_fit(X, y)
    state = clf.module_.state_dict()
    assert all(torch.equal(state[k], weights[k]) for k in weights)
    exp_avg = clf.optimizer_.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(exp_avg, optimizer["state"][0]["exp_avg"])
    assert len(clf.history) == epochs


def test_failed_partial_fit_with_unknown_label_keeps_classes_and_weights():
    X, y = _binary()
    clf = TorchClassifier(random_state=0, **FAST).partial_fit(X, y)
    weights = copy.deepcopy(clf.module_)
    with pytest.raises(ValueError, match=r"labels \['maybe'\] that are not"):
        clf.partial_fit(X[:3], np.array(["yes", "maybe", "no"]))
    assert clf.classes_.tolist() == ["no", "yes"]
    assert state_dicts_equal(clf.module_, weights)


def test_failed_refit_on_new_labels_keeps_the_old_classes_and_weights():
    X, y = _binary()
    clf = TorchClassifier(torch.nn.Linear, **FAST, **LINEAR).fit(X, y)
    before = clf.predict_proba(X)
    three = np.where(X[:, 1] > 0.5, "maybe", y)
    with pytest.raises(ValueError, match="but there are 3 classes"):
        clf.fit(X, three)
    assert clf.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_failed_first_fit_leaves_the_net_unfitted_and_module_untouched():
    X, y = _binary()
    module = torch.nn.Linear(4, 2)
    weights = copy.deepcopy(module.state_dict())
    clf = TorchClassifier(module, callbacks=[FailAtEpoch(2)], **FAST)
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")
    assert not hasattr(clf, "n_features_in_")
    assert all(torch.equal(module.state_dict()[k], weights[k]) for k in weights)
    with pytest.raises(NotFittedError):
        clf.predict(X)


# -------------------------------------------------- module outputs against y
def test_regressor_module_returning_one_dimension_trains_on_aligned_targets():
    X, y = _linear()
    reg = TorchRegressor(Squeezed, lr=0.05, max_epochs=60, random_state=0)
    reg.fit(X, y)
    assert reg.score(X, y) > 0.99
    assert reg.predict(X[:5]).shape == (5,)


def test_regressor_one_dimensional_output_predicts_the_shape_of_a_2d_y():
    X, y = _linear()
    reg = TorchRegressor(Squeezed, lr=0.05, max_epochs=60, random_state=0)
    reg.fit(X, y.reshape(-1, 1))
    assert reg.predict(X[:5]).shape == (5, 1)
    assert reg.score(X, y.reshape(-1, 1)) > 0.99


class SqueezedAll(Squeezed):
    """Squeezes every dimension, so a one-row batch becomes a scalar."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(X).squeeze()


def test_regressor_module_squeezing_a_one_row_batch_to_a_scalar_is_explained():
    X, y = _linear(33)
    reg = TorchRegressor(SqueezedAll, **FAST)  # batches of 16, 16 and 1 rows
    with pytest.raises(ValueError, match=r"shape \(\), .*use \.squeeze\(-1\)"):
        reg.fit(X, y)


def test_classifier_module_wider_than_the_classes_is_refused_at_fit():
    X, y = _binary()
    clf = TorchClassifier(
        torch.nn.Linear, module__in_features=4, module__out_features=3, **FAST
    )
    with pytest.raises(
        ValueError, match=r"outputs of shape \(16, 3\), but there are 2 classes"
    ):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_regressor_module_narrower_than_the_targets_is_refused_at_fit():
    X, y = _linear()
    targets = np.column_stack([y, -y, 2 * y])
    reg = TorchRegressor(
        torch.nn.Linear, module__in_features=4, module__out_features=1, **FAST
    )
    with pytest.raises(
        ValueError, match=r"outputs of shape \(16, 1\), but y has 3 targets"
    ):
        reg.fit(X, targets)


def test_regressor_module_with_two_outputs_for_one_target_is_refused():
    X, y = _linear()
    reg = TorchRegressor(
        torch.nn.Linear, module__in_features=4, module__out_features=2, **FAST
    )
    with pytest.raises(ValueError, match=r"must return shape \(n_rows, 1\) or"):
        reg.fit(X, y)


# ------------------------------------------------------------ seeded splits
def _split_fit(train_split, seed=0, global_seed=0):
    """A seeded fit, after the caller's global random states moved elsewhere."""
    np.random.seed(global_seed)
    torch.manual_seed(global_seed)
    X, y = _binary(200)
    return TorchClassifier(train_split=train_split, random_state=seed, **FAST).fit(X, y)


def test_random_state_seeds_skorch_valid_split():
    X, _ = _binary(200)
    a = _split_fit(ValidSplit(0.2), global_seed=1)
    b = _split_fit(ValidSplit(0.2), global_seed=2)
    assert state_dicts_equal(a.module_, b.module_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history[:, "valid_loss"] == b.history[:, "valid_loss"]


def test_random_state_seeds_a_train_split_drawing_from_torch():
    def split(dataset, y=None):
        return torch.utils.data.random_split(dataset, [0.8, 0.2])

    a, b = _split_fit(split, global_seed=1), _split_fit(split, global_seed=2)
    assert state_dicts_equal(a.module_, b.module_)
    assert not state_dicts_equal(a.module_, _split_fit(split, seed=1).module_)


def test_seeded_split_leaves_global_random_states_alone():
    X, y = _binary(200)
    numpy_before, torch_before = np.random.get_state()[1].copy(), torch.get_rng_state()
    TorchClassifier(train_split=ValidSplit(0.2), random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_before)
    assert torch.equal(torch.get_rng_state(), torch_before)


# ------------------------------------------------------ degenerate settings
@pytest.mark.parametrize("max_epochs", [0, -1, 2.5, True, None])
def test_max_epochs_that_trains_nothing_is_refused(max_epochs):
    X, y = _binary()
    clf = TorchClassifier(max_epochs=max_epochs)
    with pytest.raises(InvalidParameterError, match="'max_epochs' parameter"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=r"range \[1, inf\)"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "module_")


def test_max_epochs_error_is_the_one_scikit_learn_raises_for_max_iter():
    from sklearn.neural_network import MLPClassifier

    X, y = _binary()
    with pytest.raises(ValueError) as sklearn_error:
        MLPClassifier(max_iter=0).fit(X, y)
    with pytest.raises(type(sklearn_error.value)):
        TorchClassifier(max_epochs=0).fit(X, y)


def test_partial_fit_with_zero_epochs_is_refused():
    X, y = _binary()
    with pytest.raises(InvalidParameterError, match="'epochs' parameter"):
        TorchClassifier(**FAST).partial_fit(X, y, epochs=0)


def test_drop_last_with_fewer_rows_than_a_batch_is_refused():
    X, y = _binary(40)
    clf = TorchClassifier(batch_size=64, iterator_train__drop_last=True)
    with pytest.raises(ValueError, match="40 training rows, which make no batch"):
        clf.fit(X, y)


def test_drop_last_in_the_prediction_iterator_is_refused():
    X, y = _binary(40)
    clf = TorchClassifier(iterator_valid__drop_last=True, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="would drop rows from predictions"):
        clf.predict(np.tile(X, (2, 1)))
