"""The Schema: what a fitted object remembers of its input, and every check of it."""

from __future__ import annotations

import ast
import inspect
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fireworks_sk
from fireworks_sk import BatchNormalizer, Message, SelectColumns, TorchRegressor
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.schema import (
    ColumnLayout,
    LayoutDifference,
    Schema,
    check_column_schema,
    check_has_columns,
    check_n_features,
    column_layout,
    dtypes_agree,
    layout,
    layout_change,
    same_layout,
)
from fireworks_sk.sources import Source


def _mixed(n: int = 4) -> Message:
    return Message(
        {
            "a": pd.Series(np.arange(n, dtype=np.float64)),
            "s": pd.Series(["u", "v"] * (n // 2)),
            "t": torch.zeros(n, 2, 3),
        }
    )


def _check(schema: Schema, message: Message) -> list[str]:
    """The warnings ``schema.check`` gives for ``message``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema.check("Step", message)
    return [str(w.message) for w in caught]


# ------------------------------------------------------------------ record
def test_record_keeps_names_kinds_dtypes_and_row_shapes_of_zero_rows():
    schema = Schema.record(_mixed())
    assert schema.columns == ["a", "s", "t"]
    assert [schema.is_tensor(c) for c in schema] == [False, False, True]
    assert [schema.row_shape(c) for c in schema] == [(), (), (2, 3)]
    assert schema.dtypes["t"] == torch.float32
    assert schema.n_features == 1 + 1 + 6 == _mixed().shape[1]
    assert all(len(schema[c]) == 0 for c in schema)


def test_record_copies_so_a_template_holds_no_training_data():
    data = torch.arange(12.0).reshape(6, 2)
    schema = Schema.record(Message({"x": data}))
    assert schema["x"].untyped_storage().nbytes() == 0
    assert len(pickle.dumps(schema)) < len(pickle.dumps(data))


def test_empty_gives_a_zero_row_message_with_the_feature_names():
    empty = Schema.record(_mixed()).empty()
    assert len(empty) == 0
    assert empty.feature_names() == _mixed().feature_names()


def test_describe_is_plain_data_for_the_manifest():
    assert Schema.record(_mixed()).describe() == [
        {"name": "a", "kind": "pandas", "dtype": "float64", "shape": []},
        {"name": "s", "kind": "pandas", "dtype": str(_mixed()["s"].dtype), "shape": []},
        {"name": "t", "kind": "tensor", "dtype": "torch.float32", "shape": [2, 3]},
    ]


# -------------------------------------------------------------------- diff
def test_diff_names_unseen_and_missing_columns_and_the_count():
    text = Schema.record(_mixed()).diff("Step", ["a", "s", "t", "new"])
    assert "X has 4 features, but Step is expecting 3 features as input." in text
    assert "Feature names unseen at fit time:\n- new" in text
    assert "seen at fit time, yet now missing" not in text


def test_diff_of_reordered_names_says_the_order_differs():
    text = Schema.record(_mixed()).diff("Step", ["s", "a", "t"])
    assert "must be in the same order as they were in fit" in text
    assert "features, but" not in text


def test_check_of_other_names_raises_the_diff():
    schema = Schema.record(_mixed())
    with pytest.raises(SchemaError, match="yet now missing:\n- t"):
        schema.check("Step", _mixed()[["a", "s"]])


# ------------------------------------------------------------------- check
def test_check_of_the_same_columns_passes_silently():
    assert _check(Schema.record(_mixed()), _mixed(2)) == []


def test_check_refuses_another_kind_of_column():
    schema = Schema.record(_mixed())
    changed = _mixed().assign(a=torch.zeros(4, dtype=torch.float64))
    with pytest.raises(SchemaError, match="'a' was a pandas column when Step was"):
        schema.check("Step", changed)


def test_check_refuses_other_tensor_row_shapes():
    schema = Schema.record(_mixed())
    with pytest.raises(SchemaError, match=r"rows of shape \(3, 2\) but Step was"):
        schema.check("Step", _mixed().assign(t=torch.zeros(4, 3, 2)))


@pytest.mark.parametrize(
    ("fitted", "got"),
    [
        (np.int64, np.float64),
        (np.float64, np.float32),
        (np.float64, object),
        ("category", np.int64),
    ],
)
def test_check_warns_on_a_dtype_that_left_its_family(fitted, got):
    fit = Message({"x": pd.Series([1, 2], dtype=fitted)})
    new = Message({"x": pd.Series([1, 2], dtype=got)})
    assert _check(Schema.record(fit), new) == [
        f"Column 'x' has dtype {new['x'].dtype} but Step was fitted on dtype "
        f"{fit['x'].dtype}."
    ]


def test_check_warns_on_another_tensor_dtype():
    schema = Schema.record(Message({"x": torch.zeros(2, 3)}))
    assert _check(schema, Message({"x": torch.zeros(2, 3, dtype=torch.float64)}))


@pytest.mark.parametrize(
    ("fitted", "got"),
    [
        ("int64", "Int64"),
        ("float64", "Float64"),
        ("bool", "boolean"),
        ("object", "string"),
        ("str", "string[pyarrow]"),
    ],
)
def test_check_is_lenient_within_a_family_of_dtypes(fitted, got):
    values = ["1", "2"] if fitted in ("object", "str") else [1, 0]
    fit = pd.Series(values).astype(fitted)
    new = pd.Series(values).astype(got)
    assert dtypes_agree(fit.dtype, new.dtype)
    assert _check(Schema.record(Message({"x": fit})), Message({"x": new})) == []


def test_check_lets_categories_differ_batch_by_batch():
    fit = Message({"c": pd.Series(["a", "b"], dtype="category")})
    new = Message({"c": pd.Series(["z"], dtype="category")})
    assert _check(Schema.record(fit), new) == []


def test_check_without_dtypes_skips_only_the_dtype():
    schema = Schema.record(Message({"x": pd.Series([1, 2])}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema.check("Step", Message({"x": pd.Series([1.5])}), dtypes=False)


# ------------------------------------------------------------------ layout
def test_layout_counts_kind_dtype_row_shape_and_category_order_not_categories():
    def column(values):
        return layout(Message({"c": values}))["c"]

    unordered = column(pd.Series(["a"], dtype="category"))
    assert unordered == column(pd.Series(["z"], dtype="category"))
    assert unordered != column(pd.Categorical(["a"], ordered=True))
    assert unordered != column(pd.Series([1], dtype="category"))
    assert column(pd.Series([1])) != column(pd.Series([1.0]))
    assert column(pd.Series([1.0])) != column(torch.zeros(1, dtype=torch.float64))
    assert column(torch.zeros(1, 2)) != column(torch.zeros(1, 3))
    assert (
        str(column(torch.zeros(1, 2)))
        == "a torch.float32 tensor with rows of shape (2,)"
    )
    assert str(unordered) == f"category (of {pd.Index(['a']).dtype})"


def test_layout_reads_block_columns_without_building_series():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert layout(Message(frame)) == {
        "a": ColumnLayout("pandas", np.dtype("float64")),
        "b": ColumnLayout("pandas", np.dtype("float64")),
    }


def test_schemas_are_equal_when_their_layouts_are():
    assert Schema.record(_mixed(2)) == Schema.record(_mixed(4))
    assert Schema.record(_mixed()) != Schema.record(_mixed()[["s", "a", "t"]])
    assert Schema.record(_mixed()).layout() == layout(_mixed())


# ------------------------------------------------------------- persistence
def test_pickle_round_trip_keeps_the_schema():
    schema = Schema.record(_mixed())
    again = pickle.loads(pickle.dumps(schema))
    assert again == schema
    assert again.describe() == schema.describe()
    # Equal schemas give equal bytes, so Pipeline(memory=...) finds fitted steps.
    assert joblib.hash(schema) == joblib.hash(Schema.record(_mixed(2)))


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ({"x": np.zeros(0)}, TypeError),
        ({1: pd.Series([], dtype=float)}, TypeError),
        ({"x": pd.Series([1.0])}, ValueError),
        ({"x": torch.zeros(3, 2)}, ValueError),
    ],
)
def test_loaded_state_must_be_zero_row_columns_by_name(columns, error):
    from fireworks_sk._portable import to_portable

    schema = Schema.__new__(Schema)
    with pytest.raises(error, match="a Schema holds"):
        schema.__setstate__({"columns": to_portable(columns)})


def test_a_loaded_pipe_whose_schema_disagrees_with_its_state_is_refused(tmp_path):
    pytest.importorskip("skops")
    pipe = BatchNormalizer().fit(_mixed()[["a", "t"]])
    pipe.n_features_in_ = 2
    path = fireworks_sk.save(pipe, tmp_path / "m.skops", format="skops")
    with pytest.raises(fireworks_sk.persistence.CorruptFileError, match="input schema"):
        fireworks_sk.load(path, format="skops")


def test_a_pipe_saved_with_skops_loads_its_schema():
    pytest.importorskip("skops")
    import skops.io as sio

    pipe = BatchNormalizer().fit(_mixed())
    loaded = sio.loads(
        sio.dumps(pipe), trusted=sio.get_untrusted_types(data=sio.dumps(pipe))
    )
    assert isinstance(loaded._schema_in, Schema)
    assert loaded._schema_in == pipe._schema_in
    assert loaded.transform(_mixed()).equals(pipe.transform(_mixed()))


def test_a_fitted_pipe_hands_over_its_input_schema_read_only():
    pipe = BatchNormalizer()
    assert not hasattr(pipe, "input_schema_")
    with pytest.raises(fireworks_sk.NotFittedError):
        pipe.input_schema_  # noqa: B018
    pipe.fit(_mixed())
    assert pipe.input_schema_ == Schema.record(_mixed())
    with pytest.raises(AttributeError):
        pipe.input_schema_ = Schema.record(_mixed()[["a"]])


# -------------------------------------------------------- one checker, many users
DTYPE_CASES = [
    ("float64", "int64", True),
    ("float64", "float32", True),
    ("int64", "Int64", False),
    ("float64", "float64", False),
]


@pytest.mark.parametrize(("fitted", "got", "warns"), DTYPE_CASES)
def test_estimators_warn_on_a_dtype_change_as_pipes_do(fitted, got, warns):
    rng = np.random.default_rng(0)
    fit = pd.DataFrame({"a": rng.integers(0, 9, 20), "b": rng.integers(0, 9, 20)})
    y = rng.normal(size=20).astype(np.float32)
    new = fit.head(5)
    fit, new = fit.astype(fitted), new.astype(got)
    net = TorchRegressor(max_epochs=1, random_state=0).fit(fit, y)
    pipe = BatchNormalizer().fit(fit)
    for step, call in ((net, net.predict), (pipe, pipe.transform)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call(new)
        messages = [str(w.message) for w in caught if "dtype" in str(w.message)]
        expected = [
            f"Column {c!r} has dtype {new[c].dtype} but {type(step).__name__} was "
            f"fitted on dtype {fit[c].dtype}."
            for c in "ab"
        ]
        assert messages == (expected if warns else [])


def test_estimators_count_flat_features_as_pipes_and_message_do():
    rng = np.random.default_rng(0)
    X = Message(
        {
            "t": torch.as_tensor(rng.normal(size=(20, 3)), dtype=torch.float32),
            "a": pd.Series(rng.normal(size=20)),
        }
    )
    y = rng.normal(size=20).astype(np.float32)
    net = TorchRegressor(max_epochs=1, random_state=0).fit(X, y)
    pipe = SelectColumns().fit(X)
    assert net.n_features_in_ == pipe.n_features_in_ == X.shape[1] == 4
    assert net.n_features_in_ == np.asarray(X).shape[1]


def test_a_fitted_net_hands_over_its_named_input_schema_read_only():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=8), "b": rng.normal(size=8)})
    y = rng.normal(size=8).astype(np.float32)
    net = TorchRegressor(max_epochs=1, random_state=0)
    assert not hasattr(net, "input_schema_")
    net.fit(frame, y)
    assert net.input_schema_ == Schema.record(Message(frame))
    with pytest.raises(AttributeError):
        net.input_schema_ = None
    assert net.fit(frame.to_numpy(), y).input_schema_ is None


def test_a_named_width_mismatch_is_a_schema_error_an_array_one_a_value_error():
    with pytest.raises(SchemaError, match="X has 2 features, but Step is expecting 3"):
        check_n_features("Step", 2, 3, named=True)
    with pytest.raises(ValueError, match="expecting 3 features as input.$") as info:
        check_n_features("Step", 2, 3, named=False)
    assert not isinstance(info.value, SchemaError)
    check_n_features("Step", 3, 3, named=False)  # the same width passes


def test_estimators_refuse_another_kind_of_column_as_pipes_do():
    fit = Message({"a": pd.Series(np.arange(8.0)), "b": pd.Series(np.ones(8))})
    y = np.arange(8, dtype=np.float32)
    new = fit.assign(a=torch.arange(8.0, dtype=torch.float64))
    net = TorchRegressor(max_epochs=1, random_state=0).fit(fit, y)
    pipe = SelectColumns().fit(fit)
    for step, call in ((net, net.predict), (pipe, pipe.transform)):
        with pytest.raises(SchemaError, match=f"when {type(step).__name__} was fitted"):
            call(new)


LAYOUT_CASES = {
    "same": (pd.Series([1.0, 2.0]), pd.Series([3.0])),
    "int to float": (pd.Series([1, 2]), pd.Series([3.0])),
    "categories": (
        pd.Series(["a", "b"], dtype="category"),
        pd.Series(["z"], dtype="category"),
    ),
    "ordered": (
        pd.Series(pd.Categorical(["a", "b"])),
        pd.Series(pd.Categorical(["a"], ordered=True)),
    ),
    "kind": (pd.Series([1.0, 2.0]), torch.tensor([3.0], dtype=torch.float64)),
    "row shape": (torch.zeros(2, 3), torch.zeros(1, 4)),
    "tensor dtype": (torch.zeros(2, 3), torch.zeros(1, 3, dtype=torch.float64)),
    "nullable int": (pd.Series([1, 2]), pd.Series([3], dtype="Int64")),
    "string dtypes": (pd.Series(["a"], dtype=object), pd.Series(["b"], dtype="string")),
    "int widths": (pd.Series([1, 2]), pd.Series([3], dtype=np.int32)),
}
# Changes within a family of dtypes: what a fitted step takes without a word.
SILENT = {"same", "categories", "nullable int", "string dtypes"}


class _Chunks(Source):
    """The given Messages, one chunk each."""

    chunk_size = None

    def __init__(self, *messages: Message) -> None:
        self.messages = messages

    def _read(self, rng):
        for i, message in enumerate(self.messages):
            yield i, f"part {i}", message


def _taken_silently(schema: Schema, message: Message) -> bool:
    try:
        return _check(schema, message) == []
    except SchemaError:
        return False


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_a_source_takes_a_chunk_exactly_where_a_fitted_step_takes_it_silently(case):
    first, second = LAYOUT_CASES[case]
    before, after = Message({"c": first}), Message({"c": second})
    silent = _taken_silently(Schema.record(before), after)
    assert silent == (case in SILENT)
    assert (Schema.record(before).compare_layout(after) is None) == silent
    source = _Chunks(before, after)
    if silent:
        assert [len(m) for m in source] == [len(before), len(after)]
    else:
        with pytest.raises(SchemaError, match=r"in the first chunk \(part 0\)"):
            list(source)


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_the_stream_scheduler_counts_every_dtype_change(case):
    first, second = LAYOUT_CASES[case]
    before, after = Message({"c": first}), Message({"c": second})
    same = Schema.record(before) == Schema.record(after)
    assert same == (case in ("same", "categories"))
    assert same_layout(before, after) == same
    assert same_layout(Schema.record(before), after) == same


def test_compare_layout_names_the_column_and_both_layouts():
    schema = Schema.record(_mixed())
    changed = _mixed().assign(a=pd.Series(["x"] * 4))
    assert schema.compare_layout(changed) == (
        "a",
        ColumnLayout("pandas", np.dtype("float64")),
        ColumnLayout("pandas", changed["a"].dtype),
    )
    renamed = _mixed().rename({"s": "z"})
    assert schema.compare_layout(renamed) == (None, ["a", "s", "t"], ["a", "z", "t"])


def _every_described_kind() -> Message:
    return Message(
        {
            "f": pd.Series([1.0]),
            "s": pd.Series(["x"]),
            "o": pd.Series(["x"], dtype=object),
            "n": pd.Series([1], dtype="Int64"),
            "b": pd.Series([True], dtype="boolean"),
            "d": pd.Series(pd.to_datetime(["2020-01-01"])),
            "t": torch.zeros(1, 3, 2),
            "i": torch.zeros(1, dtype=torch.int64),
        }
    )


def test_from_description_rebuilds_what_describe_wrote():
    schema = Schema.record(_every_described_kind())
    rebuilt = Schema.from_description(schema.describe())
    assert rebuilt == schema
    assert rebuilt.n_features == schema.n_features == 13
    assert rebuilt.empty().columns == schema.columns


def test_from_description_keeps_a_categorical_without_its_categories():
    fit = Message({"c": pd.Series(["u", "v"], dtype="category")})
    rebuilt = Schema.from_description(Schema.record(fit).describe())
    assert isinstance(rebuilt["c"].dtype, pd.CategoricalDtype)
    assert _check(rebuilt, fit) == []


_COLUMN = {"name": "x", "kind": "pandas", "dtype": "float64", "shape": []}
HOSTILE_DESCRIPTIONS = {
    "not a list": ({"x": _COLUMN}, "a list of columns; got dict"),
    "not a record": (["x"], "records of exactly"),
    "extra field": ([{**_COLUMN, "__reduce__": "os.system"}], "records of exactly"),
    "missing field": ([{"name": "x", "kind": "pandas"}], "records of exactly"),
    "name not a str": ([{**_COLUMN, "name": 3}], "names each column"),
    "unknown kind": ([{**_COLUMN, "kind": "pickle"}], "names each column"),
    "kind not a str": ([{**_COLUMN, "kind": ["tensor"]}], "names each column"),
    "module path": ([{**_COLUMN, "dtype": "os.system"}], "dtype 'os.system'"),
    "subarray dtype": ([{**_COLUMN, "dtype": "(1000000000,)f8"}], "not a pandas"),
    "huge void": ([{**_COLUMN, "dtype": "V2147483647"}], "not a pandas dtype"),
    "timezone": ([{**_COLUMN, "dtype": "datetime64[ns, Europe/Paris]"}], "not a"),
    "extension by name": ([{**_COLUMN, "dtype": "Sparse[float64]"}], "not a"),
    "tensor dtype as pandas": ([{**_COLUMN, "dtype": "torch.float32"}], "not a"),
    "pandas dtype as tensor": (
        [{**_COLUMN, "kind": "tensor", "shape": [2]}],
        "not a tensor dtype",
    ),
    "dtype not a str": ([{**_COLUMN, "dtype": ["float64"]}], "not a pandas"),
    "pandas with a shape": ([{**_COLUMN, "shape": [3]}], r"no shape \(\[\]\)"),
    "huge row": (
        [{**_COLUMN, "kind": "tensor", "dtype": "torch.float32", "shape": [2**40]}],
        "at most 2147483648 values",
    ),
    "many dims": (
        [{**_COLUMN, "kind": "tensor", "dtype": "torch.float32", "shape": [1] * 9}],
        "at most 8 dimensions",
    ),
    "zero width": (
        [{**_COLUMN, "kind": "tensor", "dtype": "torch.float32", "shape": [0]}],
        "at least 1",
    ),
    "negative": (
        [{**_COLUMN, "kind": "tensor", "dtype": "torch.float32", "shape": [-3]}],
        "at least 1",
    ),
    "shape of bools": (
        [{**_COLUMN, "kind": "tensor", "dtype": "torch.float32", "shape": [True]}],
        "rows of shape",
    ),
    "shape not a list": ([{**_COLUMN, "shape": "()"}], "rows of shape"),
    "twice": ([_COLUMN, _COLUMN], "column 'x' twice"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_DESCRIPTIONS))
def test_from_description_refuses_what_describe_never_writes(case):
    description, match = HOSTILE_DESCRIPTIONS[case]
    with pytest.raises(SchemaError, match=match):
        Schema.from_description(description)


def test_from_description_imports_nothing_for_any_description():
    import sys

    Schema.from_description(Schema.record(_every_described_kind()).describe())
    before = set(sys.modules)
    for description, _ in HOSTILE_DESCRIPTIONS.values():
        with pytest.raises(SchemaError):
            Schema.from_description(description)
    assert set(sys.modules) == before


def test_missing_columns_have_one_message_naming_them_where_and_the_fix():
    with pytest.raises(KeyError) as info:
        check_has_columns(
            "f(y=...)",
            ["y", "a", "z"],
            ["a", "b"],
            where="the stream",
            at=" (chunk at rows 0-9)",
            fix="Pass another y.",
            error=KeyError,
        )
    assert info.value.args[0] == (
        "f(y=...) names columns ['y', 'z'] that the stream lacks (chunk at rows "
        "0-9). Stream columns: ['a', 'b']. Pass another y."
    )
    check_has_columns("f", ["b"], ["a", "b"], fix="unused")  # present: no error


def test_no_module_writes_its_own_missing_columns_message():
    package = Path(inspect.getfile(fireworks_sk)).parent
    for path in package.rglob("*.py"):
        if path.name != "schema.py":
            assert "that the input lacks" not in path.read_text(), path
            assert "that the data lacks" not in path.read_text(), path


def test_check_warns_when_a_categorical_becomes_ordered():
    fit = Message({"c": pd.Series(pd.Categorical(["a", "b"]))})
    new = Message({"c": pd.Series(pd.Categorical(["a"], ordered=True))})
    assert _check(Schema.record(fit), new) == [
        "Column 'c' has dtype category but Step was fitted on dtype category."
    ]


# --------------------------------------------------------------- the layers
def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_pipes_dask_module_does_not_import_the_pipe_base_module():
    path = Path(inspect.getfile(fireworks_sk)).parent / "pipes" / "_dask.py"
    assert "fireworks_sk.pipes._base" not in _imports(path)


def test_the_schema_and_validation_modules_import_no_pipe_or_estimator():
    package = Path(inspect.getfile(fireworks_sk)).parent
    for name in ("schema.py", "_validation.py"):
        imported = _imports(package / name)
        assert not any(
            m.startswith(("fireworks_sk.pipes", "fireworks_sk.estim")) for m in imported
        )


def test_no_module_reimplements_the_schema_checks():
    package = Path(inspect.getfile(fireworks_sk)).parent
    twins = (
        "def _schema_diff",
        "def _dtype_key",
        "def _check_shapes",
        "def _dtype_family",
    )
    for path in package.rglob("*.py"):
        if path.name == "schema.py":
            continue
        text = path.read_text()
        assert not [t for t in twins if t in text], path


def test_the_manifest_describes_a_named_estimators_columns(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=8), "b": rng.integers(0, 3, 8)})
    y = rng.normal(size=8).astype(np.float32)
    named = TorchRegressor(max_epochs=1, random_state=0).fit(frame, y)
    array = TorchRegressor(max_epochs=1, random_state=0).fit(frame.to_numpy(), y)
    described = fireworks_sk.inspect(fireworks_sk.save(named, tmp_path / "n.joblib"))
    assert described["input_schema"] == named._schema_.describe()
    assert [c["dtype"] for c in described["input_schema"]] == ["float64", "int64"]
    unnamed = fireworks_sk.inspect(fireworks_sk.save(array, tmp_path / "a.joblib"))
    assert unnamed["input_schema"] is None


def test_a_pipe_saved_before_the_schema_class_loads_with_one():
    from fireworks_sk._portable import to_portable

    pipe = BatchNormalizer().fit(_mixed())
    state = pipe.__getstate__()
    # What Pipes stored until then: a dict of zero-row columns, made portable.
    state["_schema_in"] = to_portable(dict(pipe._schema_in))
    old = BatchNormalizer.__new__(BatchNormalizer)
    old.__setstate__(state)
    assert old._schema_in == pipe._schema_in
    assert old.transform(_mixed()).equals(pipe.transform(_mixed()))


def test_a_net_fitted_on_a_sparse_matrix_predicts_a_dataframe_with_the_warning():
    import scipy.sparse

    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    net = TorchRegressor(max_epochs=1, random_state=0)
    net.fit(scipy.sparse.csr_matrix(X), X.sum(axis=1))
    with pytest.warns(UserWarning, match="X has feature names, but TorchRegressor"):
        predicted = net.predict(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_array_equal(predicted, net.predict(X))


# ---------------------------------------------------------------------------
# Schema.check and compare_layout skip their per-column rule when every
# column has exactly its fitted layout: the outcome must be the rule's.

_COLUMN_KINDS = {
    "int64": lambda: pd.Series([1, 2], dtype="int64"),
    "Int64": lambda: pd.Series([1, None], dtype="Int64"),
    "float64": lambda: pd.Series([1.0, 2.0]),
    "Float64": lambda: pd.Series([1.0, None], dtype="Float64"),
    "float32": lambda: pd.Series([1.0, 2.0], dtype="float32"),
    "bool": lambda: pd.Series([True, False]),
    "boolean": lambda: pd.Series([True, None], dtype="boolean"),
    "object": lambda: pd.Series(["a", "b"], dtype=object),
    "str": lambda: pd.Series(["a", "b"], dtype="string"),
    "str-default": lambda: pd.Series(["a", "b"]),
    "category": lambda: pd.Series(["a", "b"], dtype="category"),
    "category-other": lambda: pd.Series(["c", "d"], dtype="category"),
    "category-ordered": lambda: pd.Series(
        pd.Categorical(["a", "b"], categories=["a", "b"], ordered=True)
    ),
    "datetime": lambda: pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"])),
    "tensor-f32": lambda: torch.zeros(2),
    "tensor-f32x2": lambda: torch.zeros(2, 2),
    "tensor-f32x3": lambda: torch.zeros(2, 3),
    "tensor-f64x2": lambda: torch.zeros(2, 2, dtype=torch.float64),
    "tensor-i64": lambda: torch.zeros(2, dtype=torch.int64),
}


def _outcome(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run()
        except SchemaError as exc:
            result = ("raised", str(exc))
    return result, [str(w.message) for w in caught]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(_COLUMN_KINDS)),
            st.sampled_from(sorted(_COLUMN_KINDS)),
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
    st.booleans(),
)
def test_check_equals_the_per_column_rule(pairs, same, frames):
    def message(columns):
        # From a DataFrame, pandas columns are stored unbuilt (block columns).
        pandas = all(isinstance(c, pd.Series) for c in columns.values())
        return Message(pd.DataFrame(columns) if frames and pandas else columns)

    fitted = message({f"c{i}": _COLUMN_KINDS[a]() for i, (a, _) in enumerate(pairs)})
    new = message(
        {f"c{i}": _COLUMN_KINDS[a if same else b]() for i, (a, b) in enumerate(pairs)}
    )
    schema = Schema.record(fitted)

    def by_rule():
        for name in schema:
            check_column_schema("Step", name, schema[name], new[name], True)

    def by_layouts():
        for name in schema:
            expected = column_layout(schema[name])
            found = column_layout(new[name])
            if layout_change(expected, found):
                return LayoutDifference(name, expected, found)
        return None

    assert _outcome(lambda: schema.check("Step", new)) == _outcome(by_rule)
    assert schema.compare_layout(new) == by_layouts()
