"""Every path from a column to numbers follows one policy.

np.asarray(Message), Message.to_tensors, ToTensor, Stack, BatchNormalizer
and a Torch estimator's input give the same numbers, or the same error
naming the column, for each kind of column: a caller that converts by
itself fails here.
"""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings

from fireworks_sk import (
    BatchNormalizer,
    Impute,
    IndexEncoder,
    Message,
    OneHot,
    Stack,
    TorchRegressor,
    ToTensor,
)
from fireworks_sk._numbers import column_numbers, float_dtype, is_numeric_column

NA = pd.NA


class Echo(torch.nn.Module):
    """Keeps the tensor it is fed; predicts a constant."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(1))
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.detach().clone()
        return self.bias.expand(len(x), 1)


def _values(column: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(column, torch.Tensor):
        column = column.detach().cpu()
        if not column.is_complex():
            column = column.to(torch.float64)
        column = column.numpy()
    return np.asarray(column, dtype=np.float64).reshape(len(column))


def _as_array(m: Message) -> np.ndarray:
    return _values(np.asarray(m)[:, 0])


def _to_tensors(m: Message) -> np.ndarray:
    return _values(m.to_tensors()["x"])


def _to_tensor(m: Message) -> np.ndarray:
    return _values(ToTensor(["x"], dtype="float64").fit_transform(m)["x"])


def _stack(m: Message) -> np.ndarray:
    return _values(Stack(["x"], dtype="float64").fit_transform(m)["features"][:, 0])


def _batch_normalizer(m: Message) -> np.ndarray:
    # Neither centred nor scaled: the output is the converted input.
    pipe = BatchNormalizer(["x"], with_mean=False, with_std=False)
    return _values(pipe.fit_transform(m)["x"])


def _read_back(m: Message, dtype: torch.dtype = torch.float64) -> Message:
    """A Pipe fitted on a tensor column ``x`` reads a frame laid out as its
    pandas output: the frame's column becomes the fitted tensor again."""
    column = m["x"]
    if isinstance(column, torch.Tensor):
        pytest.skip("a DataFrame column is never a tensor")
    stack = Stack(["x"], dtype="float64").fit(
        Message({"x": torch.zeros(2, dtype=dtype)})
    )
    frame = pd.DataFrame({"x": column})
    frame.attrs["fireworks_sk.layout"] = [("x", ["x"])]
    return stack.transform(frame)


def _read_back_values(m: Message) -> np.ndarray:
    return _values(_read_back(m)["features"][:, 0])


def _estimator(m: Message) -> np.ndarray:
    net = TorchRegressor(
        Echo, inputs="x", max_epochs=1, batch_size=64, train_split=None, verbose=0
    )
    net.fit(m, np.zeros((len(m), 1), dtype=np.float32))
    net.predict(m)
    return _values(net.module_.seen)


CALLERS = {
    "asarray": _as_array,
    "to_tensors": _to_tensors,
    "ToTensor": _to_tensor,
    "Stack": _stack,
    "BatchNormalizer": _batch_normalizer,
    "estimator": _estimator,
    "read back": _read_back_values,
}
NAN_KEPT = {"asarray", "to_tensors"}

