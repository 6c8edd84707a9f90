"""Message: construction, indexing, operations, conversions and value semantics."""

from __future__ import annotations

import gc
import pickle
import weakref

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

from fireworks_sk import BatchNormalizer, Message, write_parquet
from fireworks_sk.exceptions import CorruptStateError
from fireworks_sk.message import (
    column_matrix,
    frame_dtypes,
    read_array,
    read_column,
    shares_data,
    stored_column,
    with_block,
)
from tests._data import assert_unchanged, snapshot

ROWS = 5


@pytest.fixture
def m() -> Message:
    """A small mixed Message: 1-D float tensor, strings, (n, 2) tensor, int Series."""
    return Message(
        {
            "x": torch.arange(ROWS, dtype=torch.float32),
            "s": ["a", "b", "c", "d", "e"],
            "b": torch.arange(2.0 * ROWS).reshape(ROWS, 2),
            "i": pd.Series([10, 20, 30, 40, 50]),
        }
    )


def rows_of(message: Message) -> list[str]:
    """The string column, which identifies the rows of the fixture."""
    return message["s"].tolist()


# ------------------------------------------------------------------ constructor
def test_message_from_dataframe_keeps_columns_order_and_values():
    df = pd.DataFrame({"b": [1.0, 2.0], "a": ["u", "v"]}, index=[7, 3])
    m = Message(df)
    assert m.columns == ["b", "a"]
    assert m["b"].tolist() == [1.0, 2.0]
    assert m["a"].tolist() == ["u", "v"]
    assert list(m["a"].index) == [0, 1]


def test_message_from_dataframe_with_duplicate_columns_names_them():
    df = pd.DataFrame([[1, 2]], columns=["q", "q"])
    with pytest.raises(ValueError, match="Duplicate column names.*'q'"):
        Message(df)


def test_message_keeps_a_tensor_column_as_the_same_tensor():
    x = torch.arange(3.0)
    assert Message({"x": x})["x"] is x


def test_message_numeric_ndarray_becomes_tensor_sharing_memory():
    values = np.arange(6, dtype=np.float64).reshape(3, 2)
    column = Message({"x": values})["x"]
    assert isinstance(column, torch.Tensor)
    assert column.shape == (3, 2)
    assert column.dtype == torch.float64
    assert column.data_ptr() == values.ctypes.data


def test_message_string_ndarray_and_list_become_series():
    m = Message({"a": np.array(["p", "q"]), "b": ["r", "s"]})
    assert isinstance(m["a"], pd.Series)
    assert isinstance(m["b"], pd.Series)
    assert m["a"].tolist() == ["p", "q"]
    assert m["b"].name == "b"


def test_message_series_with_other_index_is_reset_and_renamed():
    s = pd.Series([1.5, 2.5], index=[10, 11], name="other")
    column = Message({"x": s})["x"]
    assert list(column.index) == [0, 1]
    assert column.name == "x"
    assert column.tolist() == [1.5, 2.5]


def test_message_from_message_shares_every_column(m):
    copy = Message(m)
    assert copy.columns == m.columns
    assert all(stored_column(copy, c) is stored_column(m, c) for c in m.columns)


def test_empty_message_has_no_rows_and_no_columns():
    assert Message().shape == (0, 0)
    assert Message({}).columns == []


def test_message_length_mismatch_names_both_columns():
    with pytest.raises(ValueError, match="Column 'b' has 3 rows but column 'a' has 2"):
        Message({"a": [1, 2], "b": torch.zeros(3)})


@pytest.mark.parametrize(
    "data, error, match",
    [
        (5, TypeError, "got int"),
        ({1: [1, 2]}, TypeError, "Column names must be strings; got 1"),
        ({"z": torch.tensor(1.0)}, ValueError, "Column 'z' is a 0-d tensor"),
        ({"z": np.float64(1.0)}, TypeError, "Column 'z' has unsupported type"),
        ({"z": pd.DataFrame({"a": [1]})}, TypeError, "Column 'z' got a DataFrame"),
        ({"z": np.array([["a"], ["b"]])}, TypeError, "Column 'z' is a 2-D array"),
    ],
)
def test_message_bad_constructor_input_names_the_problem(data, error, match):
    with pytest.raises(error, match=match):
        Message(data)


# ------------------------------------------------------------------ shape info
def test_len_shape_columns_dtypes(m):
    assert len(m) == ROWS
    assert m.shape == (ROWS, 5)  # "b" holds two features per row
    assert m.columns == ["x", "s", "b", "i"]
    dtypes = m.dtypes
    assert dtypes["x"] == torch.float32
    assert dtypes["b"] == torch.float32
    assert dtypes["i"] == np.int64
    assert pd.api.types.is_string_dtype(dtypes["s"])
    assert list(dtypes) == m.columns


def test_columns_is_a_copy_that_does_not_change_the_message(m):
    m.columns.append("zzz")
    assert m.columns == ["x", "s", "b", "i"]


