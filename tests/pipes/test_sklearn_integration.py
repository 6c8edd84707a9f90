"""Pipes inside scikit-learn: Pipeline, model selection, set_output, repr, caching."""

from __future__ import annotations

import collections
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectPercentile
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.utils import estimator_html_repr

from fireworks_sk import (
    BatchNormalizer,
    FunctionPipe,
    IndexEncoder,
    Junction,
    Message,
    OneHot,
    Stack,
    ToTensor,
)
from fireworks_sk.exceptions import SchemaError

N = 120
CALLS: collections.Counter = collections.Counter()


def count_first(message: Message) -> Message:
    CALLS["first"] += 1
    return message.assign(a=message["a"] + 1)


def count_second(message: Message) -> Message:
    CALLS["second"] += 1
    return message.assign(a=message["a"] * 2)


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=N),
            "b": rng.normal(size=N) * 10 + 5,
            "c": rng.choice(["u", "v", "w"], N),
        }
    )


def target(df: pd.DataFrame) -> np.ndarray:
    return ((df["a"] + (df["c"] == "u")) > 0.5).astype(int).to_numpy()


def as_message(df: pd.DataFrame) -> Message:
    return Message({"a": torch.tensor(df["a"].to_numpy()), "b": df["b"], "c": df["c"]})


@pytest.fixture(params=["dataframe", "message"])
def Xy(request):
    df = frame()
    X = df if request.param == "dataframe" else as_message(df)
    return X, target(df)


def scalar_pipeline() -> Pipeline:
    """Pipes whose outputs are one feature per column, then a linear model."""
    return make_pipeline(BatchNormalizer(), IndexEncoder(), LogisticRegression())


def onehot_pipeline() -> Pipeline:
    return make_pipeline(BatchNormalizer(), OneHot(), LogisticRegression())


def test_pipeline_fits_and_predicts_from_message_and_dataframe(Xy):
    X, y = Xy
    pipe = scalar_pipeline().fit(X, y)
    assert pipe.predict(X).shape == (N,)
    assert pipe.score(X, y) > 0.8


def test_pipeline_with_onehot_then_linear_model_predicts_with_pandas_output(Xy):
    X, y = Xy
    pipe = onehot_pipeline().set_output(transform="pandas").fit(X, y)
    assert pipe[-1].n_features_in_ == 5
    assert list(pipe[-1].feature_names_in_) == ["a", "b", "c_u", "c_v", "c_w"]
    assert pipe.predict(X).shape == (N,)
    assert pipe.score(X, y) > 0.8


def plain_estimators() -> dict:
    return {
        "logistic": LogisticRegression(),
        "forest": RandomForestClassifier(n_estimators=10, random_state=0),
        "hist_gb": HistGradientBoostingClassifier(max_iter=10, random_state=0),
        "svc": SVC(),
        "knn": KNeighborsClassifier(),
        "ridge": Ridge(),
        "percentile": make_pipeline(SelectPercentile(percentile=50), SVC()),
    }


@pytest.mark.parametrize("name", sorted(plain_estimators()))
@pytest.mark.parametrize("stack", [False, True], ids=["columns", "stacked"])
def test_plain_estimator_after_pipes_fits_predicts_scores_and_searches(Xy, name, stack):
    # A Message's shape is np.asarray's: scikit-learn counts the same features
    # at fit (the array) as at predict (X.shape[1]), tensor columns flattened.
    # The reference is scikit-learn alone on the DataFrame (Stack gives float32).
    X, y = Xy
    steps = [BatchNormalizer(), OneHot(["c"]), *([Stack()] if stack else [])]
    pipe = make_pipeline(*steps, plain_estimators()[name])
    reference = sklearn_reference(plain_estimators()[name], float32=stack)
    pipe.fit(X, y)
    reference.fit(frame(), y)
    np.testing.assert_allclose(pipe.predict(X), reference.predict(frame()), rtol=1e-5)
    assert pipe.score(X, y) > 0.5
    scores = cross_val_score(pipe, X, y, cv=3, error_score="raise")
    expected = cross_val_score(reference, frame(), y, cv=3)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    search = GridSearchCV(
        pipe, {"batchnormalizer__with_std": [True, False]}, cv=3, error_score="raise"
    ).fit(X, y)
    by_hand = [
        cross_val_score(
            clone(pipe).set_params(batchnormalizer__with_std=std), X, y, cv=3
        )
        for std in [True, False]
    ]
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], np.mean(by_hand, axis=1)
    )


