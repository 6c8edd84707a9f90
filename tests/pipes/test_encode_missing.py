"""OneHot and IndexEncoder with missing="category": a missing value is a category."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.preprocessing import OneHotEncoder

from fireworks_sk import IndexEncoder, Message, OneHot, fit_stream
from fireworks_sk.sources import DataFrameSource

N = 103
ENCODERS = [OneHot, IndexEncoder]


def gappy(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Strings with None, NaN and pd.NA, a Categorical and floats, all with gaps."""
    rng = np.random.default_rng(seed)
    text = rng.choice(["red", "green", "blue"], n).astype(object)
    gaps = rng.random((n, 3)) < 0.2
    text[gaps[:, 0]] = rng.choice(np.array([None, np.nan, pd.NA], dtype=object))
    kind = pd.Categorical(rng.choice(["y", "x"], n), categories=["y", "x"])
    kind[gaps[:, 1]] = np.nan
    number = np.where(gaps[:, 2], np.nan, rng.integers(0, 3, n) * 1.0)
    return pd.DataFrame(
        {"color": pd.Series(text, dtype=object), "kind": kind, "f": number}
    )


def test_every_missing_marker_is_one_category_sorted_last():
    encoder = OneHot(["color", "kind", "f"], missing="category").fit(gappy())
    assert encoder.categories_["color"][:3].tolist() == ["blue", "green", "red"]
    assert len(encoder.categories_["color"]) == 4
    assert pd.isna(encoder.categories_["color"][3])
    assert encoder.categories_["kind"][:2].tolist() == ["x", "y"]
    assert pd.isna(encoder.categories_["kind"][2])
    assert np.isnan(encoder.categories_["f"][-1])
    names = encoder.get_feature_names_out().tolist()
    assert names[:4] == ["color_blue", "color_green", "color_red", "color_nan"]
    assert names[-1] == "f_nan"


def test_onehot_output_equals_scikit_learns_onehotencoder():
    frame = gappy()[["color", "f"]]
    ours = OneHot(["color", "f"], missing="category").fit(frame)
    plain = frame.astype({"color": object})
    plain["color"] = plain["color"].where(plain["color"].notna(), np.nan)
    theirs = OneHotEncoder(sparse_output=False).fit(plain)
    np.testing.assert_array_equal(
        np.asarray(ours.transform(frame)), theirs.transform(plain)
    )
    assert (
        ours.get_feature_names_out().tolist() == theirs.get_feature_names_out().tolist()
    )


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_inverse_transform_gives_the_missing_value_back(encoder_class):
    frame = gappy()
    encoder = encoder_class(["color", "kind", "f"], missing="category").fit(frame)
    back = encoder.inverse_transform(encoder.transform(frame))
    for name in ("color", "kind", "f"):
        assert back[name].isna().tolist() == frame[name].isna().tolist(), name
        kept = frame[name].notna()
        assert back[name][kept].tolist() == frame[name][kept].tolist(), name
    assert back["kind"].dtype == frame["kind"].dtype


@pytest.mark.parametrize("size", [1, 2, N])
def test_ordered_categorical_keeps_its_order_with_missing_last(size):
    frame = gappy()
    frame["kind"] = frame["kind"].cat.as_ordered()
    encoder = OneHot(["kind"], missing="category")
    for start in range(0, N, size):
        encoder.partial_fit(frame.iloc[start : start + size])
    assert encoder.categories_["kind"][:2].tolist() == ["y", "x"]
    assert pd.isna(encoder.categories_["kind"][2])


def test_index_encoder_gives_missing_the_last_code():
    frame = pd.DataFrame({"s": ["b", None, "a"]})
    encoder = IndexEncoder(missing="category").fit(frame)
    assert encoder.transform(frame)["s"].tolist() == [1, 2, 0]
    assert encoder.n_codes_ == {"s": 3}


def test_float_tensor_column_with_nan_is_encoded():
    message = Message({"t": torch.tensor([1.0, float("nan"), 1.0, 2.0])})
    encoder = IndexEncoder(["t"], missing="category").fit(message)
    assert encoder.transform(message)["t"].tolist() == [0, 2, 0, 1]
    back = encoder.inverse_transform(encoder.transform(message))["t"]
    assert torch.equal(torch.isnan(back), torch.isnan(message["t"]))


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_fit_stream_equals_fit(encoder_class):
    frame = gappy()
    expected = encoder_class(["color", "kind", "f"], missing="category").fit(frame)
    for size in (1, 2, 50, N + 42):
        source = DataFrameSource(frame, size)
        streamed = fit_stream(
            encoder_class(["color", "kind", "f"], missing="category"), source
        )
        assert streamed.n_samples_seen_ == expected.n_samples_seen_
        for name, categories in expected.categories_.items():
            got = streamed.categories_[name]
            assert pd.Series(got).equals(pd.Series(categories)), (size, name)
        assert streamed.transform(frame).equals(expected.transform(frame))


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_missing_error_is_still_the_default(encoder_class):
    with pytest.raises(ValueError, match=r"NaN in column 'color' \(first at row 1\)"):
        encoder_class().fit(pd.DataFrame({"color": ["a", None]}))


def test_missing_value_first_seen_at_transform_is_an_unknown_category():
    encoder = OneHot(missing="category").fit(pd.DataFrame({"s": ["a", "b"]}))
    with pytest.raises(ValueError, match=r"unknown categories \[nan\] in column 's'"):
        encoder.transform(pd.DataFrame({"s": ["a", None]}))
    ignoring = OneHot(missing="category", handle_unknown="ignore")
    ignoring.fit(pd.DataFrame({"s": ["a", "b"]}))
    out = ignoring.transform(pd.DataFrame({"s": ["a", None]}))["s"]
    assert out.tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_infinity_is_not_a_missing_value():
    with pytest.raises(ValueError, match="infinity in column 'f'"):
        OneHot(["f"], missing="category").fit(pd.DataFrame({"f": [1.0, np.inf]}))


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_unknown_missing_option_is_refused(encoder_class):
    with pytest.raises(ValueError, match=r"missing='drop'\) is not one of"):
        encoder_class(missing="drop").fit(pd.DataFrame({"s": ["a"]}))