# ------------------------------------------------------------------ rows
@pytest.mark.parametrize(
    "key, expected",
    [
        (0, ["a"]),
        (3, ["d"]),
        (-1, ["e"]),
        (-5, ["a"]),
        (np.int64(2), ["c"]),
        (slice(1, 3), ["b", "c"]),
        (slice(None, 2), ["a", "b"]),
        (slice(3, None), ["d", "e"]),
        (slice(None), ["a", "b", "c", "d", "e"]),
        (slice(-2, None), ["d", "e"]),
        (slice(None, -3), ["a", "b"]),
        (slice(None, None, 2), ["a", "c", "e"]),
        (slice(None, None, -1), ["e", "d", "c", "b", "a"]),
        (slice(-1, 0, -2), ["e", "c"]),
        (slice(10, 20), []),
        ([0, 4], ["a", "e"]),
        ([4, 0, 0], ["e", "a", "a"]),
        ([-1, 1], ["e", "b"]),
        (np.array([2, 1]), ["c", "b"]),
        (np.array([3], dtype=np.int32), ["d"]),
        (np.array([], dtype=np.int64), []),
        (torch.tensor([4, 2]), ["e", "c"]),
        (torch.tensor([-2]), ["d"]),
        (np.array([True, False, True, False, False]), ["a", "c"]),
        ([False, False, False, False, True], ["e"]),
        (torch.tensor([True, True, False, False, False]), ["a", "b"]),
        (pd.Series([False, True, False, True, False]), ["b", "d"]),
    ],
)
def test_row_indexing_selects_the_same_rows_in_every_column(m, key, expected):
    out = m[key]
    assert isinstance(out, Message)
    assert out.columns == m.columns
    assert len(out) == len(expected)
    assert rows_of(out) == expected
    positions = ["abcde".index(s) for s in expected]
    assert out["x"].tolist() == [float(p) for p in positions]
    assert out["b"].tolist() == [[2.0 * p, 2.0 * p + 1] for p in positions]
    assert out["i"].tolist() == [10 * (p + 1) for p in positions]
    assert list(out["s"].index) == list(range(len(expected)))


@pytest.mark.parametrize(
    "key", [2, slice(-3, None), [0, 3], np.array([1, 2]), torch.tensor([-1, 0])]
)
def test_iloc_and_take_match_getitem(m, key):
    assert m.iloc[key].equals(m[key])
    if not isinstance(key, (int, slice)):
        assert m.take(key).equals(m[key])


@pytest.mark.parametrize(
    "key, shown", [((1, 0), r"\(1, 0\)"), (1.5, "1.5"), ("x", "'x'")]
)
def test_iloc_with_a_bad_key_raises_naming_it(m, key, shown):
    # m.iloc[1, 0] means row 1, column 0 in pandas: never read it as rows 1 and 0.
    with pytest.raises((KeyError, IndexError, TypeError), match=shown):
        m.iloc[key]


def test_take_axis_1_selects_columns_by_position(m):
    assert m.take([2, 0], axis=1).columns == ["b", "x"]


def test_take_bad_axis_names_it(m):
    with pytest.raises(ValueError, match="axis must be 0 or 1; got 2"):
        m.take([0], axis=2)


def test_int_index_keeps_a_one_row_message_not_a_scalar(m):
    out = m[-1]
    assert len(out) == 1
    assert out["b"].shape == (1, 2)


def test_slice_shares_the_tensor_buffer(m):
    out = m[1:4]
    assert out["x"].data_ptr() == m["x"][1:].data_ptr()
    assert out["b"].untyped_storage().data_ptr() == (
        m["b"].untyped_storage().data_ptr()
    )


@pytest.mark.parametrize("row", [5, -6, 100])
def test_out_of_range_int_row_names_the_row(m, row):
    with pytest.raises(IndexError, match=f"Row {row} is out of bounds.*5 rows"):
        m[row]


@pytest.mark.parametrize(
    "key", [[0, 7], np.array([-9, 0]), torch.tensor([5])], ids=["list", "np", "torch"]
)
def test_out_of_range_index_array_names_the_row(m, key):
    bad = [k for k in np.asarray(key).tolist() if not -5 <= k < 5][0]
    with pytest.raises(IndexError, match=f"Row {bad} is out of bounds"):
        m[key]


def test_boolean_mask_of_wrong_length_names_both_lengths(m):
    with pytest.raises(IndexError, match="mask has 2 entries but the Message has 5"):
        m[np.array([True, False])]


@pytest.mark.parametrize(
    "key, error, match",
    [
        ((1, 2), KeyError, r"Unsupported Message key \(1, 2\)"),
        (1.5, KeyError, "Unsupported Message key 1.5"),
        ({"x"}, KeyError, "Unsupported Message key"),
        (np.array([0.5]), IndexError, "integers or booleans; got dtype float64"),
        (np.array([[0, 1]]), IndexError, r"must be 1-D; got shape \(1, 2\)"),
    ],
)
def test_bad_key_raises_naming_the_key(m, key, error, match):
    with pytest.raises(error, match=match):
        m[key]


# ------------------------------------------------------------------ columns
def test_column_access_returns_the_stored_column(m):
    assert isinstance(m["x"], torch.Tensor)
    assert isinstance(m["s"], pd.Series)
    assert m["x"] is m["x"]  # a tensor is handed out as it is stored


def test_missing_column_names_it_and_lists_the_columns(m):
    with pytest.raises(KeyError, match=r"Column 'nope' is not in the Message.*'x'"):
        m["nope"]


def test_list_of_names_selects_columns_in_that_order_sharing_them(m):
    out = m[["b", "x"]]
    assert isinstance(out, Message)
    assert out.columns == ["b", "x"]
    assert stored_column(out, "b") is stored_column(m, "b")
    assert len(out) == ROWS


def test_selecting_missing_columns_names_them(m):
    with pytest.raises(KeyError, match=r"\['nope'\] are not in the Message"):
        m[["x", "nope"]]


def test_selecting_a_column_twice_names_it(m):
    with pytest.raises(KeyError, match=r"more than once: \['x'\]"):
        m[["x", "s", "x"]]


def test_contains_and_iter_follow_columns(m):
    assert "x" in m
    assert "zz" not in m
    assert list(m) == m.columns


# ------------------------------------------------------------------ assign/drop
def test_assign_adds_columns_at_the_end(m):
    out = m.assign(new=np.arange(ROWS), other=["q"] * ROWS)
    assert out.columns == [*m.columns, "new", "other"]
    assert out["new"].tolist() == list(range(ROWS))


def test_assign_replacing_keeps_the_position(m):
    out = m.assign(s=torch.zeros(ROWS))
    assert out.columns == m.columns
    assert isinstance(out["s"], torch.Tensor)