NUMBERS = {
    "int64": pd.Series([1, 0, 3], dtype="int64"),
    "int8": pd.Series([1, 0, 3], dtype="int8"),
    "uint8": pd.Series([1, 0, 3], dtype="uint8"),
    "float16": pd.Series([1, 0, 3], dtype="float16"),
    "float32": pd.Series([1, 0, 3], dtype="float32"),
    "float64": pd.Series([1, 0, 3], dtype="float64"),
    "bool": pd.Series([True, False, True]),
    "Int64": pd.Series([1, 0, 3], dtype="Int64"),
    "UInt8": pd.Series([1, 0, 3], dtype="UInt8"),
    "Float64": pd.Series([1, 0, 3], dtype="Float64"),
    "boolean": pd.Series([True, False, True], dtype="boolean"),
    "int64[pyarrow]": pd.Series([1, 0, 3], dtype="int64[pyarrow]"),
    "double[pyarrow]": pd.Series([1, 0, 3], dtype="double[pyarrow]"),
    "bool[pyarrow]": pd.Series([True, False, True], dtype="bool[pyarrow]"),
    "tensor float32": torch.tensor([1.0, 0.0, 3.0]),
    "tensor float64": torch.tensor([1.0, 0.0, 3.0], dtype=torch.float64),
    "tensor float16": torch.tensor([1.0, 0.0, 3.0], dtype=torch.float16),
    "tensor bfloat16": torch.tensor([1.0, 0.0, 3.0], dtype=torch.bfloat16),
    "tensor int64": torch.tensor([1, 0, 3]),
    "tensor bool": torch.tensor([True, False, True]),
}
MISSING = {
    "float64 NaN": pd.Series([1.0, np.nan, 3.0]),
    "Int64 NA": pd.Series([1, NA, 3], dtype="Int64"),
    "Float64 NA": pd.Series([1.0, NA, 3.0], dtype="Float64"),
    "boolean NA": pd.Series([True, NA, True], dtype="boolean"),
    "int64[pyarrow] null": pd.Series([1, None, 3], dtype="int64[pyarrow]"),
    "double[pyarrow] null": pd.Series([1.0, None, 3.0], dtype="double[pyarrow]"),
    "tensor NaN": torch.tensor([1.0, float("nan"), 3.0]),
}
NOT_NUMBERS = {
    "object numbers": pd.Series([1, 0, 3], dtype=object),
    "object None": pd.Series([1.0, None, 3.0], dtype=object),
    "str": pd.Series(["1", "0", "3"], dtype="str"),
    "string[pyarrow]": pd.Series(["1", "0", "3"], dtype="string[pyarrow]"),
    "category": pd.Series([1, 0, 3], dtype="category"),
    "datetime": pd.Series(pd.to_datetime(["2020-01-01"] * 3)),
    "timedelta": pd.Series(pd.to_timedelta([1, 0, 3], unit="s")),
}
COMPLEX = {
    "complex128": pd.Series([1 + 1j, 0, 3]),
    "tensor complex64": torch.tensor([1 + 1j, 0, 3]),
}


@pytest.mark.parametrize("kind", [*NUMBERS, *MISSING, *NOT_NUMBERS, *COMPLEX])
def test_is_numeric_column_answers_for_every_kind(kind):
    column = {**NUMBERS, **MISSING, **NOT_NUMBERS, **COMPLEX}[kind]
    numbers = kind not in NOT_NUMBERS
    boolean = "bool" in kind
    assert is_numeric_column(column) == numbers
    assert is_numeric_column(column.dtype) == numbers
    assert is_numeric_column(column, booleans=False) == (numbers and not boolean)
    real = numbers and kind not in COMPLEX
    assert is_numeric_column(column, complex_numbers=False) == real


@pytest.mark.parametrize(
    ("values", "tensor"),
    [
        (np.array([1, 2]), True),
        (np.array([True, False]), True),
        (np.array([1.0, 2.0], dtype=np.float16), True),
        (np.array([1 + 1j, 2]), False),
        (np.array(["1", "2"]), False),
        (np.array([1, 2], dtype=object), False),
        (np.array([1, 2], dtype="m8[s]"), False),
    ],
    ids=["int", "bool", "float16", "complex", "str", "object", "timedelta"],
)
def test_a_numpy_column_becomes_a_tensor_when_it_holds_real_numbers(values, tensor):
    assert Message({"x": values}).is_tensor("x") == tensor


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("float32", np.float32),
        ("tensor float32", np.float32),
        ("float64", np.float64),
        ("float16", np.float64),
        ("tensor float16", np.float64),
        ("int64", np.float64),
        ("bool", np.float64),
        ("Float64", np.float64),
    ],
)
def test_float_results_keep_float32_and_widen_the_rest(kind, expected):
    column = NUMBERS[kind]
    assert float_dtype(column) is expected
    message = _message(column)
    assert np.asarray(message).dtype == expected
    if isinstance(column, pd.Series) and "bool" not in kind:
        scaled = BatchNormalizer(["x"]).fit_transform(message)["x"]
        assert scaled.dtype == expected
        filled = Impute(["x"]).fit_transform(message)["x"]
        assert filled.dtype == expected


def _message(column) -> Message:
    return Message({"x": column})


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", NUMBERS)
def test_numbers_convert_to_the_same_values_everywhere(kind, caller):
    got = CALLERS[caller](_message(NUMBERS[kind]))
    expected = [1.0, 0.0, 1.0] if "bool" in kind else [1.0, 0.0, 3.0]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", MISSING)
def test_missing_values_are_nan_where_kept_and_named_elsewhere(kind, caller):
    message = _message(MISSING[kind])
    if caller in NAN_KEPT:
        got = CALLERS[caller](message)
        last = 1.0 if "boolean" in kind else 3.0
        np.testing.assert_array_equal(got, [1.0, np.nan, last])
        return
    match = r"NaN in column 'x' \(first at row 1\); fill .*Impute"
    with pytest.raises(ValueError, match=match):
        CALLERS[caller](message)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", NOT_NUMBERS)
