"""Column pipes: ToTensor, Stack, SelectColumns, DropColumns and FunctionPipe."""

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

import fireworks_sk
from fireworks_sk import (
    DropColumns,
    FunctionPipe,
    Message,
    SelectColumns,
    Stack,
    ToTensor,
)
from fireworks_sk.message import stored_column
from fireworks_sk.schema import Schema
from tests._data import assert_unchanged, snapshot


def double_x(message: Message) -> Message:
    return message.assign(x=message["x"] * 2)


def halve_x(message: Message) -> Message:
    return message.assign(x=message["x"] // 2)


def add_norm(message: Message) -> Message:
    return message.assign(norm=message["t"].norm(dim=1))


@pytest.fixture
def table() -> Message:
    """t: (4, 2) tensor; s: strings; x: int Series; f: float Series; b: bools."""
    return Message(
        {
            "t": torch.arange(8.0).reshape(4, 2),
            "s": ["p", "q", "r", "s"],
            "x": pd.Series([1, 2, 3, 4]),
            "f": pd.Series([0.5, 1.5, 2.5, 3.5]),
            "b": pd.Series([True, False, True, False]),
        }
    )


def all_pipes() -> list:
    return [
        ToTensor(),
        Stack(),
        SelectColumns(),
        DropColumns(),
        FunctionPipe(),
        SelectColumns(["x", "t"]),
        DropColumns(["f"]),
        FunctionPipe(add_norm),
    ]


PIPE_IDS = ["totensor", "stack", "select", "drop", "function", "select2", "drop2", "f2"]


# ------------------------------------------------------------------ ToTensor
def test_to_tensor_converts_numeric_and_boolean_series(table):
    out = ToTensor().fit_transform(table)
    assert out.columns == table.columns
    assert [c for c in out.columns if out.is_tensor(c)] == ["t", "x", "f", "b"]
    assert out["x"].dtype == torch.float32
    assert out["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert out["b"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert stored_column(out, "t") is stored_column(table, "t")
    assert stored_column(out, "s") is stored_column(table, "s")


def test_to_tensor_dtype_parameter_sets_the_dtype(table):
    out = ToTensor(columns=["x", "t"], dtype=torch.int64).fit_transform(table)
    assert out["x"].dtype == torch.int64
    assert out["x"].tolist() == [1, 2, 3, 4]
    assert out["t"].dtype == torch.int64


def test_to_tensor_output_does_not_share_memory_with_the_input():
    df = pd.DataFrame({"a": np.arange(3.0)})
    out = ToTensor(dtype=torch.float64).fit_transform(df)
    out["a"][0] = 100.0
    assert df["a"].tolist() == [0.0, 1.0, 2.0]


def test_to_tensor_of_a_string_column_names_it(table):
    with pytest.raises(TypeError, match="Column 's' has dtype .* not numeric"):
        ToTensor(columns=["s"]).fit(table)


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_to_tensor_nan_or_inf_names_the_column(bad, kind):
    with pytest.raises(ValueError, match=f"{kind} in column 'a'"):
        ToTensor().fit(pd.DataFrame({"ok": [1.0, 2.0], "a": [1.0, bad]}))


# ------------------------------------------------------------------ Stack
def test_stack_default_stacks_every_number_column_in_order(table):
    out = Stack().fit_transform(table)
    assert out.columns == ["features", "s"]
    assert out["features"].dtype == torch.float32
    assert out["features"][1].tolist() == [2.0, 3.0, 2.0, 1.5, 0.0]


def test_stack_puts_the_stacked_column_where_the_first_stacked_column_was(table):
    out = Stack(columns=["x", "f"], into="xf").fit_transform(table)
    assert out.columns == ["t", "s", "xf", "b"]
    assert out["xf"].tolist() == [[1, 0.5], [2, 1.5], [3, 2.5], [4, 3.5]]
    assert stored_column(out, "t") is stored_column(table, "t")


def test_stack_follows_the_order_of_columns_given(table):
    out = Stack(columns=["f", "t"]).fit_transform(table)
    # "f" is the first stacked column, so the stack takes its place.
    assert out.columns == ["s", "x", "features", "b"]
    assert out["features"][0].tolist() == [0.5, 0.0, 1.0]


def test_stack_feature_names_name_each_source_feature(table):
    pipe = Stack(columns=["x", "t"], into="z").fit(table)
    assert pipe.transform(table).columns == ["s", "z", "f", "b"]
    names = ["s", "x", "t_0", "t_1", "f", "b"]
    assert list(pipe.get_feature_names_out()) == names


def test_stack_onto_an_unstacked_column_names_it(table):
    with pytest.raises(ValueError, match=r"Stack\(into='s'\) would overwrite"):
        Stack(columns=["x"], into="s").fit(table)


def test_stack_of_a_string_column_names_it(table):
    with pytest.raises(TypeError, match="Column 's'"):
        Stack(columns=["x", "s"]).fit(table)


def test_stack_dtype_parameter_sets_the_dtype(table):
    out = Stack(columns=["x", "f"], dtype=torch.float64).fit_transform(table)
    assert out["features"].dtype == torch.float64


# ------------------------------------------------------------------ Select/Drop
def test_select_columns_keeps_those_columns_in_that_order(table):
    out = SelectColumns(["x", "t"]).fit_transform(table)
    assert out.columns == ["x", "t"]
    assert stored_column(out, "t") is stored_column(table, "t")


def test_select_columns_single_name(table):
    assert SelectColumns("s").fit_transform(table).columns == ["s"]


def test_select_columns_none_keeps_everything(table):
    assert SelectColumns().fit_transform(table).equals(table)


def test_select_no_columns_keeps_the_rows(table):
    out = SelectColumns([]).fit_transform(table)
    assert out.shape == (len(table), 0)


def test_select_missing_column_names_it(table):
    with pytest.raises(fireworks_sk.SchemaError, match=r"names columns \['zz'\]"):
        SelectColumns(["zz"]).fit(table)


def test_drop_columns_removes_those_columns(table):
    out = DropColumns(["s", "f"]).fit_transform(table)
    assert out.columns == ["t", "x", "b"]
    assert stored_column(out, "x") is stored_column(table, "x")


def test_drop_columns_none_drops_nothing(table):
    assert DropColumns().fit_transform(table).equals(table)


def test_drop_missing_column_names_it(table):
    with pytest.raises(ValueError, match=r"names columns \['zz'\]"):
        DropColumns(["zz"]).fit(table)


# ------------------------------------------------------------------ FunctionPipe
def test_function_pipe_applies_func_and_inverse_func(table):
    pipe = FunctionPipe(double_x, inverse_func=halve_x).fit(table)
    out = pipe.transform(table)
    assert out["x"].tolist() == [2, 4, 6, 8]
    assert pipe.inverse_transform(out).equals(table)


def test_function_pipe_none_is_the_identity(table):
    pipe = FunctionPipe().fit(table)
    assert pipe.transform(table).equals(table)
    assert pipe.inverse_transform(table).equals(table)


def test_function_pipe_accepts_a_dataframe_result(table):
    out = FunctionPipe(lambda m: m[["x", "f"]].to_dataframe()).fit_transform(table)
    assert isinstance(out, Message)
    assert out.columns == ["x", "f"]


def scale_by_max(message: Message) -> Message:
    return message.assign(t=message["t"] / message["t"].max())


def test_function_pipe_with_a_reduction_has_feature_names_and_pandas_output(table):
    # A function that needs at least one row (max of an empty column raises)
    # must still give feature names and set_output(transform="pandas").
    pipe = FunctionPipe(scale_by_max).fit(table)
    assert list(pipe.get_feature_names_out()) == table.feature_names()
    out = FunctionPipe(scale_by_max).set_output(transform="pandas").fit_transform(table)
    assert out["t_1"].tolist() == pytest.approx([1 / 7, 3 / 7, 5 / 7, 1.0])


def test_function_pipe_keeps_its_output_schema_as_a_schema(table):
    pipe = FunctionPipe(add_norm).fit(table)
    assert pipe._schema_out == Schema.record(pipe.transform(table))
    assert pipe._empty_output().columns == [*table.columns, "norm"]


def test_function_pipe_saved_with_a_dict_output_schema_still_loads(table):
    # The previous version kept the output's zero-row columns in a dict.
    pipe = FunctionPipe(scale_by_max).fit(table)
    out = pipe.transform(table)
    pipe._schema_out = {name: out[name][:0] for name in out.columns}
    loaded = pickle.loads(pickle.dumps(pipe))
    assert isinstance(loaded._schema_out, Schema)
    assert list(loaded.get_feature_names_out()) == table.feature_names()
    assert loaded.transform(table).equals(out)


def test_function_pipe_that_changes_the_rows_names_the_function(table):
    pipe = FunctionPipe(lambda m: m[:1])
    with pytest.raises(ValueError, match=r"'<lambda>' returned 1 rows for 4"):
        pipe.fit(table)


def test_function_pipe_inverse_before_fit_raises_not_fitted(table):
    with pytest.raises(sklearn.exceptions.NotFittedError):
        FunctionPipe(double_x).inverse_transform(table)


# ------------------------------------------------------------------ shared rules
@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_transform_before_fit_raises_not_fitted(pipe, table):
    with pytest.raises(fireworks_sk.NotFittedError, match="not fitted"):
        pipe.transform(table)


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_input_is_never_mutated(pipe, table):
    before = snapshot(table)
    pipe.fit(table)
    pipe.transform(table)
    assert_unchanged(table, before)


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_rows_in_equal_rows_out(pipe, table):
    assert len(pipe.fit_transform(table)) == len(table)


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_joblib_round_trip_gives_equal_output(pipe, table, tmp_path):
    pipe.fit(table)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    assert loaded.transform(table).equals(pipe.transform(table))


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_clone_gives_an_unfitted_copy(pipe, table):
    pipe.fit(table)
    copy = clone(pipe)
    assert copy.get_params().keys() == pipe.get_params().keys()
    assert not hasattr(copy, "n_features_in_")
    with pytest.raises(fireworks_sk.NotFittedError):
        copy.transform(table)


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_feature_names_out_follow_the_output_columns(pipe, table):
    out = pipe.fit_transform(table.drop(columns="s"))
    names = list(pipe.get_feature_names_out())
    assert len(names) == np.asarray(out).shape[1]
    if not isinstance(pipe, Stack):
        assert names == out.feature_names()


@pytest.mark.parametrize("pipe", all_pipes(), ids=PIPE_IDS)
def test_works_on_every_column_kind(pipe, message):
    if isinstance(pipe, (SelectColumns, DropColumns)) and pipe.columns:
        pipe.set_params(columns=message.columns[:1])
    if isinstance(pipe, FunctionPipe) and pipe.func is not None:
        pipe.set_params(func=double_first)
    out = pipe.fit_transform(message)
    assert isinstance(out, Message)
    assert len(out) == len(message)


def double_first(message: Message) -> Message:
    first = message.columns[0]
    return message.assign(**{first: message[first] * 2})


@pytest.mark.parametrize("Pipe", [ToTensor, Stack])
@pytest.mark.parametrize(
    "dtype, expected",
    [
        ("float32", torch.float32),
        ("float64", torch.float64),
        ("torch.float16", torch.float16),
        (torch.bfloat16, torch.bfloat16),
        (np.float64, torch.float64),
        ("int64", torch.int64),
    ],
)
def test_dtype_is_a_torch_dtype_or_its_name(Pipe, dtype, expected):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    pipe = Pipe(dtype=dtype).fit(frame)
    assert pipe.dtype == dtype  # stored unchanged
    assert pipe.dtype_ is expected
    out = pipe.transform(frame)
    assert all(out[c].dtype is expected for c in out.columns)


@pytest.mark.parametrize("Pipe", [ToTensor, Stack])
@pytest.mark.parametrize("dtype", ["Tensor", "nn", "float33", 3, None])
def test_a_name_that_is_no_torch_dtype_is_refused(Pipe, dtype):
    with pytest.raises(ValueError, match=r"dtype=.* is not a torch dtype"):
        Pipe(dtype=dtype).fit(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize("Pipe", [ToTensor, Stack])
@pytest.mark.parametrize(
    "values, dtype",
    [
        (torch.tensor([1.0, 1e300], dtype=torch.float64), "float32"),
        (np.array([1.0, 1e300]), "float32"),
        (np.array([1.0, 1e5]), "float16"),
        (torch.tensor([1.0, 7e4], dtype=torch.float32), torch.float16),
    ],
)
def test_finite_values_out_of_the_dtype_range_are_refused(Pipe, values, dtype):
    m = Message({"small": torch.zeros(2), "big": values})
    columns = ["small", "big"]
    with pytest.raises(ValueError, match=r"Column 'big' holds values out of the range"):
        Pipe(columns, dtype=dtype).fit(m)
    pipe = Pipe(columns, dtype=dtype).fit(m[:1])
    with pytest.raises(ValueError, match=r"'big' .* out of the range .*first at row 1"):
        pipe.transform(m)
    wide = Pipe(columns, dtype="float64").fit_transform(m)
    assert bool(torch.isfinite(wide[wide.columns[-1]]).all())


_STACKED = {
    "f8": lambda v: pd.Series(v[:, 0, 0]),
    "f4": lambda v: pd.Series(v[:, 0, 0], dtype="float32"),
    "i8": lambda v: pd.Series(np.round(v[:, 0, 0] * 10), dtype="int64"),
    "t1": lambda v: torch.from_numpy(v[:, 0, 0].copy()),
    "t2": lambda v: torch.from_numpy(v[:, 0].copy()).float(),
    "t3": lambda v: torch.from_numpy(v.copy()),
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(_STACKED)), min_size=1, max_size=8),
    st.integers(1, 3),
    st.sampled_from(["float32", "float64", "bfloat16"]),
    st.integers(0, 2**32 - 1),
)
def test_stack_of_any_mix_of_columns_equals_each_column_flattened_in_order(
    kinds, rows, dtype, seed
):
    rng = np.random.default_rng(seed)
    values = {
        f"c{i}": _STACKED[kind](rng.normal(size=(rows, 2, 3)))
        for i, kind in enumerate(kinds)
    }
    message = Message(values)
    stack = Stack(dtype=dtype).fit(message)
    out = stack.transform(message)["features"]
    wanted = getattr(torch, dtype)
    expected = torch.cat(
        [
            torch.as_tensor(np.asarray(column, dtype=np.float64)).reshape(rows, -1)
            for column in values.values()
        ],
        dim=1,
    )
    assert out.dtype == wanted
    assert torch.equal(out, expected.to(wanted))
    assert stack.transform(message[:0])["features"].shape == (0, out.shape[1])


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(
        [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64]
    ),
    st.sampled_from([np.float32, np.float64]),
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=6
    ),
    st.booleans(),
)
def test_a_tensor_column_read_for_stack_equals_its_column_numbers(
    own, dtype, values, grad
):
    from fireworks_sk._numbers import column_numbers
    from fireworks_sk.pipes._columns import _tensor_numbers

    column = torch.tensor(values, dtype=torch.float64)
    if not own.is_floating_point:
        column = torch.nan_to_num(column).clamp(-1e6, 1e6).round()
    column = (
        column.to(own).reshape(-1, 1).requires_grad_(grad and own.is_floating_point)
    )
    got = _tensor_numbers("c", column, np.dtype(dtype))
    expected = column_numbers(
        "c", column, np.dtype(dtype), allow_nan=True, owner="Stack"
    )
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
