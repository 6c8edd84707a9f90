"""What predict reads of the net's parameters follows every way they change."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skorch import NeuralNet
from skorch.dataset import Dataset as SkorchDataset
from skorch.exceptions import NotInitializedError

from fireworks_sk import TorchClassifier
from fireworks_sk.estimators._data import MessageDataset
from fireworks_sk.estimators._feeding import (
    FEEDING_SETTINGS,
    has_custom_dataset,
    valid_batch_size,
)

FAST = {"max_epochs": 1, "batch_size": 16}


def _fitted(**params) -> TorchClassifier:
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    net = TorchClassifier(random_state=0, **FAST, **params)
    return net.fit(X, np.where(X[:, 0] > 0, "yes", "no"))


def _skorch_settings(net) -> tuple[bool, int]:
    ours = isinstance(net.dataset, type) and issubclass(net.dataset, MessageDataset)
    custom = not ours or bool(NeuralNet.get_params_for(net, "dataset"))
    valid = NeuralNet.get_params_for(net, "iterator_valid")
    return custom, valid.get("batch_size", net.batch_size)


class Recording(MessageDataset):
    made = 0

    def __init__(self, *args, **kwargs) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


def _raises(check) -> bool:
    try:
        check()
    except NotInitializedError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(
    modules=st.lists(st.sampled_from(["module", "module2", "encoder"]), unique=True),
    present=st.sets(st.sampled_from(["module_", "module2_", "encoder_"])),
)
def test_check_is_fitted_answers_as_skorch_for_any_modules_present(modules, present):
    net = TorchClassifier()
    vars(net)["_modules"] = modules
    for name in present:
        vars(net)[name] = torch.nn.Identity()
    ours = _raises(net.check_is_fitted)
    theirs = _raises(lambda: NeuralNet.check_is_fitted(net))
    assert ours == theirs


def test_check_is_fitted_with_attributes_still_asks_skorch():
    net = _fitted()
    with pytest.raises(NotInitializedError, match="not initialized"):
        net.check_is_fitted(["absent_"])


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 3},
        {"batch_size": -1},
        {"batch_size": 16},
    ],
)
def test_feeding_settings_follow_set_params_after_predict(params):
    net = _fitted()
    X = np.zeros((5, 4), dtype=np.float32)
    net.predict(X)  # the settings are read and kept
    net.set_params(**params)
    assert (has_custom_dataset(net), valid_batch_size(net)) == _skorch_settings(net)


@pytest.mark.parametrize(
    "params",
    [
        {"iterator_valid__batch_size": 2},
        {"iterator_valid__batch_size": -1, "batch_size": 7},
        {"dataset__positional": True},
        {"dataset": Recording},
        {"dataset": SkorchDataset},
    ],
)
def test_feeding_settings_follow_routed_parameters_of_an_unfitted_net(params):
    # skorch refuses iterator_* and dataset__* routes on an initialized net.
    net = TorchClassifier(**FAST)
    valid_batch_size(net)  # the settings are read and kept
    net.set_params(**params)
    assert (has_custom_dataset(net), valid_batch_size(net)) == _skorch_settings(net)


def test_feeding_settings_follow_plain_attribute_assignment():
    net = _fitted()
    net.predict(np.zeros((5, 4), dtype=np.float32))
    net.iterator_valid__batch_size = 2
    assert valid_batch_size(net) == 2
    net.dataset = SkorchDataset
    assert has_custom_dataset(net)


def test_dataset_set_after_predict_is_the_one_predict_uses():
    net = _fitted()
    X = np.zeros((5, 4), dtype=np.float32)
    before = net.predict(X)
    Recording.made = 0
    net.dataset = Recording  # skorch's set_params refuses it on a fitted net
    np.testing.assert_array_equal(net.predict(X), before)
    assert Recording.made == 1


def test_pickle_leaves_the_settings_out_and_the_copy_reads_its_own():
    net = _fitted(iterator_valid__batch_size=4)
    net.predict(np.zeros((5, 4), dtype=np.float32))
    assert FEEDING_SETTINGS in vars(net)
    copy = pickle.loads(pickle.dumps(net))
    assert FEEDING_SETTINGS not in vars(copy)
    assert valid_batch_size(copy) == 4
    copy.iterator_valid__batch_size = 9
    assert (valid_batch_size(copy), valid_batch_size(net)) == (9, 4)


def test_refit_with_new_settings_reads_them():
    net = _fitted()
    net.predict(np.zeros((5, 4), dtype=np.float32))
    net.set_params(batch_size=8)
    X = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    net.fit(X, np.where(X[:, 0] > 0, "yes", "no"))
    assert valid_batch_size(net) == 8