def test_columns_that_are_not_numbers_are_refused_by_name(kind, caller):
    with pytest.raises(TypeError, match=r"Column 'x' has dtype .* not numeric"):
        CALLERS[caller](_message(NOT_NUMBERS[kind]))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", COMPLEX)
def test_complex_columns_are_refused_by_name(kind, caller):
    if caller == "to_tensors" and kind.startswith("tensor"):
        pytest.skip("to_tensors hands tensor columns back untouched")
    with pytest.raises(ValueError, match=r"Complex data not supported \(column 'x'\)"):
        CALLERS[caller](_message(COMPLEX[kind]))


def test_to_tensors_hands_a_complex_tensor_back_untouched():
    column = torch.tensor([1 + 1j, 0, 3])
    assert _message(column).to_tensors()["x"] is column


def _impute_fitted_on_numbers() -> Impute:
    return Impute().fit(Message({"x": pd.Series([1.0, np.nan, 3.0])}))


# The dtype changed since fit: the schema check warns, then Impute refuses.
@pytest.mark.filterwarnings("ignore:Column 'x' has dtype")
@pytest.mark.parametrize("kind", NOT_NUMBERS)
def test_impute_refuses_columns_that_are_not_numbers_with_its_own_advice(kind):
    imputer = _impute_fitted_on_numbers()
    message = _message(NOT_NUMBERS[kind])
    match = r"Impute cannot fill column 'x' of dtype .*: it was numeric when fitted"
    with pytest.raises(TypeError, match=match):
        imputer.transform(message)
    match = r"Impute cannot average column 'x' of dtype .*strategy='most_frequent'"
    with pytest.raises(TypeError, match=match):
        imputer.partial_fit(message)


@pytest.mark.filterwarnings("ignore:Column 'x' has dtype")
@pytest.mark.parametrize("method", ["transform", "partial_fit"])
def test_impute_refuses_complex_columns_by_name(method):
    imputer = _impute_fitted_on_numbers()
    match = r"Complex data not supported \(column 'x'\): Impute needs real numbers"
    with pytest.raises(ValueError, match=match):
        getattr(imputer, method)(_message(COMPLEX["complex128"]))


def _decode(m: Message) -> Message:
    """IndexEncoder.inverse_transform: codes to categories."""
    fit_on = Message({"x": pd.Series(["a", "b", "c", "d"])})
    return IndexEncoder(["x"]).fit(fit_on).inverse_transform(m)


@pytest.mark.parametrize("kind", MISSING)
def test_decoding_codes_names_a_missing_code(kind):
    match = r"NaN in column 'x' \(first at row 1\); fill .*Impute"
    with pytest.raises(ValueError, match=match):
        _decode(_message(MISSING[kind]))


@pytest.mark.parametrize("kind", COMPLEX)
def test_decoding_codes_refuses_complex_ones_by_name(kind):
    match = r"Complex data not supported \(column 'x'\): IndexEncoder.inverse_transform"
    with pytest.raises(ValueError, match=match):
        _decode(_message(COMPLEX[kind]))


@pytest.mark.parametrize("kind", NOT_NUMBERS)
def test_decoding_codes_refuses_columns_that_are_not_numbers(kind):
    match = r"inverse_transform needs the encoded column 'x' \(numbers"
    with pytest.raises(TypeError, match=match):
        _decode(_message(NOT_NUMBERS[kind]))


@pytest.mark.parametrize(
    "kind", ["int64", "Int64", "UInt8", "int64[pyarrow]", "tensor int64"]
)
def test_decoding_codes_of_any_integer_dtype(kind):
    assert _decode(_message(NUMBERS[kind]))["x"].tolist() == ["b", "a", "d"]


@pytest.mark.parametrize("encoder", [OneHot, IndexEncoder])
def test_a_missing_category_is_named_as_any_missing_value(encoder):
    with pytest.raises(
        ValueError, match=r"NaN in column 'x' \(first at row 1\); fill .*Impute"
    ):
        encoder(["x"]).fit(_message(pd.Series(["a", None, "b"])))


def _to_float32_callers() -> dict:
    return {
        "ToTensor": lambda m: ToTensor(["x"]).fit_transform(m),
        "Stack": lambda m: Stack(["x"]).fit_transform(m),
        "Stack of two": lambda m: Stack(["y", "x"]).fit_transform(m),
        "estimator": lambda m: TorchRegressor(
            Echo, inputs=["x", "y"], max_epochs=1, train_split=None, verbose=0
        ).fit(m[["x", "y"]], np.zeros((len(m), 1), dtype=np.float32)),
    }