def sklearn_reference(estimator, float32: bool) -> Pipeline:
    """StandardScaler and OneHotEncoder on the frame, then ``estimator``."""
    prepare = ColumnTransformer(
        [
            ("scale", StandardScaler(), ["a", "b"]),
            ("onehot", OneHotEncoder(sparse_output=False), ["c"]),
        ]
    )
    cast = [FunctionTransformer(np.float32)] if float32 else []
    return make_pipeline(prepare, *cast, estimator)


@pytest.mark.parametrize("stack", [False, True], ids=["columns", "stacked"])
def test_set_output_pandas_before_or_after_fit_gives_the_same_predictions(Xy, stack):
    X, y = Xy
    steps = [BatchNormalizer(), OneHot(["c"]), *([Stack()] if stack else [])]
    plain = make_pipeline(*steps, LogisticRegression()).fit(X, y)
    expected = plain.predict_proba(X)
    before = clone(plain).set_output(transform="pandas").fit(X, y)
    np.testing.assert_allclose(before.predict_proba(X), expected, atol=1e-6)
    plain.set_output(transform="pandas")
    with warnings.catch_warnings():
        # scikit-learn's own warning: the model was fitted on a Message, which
        # it reads without names, and now gets a DataFrame.
        warnings.filterwarnings("ignore", "X has feature names", UserWarning)
        after = plain.predict_proba(X)
    np.testing.assert_array_equal(after, expected)


def test_a_pipe_reads_back_the_pandas_output_of_the_pipe_before_it(Xy):
    X, _ = Xy
    onehot = OneHot(["c"]).fit(X)
    stack = Stack().fit(onehot.transform(X))
    expected = stack.transform(onehot.transform(X))
    frame = onehot.set_output(transform="pandas").transform(X)
    assert list(frame.columns) == ["a", "b", "c_u", "c_v", "c_w"]
    assert stack.transform(frame).equals(expected)
    # A frame whose columns were changed is not taken for the Message.
    with pytest.raises(SchemaError, match="Feature names unseen at fit time"):
        stack.transform(frame[["a", "b", "c_v", "c_u", "c_w"]])
    for layout in ["junk", [("a",)], [("a", "b", "c")], None]:
        frame.attrs["fireworks_sk.layout"] = layout
        with pytest.raises(SchemaError, match="Feature names unseen at fit time"):
            stack.transform(frame)


def test_message_shape_counts_flat_features_as_sklearn_does():
    g = torch.Generator().manual_seed(0)
    m = Message(
        {"a": torch.randn(20, 3, generator=g), "b": torch.randn(20, generator=g)}
    )
    model = LogisticRegression().fit(m, np.arange(20) % 2)
    assert model.n_features_in_ == 4 == m.shape[1]
    np.testing.assert_array_equal(model.predict(m), model.predict(np.asarray(m)))


def test_linear_model_reads_the_message_as_a_float_array(Xy):
    X, y = Xy
    features = make_pipeline(BatchNormalizer(), IndexEncoder()).fit_transform(X)
    direct = LogisticRegression().fit(np.asarray(features), y)
    piped = scalar_pipeline().fit(X, y)
    np.testing.assert_allclose(piped[-1].coef_, direct.coef_)


def test_cross_val_score_splits_message_and_dataframe_alike():
    df = frame()
    y = target(df)
    from_frame = cross_val_score(scalar_pipeline(), df, y, cv=3)
    from_message = cross_val_score(scalar_pipeline(), as_message(df), y, cv=3)
    np.testing.assert_allclose(from_frame, from_message)
    assert from_frame.min() > 0.7


