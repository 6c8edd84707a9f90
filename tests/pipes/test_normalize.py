"""BatchNormalizer: exact batch statistics, scaling and its inverse."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

import fireworks_sk
from fireworks_sk import BatchNormalizer, Message
from fireworks_sk.message import stored_column
from tests._data import N_ROWS, assert_unchanged, snapshot

CHUNK_SIZES = [1, 2, 50, N_ROWS, N_ROWS + 42]


def partial_fit_in_chunks(pipe, message: Message, size: int):
    for start in range(0, len(message), size):
        pipe.partial_fit(message[start : start + size])
    return pipe


def assert_stats_close(a: dict, b: dict, rtol: float = 1e-12) -> None:
    assert list(a) == list(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=rtol, atol=1e-300)


def as_numpy(column) -> np.ndarray:
    if isinstance(column, torch.Tensor):
        return column.detach().numpy()
    return column.to_numpy()


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_partial_fit_in_chunks_equals_fit(message, size):
    full = BatchNormalizer().fit(message)
    chunked = partial_fit_in_chunks(BatchNormalizer(), message, size)
    assert chunked.n_samples_seen_ == full.n_samples_seen_ == len(message)
    assert chunked.columns_ == full.columns_
    assert_stats_close(chunked.mean_, full.mean_)
    assert_stats_close(chunked.var_, full.var_)
    assert_stats_close(chunked.scale_, full.scale_)


def test_statistics_match_numpy_per_feature(message):
    pipe = BatchNormalizer().fit(message)
    for name in pipe.columns_:
        values = as_numpy(message[name]).astype(np.float64)
        np.testing.assert_allclose(pipe.mean_[name].numpy(), values.mean(0), rtol=1e-12)
        np.testing.assert_allclose(pipe.var_[name].numpy(), values.var(0), rtol=1e-12)
        assert pipe.mean_[name].shape == message[name].shape[1:]


def test_default_columns_are_float_tensors_and_numeric_series(message):
    pipe = BatchNormalizer().fit(message)
    expected = [
        c
        for c in message.columns
        if (message.is_tensor(c) and message[c].is_floating_point())
        or (not message.is_tensor(c) and pd.api.types.is_numeric_dtype(message[c]))
    ]
    assert pipe.columns_ == expected


def test_transform_standardises_scaled_columns_and_passes_others(message):
    pipe = BatchNormalizer().fit(message)
    out = pipe.transform(message)
    assert out.columns == message.columns
    for name in message.columns:
        if name in pipe.columns_:
            values = as_numpy(out[name]).astype(np.float64)
            np.testing.assert_allclose(values.mean(0), 0, atol=1e-6)
            np.testing.assert_allclose(values.std(0), 1, rtol=1e-5)
        else:
            assert stored_column(out, name) is stored_column(message, name)


def test_transform_matches_standard_scaler():
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(5, 3, size=(40, 3)), columns=["p", "q", "r"])
    out = BatchNormalizer().fit_transform(df)
    np.testing.assert_allclose(
        np.asarray(out), StandardScaler().fit_transform(df), rtol=1e-12
    )


@pytest.mark.parametrize(
    "with_mean, with_std", [(True, True), (False, True), (True, False), (False, False)]
)
def test_with_mean_and_with_std_switch_centering_and_scaling(with_mean, with_std):
    x = np.array([1.0, 2.0, 3.0, 6.0])
    out = BatchNormalizer(with_mean=with_mean, with_std=with_std).fit_transform(
        Message({"x": x})
    )
    expected = (x - (x.mean() if with_mean else 0)) / (x.std() if with_std else 1)
    np.testing.assert_allclose(out["x"].numpy(), expected, rtol=1e-12)


def test_columns_parameter_limits_scaling(message):
    first = BatchNormalizer().fit(message).columns_[0]
    pipe = BatchNormalizer(columns=[first]).fit(message)
    assert pipe.columns_ == [first]
    out = pipe.transform(message)
    assert all(
        stored_column(out, c) is stored_column(message, c)
        for c in message.columns
        if c != first
    )


def test_columns_naming_a_missing_column_names_it(message):
    with pytest.raises(ValueError, match=r"names columns \['nope'\] that the input"):
        BatchNormalizer(columns=["nope"]).fit(message)


def test_naming_a_string_column_raises_naming_it():
    m = Message({"a": [1.0, 2.0], "s": ["u", "v"]})
    with pytest.raises(
        TypeError, match="Column 's' has dtype .* BatchNormalizer needs numbers"
    ):
        BatchNormalizer(columns=["a", "s"]).fit(m)


def test_large_offset_keeps_precision_through_partial_fit():
    # Mean 1e8, std 1: a sum-of-squares variance loses every digit here.
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000) + 1e8
    pipe = BatchNormalizer()
    for chunk in np.array_split(x, 37):
        pipe.partial_fit(Message({"x": chunk}))
    centred = x - 1e8
    np.testing.assert_allclose(pipe.var_["x"].item(), centred.var(), rtol=1e-6)
    np.testing.assert_allclose(pipe.mean_["x"].item() - 1e8, centred.mean(), atol=1e-7)
    out = pipe.transform(Message({"x": x}))["x"].numpy()
    np.testing.assert_allclose(out.std(), 1.0, rtol=1e-6)


def test_constant_column_is_centred_not_divided_by_zero():
    out = BatchNormalizer().fit_transform(Message({"x": torch.full((5,), 3.0)}))
    assert torch.equal(out["x"], torch.zeros(5))


@pytest.mark.parametrize(
    "column",
    [
        torch.tensor([1.0, 2.0, float("nan")]),
        torch.tensor([[1.0, 2.0], [float("inf"), 0.0], [1.0, 1.0]]),
        pd.Series([1.0, np.nan, 2.0]),
        pd.Series([1.0, -np.inf, 2.0]),
    ],
    ids=["tensor-nan", "tensor-inf", "series-nan", "series-inf"],
)
def test_nan_or_inf_raises_naming_the_column(column):
    bad = Message({"ok": torch.zeros(3), "bad": column})
    kind = "NaN" if bool(np.isnan(np.asarray(column, dtype=float)).any()) else "inf"
    with pytest.raises(ValueError, match=f"{kind}.*column 'bad'"):
        BatchNormalizer().fit(bad)
    if isinstance(column, torch.Tensor):
        clean = torch.zeros_like(column)
    else:
        clean = pd.Series(np.zeros(len(column)))
    fitted = BatchNormalizer().fit(Message({"ok": torch.zeros(3), "bad": clean}))
    with pytest.raises(ValueError, match=f"{kind}.*column 'bad'"):
        fitted.transform(bad)


def test_transform_before_fit_raises_not_fitted(message):
    with pytest.raises(fireworks_sk.NotFittedError, match="not fitted"):
        BatchNormalizer().transform(message)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        BatchNormalizer().inverse_transform(message)


def test_inverse_transform_round_trips(message):
    pipe = BatchNormalizer().fit(message)
    back = pipe.inverse_transform(pipe.transform(message))
    assert back.columns == message.columns
    for name in message.columns:
        if name in pipe.columns_:
            np.testing.assert_allclose(
                as_numpy(back[name]), as_numpy(message[name]), rtol=1e-5, atol=1e-5
            )
        else:
            assert stored_column(back, name) is stored_column(message, name)


def test_input_is_never_mutated(message):
    before = snapshot(message)
    pipe = BatchNormalizer().fit(message)
    pipe.partial_fit(message)
    out = pipe.transform(message)
    pipe.inverse_transform(out)
    assert_unchanged(message, before)


def test_float32_columns_stay_float32():
    m = Message(
        {
            "t": torch.randn(10, dtype=torch.float32),
            "s": pd.Series(np.linspace(0, 1, 10, dtype=np.float32)),
            "d": torch.randn(10, dtype=torch.float64),
        }
    )
    pipe = BatchNormalizer().fit(m)
    out = pipe.transform(m)
    assert out["t"].dtype == torch.float32
    assert out["s"].dtype == np.float32
    assert out["d"].dtype == torch.float64
    back = pipe.inverse_transform(out)
    assert back["t"].dtype == torch.float32
    assert back["s"].dtype == np.float32


def test_joblib_round_trip_gives_equal_output(message, tmp_path):
    pipe = BatchNormalizer().fit(message)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    assert loaded.transform(message).equals(pipe.transform(message))


def test_clone_gives_an_unfitted_copy(message):
    pipe = BatchNormalizer(with_std=False).fit(message)
    copy = clone(pipe)
    assert copy.get_params() == pipe.get_params()
    assert not hasattr(copy, "mean_")
    with pytest.raises(fireworks_sk.NotFittedError):
        copy.transform(message)


def test_refit_forgets_earlier_batches(make_message):
    first, second = make_message(30, seed=1), make_message(30, seed=2)
    pipe = BatchNormalizer().fit(first).fit(second)
    fresh = BatchNormalizer().fit(second)
    assert pipe.n_samples_seen_ == 30
    assert_stats_close(pipe.mean_, fresh.mean_)


def test_get_feature_names_out_flattens_tensor_columns(message):
    pipe = BatchNormalizer().fit(message)
    names = pipe.get_feature_names_out()
    assert list(names) == message.feature_names()
    assert list(names) == pipe.transform(message).feature_names()


def test_get_feature_names_out_of_an_array_fit_uses_given_names():
    pipe = BatchNormalizer().fit(np.arange(6.0).reshape(3, 2))
    assert list(pipe.get_feature_names_out()) == ["x0", "x1"]
    assert list(pipe.get_feature_names_out(["u", "v"])) == ["u", "v"]


def test_transform_with_other_columns_raises_a_schema_diff(message):
    pipe = BatchNormalizer().fit(message)
    renamed = message.rename({message.columns[0]: "zz"})
    with pytest.raises(fireworks_sk.SchemaError, match=r"unseen at fit time:\n- zz"):
        pipe.transform(renamed)


@pytest.mark.parametrize(
    "X",
    [
        pd.DataFrame({"a": [1.0, 2.0, 4.0]}),
        {"a": [1.0, 2.0, 4.0]},
        np.array([[1.0], [2.0], [4.0]]),
    ],
    ids=["dataframe", "dict", "array"],
)
def test_accepts_dataframe_dict_and_array_and_returns_a_message(X):
    out = BatchNormalizer().fit_transform(X)
    assert isinstance(out, Message)
    np.testing.assert_allclose(
        np.asarray(out).ravel(), [-1.069, -0.267, 1.336], atol=1e-3
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 7])
def test_partial_fit_in_tiny_chunks_keeps_a_large_mean_exact(chunk_size):
    # Mean 1e8, std 1: merging from the rounded mean_ drifted by ~3e-9.
    values = np.random.default_rng(0).normal(1e8, 1.0, 600)
    scaler = BatchNormalizer()
    for start in range(0, len(values), chunk_size):
        scaler.partial_fit(pd.DataFrame({"x": values[start : start + chunk_size]}))
    np.testing.assert_allclose(float(scaler.var_["x"]), values.var(), rtol=1e-12)
    np.testing.assert_allclose(float(scaler.mean_["x"]), values.mean(), rtol=1e-15)


def test_partial_fit_continues_exactly_after_a_pickle_round_trip():
    values = np.random.default_rng(1).normal(1e8, 1.0, 400)
    scaler = BatchNormalizer().partial_fit(pd.DataFrame({"x": values[:200]}))
    scaler = pickle.loads(pickle.dumps(scaler))
    for start in range(200, 400, 3):
        scaler.partial_fit(pd.DataFrame({"x": values[start : start + 3]}))
    np.testing.assert_allclose(float(scaler.var_["x"]), values.var(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["tensor", "series"])
def test_values_whose_variance_overflows_float64_are_refused(kind):
    values = np.array([1e308, -1e308])
    column = torch.from_numpy(values) if kind == "tensor" else pd.Series(values)
    pipe = BatchNormalizer()
    with pytest.raises(ValueError, match="Column 'x' .* variance overflows float64"):
        pipe.fit(Message({"x": column}))
    assert not hasattr(pipe, "mean_")


def test_partial_fit_that_overflows_in_the_merge_is_refused_and_undone():
    big = torch.tensor([1e308, 1e308], dtype=torch.float64)
    pipe = BatchNormalizer().partial_fit(Message({"x": big}))
    before = pipe.mean_["x"].clone()
    with pytest.raises(ValueError, match="Column 'x' .* variance overflows"):
        pipe.partial_fit(Message({"x": -big}))
    assert torch.equal(pipe.mean_["x"], before) and pipe.n_samples_seen_ == 2


@pytest.mark.parametrize("kind", ["tensor", "series"])
def test_finite_input_that_overflows_when_scaled_is_refused(kind):
    fitted = np.array([-1e308, -1e308])
    new = np.array([1e308])
    make = torch.from_numpy if kind == "tensor" else pd.Series
    pipe = BatchNormalizer(with_std=False).fit(Message({"x": make(fitted)}))
    with pytest.raises(ValueError, match="Column 'x' overflows .*finite input"):
        pipe.transform(Message({"x": make(new)}))


def test_float16_column_is_scaled_in_float32_and_stays_float16():
    values = torch.tensor([60000.0, -60000.0, 0.0], dtype=torch.float16)
    out = BatchNormalizer().fit_transform(Message({"h": values}))["h"]
    assert out.dtype == torch.float16
    np.testing.assert_allclose(out.float().numpy(), [1.2247, -1.2247, 0.0], atol=1e-3)
    back = BatchNormalizer().fit(Message({"h": values}))
    assert torch.equal(back.inverse_transform(Message({"h": out}))["h"], values)


def test_statistics_of_a_dataframe_block_equal_those_of_its_columns_apart():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(1e8, 1.0, (5003, 4)), columns=list("abcd"))
    together = BatchNormalizer().fit(frame)
    for name in frame.columns:
        alone = BatchNormalizer().fit(frame[[name]])
        assert torch.equal(together.mean_[name], alone.mean_[name])
        assert torch.equal(together.var_[name], alone.var_[name])


def test_first_bad_column_in_order_is_named_across_blocks_and_tensors():
    bad = Message(
        {
            "t": torch.tensor([1.0, float("inf"), 2.0]),
            "a": pd.Series([1.0, np.nan, 2.0]),
            "b": pd.Series([1.0, 2.0, np.inf]),
        }
    )
    with pytest.raises(ValueError, match=r"infinity in column 't' \(first at row 1"):
        BatchNormalizer().fit(bad)
    with pytest.raises(ValueError, match=r"NaN in column 'a' \(first at row 1"):
        BatchNormalizer(["a", "b", "t"]).fit(bad)
    with pytest.raises(ValueError, match=r"infinity in column 'b' \(first at row 2"):
        BatchNormalizer(["b", "a"]).fit(bad)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_moments_equal_the_two_pass_formula_bit_for_bit(as_tensor):
    from fireworks_sk.pipes._normalize import _moments

    rng = np.random.default_rng(3)
    for shape in [(1,), (7,), (1000,), (500, 3, 2)]:
        values = rng.normal(1e8, 1.0, shape)
        values = torch.from_numpy(values) if as_tensor else values
        before = values.copy() if not as_tensor else values.clone()
        centred = values - values[0]
        offset = centred.mean(0)
        expected = ((centred - offset) ** 2).sum(0)
        got = _moments(values)
        assert got.n == shape[0]
        assert torch.equal(got.offset, torch.as_tensor(offset))
        assert torch.equal(got.m2, torch.as_tensor(expected))
        # The input, possibly the caller's own buffer, is left as it was.
        assert (values == before).all()


_KINDS = {
    "tensor32": lambda v: torch.tensor(v, dtype=torch.float32),
    "tensor64": lambda v: torch.tensor(v, dtype=torch.float64),
    "tensor16": lambda v: torch.tensor(v, dtype=torch.float16),
    "f4": lambda v: pd.Series(v, dtype="float32"),
    "f8": lambda v: pd.Series(v, dtype="float64"),
    "i8": lambda v: pd.Series(np.round(v), dtype="int64"),
    "Float64": lambda v: pd.Series(v, dtype="Float64"),
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_columns_of_any_mix_of_kinds_scale_as_each_alone(kinds, seed, inverse):
    rng = np.random.default_rng(seed)
    values = {f"c{i}": _KINDS[k](rng.normal(5, 3, 7)) for i, k in enumerate(kinds)}
    message = Message(values)
    together = BatchNormalizer().fit(message)
    apply = "inverse_transform" if inverse else "transform"
    out = getattr(together, apply)(message)
    assert out.columns == message.columns
    for name in message.columns:
        alone = BatchNormalizer().fit(Message({name: values[name]}))
        expected = getattr(alone, apply)(Message({name: values[name]}))[name]
        got = out[name]
        assert type(got) is type(expected)
        if isinstance(got, torch.Tensor):
            assert got.dtype == expected.dtype
            assert got.numpy().tobytes() == expected.numpy().tobytes()
        else:
            pd.testing.assert_series_equal(got, expected, check_exact=True)