@pytest.mark.parametrize("caller", _to_float32_callers())
@pytest.mark.parametrize(
    "column",
    [pd.Series([1.0, 1e39, 3.0]), torch.tensor([1.0, 1e39, 3.0], dtype=torch.float64)],
    ids=["pandas", "tensor"],
)
def test_float32_output_refuses_values_it_cannot_hold(column, caller):
    message = Message({"x": column, "y": pd.Series([0.0, 1.0, 2.0])})
    if caller == "estimator" and isinstance(column, torch.Tensor):
        pytest.skip("a tensor input is fed in its own dtype")
    match = r"Column 'x' holds values out of the range of (torch\.)?float32 .*row 1"
    with pytest.raises(ValueError, match=match):
        _to_float32_callers()[caller](message)


def _regressor() -> TorchRegressor:
    return TorchRegressor(Echo, max_epochs=1, train_split=None, verbose=0)


@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_array_input_refuses_values_float32_cannot_hold(kind):
    X = np.array([[1.0, 0.0], [2.0, 1e300], [3.0, 0.0]])
    X = torch.from_numpy(X) if kind == "tensor" else X
    match = r"Column 'X' holds values out of the range of torch\.float32 .*row 1"
    with pytest.raises(ValueError, match=match):
        _regressor().fit(X, np.zeros(3, dtype=np.float32))


def test_regression_target_refuses_values_float32_cannot_hold():
    y = np.array([0.0, 1.0, 1e300])
    match = r"Column 'y' holds values out of the range of torch\.float32 .*row 2"
    with pytest.raises(ValueError, match=match):
        _regressor().fit(np.zeros((3, 1), dtype=np.float32), y)


@pytest.mark.parametrize("caller", ["asarray", "to_tensors", "BatchNormalizer"])
def test_float64_output_keeps_values_float32_cannot_hold(caller):
    got = CALLERS[caller](_message(pd.Series([1.0, 1e39, 3.0])))
    np.testing.assert_array_equal(got, [1.0, 1e39, 3.0])


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        (pd.Series([1.0, np.inf, np.nan]), np.float64),
        (pd.Series([1.0, np.inf], dtype="float32"), np.float64),
        (torch.tensor([1.0, np.inf], dtype=torch.float64), torch.float64),
        (pd.Series([1, 2], dtype="int32"), np.float64),
    ],
    ids=["float64", "float32-float64", "tensor-float64", "int32-float64"],
)
def test_a_cast_that_loses_no_value_scans_nothing(column, dtype, monkeypatch):
    # A safe cast (same dtype included) cannot go out of range: the range
    # check must not scan the column, a pass as long as the cast itself.
    import fireworks_sk._numbers as numbers

    def scanned(values):
        raise AssertionError("the range check scanned a column it cannot overflow")

    monkeypatch.setattr(numbers, "_finite", scanned)
    got = column_numbers("x", column, dtype, allow_nan=True)
    assert got.dtype == dtype


@pytest.mark.parametrize("Pipe", [ToTensor, Stack])
@pytest.mark.parametrize(
    ("column", "dtype", "row"),
    [
        (pd.Series([1, 2**63], dtype="uint64"), "int64", 1),
        (pd.Series([0.0, 1e19]), "int64", 1),
        (torch.tensor([1.0, 1e300], dtype=torch.float64), "int64", 1),
        (pd.Series([300, 1], dtype="Int64"), "int8", 0),
        (torch.tensor([-1, 5]), "uint8", 0),
    ],
    ids=["uint64-int64", "float-int64", "tensor-int64", "Int64-int8", "neg-uint8"],
)
def test_integer_output_refuses_values_out_of_its_range(Pipe, column, dtype, row):
    match = f"Column 'x' holds values out of the range of torch.{dtype} .*row {row}"
    with pytest.raises(ValueError, match=match):
        Pipe(["x"], dtype=dtype).fit(Message({"x": column}))


# Every caller that casts a column to int64.
_INTEGER_CASTS = [
    lambda m: ToTensor(["x"], dtype="int64").fit(m),
    lambda m: Stack(["x"], dtype="int64").fit(m),
    lambda m: _read_back(m, dtype=torch.int64),
]
_INTEGER_CAST_IDS = ["ToTensor", "Stack", "read back"]


