"""Impute: SimpleImputer's results, exact merges over batches, every column kind."""

from __future__ import annotations

import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from fireworks_sk import (
    BatchNormalizer,
    Impute,
    Message,
    NotFittedError,
    OneHot,
    SchemaError,
    fit_stream,
    load,
    save,
)
from fireworks_sk.message import stored_column
from fireworks_sk.sources import DataFrameSource
from tests._data import assert_unchanged, snapshot

N = 103
CHUNK_SIZES = [1, 2, 50, N, N + 42]
STRATEGIES = ["mean", "most_frequent", "constant"]


def gappy_numbers(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Two float columns with about a quarter of their values missing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"a": rng.normal(5.0, 2.0, n).round(1), "b": rng.integers(0, 4, n) * 1.0}
    )
    return frame.mask(rng.random((n, 2)) < 0.25)


def gappy_mixed(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Numbers, strings and categories, each with missing values."""
    rng = np.random.default_rng(seed)
    gaps = rng.random((n, 3)) < 0.2
    text = rng.choice(["red", "green", "blue"], n).astype(object)
    text[gaps[:, 1]] = None
    kind = pd.Categorical(rng.choice(["x", "y"], n), categories=["x", "y", "z"])
    kind[gaps[:, 2]] = np.nan
    a = np.where(gaps[:, 0], np.nan, rng.integers(0, 3, n) * 1.0)
    return pd.DataFrame({"a": a, "color": text, "kind": kind})


def gappy_tensor(n: int = N, seed: int = 0) -> Message:
    rng = np.random.default_rng(seed)
    values = torch.tensor(rng.integers(0, 3, (n, 2, 3)), dtype=torch.float32)
    values[torch.from_numpy(rng.random((n, 2, 3)) < 0.3)] = float("nan")
    return Message({"t": values, "w": torch.arange(n)})


# --------------------------------------------------------------- SimpleImputer
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_numeric_results_equal_simple_imputer(strategy):
    frame = gappy_numbers()
    ours = np.asarray(Impute(strategy=strategy).fit_transform(frame))
    theirs = SimpleImputer(strategy=strategy).fit_transform(frame)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("strategy", ["most_frequent", "constant"])
def test_string_results_equal_simple_imputer(strategy):
    frame = gappy_mixed()[["color"]]
    ours = Impute(strategy=strategy).fit_transform(frame)["color"].tolist()
    theirs = SimpleImputer(strategy=strategy).fit_transform(frame)[:, 0].tolist()
    assert ours == theirs


def test_most_frequent_breaks_ties_with_the_smallest_value_as_simple_imputer():
    frame = pd.DataFrame({"s": ["b", "a", "b", "a", None], "x": [2, 1, 2, 1, None]})
    imputer = Impute(strategy="most_frequent").fit(frame)
    assert imputer.statistics_ == {"s": "a", "x": 1.0}
    theirs = SimpleImputer(strategy="most_frequent").fit(frame[["x"]])
    assert imputer.statistics_["x"] == theirs.statistics_[0]


def test_indicator_equals_simple_imputers():
    frame = gappy_numbers()
    ours = Impute(add_indicator=True).fit(frame)
    theirs = SimpleImputer(add_indicator=True).fit(frame)
    np.testing.assert_allclose(
        np.asarray(ours.transform(frame)), theirs.transform(frame), rtol=1e-12
    )
    assert ours.get_feature_names_out().tolist() == ["a", "b", "a_missing", "b_missing"]


def test_constant_fill_value_is_used_for_every_named_column():
    frame = gappy_mixed()
    out = Impute(["color"], strategy="constant", fill_value="?").fit_transform(frame)
    assert (out["color"] == "?").sum() == frame["color"].isna().sum()
    assert out["a"].isna().sum() == frame["a"].isna().sum()  # not named: untouched


# ------------------------------------------------------------------ streaming
def assert_same_statistics(got: Impute, expected: Impute) -> None:
    assert got.n_samples_seen_ == expected.n_samples_seen_
    assert got.columns_ == expected.columns_
    for name, value in expected.statistics_.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(got.statistics_[name], value, equal_nan=True)
        elif isinstance(value, float):
            assert got.statistics_[name] == pytest.approx(value, rel=1e-12), name
        else:
            assert got.statistics_[name] == value, name


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_partial_fit_in_chunks_equals_fit(strategy, size):
    frame = gappy_mixed() if strategy != "mean" else gappy_numbers()
    fitted = Impute(strategy=strategy, add_indicator=True).fit(frame)
    chunked = Impute(strategy=strategy, add_indicator=True)
    for start in range(0, N, size):
        chunked.partial_fit(frame.iloc[start : start + size])
    assert_same_statistics(chunked, fitted)
    pd.testing.assert_frame_equal(
        chunked.transform(frame).to_dataframe(),
        fitted.transform(frame).to_dataframe(),
        rtol=1e-12,
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fit_stream_equals_fit(strategy):
    frame = gappy_mixed()
    expected = Impute(strategy=strategy).fit(frame)
    streamed = fit_stream(Impute(strategy=strategy), DataFrameSource(frame, 7))
    assert_same_statistics(streamed, expected)


@pytest.mark.parametrize("strategy", ["mean", "most_frequent"])
def test_tensor_columns_are_filled_element_by_element(strategy):
    message = gappy_tensor()
    imputer = Impute(strategy=strategy, add_indicator=True).fit(message)
    assert imputer.columns_ == ["t"]  # the int tensor cannot hold NaN
    values = message["t"].to(torch.float64).reshape(N, -1).numpy()
    theirs = SimpleImputer(strategy=strategy).fit(values)
    got = imputer.statistics_["t"].reshape(-1).numpy()
    np.testing.assert_allclose(got, theirs.statistics_, rtol=1e-12)
    out = imputer.transform(message)
    assert out["t"].dtype == torch.float32 and out["t"].shape == (N, 2, 3)
    np.testing.assert_allclose(
        out["t"].reshape(N, -1).numpy(), theirs.transform(values), rtol=1e-6
    )
    assert torch.equal(out["t_missing"], torch.isnan(message["t"]).float())
    assert stored_column(out, "w") is stored_column(message, "w")


def test_tensor_chunks_merge_exactly():
    message = gappy_tensor()
    fitted = Impute().fit(message)
    chunked = Impute()
    for start in range(0, N, 10):
        chunked.partial_fit(message[start : start + 10])
    assert_same_statistics(chunked, fitted)


def with_gaps(message: Message, seed: int = 0) -> Message:
    """``message`` with about a fifth of its float values missing."""
    rng = np.random.default_rng(seed)
    columns = {}
    for name in message.columns:
        column = message[name]
        gaps = rng.random(column.shape) < 0.2
        if isinstance(column, torch.Tensor) and column.is_floating_point():
            column = column.masked_fill(torch.from_numpy(gaps), float("nan"))
        elif isinstance(column, pd.Series) and column.dtype.kind in "fO":
            column = column.mask(gaps)
        columns[name] = column
    return Message(columns)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_column_kind_is_filled_and_chunks_merge_exactly(make_message, strategy):
    message = with_gaps(make_message())
    before = snapshot(message)
    fitted = Impute(strategy=strategy).fit(message)
    out = fitted.transform(message)
    assert_unchanged(message, before)
    for name in fitted.columns_:
        column = out[name]
        missing = column.isnan() if isinstance(column, torch.Tensor) else column.isna()
        assert not bool(missing.any()), name
    chunked = Impute(strategy=strategy)
    for start in range(0, len(message), 7):
        chunked.partial_fit(message[start : start + 7])
    assert_same_statistics(chunked, fitted)


def test_half_precision_tensors_are_filled():
    values = torch.tensor([[1.0, float("nan")], [1.0, 2.0], [3.0, 2.0]])
    for dtype in (torch.float16, torch.bfloat16):
        message = Message({"t": values.to(dtype)})
        for strategy in STRATEGIES:
            out = Impute(strategy=strategy).fit_transform(message)["t"]
            assert out.dtype == dtype and not bool(out.isnan().any())


# ------------------------------------------------------------ transform time
def test_missing_values_seen_only_at_transform_are_filled():
    train = pd.DataFrame({"a": [1.0, 2.0, 6.0], "s": ["u", "v", "v"]})
    imputer = Impute(strategy="most_frequent").fit(train)
    out = imputer.transform(pd.DataFrame({"a": [np.nan, 5.0], "s": [None, "u"]}))
    assert out["a"].tolist() == [1.0, 5.0]
    assert out["s"].tolist() == ["v", "u"]


def test_int_column_with_a_missing_value_only_at_transform_draws_no_warning():
    train = pd.DataFrame({"year": [2007, 2008, 2008], "s": ["a", "b", "b"]})
    imputer = Impute(strategy="most_frequent").fit(train)
    served = pd.DataFrame({"year": [np.nan, 2009.0], "s": ["a", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = imputer.transform(served)
    assert out["year"].tolist() == [2008.0, 2009.0]
    # A column Impute does not fill keeps the usual dtype check.
    with pytest.warns(UserWarning, match="Column 'year' has dtype float64"):
        Impute(["s"], strategy="most_frequent").fit(train).transform(served)


def test_column_without_any_value_at_fit_is_named_when_it_must_fill():
    frame = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, np.nan]})
    imputer = Impute().fit(frame)
    assert imputer.statistics_["a"] is None
    # Nothing to fill in "a": no error.
    imputer.transform(pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, 1.0]}))
    with pytest.raises(ValueError, match="saw no value in column 'a'"):
        imputer.transform(frame)


def test_output_has_no_missing_value_and_the_input_is_unchanged():
    frame = gappy_mixed()
    before = frame.copy()
    out = Impute(strategy="most_frequent").fit_transform(frame)
    assert not out.to_dataframe().isna().any().any()
    pd.testing.assert_frame_equal(frame, before)


# ------------------------------------------------------------------ dtypes
def test_nullable_dtypes_are_filled_as_their_plain_counterparts():
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 3], dtype="Int64"),
            "f": pd.array([0.5, 1.5, None, 1.0], dtype="Float64"),
            "b": pd.array([True, None, True, False], dtype="boolean"),
            "s": pd.array(["a", "b", None, "b"], dtype="string[pyarrow]"),
        }
    )
    plain = pd.DataFrame(
        {
            "i": [1.0, np.nan, 3.0, 3.0],
            "f": [0.5, 1.5, np.nan, 1.0],
            "b": [True, None, True, False],
            "s": ["a", "b", None, "b"],
        }
    )
    ours = Impute(strategy="most_frequent").fit_transform(frame).to_dataframe()
    expected = Impute(strategy="most_frequent").fit_transform(plain).to_dataframe()
    assert (
        ours.astype(object).values.tolist() == expected.astype(object).values.tolist()
    )
    assert ours["i"].dtype == np.float64
    mean = Impute().fit(frame)
    assert mean.columns_ == ["i", "f"]
    assert mean.statistics_ == {"i": pytest.approx(7 / 3), "f": pytest.approx(1.0)}


def test_categorical_column_gains_the_fill_value_as_a_category_in_every_batch():
    frame = gappy_mixed()
    imputer = Impute(["kind"], strategy="constant", fill_value="none").fit(frame)
    full = imputer.transform(frame)["kind"]
    assert full.dtype.categories.tolist() == ["x", "y", "z", "none"]
    without_gaps = imputer.transform(frame.dropna())["kind"]
    assert without_gaps.dtype == full.dtype


def test_float32_stays_float32():
    frame = pd.DataFrame({"a": np.array([1.0, np.nan], dtype=np.float32)})
    assert Impute().fit_transform(frame)["a"].dtype == np.float32


# ------------------------------------------------------------------ errors
def test_infinity_is_refused_naming_the_column():
    frame = pd.DataFrame({"a": [1.0, np.inf, np.nan]})
    for strategy in STRATEGIES:
        with pytest.raises(ValueError, match="infinity in column 'a'"):
            Impute(strategy=strategy).fit(frame)
    fitted = Impute().fit(pd.DataFrame({"a": [1.0, np.nan]}))
    with pytest.raises(ValueError, match="infinity in column 'a'"):
        fitted.transform(frame)


def test_mean_of_a_string_column_names_it():
    with pytest.raises(TypeError, match="cannot average column 's'.*most_frequent"):
        Impute(["s"]).fit(pd.DataFrame({"s": ["a", None]}))


def test_text_fill_value_for_a_numeric_column_is_refused():
    with pytest.raises(ValueError, match="fill_value='x'.* numeric column 'a'"):
        Impute(strategy="constant", fill_value="x").fit(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize("value", [np.nan, pd.NA, [0, 1], {"a": 0}])
def test_fill_value_must_be_one_present_value(value):
    with pytest.raises(ValueError, match=r"fill_value=.* must be one value"):
        Impute(strategy="constant", fill_value=value).fit(gappy_numbers())


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy='median'"):
        Impute(strategy="median").fit(gappy_numbers())


def test_indicator_that_would_overwrite_a_column_is_refused():
    frame = pd.DataFrame({"a": [1.0, np.nan], "a_missing": [0.0, 1.0]})
    with pytest.raises(SchemaError, match=r"\['a_missing'\]"):
        Impute(["a"], add_indicator=True).fit(frame)


def test_numeric_column_turned_text_at_transform_is_named():
    imputer = Impute().fit(pd.DataFrame({"a": [1.0, np.nan]}))
    with pytest.warns(UserWarning, match="Column 'a' has dtype"):
        with pytest.raises(TypeError, match="column 'a' .* not numeric now"):
            imputer.transform(pd.DataFrame({"a": ["x", None]}))


def test_not_fitted_error_before_fit():
    with pytest.raises(NotFittedError):
        Impute().transform(gappy_numbers())


# ------------------------------------------------------------- persistence
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_joblib_round_trip_transforms_and_keeps_merging(strategy):
    frame = gappy_mixed()
    imputer = Impute(strategy=strategy, add_indicator=True).fit(frame.iloc[:50])
    buffer = io.BytesIO()
    joblib.dump(imputer, buffer)
    loaded = joblib.load(io.BytesIO(buffer.getvalue()))
    assert loaded.transform(frame).equals(imputer.transform(frame))
    loaded.partial_fit(frame.iloc[50:])
    assert_same_statistics(loaded, Impute(strategy=strategy).fit(frame))


def test_skops_round_trip(tmp_path):
    frame = gappy_mixed()
    pipeline = make_pipeline(Impute(strategy="most_frequent", add_indicator=True))
    pipeline.fit(frame)
    loaded = load(save(pipeline, tmp_path / "model.skops", format="skops"))
    assert loaded.transform(frame).equals(pipeline.transform(frame))


def test_clone_is_unfitted_with_the_same_parameters():
    imputer = Impute(strategy="constant", fill_value=-1).fit(gappy_numbers())
    copy = clone(imputer)
    assert copy.get_params() == imputer.get_params()
    assert not hasattr(copy, "statistics_")
    assert pickle.loads(pickle.dumps(imputer)).statistics_ == imputer.statistics_


def test_columns_chosen_by_dtype_before_scaling():
    frame = gappy_mixed()
    pipeline = make_pipeline(
        Impute(make_column_selector(dtype_include="number")), BatchNormalizer()
    )
    out = pipeline.fit_transform(frame)
    assert pipeline[0].columns_ == ["a"]
    assert abs(float(out["a"].mean())) < 1e-12


def test_fit_stream_of_a_pipeline_with_gaps_equals_fit():
    frame = gappy_mixed()

    def pipeline():
        return make_pipeline(
            Impute(["a"]),
            BatchNormalizer(["a"]),
            OneHot(["color", "kind"], missing="category"),
        )

    expected = pipeline().fit(frame)
    streamed = fit_stream(pipeline(), DataFrameSource(frame, 10))
    assert streamed[0].statistics_["a"] == pytest.approx(
        expected[0].statistics_["a"], rel=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(streamed.transform(frame)), np.asarray(expected.transform(frame))
    )
