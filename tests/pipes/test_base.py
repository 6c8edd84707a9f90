"""Rules every Pipe shares: input kinds, schema checks, pickling of fitted state."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import fireworks_sk
from fireworks_sk import (
    BatchNormalizer,
    IndexEncoder,
    Message,
    OneHot,
    Pipe,
    SelectColumns,
    ToTensor,
)
from tests._data import every_pipe, mixed_message

STATEFUL = [BatchNormalizer, OneHot, IndexEncoder]


def test_every_public_pipe_is_a_sklearn_transformer():
    from sklearn.base import BaseEstimator, TransformerMixin

    for name in fireworks_sk.__all__:
        obj = getattr(fireworks_sk, name)
        if isinstance(obj, type) and issubclass(obj, Pipe):
            assert issubclass(obj, TransformerMixin)
            assert issubclass(obj, BaseEstimator)


def test_not_fitted_error_is_also_sklearns():
    import sklearn.exceptions

    assert issubclass(fireworks_sk.NotFittedError, sklearn.exceptions.NotFittedError)
    assert issubclass(fireworks_sk.NotFittedError, fireworks_sk.FireworksError)


@pytest.mark.parametrize(
    "X", [torch.zeros(3), pd.Series([1.0, 2.0])], ids=["tensor", "series"]
)
def test_1d_input_raises_and_says_how_to_wrap_it(X):
    with pytest.raises(ValueError, match=r"expects 2-D input.*Message\(\{'x'"):
        BatchNormalizer().fit(X)


INPUTS = {
    "message": lambda df: Message(df),
    "dataframe": lambda df: df,
    "dict": lambda df: {c: df[c].to_numpy() for c in df.columns},
    "array": lambda df: df.to_numpy(),
}


@pytest.mark.parametrize("pipe", every_pipe(), ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_every_pipe_accepts_every_input_kind_and_returns_a_message(pipe, kind):
    df = pd.DataFrame({"p": [1.0, 2.0, 4.0, 8.0], "q": [3, 1, 3, 2]})
    X = INPUTS[kind](df)
    out = pipe.fit_transform(X)
    assert isinstance(out, Message)
    assert len(out) == 4
    assert isinstance(pipe.transform(X), Message)


def test_fit_on_zero_rows_raises():
    with pytest.raises(ValueError, match="got 0 rows"):
        BatchNormalizer().fit(Message({"x": torch.zeros(0)}))


def test_transform_of_zero_rows_gives_zero_rows(message):
    out = BatchNormalizer().fit(message).transform(message[:0])
    assert len(out) == 0 and out.columns == message.columns
    assert out.shape == (0, message.shape[1])


def test_array_input_gets_positional_names():
    pipe = BatchNormalizer().fit(np.arange(6.0).reshape(3, 2))
    assert not hasattr(pipe, "feature_names_in_")
    assert pipe.n_features_in_ == 2
    assert pipe.transform(np.ones((2, 2))).columns == ["x0", "x1"]


def test_dict_input_keeps_names():
    pipe = SelectColumns().fit({"p": [1.0, 2.0], "q": ["a", "b"]})
    assert list(pipe.feature_names_in_) == ["p", "q"]


def test_sparse_input_says_how_to_convert():
    import scipy.sparse

    with pytest.raises(TypeError, match="toarray"):
        BatchNormalizer().fit(scipy.sparse.csr_matrix(np.eye(3)))


def test_column_that_changed_kind_since_fit_is_named():
    m = mixed_message()
    pipe = BatchNormalizer().fit(m)
    changed = m.assign(t=pd.Series(m["t"].numpy()))
    with pytest.raises(fireworks_sk.SchemaError, match="Column 't' was a tensor"):
        pipe.transform(changed)


def test_column_that_changed_row_shape_since_fit_is_named():
    m = mixed_message()
    pipe = ToTensor().fit(m)
    with pytest.raises(fireworks_sk.SchemaError, match=r"Column 'b' has rows of shape"):
        pipe.transform(m.assign(b=torch.zeros(len(m), 3)))


def test_column_that_changed_dtype_since_fit_warns_naming_both():
    m = mixed_message()
    pipe = BatchNormalizer().fit(m)
    match = "Column 't' has dtype torch.float64 but .* fitted on dtype torch.float32"
    with pytest.warns(UserWarning, match=match):
        pipe.transform(m.assign(t=m["t"].double()))


def test_columns_in_another_order_raise_a_schema_diff():
    m = mixed_message()
    pipe = BatchNormalizer().fit(m)
    with pytest.raises(fireworks_sk.SchemaError, match="same order"):
        pipe.transform(m[list(reversed(m.columns))])


@pytest.mark.parametrize("pipe_class", STATEFUL)
def test_partial_fit_continues_after_a_pickle_round_trip(pipe_class, message):
    first = pipe_class().partial_fit(message[:25])
    resumed = pickle.loads(pickle.dumps(first)).partial_fit(message[25:])
    full = pipe_class().fit(message)
    assert resumed.n_samples_seen_ == len(message)
    out, expected = resumed.transform(message), full.transform(message)
    for name in out.columns:
        if isinstance(out[name], torch.Tensor):
            torch.testing.assert_close(out[name], expected[name], rtol=1e-12, atol=0)
        else:
            pd.testing.assert_series_equal(out[name], expected[name], rtol=1e-12)


@pytest.mark.parametrize("pipe_class", STATEFUL)
def test_pickle_of_a_fitted_pipe_does_not_carry_the_training_data(pipe_class):
    m = Message(
        {
            "x": torch.randn(50_000, dtype=torch.float64),
            "c": np.array(["a", "b"] * 25_000),
        }
    )
    assert len(pickle.dumps(pipe_class().fit(m))) < 20_000


@pytest.mark.parametrize("pipe_class", STATEFUL)
def test_joblib_hash_of_equally_fitted_pipes_is_equal(pipe_class, make_message):
    a = pipe_class().fit(make_message())
    b = pipe_class().fit(make_message())
    assert joblib.hash(a) == joblib.hash(b)
    assert joblib.hash(a) != joblib.hash(pipe_class().fit(make_message(seed=9)))


def test_mixed_str_and_int_column_names_are_refused_as_sklearn_does():
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame({"a": [1.0, 2.0], 0: [3.0, 4.0]})
    with pytest.raises(TypeError, match="Feature names are only supported") as ours:
        BatchNormalizer().fit(frame)
    with pytest.raises(TypeError) as theirs:
        StandardScaler().fit(frame)
    assert str(ours.value) == str(theirs.value)


def test_int_column_names_are_positional_and_checked_by_position():
    pipe = BatchNormalizer().fit(pd.DataFrame({0: [1.0, 2.0], 1: [3.0, 5.0]}))
    assert not hasattr(pipe, "feature_names_in_")
    assert pipe.transform(pd.DataFrame({0: [1.0], 1: [3.0]})).columns == ["x0", "x1"]


@pytest.mark.parametrize("pipe", every_pipe(), ids=lambda p: type(p).__name__)
def test_pandas_output_keeps_the_input_index(pipe):
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 5.0], "c": ["a", "b", "a", "b"]},
        index=[10, 11, 12, 13],
    )
    pipe.set_output(transform="pandas").fit(frame)
    test = frame.iloc[[3, 1]]
    out = pipe.transform(test)
    assert list(out.index) == [13, 11]
    y = pd.Series([1.0, 0.0], index=test.index, name="y")
    joined = pd.concat([out, y], axis=1)
    assert len(joined) == 2 and joined["y"].notna().all()


def test_column_transformer_concatenates_a_pipe_with_a_sklearn_transformer():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 5.0], "c": ["a", "b", "a", "b"]},
        index=[10, 11, 12, 13],
    )
    ct = ColumnTransformer(
        [("onehot", OneHot(), ["c"]), ("scale", StandardScaler(), ["x"])]
    )
    out = ct.set_output(transform="pandas").fit_transform(frame)
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out.columns) == ["onehot__c_a", "onehot__c_b", "scale__x"]
    np.testing.assert_array_equal(out["onehot__c_b"], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(out["scale__x"].std(ddof=0), 1.0)


def test_a_tensor_column_without_features_is_refused():
    m = Message({"x": torch.ones(3), "empty": torch.ones(3, 0)})
    with pytest.raises(ValueError, match=r"column 'empty' with rows of shape \(0,\)"):
        SelectColumns().fit(m)


def test_onehot_output_name_that_clashes_with_a_column_is_refused():
    m = Message({"c": ["x", "y"], "c_x": [1.0, 2.0]})
    pipe = OneHot(["c"])
    with pytest.raises(fireworks_sk.SchemaError, match="'c_x' twice"):
        pipe.fit(m)
    assert not hasattr(pipe, "categories_")


def test_names_equal_up_to_unicode_normal_form_are_refused():
    m = Message({"\u00e9": [1.0, 2.0], "e\u0301": [3.0, 4.0]})  # é twice
    with pytest.raises(fireworks_sk.SchemaError, match="the same text in another form"):
        BatchNormalizer().fit(m)


def test_n_features_in_counts_flat_features_and_names_name_columns():
    m = Message({"t": torch.zeros(4, 3), "s": ["a", "b", "a", "b"]})
    pipe = SelectColumns().fit(m)
    assert pipe.n_features_in_ == m.shape[1] == 4
    assert list(pipe.feature_names_in_) == ["t", "s"]
    assert list(pipe.get_feature_names_out()) == ["t_0", "t_1", "t_2", "s"]
    renamed = pipe.get_feature_names_out(["a", "b", "c", "d"])  # flat names
    assert list(renamed) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="input_features is not equal"):
        pipe.get_feature_names_out(["u", "s"])


def test_pandas_output_of_a_series_sliced_with_a_step_keeps_its_values():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0]})
    m = Message({"a": df.iloc[::2]["a"]})
    out = SelectColumns().set_output(transform="pandas").fit_transform(m)
    assert out["a"].tolist() == [0.0, 2.0, 4.0]