def test_assign_callable_receives_the_message(m):
    out = m.assign(x=lambda msg: msg["x"] + 1, y=lambda msg: msg["i"] * 2)
    assert out["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert out["y"].tolist() == [20, 40, 60, 80, 100]


def test_assign_callables_see_earlier_assignments_as_in_pandas(m):
    out = m.assign(y=lambda msg: msg["x"] * 2, z=lambda msg: msg["y"] + 1)
    assert out["z"].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert "y" not in m


def test_assign_shares_untouched_columns_and_leaves_input_alone(m):
    before = snapshot(m)
    out = m.assign(x=torch.ones(ROWS))
    assert stored_column(out, "b") is stored_column(m, "b")
    assert stored_column(out, "s") is stored_column(m, "s")
    assert stored_column(out, "i") is stored_column(m, "i")
    assert_unchanged(m, before)


def test_assign_length_mismatch_names_the_column(m):
    with pytest.raises(ValueError, match="Column 'z' has 2 rows but the Message has 5"):
        m.assign(z=[1, 2])


def test_assign_to_empty_message_sets_the_length():
    out = Message().assign(a=[1, 2, 3])
    assert out.shape == (3, 1)


def test_drop_removes_columns_and_shares_the_rest(m):
    before = snapshot(m)
    out = m.drop(columns=["x", "s"])
    assert out.columns == ["b", "i"]
    assert stored_column(out, "b") is stored_column(m, "b")
    assert m.drop(columns="x").columns == ["s", "b", "i"]
    assert_unchanged(m, before)


def test_drop_missing_column_names_it(m):
    with pytest.raises(KeyError, match=r"Cannot drop columns \['q'\]"):
        m.drop(columns=["q"])


def test_rename_keeps_order_and_values(m):
    out = m.rename({"x": "xx", "s": "ss"})
    assert out.columns == ["xx", "ss", "b", "i"]
    assert stored_column(out, "xx") is stored_column(m, "x")
    assert out["ss"].name == "ss"
    assert m.columns == ["x", "s", "b", "i"]


def test_rename_missing_column_names_it(m):
    with pytest.raises(KeyError, match=r"Cannot rename columns \['q'\]"):
        m.rename({"q": "r"})


def test_rename_onto_an_existing_column_names_it(m):
    with pytest.raises(ValueError, match="gives the column 's' twice"):
        m.rename({"x": "s"})


# ------------------------------------------------------------------ concat
def test_concat_stacks_rows_of_every_column(m):
    out = Message.concat([m[:2], m[2:]])
    assert out.equals(m)
    assert len(Message.concat([m, m, m])) == 3 * ROWS


def test_concat_leaves_inputs_alone(m):
    before = snapshot(m)
    Message.concat([m, m])
    assert_unchanged(m, before)


def test_concat_of_nothing_raises():
    with pytest.raises(ValueError, match="at least one Message"):
        Message.concat([])


def test_concat_with_other_columns_names_the_message(m):
    with pytest.raises(ValueError, match=r"Message 1 has columns \['x'\]"):
        Message.concat([m, m[["x"]]])


def test_concat_tensor_and_pandas_column_names_it(m):
    other = m.assign(x=m["x"].numpy().astype(str).tolist())
    with pytest.raises(ValueError, match="Column 'x' is a tensor in some Messages"):
        Message.concat([m, other])


def test_concat_different_trailing_shapes_names_the_column(m):
    other = m.assign(b=torch.zeros(ROWS, 3))
    with pytest.raises(ValueError, match="Column 'b' has different trailing shapes"):
        Message.concat([m, other])


# ------------------------------------------------------------------ conversions
def test_to_dataframe_flattens_tensor_columns(m):
    df = m.to_dataframe()
    assert list(df.columns) == ["x", "s", "b_0", "b_1", "i"]
    assert df["b_1"].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert df["s"].tolist() == ["a", "b", "c", "d", "e"]
    assert isinstance(df.index, pd.RangeIndex)


def test_series_sliced_with_a_step_keeps_its_values_by_position(tmp_path):
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0]})
    s = df.iloc[::2]["a"]  # RangeIndex(0, 6, 2): labels 0, 2, 4
    m = Message({"a": s})
    expected = [0.0, 2.0, 4.0]
    assert m.to_dataframe()["a"].tolist() == expected
    assert m["a"].tolist() == expected
    path = tmp_path / "a.parquet"
    write_parquet([m], path)
    assert pd.read_parquet(path)["a"].tolist() == expected
    shifted = Message({"a": df["a"].iloc[1:]})  # RangeIndex(1, 5)
    assert shifted.to_dataframe()["a"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_to_dataframe_flattens_3d_tensor_columns_in_row_major_order():
    values = torch.arange(24.0).reshape(4, 2, 3)
    df = Message({"t": values}).to_dataframe()
    assert list(df.columns) == [f"t_{i}" for i in range(6)]
    np.testing.assert_array_equal(df.to_numpy(), values.reshape(4, 6).numpy())


def test_to_dataframe_refuses_flattened_names_that_collide():
    m = Message({"a_0": [1.0, 2.0], "a": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match="duplicate DataFrame columns.*'a_0'"):
        m.to_dataframe()


def test_to_dataframe_leaves_the_message_alone(m):
    before = snapshot(m)
    df = m.to_dataframe()
    df.loc[0, "x"] = 100.0
    df.loc[0, "b_0"] = 100.0
    df.loc[0, "i"] = 100
    assert_unchanged(m, before)


def test_to_tensors_converts_numeric_series(m):
    tensors = m.to_tensors(["x", "i", "b"])
    assert list(tensors) == ["x", "i", "b"]
    assert tensors["x"] is m["x"]
    assert tensors["i"].tolist() == [10, 20, 30, 40, 50]
    assert tensors["i"].dtype == torch.int64


def test_to_tensors_of_string_column_names_it(m):
    with pytest.raises(TypeError, match="Column 's' has dtype .* not numeric"):
        m.to_tensors()


def test_to_tensors_of_missing_column_names_it(m):
    with pytest.raises(KeyError, match="Column 'zz' is not in the Message"):
        m.to_tensors(["zz"])


def test_to_cpu_keeps_values_and_pandas_columns(m):
    out = m.to("cpu")
    assert out.equals(m)
    assert stored_column(out, "s") is stored_column(m, "s")
    assert out["x"].device.type == "cpu"


def test_equals_compares_columns_kinds_dtypes_and_values(m):
    assert m.equals(Message(m))
    assert m.equals(Message.concat([m[:1], m[1:]]))
    assert not m.equals(m.assign(x=m["x"].double()))
    assert not m.equals(m.assign(x=m["x"] + 1))
    assert not m.equals(m[["s", "x", "b", "i"]])
    assert not m.equals(m[:4])
    assert not m.equals(m.to_dataframe())
    assert not m.equals(m.assign(i=torch.tensor(m["i"].to_numpy())))


def test_equals_treats_nan_in_the_same_place_as_equal():
    # As DataFrame.equals does, for tensor and pandas columns alike.
    m = Message({"t": torch.tensor([1.0, float("nan")]), "p": [1.0, np.nan]})
    assert m.equals(m)
    assert m.equals(pickle.loads(pickle.dumps(m)))
    assert not m.equals(m.assign(t=torch.tensor([float("nan"), 1.0])))


def test_shape_is_the_shape_of_the_array_and_len_columns_counts_columns():
    g = torch.Generator().manual_seed(0)
    m = Message(
        {
            "a": torch.randn(4, 3, generator=g),
            "img": torch.randn(4, 2, 2, generator=g),
            "b": pd.Series([1, 2, 3, 4]),
            "empty": torch.zeros(4, 0),
        }
    )
    assert m.shape == np.asarray(m).shape == (4, 8)
    assert len(m.columns) == 4
    assert m[["b"]].shape == (4, 1)
    assert m[:0].shape == (0, 8)


def test_asarray_is_a_2d_float_array_with_tensor_columns_flattened(m):
    array = np.asarray(m.drop(columns="s"))
    assert array.shape == m.drop(columns="s").shape == (ROWS, 4)
    assert array.dtype.kind == "f"
    np.testing.assert_array_equal(array[:, 0], np.arange(ROWS))
    np.testing.assert_array_equal(array[:, 1:3], m["b"].numpy())
    np.testing.assert_array_equal(array[:, 3], [10, 20, 30, 40, 50])


def test_np_array_with_copy_true_does_not_share_the_tensor_buffer():
    x = torch.arange(4, dtype=torch.float64)
    array = np.array(Message({"x": x}), copy=True)
    array[0] = 99.0
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_asarray_cannot_write_into_the_message():
    # pandas 3 hands out read-only views for the same reason: an estimator
    # working in place (copy=False) must not change the caller's data.
    from sklearn.preprocessing import StandardScaler

    x = torch.arange(4, dtype=torch.float64)
    m = Message({"x": x})
    array = np.asarray(m)
    assert not (array.flags.writeable and np.shares_memory(array, x.numpy()))
    StandardScaler(copy=False).fit_transform(m)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]


def numeric_frame() -> pd.DataFrame:
    values = np.arange(12.0).reshape(4, 3)
    return pd.DataFrame(values, columns=["a", "b", "c"]).assign(s=list("wxyz"))


# pandas 3 always copies on write; pandas 2 only when asked.
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    pd.get_option("mode.copy_on_write")
)