@pytest.mark.parametrize("convert", _INTEGER_CASTS, ids=_INTEGER_CAST_IDS)
@pytest.mark.parametrize("dtype", ["Int64", "float64"])
def test_integer_output_refuses_missing_values(convert, dtype):
    column = pd.Series([1, NA if dtype == "Int64" else np.nan, 3], dtype=dtype)
    with pytest.raises(ValueError, match=r"NaN in column 'x' \(first at row 1\)"):
        convert(Message({"x": column}))


def test_integer_output_keeps_values_at_the_edges_of_its_range():
    column = pd.Series([-(2**63), 2**63 - 1], dtype="int64")
    out = ToTensor(["x"], dtype="int64").fit_transform(Message({"x": column}))
    assert out["x"].tolist() == [-(2**63), 2**63 - 1]
    small = ToTensor(["x"], dtype="int8").fit_transform(
        Message({"x": pd.Series([-128.0, 127.0])})
    )
    assert small["x"].tolist() == [-128, 127]


@pytest.mark.parametrize("convert", _INTEGER_CASTS, ids=_INTEGER_CAST_IDS)
def test_integer_output_refuses_fractions(convert):
    message = Message({"x": pd.Series([1.0, 2.7, 3.5])})
    match = r"Column 'x' holds values with a fractional part, .*int64 .*row 1: 2\.7\)"
    with pytest.raises(ValueError, match=match):
        convert(message)


def test_read_back_names_the_pipe_in_its_errors():
    with pytest.raises(TypeError, match="and Stack needs numbers"):
        _read_back(Message({"x": pd.Series(["1", "2"])}))


def test_float_column_already_of_the_dtype_asked_is_not_copied():
    tensor = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert column_numbers("x", tensor, torch.float64) is tensor
    assert np.shares_memory(column_numbers("x", tensor, np.float64), tensor.numpy())
    series = pd.Series([1.0, 2.0])
    assert np.shares_memory(column_numbers("x", series, np.float64), series.values)
    assert np.shares_memory(np.asarray(Message({"x": tensor})), tensor.numpy())


@pytest.mark.parametrize("dtype", ["float64", "Int64", "Float64", "int64[pyarrow]"])
@pytest.mark.parametrize(
    "convert",
    [
        lambda m: m.to_tensors()["x"],
        lambda m: ToTensor(["x"], dtype="int64").fit_transform(m)["x"],
    ],
    ids=["to_tensors", "ToTensor"],
)
def test_a_tensor_of_a_pandas_column_is_a_copy_writes_cannot_reach(dtype, convert):
    series = pd.Series([1, 2], dtype=dtype)
    tensor = convert(Message({"x": series}))
    tensor[0] = 9
    assert series.tolist() == [1, 2]


def test_a_numpy_array_converts_under_the_same_policy():
    array = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    tensor = column_numbers("X", array, torch.float32)
    tensor[0, 0] = 9  # a copy: the caller's array is never written
    assert array[0, 0] == 1.0
    assert array.flags.writeable
    assert np.shares_memory(column_numbers("X", array, np.float32), array)
    wide = np.array([[1.0], [1e300]])
    with pytest.raises(ValueError, match=r"Column 'X' holds values out of the range"):
        column_numbers("X", wide, torch.float32)
    with pytest.raises(TypeError, match=r"Column 'X' has dtype object"):
        column_numbers("X", array.astype(object), torch.float32)


def test_owner_is_named_in_the_error():
    with pytest.raises(TypeError, match="and Stack needs numbers"):
        column_numbers("x", pd.Series(["a"]), torch.float32, owner="Stack")


_NULLABLE = ["Int64", "Float64", "int64[pyarrow]", "double[pyarrow]"]


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(-(2**20), 2**20), min_size=1, max_size=20),
    data=st.data(),
    dtype=st.sampled_from(["int64", "float64", *_NULLABLE]),
)
def test_every_caller_agrees_on_any_nullable_column(values, data, dtype):
    missing = [False] * len(values)
    if dtype in _NULLABLE:
        missing = data.draw(st.lists(st.booleans(), min_size=len(values)))
        missing = (missing + [False] * len(values))[: len(values)]
    series = pd.Series(
        [NA if gap else v for v, gap in zip(values, missing)], dtype=dtype
    )
    expected = np.where(missing, np.nan, np.asarray(values, dtype=np.float64))
    message = Message({"x": series})
    for caller in ("asarray", "to_tensors", "ToTensor", "Stack", "BatchNormalizer"):
        if caller in NAN_KEPT or not any(missing):
            np.testing.assert_array_equal(CALLERS[caller](message), expected)
            continue
        row = missing.index(True)
        with pytest.raises(ValueError, match=f"NaN in column 'x' .first at row {row}"):
            CALLERS[caller](message)
