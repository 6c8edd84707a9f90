"""The Torch estimators inside scikit-learn: pipelines, search, parallel jobs."""

from __future__ import annotations

import os
import sys

import cloudpickle
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from fireworks_sk import BatchNormalizer, Message, OneHot, Stack, TorchClassifier

FAST = {"max_epochs": 3, "batch_size": 32}


class ThreadProbe(Callback):
    """Record torch's thread count in the history at every epoch."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


def _pipeline(**net_params) -> Pipeline:
    return Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(columns=["colour"])),
            ("stack", Stack()),
            ("net", TorchClassifier(random_state=0, **FAST, **net_params)),
        ]
    )


def test_pipeline_of_pipes_and_classifier_predicts_labels(frame):
    X, y = frame.drop(columns="label"), frame["label"]
    pipe = _pipeline().fit(X, y)
    assert pipe.named_steps["net"].inputs_ == ["features"]
    most_probable = pipe.classes_[pipe.predict_proba(X).argmax(axis=1)]
    assert pipe.predict(X).tolist() == most_probable.tolist()
    assert set(pipe.classes_) == set(y)


@pytest.mark.parametrize("scaler", [StandardScaler, BatchNormalizer])
def test_set_output_pandas_upstream_feeds_one_matrix(frame, scaler):
    X, y = frame[["a", "b", "c", "d"]], frame["label"]
    pipe = Pipeline([("scale", scaler()), ("net", TorchClassifier(**FAST))])
    pipe.set_output(transform="pandas").fit(X, y)
    assert pipe.predict_proba(X).shape == (len(X), 3)
    assert pipe.named_steps["net"].feature_names_in_.tolist() == ["a", "b", "c", "d"]


def test_grid_search_over_net_and_pipe_params(frame):
    X, y = frame.drop(columns="label"), frame["label"]
    grid = {
        "net__lr": [0.001, 0.05],
        "net__module__hidden_units": [(4,), (16,)],
        "scale__with_std": [True, False],
    }
    search = GridSearchCV(_pipeline(), grid, cv=2).fit(X, y)
    # Each candidate's score is that of the pipeline set by hand, so the
    # parameters reached the net, its module and the Pipe.
    by_hand = [
        cross_val_score(_pipeline().set_params(**params), X, y, cv=2).mean()
        for params in ParameterGrid(grid)
    ]
    assert search.cv_results_["params"] == list(ParameterGrid(grid))
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], by_hand)
    assert search.best_params_ == list(ParameterGrid(grid))[np.argmax(by_hand)]
    best = search.best_estimator_.named_steps
    assert (
        best["net"].module_.layers[0].out_features
        == (search.best_params_["net__module__hidden_units"][0])
    )
    assert best["scale"].with_std == search.best_params_["scale__with_std"]


def test_parallel_jobs_do_not_oversubscribe_torch_threads(blobs):
    X, y = blobs
    clf = TorchClassifier(callbacks=[ThreadProbe()], **FAST)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        result = cross_validate(clf, X, y, cv=2, n_jobs=2, return_estimator=True)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    limit = max(1, (os.cpu_count() or 1) // 2)
    for fitted in result["estimator"]:
        assert max(fitted.history[:, "torch_threads"]) <= limit


def test_classifier_works_with_numeric_class_labels(blobs):
    X, y = blobs
    codes = np.searchsorted(["ant", "bee", "cat"], y) + 10
    clf = TorchClassifier(random_state=0, **FAST).fit(X, codes)
    assert clf.classes_.tolist() == [10, 11, 12]
    most_probable = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    assert clf.predict(X).tolist() == most_probable.tolist()


def test_grid_search_on_a_message_with_a_target_column(blobs):
    X, y = blobs
    message = Message({"features": torch.from_numpy(X), "label": y})
    clf = TorchClassifier(target="label", random_state=0, **FAST)
    search = GridSearchCV(clf, {"lr": [0.01, 0.05]}, cv=2).fit(message)
    assert search.best_estimator_.inputs_ == ["features"]
    by_hand = [
        cross_val_score(clone(clf).set_params(lr=lr), message, cv=2).mean()
        for lr in [0.01, 0.05]
    ]
    assert search.best_params_ == {"lr": [0.01, 0.05][np.argmax(by_hand)]}
    assert search.best_score_ == max(by_hand)
    assert search.best_score_ > 0.5  # three balanced classes: chance is 1/3