@pytest.mark.skipif(
    not COPY_ON_WRITE,
    reason="without copy-on-write a later write to the frame would reach a shared "
    "block, so the Message copies it (see the next test)",
)
def test_asarray_of_a_dataframes_numeric_columns_shares_their_memory_read_only():
    df = numeric_frame().drop(columns="s")
    array = np.asarray(Message(df))
    assert np.shares_memory(array, df.to_numpy())
    assert not array.flags.writeable
    np.testing.assert_array_equal(array, df.to_numpy())


def test_message_from_dataframe_is_a_value_when_the_frame_changes_later():
    df = numeric_frame()
    m = Message(df)
    df.loc[0, "a"] = -1.0
    df.iloc[1, 1] = -2.0
    assert m["a"].tolist() == [0.0, 3.0, 6.0, 9.0]
    assert np.asarray(m[["a", "b"]])[:, 1].tolist() == [1.0, 4.0, 7.0, 10.0]


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(4),
        pd.RangeIndex(4, name="id"),
        pd.RangeIndex(2, 6),
        pd.Index([9, 3, 5, 1]),
    ],
)
def test_message_from_dataframe_reads_rows_by_position_and_is_a_value(index):
    df = numeric_frame().set_axis(index)
    m = Message(df)
    for name in ("s", "a"):
        pd.testing.assert_index_equal(m[name].index, pd.RangeIndex(4))
    assert m["s"].tolist() == list("wxyz") and m["a"].tolist() == [0.0, 3.0, 6.0, 9.0]
    df.iloc[0, 0] = -1.0
    df.iloc[0, 3] = "changed"
    assert m["a"].tolist()[0] == 0.0 and m["s"].tolist()[0] == "w"
    assert len(Message(df.iloc[:0])) == 0 and len(Message(df[[]])) == 0


def test_a_block_a_pipe_computed_is_read_only_and_its_series_are_built_on_read():
    m = Message(numeric_frame())
    values = np.arange(8.0).reshape(4, 2)
    out = with_block(m, ["b", "a"], values)
    assert out.columns == ["a", "b", "c", "s"]
    assert out["b"].tolist() == [0.0, 2.0, 4.0, 6.0] and out["b"].name == "b"
    assert out["a"].tolist() == [1.0, 3.0, 5.0, 7.0] and out["a"].name == "a"
    assert out.shape == (4, 4) and out.dtypes["a"] == np.float64
    array = np.asarray(out[["b", "a"]])
    assert np.shares_memory(array, values) and not array.flags.writeable
    np.testing.assert_array_equal(array, values)
    assert m["a"].tolist() == [0.0, 3.0, 6.0, 9.0]  # the input is unchanged


