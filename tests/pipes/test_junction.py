"""Junction: several pipes on one input, outputs merged by column."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import fireworks_sk
from fireworks_sk import (
    BatchNormalizer,
    FunctionPipe,
    Junction,
    Message,
    OneHot,
    SelectColumns,
)
from fireworks_sk._frames import copies_on_write
from fireworks_sk.message import stored_column
from tests._data import assert_unchanged, snapshot


def add_double(message: Message) -> Message:
    return message.assign(double=message["x"] * 2)


def add_half(message: Message) -> Message:
    return message.assign(half=message["x"] / 2)


def overwrite_x(message: Message) -> Message:
    return message.assign(x=message["x"] + 100)


def copy(message: Message) -> Message:
    return message.assign(copy=message[message.columns[0]])


@pytest.fixture
def m() -> Message:
    return Message(
        {
            "x": torch.tensor([1.0, 3.0, 5.0]),
            "c": ["a", "b", "a"],
            "y": torch.tensor([2.0, 2.0, 8.0]),
        }
    )


def scale_and_encode() -> Junction:
    return Junction([("scale", BatchNormalizer(columns=["x"])), ("onehot", OneHot())])


def test_unchanged_column_appears_once_as_it_was(m):
    out = scale_and_encode().fit_transform(m)
    assert out.columns == ["x", "c", "y"]
    assert stored_column(out, "y") is stored_column(m, "y")


def test_column_changed_by_one_branch_takes_that_value(m):
    out = scale_and_encode().fit_transform(m)
    expected_x = BatchNormalizer(columns=["x"]).fit_transform(m)["x"]
    assert torch.equal(out["x"], expected_x)
    assert torch.equal(out["c"], OneHot().fit_transform(m)["c"])


def test_new_columns_are_added_in_branch_order(m):
    junction = Junction(
        [("half", FunctionPipe(add_half)), ("double", FunctionPipe(add_double))]
    )
    out = junction.fit_transform(m)
    assert out.columns == ["x", "c", "y", "half", "double"]
    assert out["double"].tolist() == [2.0, 6.0, 10.0]


def test_two_branches_changing_one_column_raise_naming_both(m):
    junction = Junction(
        [
            ("first", BatchNormalizer(columns=["x"])),
            ("second", FunctionPipe(overwrite_x)),
        ]
    )
    match = "branches 'first' and 'second' both produce the column 'x'"
    with pytest.raises(fireworks_sk.SchemaError, match=match):
        junction.fit_transform(m)
    with pytest.raises(ValueError, match=match):
        junction.fit(m).transform(m)


def test_two_branches_adding_one_new_column_raise_naming_both(m):
    junction = Junction(
        [("a", FunctionPipe(add_double)), ("b", FunctionPipe(add_double))]
    )
    with pytest.raises(
        ValueError, match="'a' and 'b' both produce the column 'double'"
    ):
        junction.fit_transform(m)


def test_branch_with_pandas_output_still_merges_by_column(m):
    scale = BatchNormalizer(columns=["x"]).set_output(transform="pandas")
    junction = Junction([("scale", scale), ("onehot", OneHot())])
    out = junction.fit_transform(m)
    assert out.columns == ["x", "c", "y"]
    assert out.equals(scale_and_encode().fit_transform(m))


def test_no_branch_passes_the_input_through(m):
    assert Junction().fit_transform(m).equals(m)
    assert Junction([]).fit_transform(m).equals(m)


def test_branch_that_selects_columns_does_not_remove_others(m):
    junction = Junction(
        [("scale", BatchNormalizer(columns=["x"])), ("keep", SelectColumns(["x"]))]
    )
    assert junction.fit_transform(m).columns == ["x", "c", "y"]


def test_unnamed_pipes_are_named_after_their_class(m):
    junction = Junction(
        [FunctionPipe(add_half), OneHot(), FunctionPipe(add_double)]
    ).fit(m)
    names = [name for name, _ in junction.pipes_]
    assert names == ["functionpipe-1", "onehot", "functionpipe-2"]
    assert junction.transform(m).columns == ["x", "c", "y", "half", "double"]


def test_mixing_named_and_unnamed_pipes_raises(m):
    with pytest.raises(TypeError, match="either all \\(name, pipe\\) pairs or all"):
        Junction([("scale", BatchNormalizer()), OneHot()]).fit(m)


def test_fit_fits_copies_and_leaves_the_branches_alone(m):
    scale = BatchNormalizer(columns=["x"])
    junction = Junction([("scale", scale), ("onehot", OneHot())]).fit(m)
    assert not hasattr(scale, "mean_")
    assert junction.pipes_[0][1] is not scale
    assert junction.pipes_[0][1].mean_["x"].item() == 3.0


def test_nested_parameters_are_settable(m):
    junction = scale_and_encode()
    params = junction.get_params()
    assert params["scale__with_std"] is True
    assert params["onehot__handle_unknown"] == "error"
    junction.set_params(scale__with_std=False)
    out = junction.fit_transform(m)
    assert out["x"].tolist() == [-2.0, 0.0, 2.0]


def test_partial_fit_in_chunks_equals_fit(m):
    full = scale_and_encode().fit(m)
    chunked = scale_and_encode()
    for start in range(len(m)):
        chunked.partial_fit(m[start : start + 1])
    assert chunked.transform(m).equals(full.transform(m))


def test_partial_fit_exists_when_every_branch_can_learn_by_batches():
    # Stateful Pipes merge batches; stateless Pipes are fitted on the first
    # batch; a branch that is neither (a plain transformer) rules it out.
    from sklearn.preprocessing import FunctionTransformer

    assert hasattr(scale_and_encode(), "partial_fit")
    assert hasattr(Junction([FunctionPipe(add_half)]), "partial_fit")
    assert not hasattr(Junction([FunctionTransformer()]), "partial_fit")


def test_transform_before_fit_raises_not_fitted(m):
    with pytest.raises(fireworks_sk.NotFittedError):
        scale_and_encode().transform(m)


def test_input_is_never_mutated(message):
    before = snapshot(message)
    junction = Junction([("scale", BatchNormalizer()), ("copy", FunctionPipe(copy))])
    junction.fit(message)
    junction.transform(message)
    assert_unchanged(message, before)


def test_get_feature_names_out_uses_each_branch(m):
    names = scale_and_encode().fit(m).get_feature_names_out()
    assert list(names) == ["x", "c_a", "c_b", "y"]


def test_set_output_pandas_names_columns_by_feature(m):
    junction = scale_and_encode().set_output(transform="pandas")
    out = junction.fit_transform(m)
    assert list(out.columns) == ["x", "c_a", "c_b", "y"]
    assert out["c_b"].tolist() == [0.0, 1.0, 0.0]


def test_joblib_round_trip_gives_equal_output(m, tmp_path):
    junction = scale_and_encode().fit(m)
    joblib.dump(junction, tmp_path / "junction.joblib")
    loaded = joblib.load(tmp_path / "junction.joblib")
    assert loaded.transform(m).equals(junction.transform(m))


def test_clone_gives_an_unfitted_copy(m):
    junction = scale_and_encode().fit(m)
    copy = clone(junction)
    assert not hasattr(copy, "pipes_")
    assert copy.get_params()["scale__columns"] == ["x"]
    assert not hasattr(copy.pipes[0][1], "mean_")
    with pytest.raises(fireworks_sk.NotFittedError):
        copy.transform(m)


def impute_branch():
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(SelectColumns(["a"]), SimpleImputer())


@pytest.fixture
def holes() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1.0, np.nan, 3.0], "b": [10.0, 20.0, 60.0], "c": ["u", "v", "u"]}
    )


def test_a_sklearn_pipeline_branch_transforms_and_names_its_columns(holes):
    junction = Junction([("impute", impute_branch()), ("onehot", OneHot(["c"]))])
    out = junction.fit_transform(holes)
    assert out.columns == ["a", "b", "c"]
    assert out["a"].tolist() == [1.0, 2.0, 3.0]
    assert out["b"] is not None and out["b"].tolist() == [10.0, 20.0, 60.0]
    assert list(junction.get_feature_names_out()) == ["a", "b", "c_u", "c_v"]


def test_a_bare_sklearn_transformer_branch_keeps_the_column_names(holes):
    from sklearn.preprocessing import StandardScaler

    junction = Junction([("scale", StandardScaler())]).fit(holes[["b"]])
    out = junction.transform(holes[["b"]])
    assert out.columns == ["b"]
    np.testing.assert_allclose(out["b"].std(ddof=0), 1.0)
    assert list(junction.get_feature_names_out()) == ["b"]


@pytest.mark.parametrize("where", ["branch", "junction", "both"])
def test_sklearn_branch_with_pandas_output_names_its_features(holes, where):
    branch = impute_branch()
    if where in ("branch", "both"):
        branch.set_output(transform="pandas")
    junction = Junction([("impute", branch), ("onehot", OneHot(["c"]))])
    if where in ("junction", "both"):
        junction.set_output(transform="pandas")
    out = junction.fit(holes).transform(holes)
    assert list(junction.get_feature_names_out()) == ["a", "b", "c_u", "c_v"]
    assert list(out["a"]) == [1.0, 2.0, 3.0]
    assert len(junction.transform(holes.iloc[:0])) == 0


def test_a_sklearn_branch_without_feature_names_gets_positional_ones(holes):
    from sklearn.preprocessing import FunctionTransformer

    branch = FunctionTransformer(lambda X: np.asarray(X)[:, :1] * 2)
    junction = Junction([("twice", branch), ("keep", SelectColumns())])
    out = junction.fit_transform(holes[["a", "b"]].fillna(0))
    assert out.columns == ["twice0", "a", "b"]  # in branch order
    assert list(junction.get_feature_names_out()) == ["twice0", "a", "b"]
    assert out["twice0"].tolist() == [2.0, 0.0, 6.0]


def test_junction_whose_outputs_name_one_feature_twice_is_refused(m):
    # The scale branch passes "y" on, the stack branch stacks it as "y" too.
    from fireworks_sk import Stack

    junction = Junction([("scale", BatchNormalizer(["x"])), ("stack", Stack(["y"]))])
    with pytest.raises(fireworks_sk.SchemaError, match="feature name 'y' twice"):
        junction.fit(m)
    assert not hasattr(junction, "pipes_")


def test_a_sparse_sklearn_branch_gives_dense_named_columns(holes):
    from sklearn.preprocessing import OneHotEncoder

    junction = Junction([("hot", OneHotEncoder()), ("keep", SelectColumns())])
    out = junction.fit_transform(holes[["c"]])  # OneHotEncoder's output is sparse
    assert out.columns == ["c_u", "c_v", "c"]
    assert out["c_v"].tolist() == [0.0, 1.0, 0.0]


def test_a_sklearn_branch_keeps_the_dtypes_of_its_dataframe_output(holes):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().set_output(transform="pandas")
    out = Junction([("scale", scaler)]).fit_transform(holes[["b"]].astype("float32"))
    assert out["b"].dtype == np.float32


def _pass_and_add(column: str, suffix: str) -> FunctionPipe:
    def step(m: Message) -> Message:
        return Message({column: m[column], column + suffix: m[column].isna()})

    return FunctionPipe(step)


_KINDS = {
    "s": ["a", "bb", "ccc"],
    "x": [1.0, 2.0, 3.0],
    "o": pd.Series([1, "b", None], dtype=object),
    "n": pd.array([1, None, 3], dtype="Int64"),
    "c": pd.Categorical(["u", "v", "u"]),
    "t": pd.to_datetime(["2020", "2021", "2022"]).tz_localize("UTC"),
}


@pytest.mark.skipif(
    not copies_on_write(),
    reason="without copy-on-write m[name] is a copy, which counts as a change",
)
@pytest.mark.parametrize("column", list(_KINDS))
def test_branches_passing_a_column_on_by_reading_it_keep_it_once(column):
    frame = pd.DataFrame(_KINDS)
    junction = Junction(
        [("one", _pass_and_add(column, "_1")), ("two", _pass_and_add(column, "_2"))]
    )
    out = junction.fit_transform(frame)
    assert out.columns == [column, column + "_1", column + "_2"]
    pd.testing.assert_series_equal(out[column], frame[column])


def test_branches_that_both_recompute_a_column_are_refused():
    def recompute(m: Message) -> Message:
        return Message({"x": m["x"] * 2})

    junction = Junction(
        [("one", FunctionPipe(recompute)), ("two", FunctionPipe(recompute))]
    )
    with pytest.raises(fireworks_sk.SchemaError, match="both produce the column 'x'"):
        junction.fit_transform(pd.DataFrame({"x": [1.0, 2.0]}))


# Changes that leave values equal by Series.equals or CategoricalDtype's ==.
_SUBTLE_CHANGES = {
    "None to NaN": (
        {"o": pd.Series(["a", None], dtype=object)},
        lambda c: c.fillna(np.nan),
    ),
    "int to float": (
        {"o": pd.Series([1, 2], dtype=object)},
        lambda c: c.astype(float).astype(object),
    ),
    "0.0 to -0.0": ({"x": [0.0, 1.0]}, lambda c: c.where(c != 0.0, -0.0)),
    "categories reordered": (
        {"c": pd.Categorical(["u", "v", "u"])},
        lambda c: c.cat.reorder_categories(["v", "u"]),
    ),
}


@pytest.mark.parametrize("change", list(_SUBTLE_CHANGES))
@pytest.mark.parametrize("changed_first", [True, False])
def test_a_changed_column_wins_over_a_pass_through_in_either_order(
    change, changed_first
):
    columns, rewrite = _SUBTLE_CHANGES[change]
    (name,) = columns
    frame = pd.DataFrame(columns)

    def changing(m: Message) -> Message:
        return m.assign(**{name: rewrite(m[name])})

    branches = [
        ("changes", FunctionPipe(changing)),
        ("same", FunctionPipe(lambda m: m)),
    ]
    out = Junction(branches if changed_first else branches[::-1]).fit_transform(frame)
    expected = rewrite(frame[name])
    pd.testing.assert_series_equal(out[name], expected, check_exact=True)
    assert [repr(v) for v in out[name]] == [repr(v) for v in expected]
    if isinstance(expected.dtype, pd.CategoricalDtype):
        assert list(out[name].cat.categories) == list(expected.cat.categories)