def test_cross_val_score_in_worker_processes_matches_in_process():
    # n_jobs=2 pickles the Message to loky workers and back.
    X, y = as_message(frame()), target(frame())
    serial = cross_val_score(scalar_pipeline(), X, y, cv=2)
    parallel = cross_val_score(scalar_pipeline(), X, y, cv=2, n_jobs=2)
    np.testing.assert_allclose(parallel, serial)


def test_grid_search_over_pipe_parameters(Xy):
    X, y = Xy
    grid = {
        "batchnormalizer__with_std": [True, False],
        "indexencoder__handle_unknown": ["error", "ignore"],
    }
    search = GridSearchCV(scalar_pipeline(), grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.best_params_) == set(grid)
    assert search.predict(X).shape == (N,)


def test_grid_search_over_junction_branch_parameters(Xy):
    X, y = Xy
    junction = Junction(
        [("scale", BatchNormalizer(columns=["a", "b"])), ("codes", IndexEncoder())]
    )
    pipe = make_pipeline(junction, LogisticRegression())
    grid = {"junction__scale__with_mean": [True, False]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 2


def test_clone_of_a_fitted_pipeline_is_unfitted(Xy):
    X, y = Xy
    pipe = scalar_pipeline().fit(X, y)
    copy = clone(pipe)
    assert copy.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert not hasattr(copy[0], "mean_")
    assert not hasattr(copy[-1], "coef_")


def test_set_output_pandas_on_a_pipe_gives_a_named_dataframe(Xy):
    X, _ = Xy
    out = OneHot().set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["a", "b", "c_u", "c_v", "c_w"]
    assert out[["c_u", "c_v", "c_w"]].sum(axis=1).eq(1).all()


def test_set_output_pandas_on_a_pipeline(Xy):
    X, _ = Xy
    pipe = make_pipeline(BatchNormalizer(), OneHot()).set_output(transform="pandas")
    out = pipe.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(pipe.get_feature_names_out())
    np.testing.assert_allclose(out["b"].std(ddof=0), 1.0)


def test_set_output_default_gives_a_message_again(Xy):
    X, _ = Xy
    pipe = OneHot().set_output(transform="pandas").set_output(transform="default")
    assert isinstance(pipe.fit_transform(X), Message)


def test_html_repr_names_every_step():
    junction = Junction([("scale", BatchNormalizer()), ("onehot", OneHot())])
    html = estimator_html_repr(
        make_pipeline(ToTensor(), junction, LogisticRegression())
    )
    for name in ["ToTensor", "Junction", "BatchNormalizer", "OneHot"]:
        assert name in html


def test_joblib_round_trip_of_a_fitted_pipeline(Xy, tmp_path):
    X, y = Xy
    pipe = scalar_pipeline().fit(X, y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert loaded[:-1].transform(X).equals(pipe[:-1].transform(X))


def cached_pipeline(memory) -> Pipeline:
    return Pipeline(
        [
            ("first", FunctionPipe(count_first)),
            ("second", FunctionPipe(count_second)),
            ("model", LogisticRegression()),
        ],
        memory=str(memory),
    )


def make_cache_input() -> Message:
    return Message(
        {"a": torch.arange(20.0, dtype=torch.float64), "b": torch.arange(20.0) % 3}
    )


def test_pipeline_memory_caches_steps_for_the_same_message(tmp_path):
    X, y = make_cache_input(), np.arange(20) % 2
    cached_pipeline(tmp_path).fit(X, y)
    calls = dict(CALLS)
    refit = cached_pipeline(tmp_path).fit(X, y)
    assert dict(CALLS) == calls
    assert refit.predict(X).shape == (20,)


def test_pipeline_memory_caches_steps_for_an_equal_message(tmp_path):
    y = np.arange(20) % 2
    first, second = make_cache_input(), make_cache_input()
    assert first.equals(second)
    cached_pipeline(tmp_path).fit(first, y)
    calls = dict(CALLS)
    cached_pipeline(tmp_path).fit(second, y)
    assert dict(CALLS) == calls