def test_a_column_read_twice_shares_its_data_in_messages_sharing_it():
    m = Message(numeric_frame())
    kept = m.drop(columns="s")
    assert stored_column(kept, "b") is stored_column(m, "b")
    # Read, it shares the data under copy-on-write and is a copy without.
    shared = np.shares_memory(m["b"].to_numpy(), kept["b"].to_numpy())
    assert shared == COPY_ON_WRITE


def test_columns_read_one_by_one_equal_the_dataframe_columns():
    df = numeric_frame().astype({"b": np.float32})
    m = Message(df)
    assert m.dtypes == dict(df.dtypes)
    for name in df.columns:
        pd.testing.assert_series_equal(m[name], df[name])
    assert m.shape == (4, 4) and m.columns == list(df.columns)


def test_asarray_keeps_float32_when_every_column_is_float32():
    m = Message({"a": torch.zeros(3), "b": torch.ones(3, 2)})
    assert np.asarray(m).dtype == np.float32
    assert np.asarray(m, dtype=np.float64).dtype == np.float64


def test_asarray_of_integer_tensor_is_float():
    assert np.asarray(Message({"k": torch.arange(3)})).dtype == np.float64


def test_asarray_of_a_string_column_names_it(m):
    with pytest.raises(TypeError, match="Column 's' has dtype .* not numeric"):
        np.asarray(m)


def test_feature_names_follow_asarray_columns(m):
    assert m.feature_names() == ["x", "s", "b_0", "b_1", "i"]


def test_repr_shows_columns_values_shape_and_dtypes(m):
    text = repr(m)
    for name in m.columns:
        assert name in text
    assert "'c'" in text
    assert "[Message: 5 rows × 4 columns]" in text
    assert "b: torch.float32 (2)" in text


def test_repr_of_a_long_message_elides_the_middle():
    text = repr(Message({"x": torch.arange(100)}))
    assert "..." in text
    assert "99" in text
    assert " 50" not in text
    assert len(text.splitlines()) < 20


# ------------------------------------------------------------------ values
def test_operations_never_mutate_the_input(m):
    before = snapshot(m)
    m[1:3]
    m[[0, 2]]
    m[np.array([True, False, True, False, True])]
    m[["x", "s"]]
    m.assign(x=lambda msg: msg["x"] * 2, s=["z"] * ROWS)
    m.drop(columns=["b"])
    m.rename({"x": "y"})
    Message.concat([m, m])
    m.to_dataframe()
    m.to_tensors(["x", "i"])
    m.to("cpu")
    np.asarray(m.drop(columns="s"))
    repr(m)
    assert_unchanged(m, before)


def test_pickle_and_joblib_round_trips_give_an_equal_message(m, tmp_path):
    assert pickle.loads(pickle.dumps(m)).equals(m)
    joblib.dump(m, tmp_path / "m.joblib")
    assert joblib.load(tmp_path / "m.joblib").equals(m)


def test_joblib_hash_is_stable_for_the_same_message(m):
    assert joblib.hash(m) == joblib.hash(m)
    assert joblib.hash(m) == joblib.hash(Message(m))


def test_joblib_hash_of_equal_messages_is_equal(m):
    # Pipeline(memory=...) looks its cache up by this hash: equal data built
    # twice (a CV split, a re-read file) must hit the cache.
    rebuilt = pickle.loads(pickle.dumps(m))
    assert rebuilt.equals(m)
    assert joblib.hash(rebuilt) == joblib.hash(m)
    assert joblib.hash(m[[1, 2]]) == joblib.hash(m[1:3])


def test_joblib_hash_changes_with_the_values(m):
    assert joblib.hash(m) != joblib.hash(m.assign(x=m["x"] + 1))
    assert joblib.hash(m) != joblib.hash(m.rename({"x": "y"}))


def test_pickle_of_a_slice_does_not_carry_the_whole_buffer():
    big = Message({"x": torch.zeros(100_000)})
    assert len(pickle.dumps(big[:2])) < 10_000


# ------------------------------------------------------------------ properties
N_MAX = 12


@st.composite
def frames(draw, min_rows: int = 0):
    n = draw(st.integers(min_rows, N_MAX))
    floats = st.floats(-1e6, 1e6, allow_nan=False, width=64)
    return pd.DataFrame(
        {
            "f": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
            "i": np.array(
                draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)),
                dtype=np.int64,
            ),
            "s": pd.Series(
                draw(
                    st.lists(st.sampled_from(["u", "v", "w"]), min_size=n, max_size=n)
                ),
                dtype="str",
            ),
            "p": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
        }
    )


def as_mixed_message(df: pd.DataFrame) -> Message:
    """Columns f and i as tensors, s and p as pandas columns."""
    return Message(
        {
            "f": torch.from_numpy(df["f"].to_numpy().copy()),
            "i": torch.from_numpy(df["i"].to_numpy().copy()),
            "s": df["s"],
            "p": df["p"],
        }
    )


def assert_same_table(message: Message, df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(message.to_dataframe(), df.reset_index(drop=True))


@st.composite
def frame_and_rows(draw):
    df = draw(frames())
    n = len(df)
    kind = draw(st.sampled_from(["slice", "list", "mask"]))
    if kind == "slice":
        bound = st.none() | st.integers(-n - 3, n + 3)
        step = draw(st.none() | st.integers(-3, 3).filter(bool))
        return df, slice(draw(bound), draw(bound), step)
    if kind == "mask":
        return df, np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if n == 0:
        return df, []
    return df, draw(st.lists(st.integers(-n, n - 1), max_size=2 * N_MAX))


@settings(max_examples=60, deadline=None)
@given(frame_and_rows(), st.sampled_from(["getitem", "iloc", "numpy", "torch"]))
def test_row_indexing_matches_pandas_iloc(case, form):
    df, rows = case
    m = as_mixed_message(df)
    if form == "iloc":
        out = m.iloc[rows]
    elif form == "numpy" and not isinstance(rows, slice):
        out = m[np.asarray(rows, dtype=None if len(rows) else np.int64)]
    elif form == "torch" and not isinstance(rows, slice):
        out = m[torch.as_tensor(rows, dtype=None if len(rows) else torch.int64)]
    else:
        out = m[rows]
    assert_same_table(out, df.iloc[rows])


@settings(max_examples=40, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=4))
def test_concat_matches_pandas_concat(dfs):
    out = Message.concat([as_mixed_message(df) for df in dfs])
    assert_same_table(out, pd.concat(dfs, ignore_index=True))


