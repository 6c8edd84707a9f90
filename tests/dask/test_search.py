"""GridSearchCV under joblib's Dask backend scores as it does with n_jobs=1."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from fireworks_sk import BatchNormalizer, IndexEncoder, OneHot, Stack, TorchClassifier

pytest.importorskip("dask", reason="the 'dask' extra is not installed")
distributed = pytest.importorskip(
    "distributed", reason="the 'dask' extra is not installed"
)
get_task_stream = distributed.get_task_stream

ESTIMATORS = {
    "logistic": (LogisticRegression(), {"model__C": [0.1, 1.0]}),
    "torch": (
        TorchClassifier(max_epochs=3, batch_size=16, random_state=0),
        {"model__lr": [0.02, 0.1]},
    ),
}


def _data(rows: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "a": rng.normal(1e8, 1.0, rows),
            "b": rng.normal(0, 4, rows),
            "shop": rng.choice(["north", "south", "east"], rows),
        }
    )
    y = ((X["a"] - 1e8) + (X["shop"] == "east") > 0.5).to_numpy().astype(np.int64)
    return X, y


def _search(name: str, n_jobs: int) -> GridSearchCV:
    model, grid = ESTIMATORS[name]
    if isinstance(model, TorchClassifier):
        encode = [("onehot", OneHot(["shop"])), ("stack", Stack(into="features"))]
    else:
        # Only 1-D columns: scikit-learn counts a Message's columns as its
        # features at predict, so an (n, k) tensor column would not do.
        encode = [("codes", IndexEncoder(["shop"]))]
    pipeline = Pipeline(
        [("scale", BatchNormalizer(["a", "b"])), *encode, ("model", model)]
    )
    cv = KFold(3, shuffle=True, random_state=0)
    return GridSearchCV(pipeline, grid, cv=cv, n_jobs=n_jobs)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_grid_search_on_the_cluster_scores_as_in_one_process(client, name):
    X, y = _data()
    serial = _search(name, n_jobs=1).fit(X, y)
    with get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
        on_cluster = _search(name, n_jobs=-1).fit(X, y)
    # The fits ran on the cluster's workers, not in this process.
    assert len(tasks.data) >= len(serial.cv_results_["params"]) * 3
    scores = [k for k in serial.cv_results_ if k.startswith("split")]
    scores += ["mean_test_score", "std_test_score"]
    for key in scores:
        values = serial.cv_results_[key]
        assert not np.isnan(values).any(), f"{key}: a fit or a score failed"
        np.testing.assert_array_equal(on_cluster.cv_results_[key], values, key)
    assert on_cluster.best_params_ == serial.best_params_
    # The refitted model came back from the cluster and pickles like any other.
    best = pickle.loads(pickle.dumps(on_cluster.best_estimator_))
    np.testing.assert_array_equal(best.predict(X), serial.best_estimator_.predict(X))