@settings(max_examples=40, deadline=None)
@given(frames(min_rows=1), st.data())
def test_splitting_and_concatenating_gives_the_message_back(df, data):
    m = as_mixed_message(df)
    cut = data.draw(st.integers(0, len(df)))
    assert Message.concat([m[:cut], m[cut:]]).equals(m)


@settings(max_examples=40, deadline=None)
@given(frames(), st.sampled_from(["f", "s", "new"]), st.booleans())
def test_assign_matches_pandas_assign(df, name, as_tensor):
    m = as_mixed_message(df)
    values = np.arange(len(df), dtype=np.float64) * 0.5
    out = m.assign(**{name: torch.from_numpy(values) if as_tensor else values})
    assert_same_table(out, df.assign(**{name: values}))
    assert out.columns == list(df.assign(**{name: values}).columns)


# ------------------------------------------------------------------ every kind
def test_row_forms_agree_on_every_column_kind(message):
    rows = [3, 0, len(message) - 1]
    expected = message[rows]
    mask = np.zeros(len(message), dtype=bool)
    mask[rows] = True
    assert message[np.array(rows)].equals(expected)
    assert message[torch.tensor(rows)].equals(expected)
    assert message.iloc[rows].equals(expected)
    assert message.take(rows).equals(expected)
    assert message[mask].equals(message[sorted(rows)])


def test_split_and_concat_give_back_every_column_kind(message):
    parts = [message[:7], message[7:20], message[20:]]
    assert Message.concat(parts).equals(message)


def test_to_dataframe_has_one_column_per_feature(message):
    df = message.to_dataframe()
    assert list(df.columns) == message.feature_names()
    assert len(df) == len(message)


def test_pickle_round_trip_keeps_every_column_kind(message):
    back = pickle.loads(pickle.dumps(message))
    assert back.equals(message)
    assert back.dtypes == message.dtypes
    assert joblib.hash(back) == joblib.hash(message)


def test_views_of_every_kind_leave_the_message_alone(message):
    before = snapshot(message)
    out = message[::2].assign(**{message.columns[0]: lambda m: m[m.columns[0]] * 0})
    Message.concat([out, out])
    assert_unchanged(message, before)


def test_items_gives_each_column_as_indexing_does_in_order_and_shared():
    tensor = torch.arange(6.0).reshape(3, 2)
    m = Message({"b": [1.0, 2.0, 3.0], "t": tensor, "a": ["x", "y", "z"]})
    pairs = list(m.items())
    assert [name for name, _ in pairs] == ["b", "t", "a"]
    for name, column in pairs:
        if isinstance(column, torch.Tensor):
            assert column.data_ptr() == m[name].data_ptr() == tensor.data_ptr()
        else:
            pd.testing.assert_series_equal(column, m[name])


# A DataFrame's blocks are read through fireworks_sk._compat.frame_blocks; where
# pandas does not keep them so, the public route (frame.dtypes, a column slice
# per run) gives the same Message.
_KINDS = {
    "f8": lambda v: pd.Series(v, dtype="float64"),
    "f4": lambda v: pd.Series(v, dtype="float64").astype("float32"),
    "i8": lambda v: pd.Series(np.asarray(v, dtype=np.float64).round(), dtype="int64"),
    "i4": lambda v: pd.Series(np.asarray(v).round(), dtype="float64").astype("int32"),
    "b": lambda v: pd.Series(np.asarray(v) > 0),
    "str": lambda v: pd.Series([f"s{x:.0f}" for x in v]),
    "object": lambda v: pd.Series([f"o{x:.0f}" if x > 0 else None for x in v]),
    "category": lambda v: pd.Series([f"c{x > 0}" for x in v], dtype="category"),
    "Int64": lambda v: pd.Series(np.asarray(v).round(), dtype="float64").astype(
        "Int64"
    ),
    "datetime": lambda v: pd.Series(pd.to_datetime(np.asarray(v).round(), unit="D")),
}


@st.composite
def block_frames(draw) -> pd.DataFrame:
    """Frames of mixed dtypes, held in pandas' blocks in every way a user gets:
    built at once (one block per dtype), column by column (a block each),
    reordered, sliced by columns, with a row slice or a non-default index."""
    n = draw(st.integers(0, 4))
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=9))
    value = st.floats(-9, 9, allow_nan=False)
    columns = {
        f"c{i}": _KINDS[kind](draw(st.lists(value, min_size=n, max_size=n)))
        for i, kind in enumerate(kinds)
    }
    how = draw(st.sampled_from(["at once", "one by one", "reordered", "sliced"]))
    if how == "one by one":
        frame = pd.DataFrame(index=pd.RangeIndex(n))
        for name, column in columns.items():
            frame[name] = column
    else:
        frame = pd.DataFrame(columns)
    if how == "reordered":
        frame = frame[draw(st.permutations(list(frame.columns)))]
    if how == "sliced":
        start = draw(st.integers(0, len(columns) - 1))
        frame = frame.iloc[:, start:]
    rows = draw(st.sampled_from(["all", "from 1", "index"]))
    if rows == "from 1":
        frame = frame.iloc[1:]
    elif rows == "index":
        frame = frame.set_axis(pd.Index(np.arange(len(frame)) * 3 + 7))
    return frame


def _contents(message: Message) -> list:
    """Everything a Message shows of its columns, compared bit for bit."""
    seen = [message.columns, message.shape, list(message.dtypes.items())]
    for name in message.columns:
        series = message[name]
        seen.append((series.name, series.dtype, list(series.index), series.tolist()))
    try:
        array = np.asarray(message)
        seen.append((array.dtype, array.tobytes()))
    except (TypeError, ValueError) as exc:
        seen.append((type(exc), str(exc)))
    return seen


def _write_first_row(frame: pd.DataFrame) -> None:
    """Write a new value into row 0 of every column that can take one in place."""
    for position, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            continue
        current = frame.iloc[0, position]
        if pd.api.types.is_bool_dtype(dtype):
            new = not current
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            new = pd.Timestamp("2001-01-01")
        elif pd.api.types.is_numeric_dtype(dtype):
            new = 99
        else:
            new = "written"
        frame.iloc[0, position] = new


@settings(max_examples=150, deadline=None)
@given(block_frames())
def test_message_from_blocks_equals_the_public_route_and_is_a_value(frame):
    through_blocks = Message(frame)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fireworks_sk.message.frame_blocks", lambda frame: None)
        public = Message(frame)
    seen = _contents(through_blocks)
    assert seen == _contents(public)
    assert frame_dtypes(frame) == frame.dtypes.tolist()
    expected = frame.reset_index(drop=True)
    for name in frame.columns:
        pd.testing.assert_series_equal(through_blocks[name], expected[name])
    fresh = Message(frame)  # Series not built yet: they are read after the write
    seen_fresh = _contents(Message(frame))
    if len(frame):
        _write_first_row(frame)
    assert _contents(fresh) == seen_fresh and _contents(through_blocks) == seen


@settings(max_examples=150, deadline=None)
@given(block_frames())
def test_a_long_frame_read_column_by_column_equals_the_lazy_read(frame):
    # Frames longer than _LAZY_ROWS give each column its own slice at once;
    # the Message must be the one the lazy read of a short frame gives.
    lazy = Message(frame)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fireworks_sk.message._LAZY_ROWS", -1)
        eager = Message(frame)
        fresh = Message(frame)
    seen = _contents(lazy)
    assert _contents(eager) == seen
    if len(frame):
        _write_first_row(frame)
    assert _contents(fresh) == seen and _contents(eager) == seen


class _Held:
    """A value whose lifetime a test watches."""


def test_columns_a_message_of_a_long_frame_drops_are_freed_with_the_frame():
    rows = 2000  # more than _LAZY_ROWS
    held = [_Held() for _ in range(rows)]
    watch = weakref.ref(held[0])
    frame = pd.DataFrame(
        {"id": np.arange(rows), "x": np.ones(rows), "held": pd.Series(held)}
    )
    del held
    kept = Message(frame)[["id"]]
    del frame
    gc.collect()
    assert watch() is None
    assert kept["id"].tolist() == list(range(rows))


@settings(max_examples=150, deadline=None)
@given(block_frames(), st.data())
def test_column_matrix_of_any_columns_in_any_order_equals_their_series(frame, data):
    numeric = [c for c in frame.columns if _holds_numbers(frame[c])]
    names = (
        data.draw(st.lists(st.sampled_from(numeric), unique=True)) if numeric else []
    )
    m = Message(frame)
    if names and data.draw(st.booleans()):  # one replaced by a plain Series
        m = m.assign(**{names[0]: pd.Series(np.arange(len(m), dtype=np.float64))})
    if len(names) > 1 and data.draw(st.booleans()):  # some replaced by a block
        m = with_block(m, names[1:], np.ones((len(m), len(names) - 1)))
    expected = np.empty((len(m), len(names)))
    for j, name in enumerate(names):
        expected[:, j] = m[name].to_numpy(dtype=np.float64)
    got = column_matrix(m, names, np.float64, owner="test")
    assert got.shape == expected.shape and got.tobytes() == expected.tobytes()


def _holds_numbers(series: pd.Series) -> bool:
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf"


@pytest.mark.parametrize("name", ["a", "s", "n", "c"])
def test_writing_in_place_to_a_series_read_from_a_message_leaves_it_alone(name):
    frame = pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0],
            "s": ["x", "y", "z"],
            "n": pd.array([1, 2, None], dtype="Int64"),
            "c": pd.Categorical(["u", "v", "u"]),
        }
    )
    m = Message(frame)
    kept = m[["a", "s", "n", "c"]]
    before = m[name].copy()
    column = m[name]
    column.iloc[0] = column.iloc[1]
    assert column.iloc[0] != before.iloc[0]
    pd.testing.assert_series_equal(m[name], before)
    pd.testing.assert_series_equal(kept[name], before)
    pd.testing.assert_series_equal(frame[name], before)
    if name == "a":
        assert np.asarray(m[["a"]]).ravel().tolist() == before.tolist()


def test_items_hands_out_series_that_cannot_change_the_message():
    m = Message(pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}))
    for _, column in m.items():
        column.iloc[0] = column.iloc[1]
    assert m["a"].tolist() == [1.0, 2.0]
    assert m["s"].tolist() == ["x", "y"]


def test_read_column_is_the_stored_column_which_getitem_hands_out_anew():
    m = Message(pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}))
    assert read_column(m, "s") is read_column(m, "s")
    assert m["s"] is not read_column(m, "s")
    for name in m.columns:
        pd.testing.assert_series_equal(read_column(m, name), m[name])
    with pytest.raises(KeyError, match="'z' is not in the Message"):
        read_column(m, "z")


def test_joblib_hash_tells_column_orders_apart():
    # Pipeline(memory=...) keys its cache by joblib.hash: a Message with its
    # columns in another order must not find the fit of the first.
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert joblib.hash(Message(frame)) != joblib.hash(Message(frame[["b", "a"]]))


def test_pickle_keeps_column_order_and_reads_states_without_it():
    m = Message(pd.DataFrame({"b": [1.0], "a": [2.0], "s": ["x"]}))
    assert pickle.loads(pickle.dumps(m)).columns == ["b", "a", "s"]
    state = m.__getstate__()
    del state["names"]  # as written before the order was kept apart
    old = Message.__new__(Message)
    old.__setstate__(state)
    assert old.equals(m) and old.columns == ["b", "a", "s"]


def test_unpickled_column_order_must_name_the_columns():
    state = Message(pd.DataFrame({"a": [1.0], "b": [2.0]})).__getstate__()
    state["names"] = ["a", "zz"]
    with pytest.raises(CorruptStateError, match="column order"):
        Message.__new__(Message).__setstate__(state)


def _as_listed(values: list) -> list:
    """Values with their types, NaN equal to NaN."""
    return [(type(v), repr(v)) for v in values]


@settings(max_examples=100, deadline=None)
@given(block_frames(), st.booleans(), st.booleans())
def test_read_array_holds_what_the_series_holds_without_building_it(
    frame, public, built
):
    with pytest.MonkeyPatch.context() as patch:
        if public:
            patch.setattr("fireworks_sk.message.frame_blocks", lambda frame: None)
        m = Message(frame)
    for name in m.columns:
        if built:
            read_column(m, name)
        array = read_array(m, name)
        series = read_column(m, name)
        assert type(array) is type(series.array) or isinstance(array, np.ndarray)
        assert array.dtype == series.dtype
        assert _as_listed(array.tolist()) == _as_listed(series.tolist())
        if isinstance(array, np.ndarray):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[:1] = array[:1]


def test_read_array_builds_no_series_and_gives_tensors_as_they_are():
    tensor = torch.arange(3)
    m = Message(pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": ["x", "y", "z"]}))
    m = m.assign(t=tensor)
    assert read_array(m, "s").tolist() == ["x", "y", "z"]
    assert read_array(m, "a").tolist() == [1.0, 2.0, 3.0]
    assert all(stored_column(m, n).built is None for n in ("a", "s"))
    assert read_array(m, "t") is tensor
    with pytest.raises(KeyError, match="'z' is not in the Message"):
        read_array(m, "z")


class _Name(str):
    """A str subclass, as some libraries name columns."""


def test_a_frames_column_names_are_checked_as_strings_naming_the_first_other():
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["a", 7, ("t", 1)])
    with pytest.raises(TypeError, match=r"must be strings; got 7 \(int\)"):
        Message(frame)
    named = Message(pd.DataFrame([[1.0, 2.0]], columns=["a", _Name("b")]))
    assert named.columns == ["a", "b"]
    assert named["b"].tolist() == [2.0]


@pytest.mark.parametrize("rows", [5, 3000])
def test_messages_leave_no_cycles_for_the_garbage_collector(rows):
    # A stream drops each chunk's Message at once; objects in a reference
    # cycle would wait for the cyclic collector and pile up in between.
    frame = pd.DataFrame({"a": np.ones(rows), "b": np.zeros(rows), "s": ["x"] * rows})
    scale = BatchNormalizer().fit(frame)
    gc.collect()
    gc.disable()
    try:
        m = Message(frame)
        out = scale.transform(m)
        np.asarray(m[["a", "b"]]), np.asarray(out[["b", "a"]]), out["a"], m["s"]
        del m, out
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "column",
    [
        [1.0, 2.0],
        ["a", "b"],
        pd.Series([1, "b"], dtype=object),
        pd.array([1, None], dtype="Int64"),
        pd.array([True, None], dtype="boolean"),
        pd.Categorical(["u", "v"]),
        pd.to_datetime(["2020", "2021"]).tz_localize("UTC"),
        pd.to_timedelta([1, 2], unit="s"),
    ],
    ids=["float", "str", "object", "Int64", "boolean", "category", "tz", "timedelta"],
)
def test_shares_data_tells_a_column_read_twice_from_a_rebuilt_one(column):
    m = Message(pd.DataFrame({"c": column}))
    rebuilt = pd.Series(m["c"].tolist(), dtype=m["c"].dtype, name="c")
    pd.testing.assert_series_equal(rebuilt, m["c"])
    # Without copy-on-write a Series read from a Message is a copy of its own.
    assert shares_data(m["c"], m["c"]) == COPY_ON_WRITE
    read = m["c"]
    assert shares_data(read, read.copy(deep=False))
    assert not shares_data(read, rebuilt)
    assert not shares_data(read, read.iloc[:1])


def test_asarray_of_a_message_with_no_rows_has_its_flat_width():
    m = Message(
        {
            "a": pd.Series([], dtype=float),
            "b": pd.Series([], dtype="Int64"),
            "t": torch.empty(0, 2, 3),
        }
    )
    assert np.asarray(m).shape == (0, 8) == m.shape
    frame = Message(pd.DataFrame({"a": np.array([]), "s": pd.Series([], dtype=object)}))
    assert np.asarray(frame.rename({"a": "z"})[["z"]]).shape == (0, 1)


def test_fireworks_steps_read_columns_without_the_series_handed_to_users(
    monkeypatch,
):
    # m[name] hands a user a new Series (a copy without copy-on-write); the
    # steps only read a column, so they must not pay for that object.
    from fireworks_sk import Impute, OneHot, Stack, TorchClassifier, fit_stream
    from fireworks_sk.sources import DataFrameSource

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=40),
            "n": pd.array([1, None] * 20, dtype="Int64"),
            "s": rng.choice(["a", "b"], size=40),
        }
    )
    y = rng.integers(0, 2, size=40)

    def handed_out(column):
        raise AssertionError("a step read a column through Message.__getitem__")

    monkeypatch.setattr("fireworks_sk.message._handed_out", handed_out)
    steps = [Impute(), BatchNormalizer(), OneHot(), Stack()]
    net = TorchClassifier(max_epochs=1, random_state=0, verbose=0)
    pipeline = Pipeline([*[(f"p{i}", s) for i, s in enumerate(steps)], ("net", net)])
    pipeline.fit(frame, y).predict(frame)
    fit_stream(
        Pipeline([("i", Impute()), ("b", BatchNormalizer()), ("o", OneHot())]),
        DataFrameSource(frame, chunk_size=16),
    )
